"""Sign-in state, roles, CSRF and response headers for every route of the app.

- The session cookie holds a random token; the store keeps its sha256 (jxcore.services.auth).
- Every unsafe request (POST, PUT, PATCH, DELETE) carries a CSRF token: the session's (form field
  ``csrf`` or header ``X-CSRF-Token``); the sign-in form, before any session, a double-submit
  token from its own cookie. The check is an app-wide dependency, so routes other plugins add
  through ``jx_web_register_routes`` are covered too.
- Who may see what is decided in one place, :func:`allowed`, and tested route by route.
"""

from __future__ import annotations

import enum
import secrets

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from jxcore.records.access import Role
from jxcore.services.auth import Account, Session, get_session

SESSION_COOKIE = "jx_session"
LOGIN_CSRF_COOKIE = "jx_login_csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data:; style-src 'self'; "
                                 b"script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


class Need(enum.Enum):
    """What a route asks of the signed-in account."""

    SIGNED_IN = "signed in"  #: any account (the leaderboard, commendations, runs, compare)
    UNIT = "the unit's own account or bureau staff"  #: a unit's page: its branch, or any unit-less account
    BUREAU = "a bureau account (not a branch)"  #: the leadership review, all units' warnings
    ADMIN = "an admin"
    #: entry forms and uploads (the services then decide per indicator: docs/records.md)
    ENTER = "an account that enters data (clerk, inspector or admin)"


class NotSignedIn(Exception):
    """No live session: pages redirect to the sign-in form, the API answers 401."""


class Forbidden(Exception):
    """Signed in, but this account may not see this (403)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class CsrfRefused(Exception):
    """An unsafe request without the right CSRF token (403)."""


def allowed(account: Account, need: Need, unit: str | None = None) -> bool:
    """The policy: branch accounts (with a unit) see the leaderboard, commendations and their own
    unit; bureau accounts (no unit) see every unit; only admins administer."""
    if need is Need.SIGNED_IN:
        return True
    if need is Need.ADMIN:
        return account.role is Role.ADMIN
    if need is Need.ENTER:
        return account.role in (Role.CLERK, Role.INSPECTOR, Role.ADMIN)
    if need is Need.BUREAU:
        return account.unit_code is None
    return account.unit_code is None or account.unit_code == unit


def _session(request: Request) -> Session | None:
    if not hasattr(request.state, "session"):
        web = request.app.state.web
        request.state.session = get_session(web.store, request.cookies.get(SESSION_COOKIE), policy=web.policy)
    return request.state.session


async def current_session(request: Request) -> Session | None:
    """The request's live session, or None (looked up once per request)."""
    if hasattr(request.state, "session"):
        return request.state.session
    return await run_in_threadpool(_session, request)


def signed_in(request: Request, need: Need = Need.SIGNED_IN, unit: str | None = None) -> Account:
    """The account if it may do ``need`` (on ``unit``); NotSignedIn or Forbidden otherwise."""
    session = _session(request)
    if session is None:
        raise NotSignedIn()
    if not allowed(session.account, need, unit):
        raise Forbidden(f"{session.account.name} may not open this page: it needs {need.value}")
    return session.account


async def csrf_guard(request: Request) -> None:
    """App-wide dependency: refuse an unsafe request whose CSRF token is missing or wrong."""
    if request.method in SAFE_METHODS:
        return
    given = request.headers.get("x-csrf-token")
    if given is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        given = (await request.form()).get("csrf")
    if request.url.path == request.app.url_path_for("login_submit"):
        expected = request.cookies.get(LOGIN_CSRF_COOKIE)
    else:
        session = await current_session(request)
        expected = session.csrf if session else None
    if not expected or not isinstance(given, str) or not secrets.compare_digest(given.encode(), expected.encode()):
        raise CsrfRefused()


class SecurityHeaders:
    """ASGI middleware adding the headers above to every response (pure ASGI: no per-request task)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)
