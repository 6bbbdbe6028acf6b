"""People, departments and the access policy: who may enter, correct, lock or unlock what.

The policy (docs/records.md), for an indicator with responsible department D:

- **viewer**: reads only.
- **clerk**: enters and corrects entries for indicators of their own department D.
- **inspector**: like a clerk, and also enters and corrects entries of the kinds the plan's
  ``settings.records.inspection_kinds`` names, for any indicator and unit: the inspection team.
- **admin**: everything, including locks, unlocks and users.

What an entry feeds is decided per entry, by the collector that reads its kind
(jxcore.services.entries): a user may write an entry only if they may enter *every* indicator it
counts in. Until the store has its first user, entries are open (a fresh or demo store); the first
user must be an admin, and from then on every entry needs a known user.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence

import attrs
import sqlalchemy as sa

from jxcore.errors import AccessDenied, UsageError
from jxcore.models import Node
from jxcore.store import Store, ledger
from jxcore.store.tables import access_log, departments
from jxcore.store.tables import users as users_table


class Role(enum.Enum):
    CLERK = "clerk"
    INSPECTOR = "inspector"
    ADMIN = "admin"
    VIEWER = "viewer"


class Action(enum.Enum):
    READ = "read"
    ENTER = "enter"  #: new entries (a file import or one entry)
    CORRECT = "correct"  #: entries that supersede earlier ones
    LOCK = "lock"
    UNLOCK = "unlock"
    MANAGE_USERS = "users"


@attrs.frozen
class User:
    name: str
    role: Role
    department: str | None = None


def may(user: User, action: Action, node: Node | None = None) -> bool:
    """The policy for one indicator (``node``); see the module docstring. The inspection team's
    right to enter its kinds anywhere is decided with the entries (jxcore.services.entries)."""
    if user.role is Role.ADMIN or action is Action.READ:
        return True
    if action not in (Action.ENTER, Action.CORRECT) or user.role is Role.VIEWER or node is None:
        return False
    return node.department is not None and node.department == user.department


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _row_user(row) -> User:
    return User(name=row.name, role=Role(row.role), department=row.department)


def get_user(store: Store, name: str) -> User | None:
    with store.engine.connect() as connection:
        row = connection.execute(sa.select(users_table).where(users_table.c.name == name)).first()
    return _row_user(row) if row else None


def users(store: Store) -> list[User]:
    with store.engine.connect() as connection:
        rows = connection.execute(sa.select(users_table).order_by(users_table.c.name)).all()
    return [_row_user(r) for r in rows]


def log_access(store: Store, user: str, action: Action, message: str, *, allowed: bool, scheme: str | None = None,
               period: int | None = None, target: str | None = None) -> None:
    """One access-log row, chained, in its own transaction (a refusal is logged though the work is
    not done)."""
    def write(tx) -> None:
        ledger.lock_writers(tx.connection)
        new_id = tx.connection.execute(access_log.insert(), {
            "at": _now(), "user_name": user, "action": action.value, "scheme": scheme, "period": period,
            "target": target, "allowed": allowed, "message": message}).inserted_primary_key[0]
        ledger.append_where(tx.connection, "access_log", sa.column("id") == new_id)

    store.write(write)


def _deny(store: Store, user: str, action: Action, message: str, hint: str, **where) -> AccessDenied:
    log_access(store, user, action, message, allowed=False, **where)
    return AccessDenied(message, hint=hint)


def require(store: Store, name: str, action: Action, **where) -> User:
    """The known user ``name`` if they may do ``action`` (not tied to an indicator), else AccessDenied."""
    user = get_user(store, name)
    if user is None:
        raise _deny(store, name, action, f"unknown user {name!r}", "an admin adds users with jx user add", **where)
    if not may(user, action):
        raise _deny(store, name, action, f"{name} ({user.role.value}) may not {action.value}",
                    f"only an admin may {action.value}", **where)
    return user


def add_user(store: Store, name: str, *, role: Role | str, department: str | None = None,
             department_name: str | None = None, by: str | None = None) -> User:
    """Add a user (an admin's act; the very first user must be an admin and needs no ``by``)."""
    role = Role(role) if isinstance(role, str) else role
    if role in (Role.CLERK, Role.INSPECTOR) and not department:
        raise UsageError(f"a {role.value} belongs to a department", hint="give --dept CODE")
    existing = users(store)
    if existing:
        require(store, by or "", Action.MANAGE_USERS, target=name)
    elif role is not Role.ADMIN:
        raise UsageError("the first user of a store must be an admin",
                         hint="add an admin first: jx user add NAME --role admin")
    if any(u.name == name for u in existing):
        raise UsageError(f"user {name!r} exists already", hint="pick another name")

    def write(tx) -> None:
        ledger.lock_writers(tx.connection)
        if department and tx.connection.execute(
                sa.select(departments.c.code).where(departments.c.code == department)).first() is None:
            tx.connection.execute(departments.insert(), {"code": department, "name": department_name or department})
            ledger.append_where(tx.connection, "departments", sa.column("code") == department)
        tx.connection.execute(users_table.insert(), {"name": name, "department": department, "role": role.value,
                                                     "added_by": by or name, "added_at": _now()})
        ledger.append_version(tx.connection, "users", name)

    store.write(write)
    log_access(store, by or name, Action.MANAGE_USERS, f"added {role.value} {name}"
               + (f" of {department}" if department else ""), allowed=True, target=name)
    return User(name, role, department)


def roles() -> Sequence[str]:
    return [r.value for r in Role]
