"""jxcore.services.auth on its own: hashes, expiry (idle and absolute), revocation, disabled accounts."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from jxcore.errors import AccessDenied, UsageError
from jxcore.records.access import add_user
from jxcore.services import auth
from jxcore.store import Store
from jxcore.store.tables import sessions, users


@pytest.fixture
def store(tmp_path):
    with Store.open(f"sqlite:///{tmp_path / 'jx.sqlite'}") as s:
        add_user(s, "admin", role="admin")
        auth.set_password(s, "admin", "first-admin-password")
        add_user(s, "li", role="clerk", department="DJK", by="admin")
        auth.set_password(s, "li", "li-password-1", by="admin")
        yield s


def _age(store, column: str, by: dt.timedelta) -> None:
    """Move every session's ``column`` into the past (what waiting would do, without waiting)."""
    with store.engine.begin() as connection:
        for row in connection.execute(sa.select(sessions.c.id, sessions.c[column])).all():
            connection.execute(sessions.update().where(sessions.c.id == row.id).values({column: row[1] - by}))


def test_password_is_stored_as_argon2id_never_in_clear(store):
    with store.engine.connect() as connection:
        hashed = connection.execute(sa.select(users.c.password_hash).where(users.c.name == "li")).scalar()
    assert hashed.startswith("$argon2id$") and "li-password-1" not in hashed
    assert auth.check_password(store, "li", "li-password-1").department == "DJK"
    with pytest.raises(AccessDenied, match="wrong user name or password"):
        auth.check_password(store, "li", "li-password-2")


def test_short_passwords_and_strangers_setting_them_are_refused(store):
    with pytest.raises(UsageError, match="at least 10"):
        auth.set_password(store, "li", "short")
    with pytest.raises(AccessDenied):
        auth.set_password(store, "admin", "taken-over-admin", by="li")
    with pytest.raises(AccessDenied):  # passwords exist: no more "first password" without an actor
        auth.set_password(store, "admin", "taken-over-admin")
    auth.set_password(store, "li", "li-own-new-password", by="li")  # one's own is fine


def test_session_idle_and_absolute_expiry(store):
    policy = auth.Policy(idle=dt.timedelta(minutes=30), absolute=dt.timedelta(hours=12))
    account = auth.authenticate(store, "li", "li-password-1", address="10.0.0.1", policy=policy)
    session = auth.create_session(store, account)
    assert auth.get_session(store, session.token, policy=policy).account.name == "li"
    _age(store, "last_seen_at", dt.timedelta(minutes=31))
    assert auth.get_session(store, session.token, policy=policy) is None  # idle too long
    fresh = auth.create_session(store, account)
    _age(store, "created_at", dt.timedelta(hours=12, seconds=1))
    assert auth.get_session(store, fresh.token, policy=policy) is None  # though active just now


def test_activity_keeps_a_session_alive(store):
    policy = auth.Policy(idle=dt.timedelta(minutes=30), touch_every=dt.timedelta(seconds=0))
    session = auth.create_session(store, auth.get_account(store, "li"))
    _age(store, "last_seen_at", dt.timedelta(minutes=29))
    assert auth.get_session(store, session.token, policy=policy) is not None  # touches it
    _age(store, "last_seen_at", dt.timedelta(minutes=29))
    assert auth.get_session(store, session.token, policy=policy) is not None


def test_only_the_token_digest_is_stored(store):
    session = auth.create_session(store, auth.get_account(store, "li"))
    with store.engine.connect() as connection:
        ids = connection.execute(sa.select(sessions.c.id)).scalars().all()
    assert session.token not in ids and session.id in ids
    assert auth.get_session(store, session.id) is None  # a stolen database row opens nothing


def test_new_password_disable_and_revoke_end_sessions(store):
    account = auth.get_account(store, "li")
    one, two = auth.create_session(store, account), auth.create_session(store, account)
    auth.set_password(store, "li", "li-password-new", by="admin")
    assert auth.get_session(store, one.token) is None and auth.get_session(store, two.token) is None
    three = auth.create_session(store, account)
    auth.set_disabled(store, "li", True, by="admin")
    assert auth.get_session(store, three.token) is None
    with pytest.raises(AccessDenied):
        auth.authenticate(store, "li", "li-password-new", address="10.0.0.1")
    auth.set_disabled(store, "li", False, by="admin")
    four = auth.create_session(store, account)
    assert auth.revoke_sessions(store, "li", by="admin") == 1
    assert auth.get_session(store, four.token) is None
    assert [s.user_name for s in auth.live_sessions(store)] == []


def test_a_success_resets_the_account_failures(store):
    policy = auth.Policy(account_failures=3)
    for _ in range(2):
        with pytest.raises(AccessDenied):
            auth.authenticate(store, "li", "nope", address="a", policy=policy)
    auth.authenticate(store, "li", "li-password-1", address="a", policy=policy)
    for _ in range(2):
        with pytest.raises(AccessDenied):
            auth.authenticate(store, "li", "nope", address="a", policy=policy)
    assert auth.authenticate(store, "li", "li-password-1", address="a", policy=policy).name == "li"
    for _ in range(3):
        with pytest.raises(AccessDenied):
            auth.authenticate(store, "li", "nope", address="a", policy=policy)
    with pytest.raises(auth.Throttled):
        auth.authenticate(store, "li", "li-password-1", address="a", policy=policy)


def test_generated_passwords_are_long_and_different():
    made = {auth.generate_password() for _ in range(50)}
    assert len(made) == 50 and all(len(p) == 16 and p.isalnum() for p in made)


def test_purge_drops_expired_sessions_and_old_attempts_only(store):
    from jxcore.store.tables import login_attempts

    old = auth.create_session(store, auth.get_account(store, "li"))
    with pytest.raises(AccessDenied):
        auth.authenticate(store, "li", "wrong", address="a")
    _age(store, "created_at", dt.timedelta(days=45))
    with store.engine.begin() as connection:
        connection.execute(login_attempts.update().values(at=auth._now() - dt.timedelta(days=45)))
    fresh = auth.create_session(store, auth.get_account(store, "li"))
    auth.authenticate(store, "li", "li-password-1", address="a")
    auth.purge(store)
    with store.engine.connect() as connection:
        assert connection.execute(sa.select(sessions.c.id)).scalars().all() == [fresh.id]
        assert connection.execute(sa.select(login_attempts.c.success)).scalars().all() == [True]
    assert old.id != fresh.id
