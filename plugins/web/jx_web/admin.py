"""Administration in the browser: users (add, disable, enable, reset a password, change the role
and department, tie to a unit),
departments, the access log and the audit chain, browsable and filterable (admins only).

Users are added through ``jxcore.records.add_user`` and managed through
``jxcore.services.auth``; a new or reset password is generated and shown once, never stored in
clear. The logs are read through ``jxcore.services.access_log`` and ``jxcore.services.audit``.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from jx_web.security import Need, signed_in
from jx_web.workflow import render, status_of
from jxcore import services
from jxcore.errors import JxError, UsageError
from jxcore.records.access import roles
from jxcore.services import auth
from jxcore.services.audit import audit_links, chained_tables, departments
from jxcore.services.people import set_role

LOG_ROWS = 200  #: access-log rows and chain records per page


def _known(web, name: str) -> str:
    if auth.get_account(web.store, name) is None:
        raise UsageError(f"unknown user {name!r}", hint="pick a user of the list")
    return name


def register(app: FastAPI, web) -> None:
    scheme = web.catalog.scheme

    def users_page(request: Request, *, status: int = 200, error: str | None = None,
                   password: tuple[str, str] | None = None) -> Response:
        return render(web, request, "admin_users.html", status=status, error=error, password=password,
                      accounts=auth.accounts(web.store), departments=departments(web.store), roles=roles(),
                      units=scheme.units, unit_names={u.code: u.name for u in scheme.units})

    async def act(request: Request, work) -> Response:
        """Run an administrative act; its refusal is shown on the users page with its reason."""
        try:
            shown = await run_in_threadpool(work)
        except JxError as exc:
            return users_page(request, status=status_of(exc), error=exc.render())
        return users_page(request, password=shown)

    @app.get("/admin/users", name="admin_users", include_in_schema=False)
    def admin_users(request: Request) -> Response:
        signed_in(request, Need.ADMIN)
        return users_page(request)

    @app.post("/admin/users", name="admin_add_user", include_in_schema=False)
    async def admin_add_user(request: Request) -> Response:
        admin = signed_in(request, Need.ADMIN)
        form = await request.form()
        name = str(form.get("name") or "").strip()
        role = str(form.get("role") or "")
        department = str(form.get("department") or "").strip() or None
        department_name = str(form.get("department_name") or "").strip() or None
        unit = str(form.get("unit") or "") or None

        def work():
            if not name:
                raise UsageError("a user needs a name", hint="fill in the name")
            if role not in roles():
                raise UsageError(f"unknown role {role!r}", hint="choose one of " + ", ".join(roles()))
            if unit is not None and unit not in {u.code for u in scheme.units}:
                raise UsageError(f"unknown unit {unit!r}", hint="choose a unit of the list")
            services.add_user(web.store, name, role=role, department=department, department_name=department_name,
                              by=admin.name)
            password = auth.generate_password()
            auth.set_password(web.store, name, password, by=admin.name)
            if unit:
                auth.set_unit(web.store, name, unit, by=admin.name)
            return name, password

        return await act(request, work)

    @app.post("/admin/users/{name}/disable", name="admin_disable", include_in_schema=False)
    async def admin_disable(request: Request, name: str) -> Response:
        admin = signed_in(request, Need.ADMIN)

        def work():
            if name == admin.name:
                raise UsageError("an admin may not disable their own account", hint="ask another admin")
            auth.set_disabled(web.store, _known(web, name), True, by=admin.name)

        return await act(request, work)

    @app.post("/admin/users/{name}/enable", name="admin_enable", include_in_schema=False)
    async def admin_enable(request: Request, name: str) -> Response:
        admin = signed_in(request, Need.ADMIN)
        return await act(request, lambda: auth.set_disabled(web.store, _known(web, name), False, by=admin.name))

    @app.post("/admin/users/{name}/password", name="admin_password", include_in_schema=False)
    async def admin_password(request: Request, name: str) -> Response:
        admin = signed_in(request, Need.ADMIN)

        def work():
            password = auth.generate_password()
            auth.set_password(web.store, name, password, by=admin.name)
            return name, password

        return await act(request, work)

    @app.post("/admin/users/{name}/unit", name="admin_unit", include_in_schema=False)
    async def admin_unit(request: Request, name: str) -> Response:
        admin = signed_in(request, Need.ADMIN)
        unit = str((await request.form()).get("unit") or "") or None

        def work():
            if unit is not None and unit not in {u.code for u in scheme.units}:
                raise UsageError(f"unknown unit {unit!r}", hint="choose a unit of the list")
            auth.set_unit(web.store, name, unit, by=admin.name)

        return await act(request, work)

    @app.post("/admin/users/{name}/role", name="admin_role", include_in_schema=False)
    async def admin_role(request: Request, name: str) -> Response:
        admin = signed_in(request, Need.ADMIN)
        form = await request.form()
        role, department = str(form.get("role") or ""), str(form.get("department") or "").strip() or None

        def work():
            if role not in roles():
                raise UsageError(f"unknown role {role!r}", hint="choose one of " + ", ".join(roles()))
            set_role(web.store, name, role, department, by=admin.name,
                     department_name=str(form.get("department_name") or "").strip() or None)

        return await act(request, work)

    @app.get("/admin/access", name="admin_access", include_in_schema=False)
    def admin_access(request: Request, user: str = "", outcome: str = "", action: str = "") -> Response:
        signed_in(request, Need.ADMIN)
        allowed = {"allowed": True, "refused": False}.get(outcome)
        rows = services.access_log(web.store, user=user or None, allowed=allowed,
                                   limit=LOG_ROWS * (5 if action else 1))
        if action:
            rows = [r for r in rows if r.action == action][:LOG_ROWS]
        return render(web, request, "admin_access.html", rows=rows, user=user, outcome=outcome, action=action,
                      actions=sorted({"read", "enter", "correct", "lock", "unlock", "users"}), limit=LOG_ROWS)

    @app.get("/admin/chain", name="admin_chain", include_in_schema=False)
    def admin_chain(request: Request, table: str = "", before: int | None = None) -> Response:
        signed_in(request, Need.ADMIN)
        links = audit_links(web.store, table=table or None, before=before, limit=LOG_ROWS)
        return render(web, request, "admin_chain.html", links=links, table=table, tables=chained_tables(web.store),
                      older=links[-1].seq if len(links) == LOG_ROWS else None)
