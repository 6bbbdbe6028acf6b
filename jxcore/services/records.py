"""Records over a Store: the locks, the audit chain's verification and the access log.

Users, locks and unlocks themselves are :mod:`jxcore.records` (re-exported by jxcore.services).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import attrs
import sqlalchemy as sa

from jxcore.records import Lock, Verification
from jxcore.records import locks as _locks
from jxcore.records import verify as _verify
from jxcore.store import Store
from jxcore.store.tables import access_log as access_log_table


def list_locks(store: Store, scheme: str | None = None, period: int | None = None) -> list[Lock]:
    """Every lock (active or lifted) of the store, of one scheme and period if given."""
    with store.engine.connect() as connection:
        return _locks(connection, scheme, period)


def verify_store(store: Store, heads: Iterable[str] = ()) -> Verification:
    """Recompute the audit chain; ``heads`` recorded outside (the minutes) must be heads of it."""
    with store.engine.connect() as connection:
        return _verify(connection, heads)


@attrs.frozen
class AccessRecord:
    id: int
    at: dt.datetime
    user: str
    action: str
    scheme: str | None
    period: int | None
    target: str | None
    allowed: bool
    message: str


def access_log(store: Store, *, user: str | None = None, allowed: bool | None = None,
               limit: int = 200) -> list[AccessRecord]:
    """The newest access-log rows (refusals and administrative acts), filtered by user / outcome."""
    c = access_log_table.c
    query = sa.select(access_log_table).order_by(c.id.desc()).limit(limit)
    if user is not None:
        query = query.where(c.user_name == user)
    if allowed is not None:
        query = query.where(c.allowed == allowed)
    with store.engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    return [AccessRecord(r["id"], r["at"], r["user_name"], r["action"], r["scheme"], r["period"], r["target"],
                         bool(r["allowed"]), r["message"]) for r in rows]
