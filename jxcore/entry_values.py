"""The values of manual entries: one to write (:class:`NewEntry`), one stored (:class:`Entry`) and
many of one kind as columns (:class:`EntryColumns`).

Plain attrs values with no database behind them, so that a collector or an importer can build and
read entries without loading the store (SQLAlchemy): ``jx validate`` imports every collector. The
store writes and reads them in :mod:`jxcore.store.entries`, which re-exports them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import attrs
import numpy as np


@attrs.frozen
class NewEntry:
    """One entry to write: ``payload`` must be JSON-able (dates as ISO text)."""

    unit_code: str
    entry_date: dt.date
    payload: Mapping[str, Any]
    source_row: int | None = None
    supersedes: int | None = None
    reason: str | None = None  #: why a correction supersedes an entry
    natural_key: str | None = None  #: sha256 hex of the kind's key (set by jxcore.services.entries)


@attrs.frozen
class Entry:
    """One stored entry with its provenance."""

    id: int
    scheme: str
    period: int
    kind: str
    unit_code: str
    entry_date: dt.date
    payload: Mapping[str, Any]
    source_file: str | None
    source_sha256: str | None
    source_row: int | None
    entered_by: str
    entered_at: dt.datetime
    batch_id: str
    supersedes: int | None
    reason: str | None = None
    natural_key: str | None = None

    def as_new(self) -> NewEntry:
        """The entry's fields as a :class:`NewEntry` (to ask a collector what it feeds)."""
        return NewEntry(unit_code=self.unit_code, entry_date=self.entry_date, payload=self.payload,
                        source_row=self.source_row, supersedes=self.supersedes, reason=self.reason,
                        natural_key=self.natural_key)


@attrs.frozen(eq=False)
class EntryColumns:
    """The entries of one kind as aligned columns (one row per entry), for readers of many thousands.

    ``fields`` holds the requested payload fields, decoded from JSON (None where an entry lacks
    one); ``sources`` the distinct (file, sha256) pairs the entries came from.
    """

    id: np.ndarray  #: int64
    unit_code: np.ndarray  #: str
    entry_date: np.ndarray  #: datetime64[D]
    fields: dict[str, list[Any]]
    sources: tuple[tuple[str | None, str | None], ...]

    @classmethod
    def of(cls, rows: Sequence[Entry], fields: Collection[str]) -> EntryColumns:
        return cls(np.array([e.id for e in rows], dtype=np.int64), np.array([e.unit_code for e in rows], dtype=str),
                   np.array([e.entry_date for e in rows], dtype="datetime64[D]"),
                   {f: [e.payload.get(f) for e in rows] for f in fields},
                   tuple(sorted({(e.source_file, e.source_sha256) for e in rows}, key=repr)))

    def __len__(self) -> int:
        return len(self.id)
