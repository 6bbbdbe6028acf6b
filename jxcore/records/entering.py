"""Entering manual records as a user: access check, lock check, one chained batch, retried."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from jxcore.errors import UsageError
from jxcore.models import Scheme
from jxcore.records.access import Action, check_entry
from jxcore.records.locking import check_unlocked
from jxcore.store import Batch, NewEntry, Store


def enter(store: Store, scheme: Scheme, kind: str, rows: Sequence[NewEntry], *, user: str, source_file: str,
          source_sha256: str, entered_at: dt.datetime | None = None) -> Batch:
    """Write ``rows`` of ``kind`` for ``scheme``'s period as one batch, made by ``user``.

    Refused (nothing written) with AccessDenied, logged, if the user may not enter or correct that
    kind (jxcore.records.access); with LockedError if a row is dated inside an active lock or
    supersedes a locked entry; with UsageError if a correction gives no reason. Serialization
    failures on PostgreSQL are retried.
    """
    corrections = [r for r in rows if r.supersedes is not None]
    if any(not (r.reason or "").strip() for r in corrections):
        raise UsageError("a correction needs a reason", hint="give the reason why the entry is superseded")
    check_entry(store, user, scheme, kind, Action.CORRECT if corrections else Action.ENTER)
    period = scheme.period.year

    def write(tx) -> Batch:
        check_unlocked(tx.connection, scheme.name, period, [r.entry_date for r in rows],
                       [r.supersedes for r in corrections])
        return tx.add_entries(scheme=scheme.name, period=period, kind=kind, source_file=source_file,
                              source_sha256=source_sha256, entered_by=user, rows=rows, entered_at=entered_at)

    return store.write(write)
