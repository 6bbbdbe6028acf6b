"""Manual entries that count exactly once, where the bureau meant them to, and can be undone only
through the record.

The same rules for a file import, one entry (``jx entry add``, a web form), a correction and a
withdrawal:

- **Natural key**: each kind's collector says which fields identify an entry (a mystery-shopper
  visit: round + unit). A new entry whose key matches a live entry is refused, naming that entry,
  its file and row, unless it supersedes it.
- **Feeds something**: every entry must count in at least one indicator of the period's plan,
  decided by the collector's own filters; otherwise it is refused, naming the indicators of that
  kind and what they expect.
- **Access per entry**: a user may write an entry only if they may enter *every* indicator it feeds
  (its department's clerks, the inspection team for the kinds in ``settings.records.inspection_kinds``,
  admins); a correction or withdrawal also needs that right on the entry it replaces, which must be
  a live entry of the same scheme, period and kind.
- **Locks**: nothing dated inside an active lock is written, superseded or withdrawn.

Checks that need the stored entries run inside the write transaction after the chain's writer
lock, so concurrent imports cannot both take one key. Until the store has its first user, entry
is open (a fresh or demo store), as in :mod:`jxcore.records.access`.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import attrs
import numpy as np
import sqlalchemy as sa

from jxcore.errors import AccessDenied, DataError, Location, Problem, UsageError
from jxcore.interfaces import CollectRequest, EntryReader
from jxcore.models import Node, Scheme
from jxcore.params import check_params
from jxcore.plugins import Registry
from jxcore.records.access import Action, Role, User, get_user, log_access, may, users
from jxcore.records.locking import check_unlocked, check_unlocked_query
from jxcore.records.plans import require_published
from jxcore.settings import RECORDS_SETTINGS, checked_settings
from jxcore.store import Batch, Entry, NewEntry, Store, ledger
from jxcore.store import entries as stored
from jxcore.store.bulk import json_encoder
from jxcore.store.tables import entries as entries_table
from jxcore.store.tables import entry_batches

_SHOWN = 20  #: problems listed by name before "and N more"


@attrs.frozen
class EntryReport:
    """What an import, an entry or a preview wrote (or, previewed, would write)."""

    kind: str
    file: str
    sha256: str
    rows: int
    user: str
    batch_id: str | None  #: None for a preview
    entered_at: dt.datetime | None
    entry_ids: Sequence[int] = ()  #: a tuple, or for an import a compact EntryIds equal to one
    encoding: str | None = None
    #: indicator code → how many of the entries count in it
    feeds: Mapping[str, int] = attrs.field(factory=dict)
    units: tuple[str, ...] = ()  #: the units the entries are for
    supersedes: tuple[int, ...] = ()


@attrs.frozen
class WithdrawalReport:
    entry_ids: tuple[int, ...]
    batch_id: str | None
    reason: str
    user: str
    feeds: Mapping[str, int] = attrs.field(factory=dict)


@attrs.frozen
class EntryHistory:
    """One entry with where it came from and what became of it."""

    entry: Entry
    batch: Batch
    superseded_by: Entry | None
    supersedes: Entry | None
    withdrawn: stored.Withdrawal | None

    @property
    def live(self) -> bool:
        return self.superseded_by is None and self.withdrawn is None


class _Refused(Exception):
    """Raised inside the write transaction when a correction replaces an entry the user may not."""

    def __init__(self, problems: list[Problem], count: int | None = None):
        self.problems = problems
        self.count = len(problems) if count is None else count  #: refusals in all (problems may hold the first)


class _Preview(Exception):
    """Raised inside a preview's transaction so everything it wrote rolls back."""

    def __init__(self, report: EntryReport):
        self.report = report


def entry_kinds(registry: Registry) -> dict[str, tuple[str, str]]:
    """Every entry kind of the installed collectors: kind → (collector name, title)."""
    kinds: dict[str, tuple[str, str]] = {}
    for name, registered in registry.collectors.items():
        if isinstance(registered.obj, EntryReader):
            for kind, title in registered.obj.entry_kinds.items():
                kinds[kind] = (name, title)
    return kinds


def reader_of(registry: Registry, kind: str) -> tuple[str, EntryReader]:
    """(collector name, collector) of the collector that reads ``kind``; UsageError if none."""
    kinds = entry_kinds(registry)
    if kind not in kinds:
        raise UsageError(f"unknown kind of entry {kind!r}",
                         hint=f"the kinds are: {', '.join(sorted(kinds)) or 'none (no collector reads entries)'}")
    name = kinds[kind][0]
    return name, cast(EntryReader, registry.collector(name))


def _requests(registry: Registry, scheme: Scheme, collector: str) -> list[CollectRequest]:
    """The plan's indicators this collector gathers, with their checked parameters."""
    params_of = registry.collector(collector).params
    return [CollectRequest(n, check_params(params_of, n.collector.params)[0])
            for n in scheme.indicators() if n.collector is not None and n.collector.name == collector]


_KEY_JSON = json_encoder(default=str)  # json.dumps(…, ensure_ascii=False, default=str)


def _natural_key(kind: str, key: tuple) -> str:
    return hashlib.sha256(_KEY_JSON([kind, *key]).encode("utf-8")).hexdigest()


def _where(scheme: Scheme, kind: str) -> dict[str, Any]:
    return {"scheme": scheme.name, "period": scheme.period.year, "target": kind}


def _entrant(store: Store, name: str, scheme: Scheme, kind: str, action: Action) -> User | None:
    """The known user writing entries (None while the store has no users); AccessDenied (logged)."""
    if not users(store):
        return None
    user = get_user(store, name)
    if user is None:
        message = f"unknown user {name!r} may not {action.value} entries"
        log_access(store, name, action, message, allowed=False, **_where(scheme, kind))
        raise AccessDenied(message, hint="act as a known user (--as NAME); an admin adds users with jx user add")
    return user


def _may_nodes(user: User | None, action: Action, nodes: Sequence[Node], kind: str,
               inspection_kinds: Sequence[str]) -> np.ndarray:
    """Per node: may ``user`` write entries of ``kind`` that count in it?"""
    if user is None:
        return np.ones(len(nodes), dtype=bool)
    if user.role is Role.INSPECTOR and kind in inspection_kinds:
        return np.ones(len(nodes), dtype=bool)
    return np.array([may(user, action, n) for n in nodes], dtype=bool)


def _shown(problems: list[Problem]) -> list[Problem]:
    if len(problems) <= _SHOWN:
        return problems
    return problems[:_SHOWN] + [Problem(f"… and {len(problems) - _SHOWN} more like these", problems[-1].location)]


class _Listing:
    """Problems met a chunk at a time, kept as :func:`_shown` lists them: the first ones, the
    last one's place and how many there were (memory does not grow with a file bad in every row)."""

    def __init__(self) -> None:
        self.first: list[Problem] = []
        self.last: Problem | None = None
        self.count = 0

    def extend(self, problems: Iterable[Problem]) -> None:
        for problem in problems:
            if len(self.first) < _SHOWN + 1:
                self.first.append(problem)
            self.last = problem
            self.count += 1

    def __bool__(self) -> bool:
        return self.count > 0

    def listing(self) -> list[Problem]:
        if self.count <= _SHOWN:
            return self.first[:self.count]
        assert self.last is not None
        return self.first[:_SHOWN] + [Problem(f"… and {self.count - _SHOWN} more like these", self.last.location)]


def _row_location(name: str, entry: NewEntry) -> Location:
    return Location(file=name, row=entry.source_row)


class _Writer:
    """Checks and writes entries of one kind for one plan (the shared path of every entry service)."""

    def __init__(self, store: Store, registry: Registry, scheme: Scheme, kind: str, user: str, action: Action):
        self.store, self.scheme, self.kind, self.user_name = store, scheme, kind, user
        collector, self.reader = reader_of(registry, kind)
        self.requests = _requests(registry, scheme, collector)
        self.action = action
        self.user = _entrant(store, user, scheme, kind, action)
        if self.user is not None:  # the policy is the stored plan's, never a copy's (jxcore.records.plans)
            require_published(store, scheme, user=user, action=action, what=f"{kind} entries")
        inspection = checked_settings(scheme, "records", RECORDS_SETTINGS)["inspection_kinds"]
        self.allowed = _may_nodes(self.user, action, [r.node for r in self.requests], kind, inspection)

    def feeds(self, rows: Sequence[NewEntry]) -> np.ndarray:
        if not self.requests or not rows:
            return np.zeros((len(self.requests), len(rows)), dtype=bool)
        return np.asarray(self.reader.feeds(self.kind, self.requests, rows), dtype=bool)

    def check_rows(self, name: str, rows: Sequence[NewEntry]) -> tuple[list[Problem], list[Problem], np.ndarray]:
        """(problems, refusals by access, feeds matrix) of new rows, before any stored entry is read."""
        problems: list[Problem] = []
        corrections = [r for r in rows if r.supersedes is not None]
        problems += [Problem("a correction needs a reason", _row_location(name, r),
                             "give the reason why the entry is superseded") for r in corrections
                     if not (r.reason or "").strip()]
        fed = self.feeds(rows)
        counts = fed.any(axis=0)
        if not counts.all():
            relevant = [r for r in self.requests if self.reader.expects(self.kind, r)]
            wanted = "; ".join(f"{r.node.code} {r.node.name}: {self.reader.expects(self.kind, r)}"
                               for r in relevant[:12])
            hint = (f"the indicators fed by {self.kind} entries in {self.scheme.name} {self.scheme.period.year} "
                    f"are — {wanted}" if relevant else
                    f"no indicator of {self.scheme.name} {self.scheme.period.year} reads {self.kind} entries")
            for i in np.flatnonzero(~counts).tolist():
                problems.append(Problem(f"this {self.kind} entry ({_describe(rows[i])}) counts in no indicator "
                                        f"of the {self.scheme.period.year} plan", _row_location(name, rows[i]), hint))
        denied = fed & ~self.allowed[:, None]
        refusals = [self.refusal(name, rows[i], [self.requests[j].node for j in np.flatnonzero(denied[:, i]).tolist()])
                    for i in np.flatnonzero(denied.any(axis=0)).tolist()]
        return problems, refusals, fed

    def refusal(self, name: str, row: NewEntry, nodes: Sequence[Node]) -> Problem:
        return Problem(f"{self._who()} may not {self.action.value} this {self.kind} entry ({_describe(row)}): it "
                       f"counts in {_owners(nodes)}", _row_location(name, row),
                       "ask a member of the responsible department, or an admin")

    def _who(self) -> str:
        u = self.user
        if u is None:
            return self.user_name
        return f"{u.name} ({u.role.value}" + (f" of {u.department})" if u.department else ")")

    def check_staged(self, connection: sa.Connection, name: str,
                     stage: stored.Stage) -> tuple[_Listing, list[Problem]]:
        """(problems, refusals by access) of the staged entries against the store (inside the write
        transaction, after the writer lock): superseded entries must be live entries of this
        scheme/period/kind that this user may replace; a natural key may not match a live entry
        the row does not supersede. Read a page of corrections at a time, clashes in one join."""
        problems = _Listing()
        refusals: list[Problem] = []
        twice = stage.superseded_twice()
        for page in stage.corrections():
            targets = [target for _, target in page]
            old = stored.entries_by_id(connection, targets)
            dead = stored.dead_ids(connection, targets)
            for row, target_id in page:
                where = Location(file=name, row=row)
                target = old.get(target_id)
                if target is None:
                    problems.extend([Problem(f"supersedes #{target_id}, which is not an entry of the store", where,
                                             "give the id of the entry this row corrects (jx entry list)")])
                elif (target.scheme, target.period, target.kind) != (self.scheme.name, self.scheme.period.year,
                                                                     self.kind):
                    problems.extend([Problem(
                        f"supersedes #{target_id}, a {target.kind} entry of {target.scheme} {target.period}, not a "
                        f"{self.kind} entry of {self.scheme.name} {self.scheme.period.year}", where,
                        "a correction replaces an entry of its own kind, scheme and period")])
                elif target_id in dead:
                    problems.extend([Problem(f"supersedes #{target_id}, which is {dead[target_id]} already", where,
                                             "correct the entry that counts now (jx entry show ID)")])
                elif target_id in twice:
                    problems.extend([Problem(f"#{target_id} is superseded by more than one row", where,
                                             "keep one correction per entry")])
            live_old = [old[i] for i in targets if i in old and i not in dead]
            if live_old:
                denied = self.feeds([e.as_new() for e in live_old]) & ~self.allowed[:, None]
                for e, bad in zip(live_old, denied.any(axis=0).tolist()):
                    if bad:
                        refusals.append(Problem(f"{self._who()} may not {self.action.value} entry #{e.id}, which "
                                                "counts in indicators of another department", Location(file=name),
                                                "ask a member of the responsible department, or an admin"))
        for row, clash in stage.clashes(self.scheme.name, self.scheme.period.year, self.kind):
            origin = f"from {clash.source_file}" + (f" row {clash.source_row}" if clash.source_row else "")
            problems.extend([Problem(
                f"the same {self.kind} entry is stored already: #{clash.id} {origin}, entered by "
                f"{clash.entered_by} on {clash.entered_at:%Y-%m-%d}", Location(file=name, row=row),
                f"leave the row out, or correct #{clash.id} with supersedes = {clash.id} and a reason")])
        return problems, refusals

    def natural_keys(self, rows: Iterable[NewEntry]) -> list[str]:
        """:func:`_natural_key` of each row (the same hex digests, in a tight loop)."""
        kind, key, text, sha256 = self.kind, self.reader.natural_key, _KEY_JSON, hashlib.sha256
        return [sha256(text([kind, *key(kind, r)]).encode("utf-8")).hexdigest() for r in rows]

    def refuse(self, refusals: list[Problem], what: str, count: int | None = None) -> None:
        if refusals:
            message = f"{what}: {count or len(refusals)} entries refused — {refusals[0].message}"
            log_access(self.store, self.user_name, self.action, message, allowed=False,
                       **_where(self.scheme, self.kind))
            raise AccessDenied(message, hint="nothing was stored; " + (refusals[0].hint or ""))


def _owners(nodes: Sequence[Node]) -> str:
    """``G1 (DJK), G7 (JCK)``: indicators with their responsible departments."""
    return ", ".join(f"{n.code} ({n.department or 'no department'})" for n in nodes)


def _describe(entry: NewEntry) -> str:
    fields = ", ".join(f"{k}={v}" for k, v in entry.payload.items() if v not in (None, "", []))
    return f"{entry.unit_code} {entry.entry_date}" + (f", {fields}" if fields else "")


def _write(w: _Writer, name: str, sha256: str, chunks: Callable[[], Iterable[Sequence[NewEntry]]], *,
           encoding: Callable[[], str | None] | str | None, entered_at: dt.datetime | None,
           preview: bool, progress: Callable[[str, int], None] | None = None) -> EntryReport:
    """Check the entries ``chunks()`` yields (every problem at once) and write them as one batch in
    one transaction; or, previewed, roll back.

    The chunks are checked and staged (:class:`jxcore.store.entries.Stage`) one at a time, so an
    import holds one chunk in memory whatever its size; a problem anywhere (a DataError the
    reader raises after its last chunk, a row of any chunk) rolls the whole transaction back.
    ``chunks`` is called again if the transaction is retried. ``progress``, if given, is told
    ``("checked", rows so far)`` after each chunk and ``("storing", rows)`` once all are checked.
    """
    scheme = w.scheme
    told = progress or (lambda step, rows: None)

    def write(tx) -> EntryReport:
        connection = tx.connection
        stage = stored.Stage(connection)
        problems, refusals = _Listing(), _Listing()
        first_refused: tuple[NewEntry, list[Node]] | None = None
        fed_counts = np.zeros(len(w.requests), dtype=np.int64)
        units: set[str] = set()
        corrections: list[int] = []
        checked = 0
        for chunk in chunks():
            if not chunk:
                continue
            corrections += [r.supersedes for r in chunk if r.supersedes is not None]
            found, refused, fed = w.check_rows(name, chunk)
            problems.extend(found)
            if refused and first_refused is None:
                denied = fed & ~w.allowed[:, None]
                i = int(np.flatnonzero(denied.any(axis=0))[0])
                first_refused = (chunk[i], [w.requests[j].node for j in np.flatnonzero(denied[:, i]).tolist()])
            refusals.extend(refused)
            fed_counts += fed.sum(axis=1)
            units.update(r.unit_code for r in chunk)
            if not problems and not refusals:  # once doomed, only checked
                stage.add(chunk, w.natural_keys(chunk))
            checked += len(chunk)
            told("checked", checked)
            del chunk  # not held while the reader makes the next one: one chunk in memory at a time
        if corrections:
            w.action = Action.CORRECT
        if refusals:  # worded with the import's action, known once every row was read
            assert first_refused is not None
            raise _Refused([w.refusal(name, *first_refused)], refusals.count)
        if problems:
            raise DataError.from_problems(f"{name}: nothing stored", problems.listing())
        told("storing", stage.rows)
        ledger.lock_writers(connection)
        earlier = stored.find_batch(connection, scheme.name, scheme.period.year, w.kind, sha256)
        if earlier is not None:  # the same file again: say so before its rows' keys do
            raise stored.already_imported(earlier, w.kind, name)
        more, refused_stored = w.check_staged(connection, name, stage)
        if refused_stored:
            raise _Refused(refused_stored)
        if more:
            raise DataError.from_problems(f"{name}: nothing stored", more.listing())
        check_unlocked_query(connection, scheme.name, scheme.period.year, stage.dates())
        rows = stage.rows
        batch = stage.commit(scheme=scheme.name, period=scheme.period.year, kind=w.kind, source_file=name,
                             source_sha256=sha256, entered_by=w.user_name, entered_at=entered_at)
        ids = stored.EntryIds.of_batch(connection, batch.id, above=stage.ids_above)
        report = EntryReport(w.kind, name, sha256, rows, w.user_name, batch.id, batch.entered_at, ids,
                             encoding() if callable(encoding) else encoding,
                             {r.node.code: int(n) for r, n in zip(w.requests, fed_counts.tolist()) if n},
                             tuple(sorted(units)), tuple(corrections))
        if preview:
            raise _Preview(attrs.evolve(report, batch_id=None, entered_at=None, entry_ids=()))
        return report

    try:
        with _heap_frozen():
            return w.store.write(write)
    except _Preview as done:
        return done.report
    except _Refused as refused:  # logged after the write transaction rolled back
        w.refuse(refused.problems, name, refused.count)
        raise


@contextmanager
def _heap_frozen() -> Iterator[None]:
    """Keep the objects alive before a write out of the garbage collector's full collections while
    it runs (``gc.freeze``), and give them back after: an import's chunks of entries live long
    enough to reach the oldest generation, and each of the 70–90 full collections of a million-row
    import scanned every module's objects again (about 5 CPU-s; 0.3 with them frozen). Two imports
    at once in one process (``jx serve``) stay correct: the first to finish unfreezes early, and
    the other is only as slow as before."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def import_file(store: Store, registry: Registry, scheme: Scheme, kind: str, path: Path | str, *, user: str,
                sheet: str | None = None, preview: bool = False, entered_at: dt.datetime | None = None,
                progress: Callable[[str, int], None] | None = None) -> EntryReport:
    """Import one CSV/XLSX file of ``kind`` for ``scheme``'s period as one batch: all rows or none.

    The file is read strictly by the kind's collector (every problem with its row and column); then
    the rules of this module apply. The same file twice is refused. With ``preview`` nothing is
    stored: the report says what would be (the indicators and units it changes).

    The file is read, checked and written a chunk at a time inside one transaction (memory does not
    grow with the file); its first problem anywhere means nothing is written. ``progress(step, rows)``
    follows a long import: ``"checked"`` with the rows checked so far, then ``"storing"`` with all
    of them (writing entries, indexes and the audit chain takes about half of a large import).
    """
    reader = reader_of(registry, kind)[1]
    opened = [reader.read_file(scheme, kind, Path(path), sheet)]  # unreadable: DataError before anything

    def chunks() -> Iterator[Sequence[NewEntry]]:
        source = opened.pop() if opened else reader.read_file(scheme, kind, Path(path), sheet)  # a retry reads again
        sources.append(source)
        return source.chunks()

    sources: list[Any] = []
    first = opened[0]
    w = _Writer(store, registry, scheme, kind, user, Action.ENTER)  # CORRECT once a row supersedes one
    return _write(w, first.name, first.sha256, chunks, encoding=lambda: sources[-1].encoding,
                  entered_at=entered_at, preview=preview, progress=progress)


def import_entries(store: Store, registry: Registry, scheme: Scheme, kind: str, rows: Sequence[NewEntry], *,
                   source: str, sha256: str, user: str, preview: bool = False,
                   entered_at: dt.datetime | None = None) -> EntryReport:
    """Write entries already read (by the kind's collector) as one batch named ``source``, under
    the rules of this module; ``sha256`` identifies the content (the same twice is refused)."""
    action = Action.CORRECT if any(r.supersedes is not None for r in rows) else Action.ENTER
    w = _Writer(store, registry, scheme, kind, user, action)
    rows = list(rows)
    return _write(w, source, sha256, lambda: [rows], encoding=None, entered_at=entered_at, preview=preview)


def counted(registry: Registry, scheme: Scheme, kind: str, rows: Sequence[NewEntry]) -> np.ndarray:
    """Per row: does it count in at least one indicator of ``scheme`` (no store, no user needed)?"""
    collector, reader = reader_of(registry, kind)
    requests = _requests(registry, scheme, collector)
    if not requests or not rows:
        return np.zeros(len(rows), dtype=bool)
    return np.asarray(np.asarray(reader.feeds(kind, requests, rows), dtype=bool).any(axis=0))


def enter(store: Store, registry: Registry, scheme: Scheme, kind: str, fields: Mapping[str, Any], *, user: str,
          supersedes: int | None = None, reason: str | None = None, preview: bool = False,
          entered_at: dt.datetime | None = None, source: str = "jx entry add") -> EntryReport:
    """One entry from ``{column: value}`` (as in a file: names or aliases), as its own batch;
    with ``supersedes`` and a ``reason``, a correction of that entry."""
    action = Action.CORRECT if supersedes is not None else Action.ENTER
    w = _Writer(store, registry, scheme, kind, user, action)
    row = attrs.evolve(w.reader.read_fields(scheme, kind, fields), source_row=None, supersedes=supersedes,
                       reason=reason)
    canon = json.dumps([kind, row.unit_code, row.entry_date.isoformat(), dict(row.payload), supersedes, reason,
                        user, (entered_at or dt.datetime.now(dt.timezone.utc)).isoformat()],
                       ensure_ascii=False, sort_keys=True, default=str)
    sha = hashlib.sha256(canon.encode("utf-8")).hexdigest()
    return _write(w, source, sha, lambda: [[row]], encoding=None, entered_at=entered_at, preview=preview)


def withdraw(store: Store, registry: Registry, scheme: Scheme, entry_ids: Sequence[int] = (), *, reason: str,
             user: str, batch_id: str | None = None) -> WithdrawalReport:
    """Withdraw live entries (or every live entry of ``batch_id``) with a reason: they stop counting.

    Recorded append-only and chained; refused under a lock, for entries of another scheme or
    period, for entries that are no longer live, and for entries that count in indicators the
    user may not enter (AccessDenied, logged).
    """
    if not (reason or "").strip():
        raise UsageError("a withdrawal needs a reason", hint="give --reason TEXT; it is kept with the record")
    if not entry_ids and batch_id is None:
        raise UsageError("nothing to withdraw", hint="give entry ids or a batch id")
    with store.engine.connect() as connection:
        if batch_id is not None:
            batch = connection.execute(sa.select(entry_batches).where(entry_batches.c.id == batch_id)
                                       ).mappings().first()
            if batch is None:
                raise UsageError(f"no batch has the id {batch_id!r}", hint="jx entry batches lists them")
            ids = list(connection.execute(sa.select(entries_table.c.id).where(entries_table.c.batch_id == batch_id)
                                          .order_by(entries_table.c.id)).scalars())
            dead = stored.dead_ids(connection, ids)
            entry_ids = [i for i in ids if i not in dead]
            if not entry_ids:
                raise UsageError(f"batch {batch_id} has no live entries left to withdraw",
                                 hint="its entries were withdrawn or superseded already")
        found = stored.entries_by_id(connection, entry_ids)
        dead = stored.dead_ids(connection, entry_ids)
    problems = []
    for i in entry_ids:
        e = found.get(i)
        if e is None:
            problems.append(Problem(f"#{i} is not an entry of the store", Location(), "check the id (jx entry list)"))
        elif (e.scheme, e.period) != (scheme.name, scheme.period.year):
            problems.append(Problem(f"#{i} is an entry of {e.scheme} {e.period}, not {scheme.name} "
                                    f"{scheme.period.year}", Location(),
                                    f"give --scheme {e.scheme} --period {e.period}"))
        elif i in dead:
            problems.append(Problem(f"#{i} is {dead[i]} already", Location(), "withdraw the entry that counts now"))
    if problems:
        raise DataError.from_problems("nothing withdrawn", _shown(problems))
    feeds: Counter[str] = Counter()
    by_kind: dict[str, list[Entry]] = {}
    for i in entry_ids:
        by_kind.setdefault(found[i].kind, []).append(found[i])
    for kind, some in by_kind.items():
        w = _Writer(store, registry, scheme, kind, user, Action.CORRECT)
        fed = w.feeds([e.as_new() for e in some])
        denied = fed & ~w.allowed[:, None]
        w.refuse([Problem(f"{w._who()} may not withdraw entry #{e.id}: it counts in "
                          + _owners([w.requests[j].node for j in np.flatnonzero(denied[:, k]).tolist()]), Location(),
                          "ask a member of the responsible department, or an admin")
                  for k, e in enumerate(some) if denied[:, k].any()], "withdrawal")
        feeds.update({r.node.code: int(n) for r, n in zip(w.requests, fed.sum(axis=1).tolist()) if n})

    def write(tx) -> None:
        connection = tx.connection
        ledger.lock_writers(connection)
        again = stored.dead_ids(connection, entry_ids)
        if again:
            first = next(iter(again))
            raise DataError(f"#{first} was {again[first]} meanwhile", hint="nothing was withdrawn; look again")
        check_unlocked(connection, scheme.name, scheme.period.year, [], list(entry_ids))
        stored.add_withdrawals(connection, list(entry_ids), reason=reason.strip(), by_user=user, batch_id=batch_id)

    store.write(write)
    log_access(store, user, Action.CORRECT, f"withdrew {len(entry_ids)} entries"
               + (f" of batch {batch_id}" if batch_id else "") + f": {reason.strip()}", allowed=True,
               scheme=scheme.name, period=scheme.period.year, target=",".join(map(str, entry_ids[:50])))
    return WithdrawalReport(tuple(entry_ids), batch_id, reason.strip(), user, dict(feeds))


def list_entries(store: Store, scheme: Scheme, *, kinds: Sequence[str] | None = None, unit: str | None = None,
                 include_dead: bool = False) -> list[Entry]:
    """The period's entries (live ones unless ``include_dead``), by date then id."""
    found = store.entries(scheme.name, scheme.period.year, kinds=kinds, include_superseded=include_dead)
    return [e for e in found if unit is None or e.unit_code == unit]


def batches(store: Store, scheme: Scheme) -> list[Batch]:
    """The period's batches (imported files and single entries), newest first."""
    with store.engine.connect() as connection:
        rows = connection.execute(sa.select(entry_batches).where(
            entry_batches.c.scheme == scheme.name, entry_batches.c.period == scheme.period.year)
            .order_by(entry_batches.c.entered_at.desc(), entry_batches.c.id)).mappings().all()
    return [Batch(**r) for r in rows]


def entry_history(store: Store, entry_id: int) -> EntryHistory:
    """An entry with its batch (who, when, which file and row) and what superseded or withdrew it."""
    from jxcore.store.tables import entry_withdrawals

    with store.engine.connect() as connection:
        found = stored.entries_by_id(connection, [entry_id])
        if entry_id not in found:
            raise UsageError(f"no entry has the id {entry_id}", hint="jx entry list shows the ids")
        entry = found[entry_id]
        batch = Batch(**connection.execute(sa.select(entry_batches).where(
            entry_batches.c.id == entry.batch_id)).mappings().one())
        newer_id = connection.execute(sa.select(entries_table.c.id).where(
            entries_table.c.supersedes == entry_id)).scalar()
        gone = connection.execute(sa.select(entry_withdrawals).where(
            entry_withdrawals.c.entry_id == entry_id)).mappings().first()
        more = stored.entries_by_id(connection, [i for i in (newer_id, entry.supersedes) if i is not None])
    return EntryHistory(entry, batch, more.get(newer_id) if newer_id else None,
                        more.get(entry.supersedes) if entry.supersedes else None,
                        stored.Withdrawal(**gone) if gone else None)
