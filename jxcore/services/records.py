"""Records over a Store: the locks, the audit chain's verification and the access log.

Users, locks and unlocks themselves are :mod:`jxcore.records` (re-exported by jxcore.services).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

import attrs
import sqlalchemy as sa

from jxcore.errors import DataError, UsageError
from jxcore.records import Lock, Verification
from jxcore.records import locks as _locks
from jxcore.records import verify as _verify
from jxcore.records.heads import Inclusion, SignedHead, check_file, check_inclusion, read_heads, stored_heads
from jxcore.records.heads import export_heads as _export
from jxcore.store import Store
from jxcore.store.tables import access_log as access_log_table


def list_locks(store: Store, scheme: str | None = None, period: int | None = None) -> list[Lock]:
    """Every lock (active or lifted) of the store, of one scheme and period if given."""
    with store.engine.connect() as connection:
        return _locks(connection, scheme, period)


def verify_store(store: Store, heads: Iterable[str] = (), *, kept: Path | None = None,
                 key: str | None = None) -> Verification:
    """Recompute the audit chain and check the database's guards; ``heads`` recorded outside (the
    minutes) must be heads of it; ``kept`` (an export of signed heads, see :func:`export_heads`)
    must be well signed (by ``key``, hex, when given), extend itself head by head, and be a prefix
    of the store's chain (RFC 6962 consistency proofs): else findings "truncated" or "rewritten"."""
    kept_heads = read_heads(kept) if kept is not None else ()
    if kept is not None and not kept_heads:
        raise UsageError(f"{kept} holds no signed heads", hint="give the file jx heads export wrote")
    with store.engine.connect() as connection:
        return _verify(connection, heads, kept_heads, key)


def signed_heads(store: Store) -> list[SignedHead]:
    """The store's signed tree heads (one per lock, unlock and final run), oldest first."""
    with store.engine.connect() as connection:
        return stored_heads(connection)


def export_heads(store: Store, path: Path) -> list[SignedHead]:
    """Append the signed heads ``path`` lacks (with consistency proofs); return them. DataError,
    and nothing appended, if the file's last head is not a head of this store's chain."""
    with store.engine.connect() as connection:
        return _export(connection, path)


def entry_inclusion(store: Store, entry_id: int, kept: Path) -> Inclusion:
    """Whether entry ``entry_id``, as stored now, is in the log a kept signed head covers (an
    RFC 6962 audit path checked against that head): a branch checks its own entry."""
    heads = read_heads(kept)
    with store.engine.connect() as connection:
        problems = check_file(heads)
        if problems:
            raise DataError(f"{kept}: {problems[0]}", hint="the kept heads themselves are not trustworthy")
        return check_inclusion(connection, "entries", str(entry_id), heads)


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
