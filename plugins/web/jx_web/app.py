"""The ASGI app of ``jx serve``: server-rendered pages and a JSON API (/api) over the services.

Pages are Jinja2 templates rendered on the server; interaction is plain HTML forms (sign-in,
sign-out, admin actions), so every page works without script; one small vendored script
(``static/app.js``) reloads the leaderboard when a newer run is stored. Every asset is in the
package: no CDN, the app works on an intranet without any network. Workers keep nothing but
caches keyed by run id: sessions and everything else live in the store (docs/web.md).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from pathlib import Path
from typing import Any

import attrs
import jinja2
from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from jx_outputs.tables import format_cell
from jx_web import hookspecs, pages
from jx_web.data import Catalog
from jx_web.labels import labels
from jx_web.security import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    CsrfRefused,
    Forbidden,
    Need,
    NotSignedIn,
    SecurityHeaders,
    _session,
    csrf_guard,
    signed_in,
)
from jxcore.errors import JxError, UsageError
from jxcore.plugins import JxPluginManager, Registry, get_plugin_manager
from jxcore.services import auth
from jxcore.store import Store

PACKAGE = Path(__file__).parent
EXPLAIN_PAGE = 20  #: source rows per explain page
EXPLAIN_PAGES = 50  #: the last page one can open (the rows come from the source on every view)


def _fmt_points(value: float | None) -> str:
    if value is None:
        return ""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _fmt_number(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def _fmt_move(value: int | None) -> str:
    if value is None:
        return ""
    return f"↑{value}" if value > 0 else f"↓{-value}" if value < 0 else "–"


def default_scheme(registry: Registry) -> str:
    """The one installed scheme pack (``jx serve --scheme`` chooses among several)."""
    names = sorted(registry.schemes)
    if len(names) == 1:
        return names[0]
    raise UsageError(f"{len(names)} scheme packs are installed ({', '.join(names) or 'none'})",
                     hint="choose one with jx serve --scheme NAME" if names else "install a scheme pack")


@attrs.define
class Web:
    """What the routes share: the store, the registry, the scheme's runs (cached) and templates."""

    store: Store
    registry: Registry
    catalog: Catalog
    policy: auth.Policy
    secure_cookies: bool | None  #: None: Secure when the request came over https
    env: jinja2.Environment
    live: Any = attrs.field(init=False, default=None)  #: jx_web.live.LiveRefresh

    def __attrs_post_init__(self) -> None:
        from jx_web.live import LiveRefresh

        self.live = LiveRefresh(self)

    @property
    def lab(self):
        return labels(self.catalog.scheme.language)

    def render(self, request: Request, template: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        session = _session(request)
        scheme = self.catalog.scheme
        html = self.env.get_template(template).render(
            lab=self.lab, lang="zh-CN" if scheme.language.startswith("zh") else "en", scheme=scheme,
            account=session.account if session else None, csrf=session.csrf if session else "",
            path=request.url.path, **ctx)
        return HTMLResponse(html, status_code=status)

    def secure(self, request: Request) -> bool:
        return request.url.scheme == "https" if self.secure_cookies is None else self.secure_cookies


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.ChoiceLoader([jinja2.PackageLoader("jx_web", "templates")]),
                             autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters.update(points=_fmt_points, number=_fmt_number, move=_fmt_move, cell=format_cell)
    return env


def create_app(*, scheme: str | None = None, period: int | None = None, db: str | None = None,
               secure_cookies: bool | None = None, policy: auth.Policy = auth.DEFAULT_POLICY,
               pm: JxPluginManager | None = None) -> FastAPI:
    """The app for ``scheme`` (default: the one installed) on the store ``db`` (default as ``jx``)."""
    from jxcore.scheme import load_pack, load_scheme

    pm = pm or get_plugin_manager()
    pm.add_hookspecs(hookspecs)
    registry = Registry.from_plugin_manager(pm)
    name = scheme or default_scheme(registry)
    pack = Path(name) if Path(name).exists() else registry.scheme_pack(name).path
    years = tuple(load_pack(pack).periods)
    store = Store.open(db)
    catalog = Catalog(store, registry, lambda year: load_scheme(pack, year, registry), period, years)
    web = Web(store=store, registry=registry, catalog=catalog, policy=policy, secure_cookies=secure_cookies,
              env=_environment())
    pages.figure_codes(catalog.scheme)  # a misnamed settings.web.figures stops jx serve at once
    app = FastAPI(title="jx 绩效之窗", version="1", openapi_url="/api/openapi.json", docs_url=None, redoc_url=None,
                  dependencies=[Depends(csrf_guard)],
                  description="Read-only JSON over the stored runs of one scheme; sign in at /login first "
                              "(the session cookie authenticates every call).")
    app.state.web = web
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=PACKAGE / "static"), name="static")
    _error_handlers(app, web)
    _auth_routes(app, web)
    _page_routes(app, web)
    _api_routes(app, web)
    pm.hook.jx_web_register_routes(app=app, web=web)
    return app


def app_from_env() -> FastAPI:
    """The app as uvicorn's worker processes build it (``jx serve --workers N`` sets these)."""
    period = os.environ.get("JX_WEB_PERIOD")
    secure = os.environ.get("JX_WEB_SECURE_COOKIES", "auto")
    return create_app(scheme=os.environ.get("JX_WEB_SCHEME") or None, period=int(period) if period else None,
                      db=os.environ.get("JX_WEB_DB") or None,
                      secure_cookies=None if secure == "auto" else secure == "1")


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error_handlers(app: FastAPI, web: Web) -> None:
    def page_or_json(request: Request, status: int, title: str, message: str) -> Response:
        if _wants_json(request):
            return JSONResponse({"error": message}, status_code=status)
        return web.render(request, "error.html", status=status, title=title, message=message)

    @app.exception_handler(NotSignedIn)
    def not_signed_in(request: Request, exc: NotSignedIn) -> Response:
        if _wants_json(request):
            return JSONResponse({"error": "sign in first (POST /login), then send the session cookie"},
                                status_code=401)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?{_query(next=target)}", status_code=303)

    @app.exception_handler(Forbidden)
    def forbidden(request: Request, exc: Forbidden) -> Response:
        return page_or_json(request, 403, web.lab["forbidden"], exc.message)

    @app.exception_handler(CsrfRefused)
    def csrf_refused(request: Request, exc: CsrfRefused) -> Response:
        return page_or_json(request, 403, web.lab["forbidden"],
                            f"{web.lab['csrf']} (CSRF token missing or wrong)")

    @app.exception_handler(JxError)
    def jx_error(request: Request, exc: JxError) -> Response:
        status = 404 if isinstance(exc, UsageError) else 403 if isinstance(exc, auth.AccessDenied) else 400
        return page_or_json(request, status, web.lab["error"], exc.render())


def _query(**params: str) -> str:
    from urllib.parse import urlencode

    return urlencode(params)


def _safe_next(target: str | None) -> str:
    """Only a path on this site (no ``//host`` or scheme): sign-in never redirects elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _auth_routes(app: FastAPI, web: Web) -> None:
    def login_page(request: Request, status: int = 200, error: str | None = None, next_: str = "/") -> Response:
        token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
        response = web.render(request, "login.html", status=status, error=error, login_csrf=token,
                              next=_safe_next(next_))
        response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="lax", secure=web.secure(request),
                            path="/login")
        return response

    @app.get("/login", name="login_form", include_in_schema=False)
    def login_form(request: Request, next: str = "/") -> Response:  # noqa: A002 - the query's name
        """The sign-in form (also when signed in: to switch accounts; the old session then ends)."""
        return login_page(request, next_=next)

    @app.post("/login", name="login_submit", include_in_schema=False)
    def login_submit(request: Request, name: str = Form(""), password: str = Form(""),
                     next: str = Form("/")) -> Response:  # noqa: A002
        address = request.client.host if request.client else "unknown"
        try:
            account = auth.authenticate(web.store, name, password, address=address, policy=web.policy)
        except auth.Throttled:
            minutes = int(web.policy.window.total_seconds() // 60)
            return login_page(request, 429, web.lab["throttled"].format(minutes=minutes), next)
        except auth.AccessDenied:
            return login_page(request, 401, web.lab["bad_login"], next)
        auth.revoke_session(web.store, request.cookies.get(SESSION_COOKIE))  # never keep a pre-login id
        session = auth.create_session(web.store, account, address=address,
                                      user_agent=request.headers.get("user-agent"))
        response = RedirectResponse(_safe_next(next), status_code=303)
        response.set_cookie(SESSION_COOKIE, session.token, httponly=True, samesite="lax", secure=web.secure(request),
                            path="/")
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
        return response

    @app.post("/logout", name="logout", include_in_schema=False)
    def logout(request: Request) -> Response:
        auth.revoke_session(web.store, request.cookies.get(SESSION_COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, bool]:
        return {"ok": True}


def _results(web: Web, run: str | None = None):
    return web.catalog.results(run or None)


def _explain_doc(web: Web, results, code: str, node: str | None, page: int) -> dict[str, Any]:
    """The explanation of one node of a unit (an indicator: with one page of its source rows)."""
    from jx_outputs.explain import explain_unit
    from jxcore.engine import SourceOpener
    from jxcore.services import source_rows

    view = results.view
    rules = web.registry.rules
    target = view.scheme.nodes.get(node or view.scheme.root)
    page = max(1, min(page, EXPLAIN_PAGES))
    with SourceOpener(view.scheme, web.registry) as opener:
        rows = (source_rows(view, web.registry, web.store, opener, code, page * EXPLAIN_PAGE)
                if target is not None and target.is_indicator else None)
        doc = explain_unit(view, code, node, lambda n: rules[n].obj.description if n in rules else "", rows)
    found = doc["node"].get("rows")
    if found and found.get("rows") is not None:
        found["rows"] = found["rows"][(page - 1) * EXPLAIN_PAGE: page * EXPLAIN_PAGE]
        total = found.get("total") or 0
        found["page"], found["pages"] = page, max(1, min(EXPLAIN_PAGES, -(-total // EXPLAIN_PAGE)))
    path = []
    cursor = view.scheme.nodes.get(doc["node"]["code"])
    while cursor is not None:
        path.insert(0, {"code": cursor.code, "name": cursor.name})
        cursor = view.scheme.nodes.get(cursor.parent) if cursor.parent else None
    doc["path"] = path
    return doc


def _warnings_doc(web: Web, results, account: auth.Account, new_only: bool) -> dict[str, Any]:
    from jx_outputs.tables import warning_table

    units = None if account.unit_code is None else [results.unit_index(account.unit_code)]
    table = warning_table(results, new_only=new_only, units=units)
    levels = {web.lab[f"level_{k}"]: k for k in (1, 2, 3)}
    rows = [{"code": r[0], "name": r[1], "indicator": r[2], "indicator_name": r[3], "due": r[4], "stage": r[5],
             "value": None if r[6] != r[6] else r[6], "level": levels[r[7]], "label": r[7], "new": bool(r[8])}
            for r in table.rows]
    return {**pages.run_header(results), "new_only": new_only,
            "counts": {k: sum(1 for r in rows if r["level"] == k) for k in (3, 2, 1)}, "rows": rows}


def _table_doc(table) -> dict[str, Any]:
    return {"title": table.title, "columns": [c.label for c in table.columns],
            "rows": [[pages.pts(v) if c.kind == "points" and v is not None else v for c, v in zip(table.columns, row)]
                     for row in table.rows], "notes": list(table.notes)}


def _commendation_doc(results) -> dict[str, Any]:
    from jx_outputs.tables import commendation_table

    return {**pages.run_header(results), **_table_doc(commendation_table(results))}


def _review_doc(results) -> dict[str, Any]:
    from jx_outputs.tables import review_table

    return {**pages.run_header(results), **_table_doc(review_table(results))}


def _compare_doc(web: Web, a: str | None, b: str | None):
    latest = _results(web, b)
    first = _results(web, a) if a else (None if latest.previous is None else _results(web, latest.previous.run_id))
    return pages.compare(first or latest, latest)


def _page_routes(app: FastAPI, web: Web) -> None:
    @app.get("/", name="leaderboard", response_class=HTMLResponse, include_in_schema=False)
    def leaderboard(request: Request, run: str | None = None) -> Response:
        account = signed_in(request)
        results = _results(web, run)
        doc = results.memo(("leaderboard", account.unit_code), lambda: pages.leaderboard(results, account.unit_code))
        return web.render(request, "leaderboard.html", doc=doc, live=run is None)

    @app.get("/units/{code}", name="unit", response_class=HTMLResponse, include_in_schema=False)
    def unit(request: Request, code: str, run: str | None = None) -> Response:
        signed_in(request, Need.UNIT, code)
        results = _results(web, run)
        doc = results.memo(("unit", code), lambda: pages.unit_page(results, code, web.lab))
        return web.render(request, "unit.html", doc=doc)

    @app.get("/units/{code}/explain", name="explain", response_class=HTMLResponse, include_in_schema=False)
    def explain(request: Request, code: str, node: str | None = None, page: int = 1,
                run: str | None = None) -> Response:
        signed_in(request, Need.UNIT, code)
        return web.render(request, "explain.html", doc=_explain_doc(web, _results(web, run), code, node, page))

    @app.get("/warnings", name="warnings", response_class=HTMLResponse, include_in_schema=False)
    def warnings(request: Request, new: bool = False) -> Response:
        account = signed_in(request)
        return web.render(request, "warnings.html", doc=_warnings_doc(web, _results(web), account, new))

    @app.get("/commendations", name="commendations", response_class=HTMLResponse, include_in_schema=False)
    def commendations(request: Request) -> Response:
        signed_in(request)
        return web.render(request, "table.html", doc=_commendation_doc(_results(web)), unit_col=3)

    @app.get("/review", name="review", response_class=HTMLResponse, include_in_schema=False)
    def review(request: Request) -> Response:
        signed_in(request, Need.BUREAU)
        return web.render(request, "table.html", doc=_review_doc(_results(web)), unit_col=2)

    @app.get("/compare", name="compare", response_class=HTMLResponse, include_in_schema=False)
    def compare(request: Request, a: str | None = None, b: str | None = None) -> Response:
        signed_in(request)
        return web.render(request, "compare.html", doc=_compare_doc(web, a, b), runs=web.catalog.run_list())

    @app.get("/admin/sessions", name="sessions", response_class=HTMLResponse, include_in_schema=False)
    def sessions_page(request: Request) -> Response:
        signed_in(request, Need.ADMIN)
        return web.render(request, "sessions.html", sessions=auth.live_sessions(web.store, policy=web.policy))

    @app.post("/admin/sessions/revoke", name="revoke", include_in_schema=False)
    def revoke(request: Request, user: str = Form(...)) -> Response:
        admin = signed_in(request, Need.ADMIN)
        auth.revoke_sessions(web.store, user, by=admin.name)
        return RedirectResponse("/admin/sessions", status_code=303)

    @app.post("/admin/run", name="run_now", include_in_schema=False)
    def run_now(request: Request) -> Response:
        admin = signed_in(request, Need.ADMIN)
        daily_run(web, actor=admin.name)
        return RedirectResponse("/", status_code=303)


def daily_run(web: Web, today: dt.date | None = None, actor: str | None = None) -> str:
    """Score the scheme as of today (inside its period) and store the run: the daily leaderboard
    (a second run of the same day replaces the first); then drop expired sessions and old attempts."""
    from jxcore.services import run

    scheme = web.catalog.scheme
    result = run(web.store, web.registry, scheme, as_of=scheme.period.clamp(today or dt.date.today()), actor=actor)
    auth.purge(web.store, policy=web.policy)  # old sessions and sign-in attempts go with the day
    return result.run.id


def _json(doc: Any) -> Response:
    return Response(json.dumps(doc, ensure_ascii=False, default=str), media_type="application/json")


def _api_routes(app: FastAPI, web: Web) -> None:
    @app.get("/api/me", tags=["session"])
    def me(request: Request) -> Response:
        """The signed-in account: name, role, department, unit."""
        a = signed_in(request)
        return _json({"name": a.name, "role": a.role.value, "department": a.department, "unit": a.unit_code})

    @app.get("/api/latest", tags=["runs"])
    def latest(request: Request) -> Response:
        """The id of the newest run (cheap: pages poll it to reload when a new run is stored)."""
        signed_in(request)
        return _json({"run_id": web.catalog.latest_id()})

    @app.get("/api/runs", tags=["runs"])
    def runs(request: Request) -> Response:
        """The scheme's stored runs, newest first."""
        signed_in(request)
        return _json([{"run_id": r.id, "period": r.period, "as_of": r.as_of.isoformat(), "final": r.final,
                       "started_at": r.started_at.isoformat()} for r in web.catalog.run_list()])

    @app.get("/api/leaderboard", tags=["results"])
    def api_leaderboard(request: Request, run: str | None = None) -> Response:
        """The leaderboard of the latest run (or ``run``): rows by rank, with the caller's unit flagged."""
        account = signed_in(request)
        doc = pages.leaderboard(_results(web, run), account.unit_code)
        doc.pop("distribution")
        return _json(doc)

    @app.get("/api/units/{code}", tags=["results"])
    def api_unit(request: Request, code: str, run: str | None = None) -> Response:
        """One unit's page as data: items, indicators, warnings, status, history."""
        signed_in(request, Need.UNIT, code)
        doc = pages.unit_page(_results(web, run), code, web.lab)
        doc.pop("charts")
        return _json(doc)

    @app.get("/api/units/{code}/explain", tags=["results"])
    def api_explain(request: Request, code: str, node: str | None = None, page: int = 1,
                    run: str | None = None) -> Response:
        """How the unit earned or lost the points of ``node`` (default the root), with source rows."""
        signed_in(request, Need.UNIT, code)
        return _json(_explain_doc(web, _results(web, run), code, node, page))

    @app.get("/api/warnings", tags=["results"])
    def api_warnings(request: Request, new: bool = False) -> Response:
        """Warnings by level (a branch account sees its own); ``new``: only those new since the previous day."""
        account = signed_in(request)
        return _json(_warnings_doc(web, _results(web), account, new))

    @app.get("/api/commendations", tags=["results"])
    def api_commendations(request: Request) -> Response:
        """Commendation (评先评优) of the latest run."""
        signed_in(request)
        return _json(_commendation_doc(_results(web)))

    @app.get("/api/review", tags=["results"])
    def api_review(request: Request) -> Response:
        """Leadership review (班子评价) of the latest run (bureau accounts)."""
        signed_in(request, Need.BUREAU)
        return _json(_review_doc(_results(web)))

    @app.get("/api/compare", tags=["results"])
    def api_compare(request: Request, a: str | None = None, b: str | None = None) -> Response:
        """Two runs side by side (default: the latest and the previous day's)."""
        signed_in(request)
        return _json(_compare_doc(web, a, b))
