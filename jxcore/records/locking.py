"""Locks (及时锁定): entries up to a date, or a period's final results; unlocking needs two admins.

A lock is an append-only ``record_locks`` row holding the audit chain's head at that moment; an
unlock is two more rows (a request by one admin, the unlock by another), so every lift leaves a
trace. Each of them signs the chain's head after its own record (jxcore.records.heads). The
database's triggers (migrations 0003, 0006) enforce the locks; the checks here only give the
friendlier message first. A lock takes the chain's writer lock; on PostgreSQL its row also takes
``entries`` in SHARE mode (migration 0010): it waits for the entry writers in flight, and an
entry written around jx after it waits at its INSERT and then meets the lock's row (withdrawals
and runs at their commit, migration 0006).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
import sqlalchemy as sa

from jxcore.errors import AccessDenied, LockedError, UsageError
from jxcore.records.access import Action, log_access, require
from jxcore.records.heads import SignedHead, load_key, sign_head
from jxcore.store import Store, ledger
from jxcore.store.tables import entries, record_locks


@attrs.frozen
class Lock:
    id: int
    scheme: str
    period: int
    scope: str  #: "entries" (up to ``until``) or "final" (final results and all entries)
    until: dt.date
    by_user: str
    at: dt.datetime
    reason: str | None
    head: str  #: the audit chain's head just before the lock's own record (hex)
    size: int  #: how many chained records that head covers
    unlocked_by: tuple[str, ...] = ()  #: the requesting and the unlocking admin, once lifted
    unlock_requested_by: str | None = None
    #: the signed tree head after this lock's (or unlock's) own record, when just made
    signed: SignedHead | None = attrs.field(default=None, eq=False)

    @property
    def active(self) -> bool:
        return not self.unlocked_by

    def describe(self) -> str:
        what = "final results and entries" if self.scope == "final" else f"entries up to {self.until}"
        return f"lock #{self.id}: {self.scheme} {self.period} {what}, by {self.by_user} at {self.at:%Y-%m-%d %H:%M} UTC"


def locks(connection: sa.Connection, scheme: str | None = None, period: int | None = None) -> list[Lock]:
    """Every lock (active or lifted) of scheme/period, oldest first."""
    c = record_locks.c
    query = sa.select(record_locks).order_by(c.id)
    if scheme is not None:
        query = query.where(c.scheme == scheme)
    if period is not None:
        query = query.where(c.period == period)
    rows = connection.execute(query).all()
    requests = {r.lock_id: r.by_user for r in rows if r.action == "unlock_request"}
    lifts = {r.lock_id: r.by_user for r in rows if r.action == "unlock"}
    return [Lock(id=r.id, scheme=r.scheme, period=r.period, scope=r.scope, until=r.until, by_user=r.by_user,
                 at=r.at, reason=r.reason, head=r.head, size=r.size,
                 unlocked_by=(requests[r.id], lifts[r.id]) if r.id in lifts else (),
                 unlock_requested_by=requests.get(r.id) if r.id not in lifts else None)
            for r in rows if r.action == "lock"]


def active_locks(connection: sa.Connection, scheme: str, period: int) -> list[Lock]:
    return [lk for lk in locks(connection, scheme, period) if lk.active]


#: How long taking a lock waits on PostgreSQL for the writers in flight (a jx import of the largest
#: file allowed takes a few minutes) before it gives up with a StoreError, nothing locked.
LOCK_WAIT_S = 600


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def lock(store: Store, scheme: str, period: int, *, user: str, until: dt.date | None = None, final: bool = False,
         reason: str | None = None) -> Lock:
    """Lock scheme/period's entries up to ``until`` (default 31 December), or with ``final`` its final
    results and all its entries; record and return the chain head (admins only)."""
    where: dict[str, Any] = {"scheme": scheme, "period": period}
    require(store, user, Action.LOCK, **where)
    end = dt.date(period, 12, 31)
    until = end if final or until is None else until
    if not dt.date(period, 1, 1) <= until <= end:
        raise UsageError(f"--until {until} is outside period {period}", hint=f"give a date in {period}")

    key = require_enforced(store, "lock")

    def write(tx) -> tuple[Lock, SignedHead]:
        connection = tx.connection
        # Every jx writer waits for this lock, and on PostgreSQL so does any other writer (entries
        # at their INSERT, 0010; withdrawals and runs at commit, 0006): nothing commits behind
        # the lock (docs/records.md). The lock waits for the writers in flight, within a bound: a
        # session left open after writing entries must not hold it up for ever.
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{int(LOCK_WAIT_S * 1000)}ms'")
        ledger.lock_writers(connection)
        size, head = ledger.last_link(connection)
        new_id = connection.execute(record_locks.insert().values(
            scheme=scheme, period=period, action="lock", scope="final" if final else "entries", until=until,
            by_user=user, at=_now(), reason=reason, head=head, size=size)).inserted_primary_key[0]
        ledger.append_where(connection, "record_locks", sa.column("id") == new_id)
        done = next(lk for lk in locks(connection, scheme, period) if lk.id == new_id)
        return done, sign_head(connection, done.describe(), key)

    done, signed = store.write(write)
    log_access(store, user, Action.LOCK, done.describe() + f", signed head {signed.head} ({signed.size} records)",
               allowed=True, target=done.scope, **where)
    return attrs.evolve(done, signed=signed)


def require_enforced(store: Store, what: str):
    """The signing key, once the store is known to enforce locks in the database; UsageError on a
    backend without triggers (MariaDB/MySQL): a lock there would hold only against jx itself."""
    with store.engine.connect() as connection:
        if not ledger.guarded(connection):
            backend = "MariaDB/MySQL" if connection.dialect.name in ("mysql", "mariadb") else connection.dialect.name
            raise UsageError(f"this {backend} store cannot enforce a {what} in the database "
                             "(it has no lock triggers), so jx refuses it",
                             hint="keep records that must be locked in a PostgreSQL or SQLite store (docs/records.md)")
        ledger.require_guards(connection)
    return load_key()


def unlock(store: Store, scheme: str, period: int, *, user: str, reason: str, lock_id: int | None = None) -> Lock:
    """Lift a lock, in two steps by two different admins: the first call requests, the second unlocks.

    ``lock_id`` defaults to the newest active lock of scheme/period. Returns the lock (its
    ``unlocked_by`` is set once lifted).
    """
    where: dict[str, Any] = {"scheme": scheme, "period": period}
    require(store, user, Action.UNLOCK, **where)
    if not reason or not reason.strip():
        raise UsageError("an unlock needs a reason", hint="give --reason TEXT; it is kept with the lock")
    with store.engine.connect() as connection:
        current = active_locks(connection, scheme, period)
    target = next((lk for lk in current if lk.id == lock_id), None) if lock_id is not None else \
        (current[-1] if current else None)
    if target is None:
        raise UsageError(f"{scheme} {period} has no active lock" + (f" #{lock_id}" if lock_id else ""),
                         hint="jx verify lists the locks of the store")
    if target.unlock_requested_by == user:
        message = f"{user} requested the unlock of lock #{target.id} already; a second admin must confirm it"
        log_access(store, user, Action.UNLOCK, message, allowed=False, target=str(target.id), **where)
        raise AccessDenied(message, hint="another admin runs the same jx unlock command")
    action = "unlock" if target.unlock_requested_by else "unlock_request"

    key = require_enforced(store, "unlock")

    def write(tx) -> Lock:
        connection = tx.connection
        ledger.lock_writers(connection)
        new_id = connection.execute(record_locks.insert().values(
            scheme=scheme, period=period, action=action, scope=target.scope, until=target.until,
            lock_id=target.id, by_user=user, at=_now(), reason=reason)).inserted_primary_key[0]
        ledger.append_where(connection, "record_locks", sa.column("id") == new_id)
        done = next(lk for lk in locks(connection, scheme, period) if lk.id == target.id)
        event = f"{action.replace('_', ' ')} #{new_id} of lock #{target.id} ({scheme} {period}) by {user}"
        return attrs.evolve(done, signed=sign_head(connection, event, key))

    done = store.write(write)
    log_access(store, user, Action.UNLOCK, f"{action.replace('_', ' ')} of lock #{target.id}: {reason}",
               allowed=True, target=str(target.id), **where)
    return done


def check_unlocked(connection: sa.Connection, scheme: str, period: int, dates: list[dt.date],
                   superseded: list[int]) -> None:
    """LockedError naming the lock if any entry date (or an entry being superseded) is locked."""
    current = active_locks(connection, scheme, period)
    if not current:
        return
    latest = max(lk.until for lk in current)
    if superseded:
        dates = dates + [d for (d,) in connection.execute(
            sa.select(entries.c.entry_date).where(entries.c.id.in_(superseded)))]
    locked = sorted(d for d in dates if d <= latest)
    if locked:
        lk = next(lk for lk in reversed(current) if lk.until >= locked[0])
        raise LockedError(f"{len(locked)} entries are dated {locked[0]} … {locked[-1]}, inside {lk.describe()}",
                          hint="nothing was stored; entries after the lock's date can still be added, "
                               "or two admins lift the lock with jx unlock")


def check_unlocked_query(connection: sa.Connection, scheme: str, period: int,
                         dates: sa.Select | sa.CompoundSelect) -> None:
    """:func:`check_unlocked` for the dates a query gives (one date column: an import's staged
    entries and the entries they supersede), counted in the database instead of listed in Python."""
    current = active_locks(connection, scheme, period)
    if not current:
        return
    latest = max(lk.until for lk in current)
    found = dates.subquery()
    day = sa.type_coerce(found.c[0], sa.Date)
    count, first, last = connection.execute(
        sa.select(sa.func.count(), sa.func.min(day, type_=sa.Date), sa.func.max(day, type_=sa.Date))
        .where(day <= latest)).one()
    if count:
        lk = next(lk for lk in reversed(current) if lk.until >= first)
        raise LockedError(f"{count} entries are dated {first} … {last}, inside {lk.describe()}",
                          hint="nothing was stored; entries after the lock's date can still be added, "
                               "or two admins lift the lock with jx unlock")


def check_not_final_locked(store: Store, scheme: str, period: int) -> None:
    """LockedError naming the lock when scheme/period has an active final lock: no run is stored
    then (the database refuses it too); what is published is the locked final result."""
    with store.engine.connect() as connection:
        final = [lk for lk in active_locks(connection, scheme, period) if lk.scope == "final"]
    if final:
        raise LockedError(f"{scheme} {period} is under {final[-1].describe()}: no run of the period is stored, "
                          "final or not", hint="the locked final result is what is published; two admins lift the "
                                               "lock with jx unlock to run again")


def sign_final_run(store: Store, result, actor: str | None, key) -> SignedHead:
    """Sign the chain's head after a final run (its records committed with it)."""
    run = result.run
    event = f"final run {run.id} of {run.scheme} {run.period} as of {run.as_of} by {actor or 'anyone'}"

    def write(tx) -> SignedHead:
        ledger.lock_writers(tx.connection)
        return sign_head(tx.connection, event, key)

    return store.write(write)
