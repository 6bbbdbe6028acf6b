"""Authentication: passwords (Argon2id), server-side sessions, login throttling (docs/web.md).

Plain functions over a :class:`~jxcore.store.Store`, for the web app and the CLI's ``--as``.
Sessions live in the store so every worker process sees a sign-in or a sign-out at once: the
cookie holds a random token, the store only its sha256, so a copy of the database opens no
session. A session ends at its idle or absolute expiry, when revoked (sign-out, a new password,
a disabled account) or when its user is disabled. Failed sign-ins are stored too, so throttling
per account and per address holds across workers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import string

import attrs
import sqlalchemy as sa

from jxcore.errors import AccessDenied, StoreError, UsageError
from jxcore.records.access import Action, Role, User, log_access, require
from jxcore.store import Store, ledger
from jxcore.store.tables import login_attempts, sessions, users

#: One message for a wrong name and a wrong password, so sign-in does not reveal who exists.
BAD_CREDENTIALS = "wrong user name or password"
MIN_PASSWORD = 10


@attrs.frozen
class Policy:
    """Session lifetimes and throttling limits (defaults follow OWASP's session guidance)."""

    idle: dt.timedelta = dt.timedelta(minutes=30)
    absolute: dt.timedelta = dt.timedelta(hours=12)
    touch_every: dt.timedelta = dt.timedelta(seconds=60)  #: last_seen is written at most this often
    window: dt.timedelta = dt.timedelta(minutes=15)  #: failures counted over this span
    account_failures: int = 5  #: failures of one account (since its last success) before refusal
    address_failures: int = 20  #: failures from one address before refusal


DEFAULT_POLICY = Policy()


@attrs.frozen
class Account(User):
    """A user with what sign-in needs: a branch account's ``unit_code``, ``disabled``, a password."""

    unit_code: str | None = None
    disabled: bool = False
    has_password: bool = False

    @property
    def user(self) -> User:
        return User(self.name, self.role, self.department)


@attrs.frozen
class Session:
    """A signed-in session: ``csrf`` goes into every form; ``token`` only right after creation."""

    id: str  #: sha256 hex of the token: what the store keeps
    account: Account
    csrf: str
    created_at: dt.datetime
    last_seen_at: dt.datetime
    token: str | None = attrs.field(default=None, repr=False)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _hasher():
    from argon2 import PasswordHasher

    # Argon2id with OWASP's parameters (19 MiB, 2 passes, 1 lane): a fraction of a second on a
    # busy 2-core server, so sign-in stays cheap for the server and dear for a guesser.
    return PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


def _account(row) -> Account:
    return Account(name=row.name, role=Role(row.role), department=row.department, unit_code=row.unit_code,
                   disabled=bool(row.disabled), has_password=row.password_hash is not None)


def get_account(store: Store, name: str) -> Account | None:
    with store.engine.connect() as connection:
        row = connection.execute(sa.select(users).where(users.c.name == name)).first()
    return _account(row) if row else None


def accounts(store: Store) -> list[Account]:
    with store.engine.connect() as connection:
        rows = connection.execute(sa.select(users).order_by(users.c.name)).all()
    return [_account(r) for r in rows]


def generate_password(length: int = 16) -> str:
    """A random password of letters and digits (no look-alikes), for new and reset accounts."""
    alphabet = "".join(c for c in string.ascii_letters + string.digits if c not in "0O1lI")
    return "".join(secrets.choice(alphabet) for _ in range(length))


def check_strength(password: str) -> None:
    """UsageError for a password too short to keep (the only rule: length, as NIST SP 800-63B asks)."""
    if len(password) < MIN_PASSWORD:
        raise UsageError(f"the password has {len(password)} characters; it needs at least {MIN_PASSWORD}",
                         hint="choose a longer one, or let jx generate one (--generate)")


def set_password(store: Store, name: str, password: str, *, by: str | None = None) -> None:
    """Set ``name``'s password (an admin, or the user themself) and end all their sessions.

    ``by`` None: the first password of a store whose users have none (setting up the first admin).
    """
    check_strength(password)
    target = get_account(store, name)
    if target is None:
        raise UsageError(f"unknown user {name!r}", hint="add them first with jx user add")
    if by is None:
        if any(a.has_password for a in accounts(store)):
            raise AccessDenied("only an admin or the user may set a password",
                               hint="act as an admin: --as NAME with that admin's password")
    elif by != name:
        require(store, by, Action.MANAGE_USERS, target=name)
    hashed = _hasher().hash(password)

    def write(tx) -> None:
        ledger.update_version(tx.connection, "users", name, password_hash=hashed)  # chained (docs/records.md)
        tx.connection.execute(sessions.update().where(sessions.c.user_name == name,
                                                      sessions.c.revoked_at.is_(None)).values(revoked_at=_now()))

    store.write(write)
    log_access(store, by or name, Action.MANAGE_USERS, f"set the password of {name}", allowed=True, target=name)


def set_unit(store: Store, name: str, unit_code: str | None, *, by: str) -> None:
    """Tie a (viewer) account to its branch, whose row the leaderboard pins for it."""
    require(store, by, Action.MANAGE_USERS, target=name)
    if get_account(store, name) is None:
        raise UsageError(f"unknown user {name!r}", hint="add them first with jx user add")
    store.write(lambda tx: ledger.update_version(tx.connection, "users", name, unit_code=unit_code))


def set_disabled(store: Store, name: str, disabled: bool, *, by: str) -> None:
    """Disable (or enable) an account; disabling ends its sessions at once."""
    require(store, by, Action.MANAGE_USERS, target=name)

    def write(tx) -> None:
        ledger.update_version(tx.connection, "users", name, disabled=disabled)
        if disabled:
            tx.connection.execute(sessions.update().where(sessions.c.user_name == name,
                                                          sessions.c.revoked_at.is_(None)).values(revoked_at=_now()))

    store.write(write)
    log_access(store, by, Action.MANAGE_USERS, f"{'disabled' if disabled else 'enabled'} {name}", allowed=True,
               target=name)


def check_password(store: Store, name: str, password: str) -> Account:
    """The account if ``password`` is its password (no throttling: the CLI's ``--as``)."""
    with store.engine.connect() as connection:
        row = connection.execute(sa.select(users).where(users.c.name == name)).first()
    if row is None or row.password_hash is None or row.disabled or not _verify(row.password_hash, password):
        raise AccessDenied(BAD_CREDENTIALS if row is None or not row.disabled else f"account {name!r} is disabled",
                           hint="check the name and password (JX_PASSWORD or the prompt); an admin resets a "
                                "password with jx user passwd")
    return _account(row)


def _verify(hashed: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

    try:
        return _hasher().verify(hashed, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _throttled(connection: sa.Connection, name: str, address: str, policy: Policy, now: dt.datetime) -> str | None:
    """Why sign-in is refused for now (too many recent failures), or None."""
    since = now - policy.window
    last_ok = connection.execute(sa.select(sa.func.max(login_attempts.c.at)).where(
        login_attempts.c.user_name == name, login_attempts.c.success == sa.true())).scalar()
    account_since = max(since, last_ok) if last_ok is not None else since
    failed = sa.select(sa.func.count()).select_from(login_attempts).where(login_attempts.c.success == sa.false())
    by_account = connection.execute(failed.where(login_attempts.c.user_name == name,
                                                 login_attempts.c.at > account_since)).scalar_one()
    if by_account >= policy.account_failures:
        return f"too many failed sign-ins for {name!r}"
    by_address = connection.execute(failed.where(login_attempts.c.address == address,
                                                 login_attempts.c.at > since)).scalar_one()
    if by_address >= policy.address_failures:
        return f"too many failed sign-ins from {address}"
    return None


class Throttled(AccessDenied):
    """Sign-in refused for a while after too many failures (HTTP 429)."""


def authenticate(store: Store, name: str, password: str, *, address: str,
                 policy: Policy = DEFAULT_POLICY) -> Account:
    """The account if the password is right and sign-in is not throttled; every attempt is stored.

    Raises :class:`Throttled` (before the password is even checked) or AccessDenied with
    :data:`BAD_CREDENTIALS`.
    """
    now = _now()
    name = name[:200]
    address = (address or "unknown")[:64]
    with store.engine.connect() as connection:
        why = _throttled(connection, name, address, policy, now)
        row = connection.execute(sa.select(users).where(users.c.name == name)).first()
    if why:
        raise Throttled(why, hint=f"wait {int(policy.window.total_seconds() // 60)} minutes, or ask an admin "
                                  "to reset the password")
    ok = row is not None and row.password_hash is not None and not row.disabled and _verify(row.password_hash, password)
    store.write(lambda tx: tx.connection.execute(login_attempts.insert(), {
        "at": now, "user_name": name, "address": address, "success": ok}))
    if not ok:
        raise AccessDenied(BAD_CREDENTIALS, hint="check the name and password; an admin can reset it")
    return _account(row)


def create_session(store: Store, account: Account, *, address: str | None = None,
                   user_agent: str | None = None) -> Session:
    """A new session (always a new id: a session id known before sign-in is never reused)."""
    token, csrf, now = secrets.token_urlsafe(32), secrets.token_urlsafe(32), _now()
    store.write(lambda tx: tx.connection.execute(sessions.insert(), {
        "id": _digest(token), "user_name": account.name, "csrf": csrf, "created_at": now, "last_seen_at": now,
        "address": (address or "")[:64] or None, "user_agent": (user_agent or "")[:500] or None}))
    return Session(id=_digest(token), account=account, csrf=csrf, created_at=now, last_seen_at=now, token=token)


def get_session(store: Store, token: str | None, *, policy: Policy = DEFAULT_POLICY,
                touch: bool = True) -> Session | None:
    """The live session of a cookie's token (None: unknown, revoked, expired or its user disabled).

    ``touch`` records the activity (at most every ``policy.touch_every``, to spare the store).
    """
    if not token or len(token) > 200:
        return None
    now = _now()
    query = (sa.select(sessions, users.c.role, users.c.department, users.c.unit_code, users.c.disabled,
                       users.c.password_hash)
             .join(users, users.c.name == sessions.c.user_name).where(sessions.c.id == _digest(token)))
    with store.engine.connect() as connection:
        row = connection.execute(query).first()
    if (row is None or row.revoked_at is not None or row.disabled or row.last_seen_at + policy.idle <= now
            or row.created_at + policy.absolute <= now):
        return None
    account = Account(name=row.user_name, role=Role(row.role), department=row.department, unit_code=row.unit_code,
                      disabled=False, has_password=row.password_hash is not None)
    last_seen = row.last_seen_at
    if touch and now - last_seen >= policy.touch_every:
        try:
            store.write(lambda tx: tx.connection.execute(
                sessions.update().where(sessions.c.id == row.id).values(last_seen_at=now)), attempts=2)
            last_seen = now
        except StoreError:  # a busy store: the activity is recorded by a later request
            pass
    return Session(id=row.id, account=account, csrf=row.csrf, created_at=row.created_at, last_seen_at=last_seen)


def revoke_session(store: Store, token: str | None) -> None:
    """End one session (sign-out); an unknown token is ignored."""
    if token:
        store.write(lambda tx: tx.connection.execute(
            sessions.update().where(sessions.c.id == _digest(token), sessions.c.revoked_at.is_(None))
            .values(revoked_at=_now())))


def revoke_sessions(store: Store, name: str, *, by: str) -> int:
    """End every session of a user (an admin's act, or the user's own); how many were live."""
    if by != name:
        require(store, by, Action.MANAGE_USERS, target=name)
    ended = store.write(lambda tx: tx.connection.execute(
        sessions.update().where(sessions.c.user_name == name, sessions.c.revoked_at.is_(None))
        .values(revoked_at=_now())).rowcount)
    log_access(store, by, Action.MANAGE_USERS, f"ended {ended} sessions of {name}", allowed=True, target=name)
    return ended


@attrs.frozen
class LiveSession:
    user_name: str
    created_at: dt.datetime
    last_seen_at: dt.datetime
    address: str | None


def live_sessions(store: Store, *, policy: Policy = DEFAULT_POLICY) -> list[LiveSession]:
    """Sessions not revoked nor expired, newest activity first (never their tokens)."""
    now = _now()
    query = (sa.select(sessions).where(sessions.c.revoked_at.is_(None), sessions.c.last_seen_at > now - policy.idle,
                                       sessions.c.created_at > now - policy.absolute)
             .order_by(sessions.c.last_seen_at.desc()))
    with store.engine.connect() as connection:
        return [LiveSession(r.user_name, r.created_at, r.last_seen_at, r.address) for r in connection.execute(query)]


def purge(store: Store, *, policy: Policy = DEFAULT_POLICY, keep: dt.timedelta = dt.timedelta(days=30)) -> None:
    """Delete sessions past their absolute expiry and login attempts older than ``keep``."""
    now = _now()
    store.write(lambda tx: (
        tx.connection.execute(sessions.delete().where(sessions.c.created_at < now - policy.absolute - keep)),
        tx.connection.execute(login_attempts.delete().where(login_attempts.c.at < now - keep))))
