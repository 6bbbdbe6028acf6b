"""Changing what a person may do: their role and department (an admin's act, chained and logged).

Adding users is :func:`jxcore.records.add_user`; passwords, units and disabling are
:mod:`jxcore.services.auth`. A session reads the role with every request, so a change takes
effect at the user's next page.
"""

from __future__ import annotations

import sqlalchemy as sa

from jxcore.errors import UsageError
from jxcore.records.access import Action, Role, User, get_user, log_access, require
from jxcore.store import Store, ledger
from jxcore.store.tables import departments


def set_role(store: Store, name: str, role: Role | str, department: str | None = None, *, by: str,
             department_name: str | None = None) -> User:
    """Give ``name`` another role and department (a new department is added with its name).

    A clerk or inspector belongs to a department; an admin cannot change their own role (another
    admin does, so a store never loses its last admin by a slip).
    """
    role = Role(role) if isinstance(role, str) else role
    require(store, by, Action.MANAGE_USERS, target=name)
    user = get_user(store, name)
    if user is None:
        raise UsageError(f"unknown user {name!r}", hint="add them first with jx user add")
    if role in (Role.CLERK, Role.INSPECTOR) and not department:
        raise UsageError(f"a {role.value} belongs to a department", hint="give the department's code")
    if name == by and role is not user.role:
        raise UsageError("an admin may not change their own role", hint="ask another admin")

    def write(tx) -> None:
        connection = tx.connection
        ledger.lock_writers(connection)
        if department and connection.execute(
                sa.select(departments.c.code).where(departments.c.code == department)).first() is None:
            connection.execute(departments.insert(), {"code": department, "name": department_name or department})
            ledger.append_where(connection, "departments", sa.column("code") == department)
        ledger.update_version(connection, "users", name, role=role.value, department=department or None)

    store.write(write)
    log_access(store, by, Action.MANAGE_USERS, f"made {name} {role.value}" + (f" of {department}" if department
                                                                            else ""), allowed=True, target=name)
    return User(name, role, department or None)
