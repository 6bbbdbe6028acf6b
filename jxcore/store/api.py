"""The store: open (and migrate) it, write a run in one transaction, read runs back as arrays.

The read methods are the service layer the CLI and a later web app call. They exist on
:class:`Store` (each read in its own short transaction) and on :class:`StoreTransaction` (seeing
the transaction's own, uncommitted writes: outputs compare a run with the previous ones).
"""

from __future__ import annotations

import abc
import datetime as dt
import random
import re
import time
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import numpy as np
import sqlalchemy as sa

import jxcore
from jxcore.config import database_url
from jxcore.errors import DataError, Location, LockedError, StoreError, UsageError
from jxcore.models import RunResult, RunStatus
from jxcore.store import ledger
from jxcore.store.entries import Batch, Entry, EntryColumns, NewEntry, add_batch, read_entries, read_entry_columns
from jxcore.store.tables import entries as entries_table
from jxcore.store.tables import run_nodes, run_plans, run_units
from jxcore.store.tables import runs as runs_table

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
SCORE_DTYPE = np.dtype("<i8")
VALUE_DTYPE = np.dtype("<f8")
T = TypeVar("T")
URL_HINT = ("give a SQLAlchemy URL with --db or JX_DATABASE_URL, e.g. sqlite:////path/to/jx.sqlite "
            "or postgresql+psycopg://user@host/dbname")


_SECRET_PARAMS = re.compile(r"([?&](?:[\w.-]*(?:password|passwd|pwd|secret|token|key)[\w.-]*)=)[^&#\s]*", re.I)


def mask_url(url: str) -> str:
    """The URL with its password, and query parameters that look like secrets
    (``?password=…``, ``sslkey``, ``token``), replaced by ``***``, for messages."""
    try:
        shown = sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        shown = re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)
    return _SECRET_PARAMS.sub(r"\1***", shown)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not pysqlite, say when transactions begin (see _sqlite_begin), so reads and
    # writes inside Store.transaction() are one real transaction.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")  # readers (the leaderboard) never block a run's write
    cursor.execute("PRAGMA mmap_size=1073741824")  # reads map pages instead of copying them: entries ~1.5× faster
    cursor.close()


def _sqlite_begin(connection: sa.Connection) -> None:
    # A write transaction takes the write lock at once: two writers then queue (pysqlite's 5 s busy
    # timeout) instead of failing when a read turns into a write (SQLITE_BUSY_SNAPSHOT in WAL).
    write = connection.get_execution_options().get("jx_write")
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def create_engine(url: str) -> sa.Engine:
    """An engine for the store URL: SQLite gets foreign keys, WAL and real transactions."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        # One in-memory database for every thread (collectors run side by side), not one per thread.
        engine = sa.create_engine(url, poolclass=sa.pool.StaticPool, connect_args={"check_same_thread": False})
    else:
        engine = sa.create_engine(url)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "begin", _sqlite_begin)
    return engine


def alembic_config(connection: sa.Connection) -> "Config":
    """Alembic's configuration for the store, migrating through ``connection`` (no ini, no CLI)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


_REVISION = re.compile(r"""^(revision|down_revision)\s*=\s*["']?([\w.-]+)""", re.MULTILINE)


def head_revision() -> str | None:
    """The newest migration's revision, read from the scripts' text; None unless exactly one head."""
    revisions, parents = set(), set()
    for script in (MIGRATIONS / "versions").glob("*.py"):
        found = dict(_REVISION.findall(script.read_text(encoding="utf-8")))
        revisions.add(found.get("revision"))
        parents.add(found.get("down_revision"))
    heads = revisions - parents - {None}
    return heads.pop() if len(heads) == 1 else None


def migrate(engine: sa.Engine) -> None:
    """``alembic upgrade head``: creates or updates the tables; a no-op on an up-to-date store.

    An up-to-date store is recognised by its alembic_version row alone, without importing
    Alembic (a tenth of a second at every ``jx`` command). StoreError if a newer jx migrated it.
    """
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Two processes opening a fresh store at once: the second waits instead of failing.
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(7368051)"))
        if sa.inspect(connection).has_table("alembic_version"):
            current = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
            if current == [head_revision()]:
                return
        from alembic import command
        from alembic.util.exc import CommandError

        try:
            command.upgrade(alembic_config(connection), "head")
        except CommandError as exc:
            raise StoreError(f"cannot migrate the store at {mask_url(engine.url.render_as_string(False))}: {exc}",
                             hint="it was probably migrated by a newer jx; upgrade jx") from exc


@attrs.frozen(eq=False)
class RunData:
    """The arrays of one stored run (see :class:`StoredRun`, which loads them on first use)."""

    unit_codes: tuple[str, ...]
    unit_names: tuple[str, ...]
    totals: np.ndarray
    ranks: np.ndarray
    node_codes: tuple[str, ...]
    node_names: tuple[str, ...]
    node_kinds: tuple[str, ...]
    node_parents: tuple[str | None, ...]
    node_points: np.ndarray
    scores: np.ndarray
    values: dict[str, np.ndarray]
    measure_sources: dict[str, str]


def _data_field(name: str) -> property:
    return property(lambda self: getattr(self.data, name), doc=f"See :attr:`RunData.{name}`.")


@attrs.frozen(eq=False)
class StoredRun:
    """A run read back from the store: its header, and its arrays (no scheme needed).

    The arrays (``scores`` is int64 ``(n_nodes, n_units)``, root row first, as in ``RunResult``)
    are read on first use, so listing runs stays cheap even for national runs of 48 MB each.
    """

    id: str
    scheme: str
    period: int
    as_of: dt.date
    started_at: dt.datetime
    finished_at: dt.datetime | None
    status: RunStatus
    final: bool
    jx_version: str
    scheme_digest: str
    unit_count: int
    node_count: int
    actor: str | None = attrs.field(default=None, kw_only=True)  #: who ran it (None before 0004)
    _load: Callable[[str], RunData] = attrs.field(repr=False, alias="load")
    _cache: dict[str, RunData] = attrs.field(factory=dict, init=False, repr=False)

    @property
    def data(self) -> RunData:
        if "data" not in self._cache:
            self._cache["data"] = self._load(self.id)
        return self._cache["data"]

    unit_codes = _data_field("unit_codes")
    unit_names = _data_field("unit_names")
    totals = _data_field("totals")
    ranks = _data_field("ranks")
    node_codes = _data_field("node_codes")
    node_names = _data_field("node_names")
    node_kinds = _data_field("node_kinds")
    node_parents = _data_field("node_parents")
    node_points = _data_field("node_points")
    scores = _data_field("scores")
    values = _data_field("values")
    measure_sources = _data_field("measure_sources")

    def node_scores(self, code: str) -> np.ndarray:
        """int64 milli-points of every unit on node ``code``."""
        return self.scores[self._position(self.node_codes, code, "node")]

    def unit_scores(self, unit_code: str) -> dict[str, int]:
        """node code → milli-points for one unit."""
        col = self.scores[:, self._position(self.unit_codes, unit_code, "unit")]
        return dict(zip(self.node_codes, col.tolist()))

    def _position(self, codes: tuple[str, ...], code: str, what: str) -> int:
        try:
            return codes.index(code)
        except ValueError:
            raise UsageError(f"{what} {code!r} is not in run {self.id}",
                             hint=f"the run has {len(codes)} {what}s, e.g. {', '.join(codes[:5])}") from None


class _Reader(abc.ABC):
    """The read methods, over whatever ``connect()`` hands out (a fresh or the open connection)."""

    @abc.abstractmethod
    def _connect(self) -> AbstractContextManager[sa.Connection]:
        """A connection to read with: the store's own, or the open transaction's."""

    def runs(self, scheme: str, period: int | None = None) -> list[StoredRun]:
        """The scheme's stored runs (of one period, if given), newest first."""
        query = sa.select(runs_table).where(runs_table.c.scheme == scheme)
        if period is not None:
            query = query.where(runs_table.c.period == period)
        return self._select(query)

    def latest_run(self, scheme: str, period: int, *, final_only: bool = False,
                   before: str | None = None) -> StoredRun | None:
        """The current run of ``scheme``/``period``: the finished run with the latest as-of date
        (of those, the newest), or None.

        ``final_only`` keeps runs marked final; ``before`` (a run id) returns the run the movement
        of that one is measured against: the latest with an earlier as-of date (the previous day's).
        A period under an active final lock publishes its final run only (docs/records.md).
        """
        c = runs_table.c
        query = sa.select(runs_table).where(c.scheme == scheme, c.period == period,
                                            c.status == RunStatus.FINISHED.value)
        if not final_only and before is None:
            with self._connect() as connection:
                final_only = ledger.final_locked(connection, scheme, period)
        if final_only:
            query = query.where(c.final == sa.true())
        if before is not None:
            query = query.where(c.as_of < self.load_run(before).as_of)
        found = self._select(query.order_by(c.as_of.desc()).limit(1))
        return found[0] if found else None

    def plan_document(self, digest: str) -> str | None:
        """The JSON plan document a run with this ``scheme_digest`` was scored with (None before 0004)."""
        with self._connect() as connection:
            return connection.execute(sa.select(run_plans.c.document).where(run_plans.c.digest == digest)).scalar()

    def load_run(self, run_id: str) -> StoredRun:
        """One run by id; UsageError naming the id if the store has no such run."""
        found = self._select(sa.select(runs_table).where(runs_table.c.id == run_id))
        if not found:
            raise UsageError(f"no stored run has the id {run_id!r}",
                             hint="check the id, and that --db or JX_DATABASE_URL names the store "
                                  "that holds it")
        return found[0]

    def entries(self, scheme: str, period: int, *, kinds: Collection[str] | None = None,
                as_of: dt.date | None = None, include_superseded: bool = False) -> list[Entry]:
        """Manual entries of scheme/period, see :func:`jxcore.store.entries.read_entries`."""
        with self._connect() as connection:
            return read_entries(connection, scheme, period, kinds=kinds, as_of=as_of,
                                include_superseded=include_superseded)

    def has_entries(self, scheme: str, period: int) -> bool:
        """Whether any manual entry of scheme/period is stored (one indexed probe, no rows read)."""
        query = sa.select(entries_table.c.id).where(entries_table.c.scheme == scheme,
                                                    entries_table.c.period == period).limit(1)
        with self._connect() as connection:
            return connection.execute(query).first() is not None

    def entry_columns(self, scheme: str, period: int, fields: Mapping[str, Collection[str]], *,
                      as_of: dt.date | None = None) -> dict[str, EntryColumns]:
        """For each kind in ``fields``, its entries (as :meth:`entries` returns them) as columns with
        those payload fields, read on one connection; see :func:`jxcore.store.entries.read_entry_columns`."""
        with self._connect() as connection:
            return {kind: read_entry_columns(connection, scheme, period, kind, names, as_of=as_of)
                    for kind, names in fields.items()}

    def _select(self, query: sa.Select) -> list[StoredRun]:
        query = query.order_by(runs_table.c.started_at.desc(), runs_table.c.id.desc())  # after any given order
        with self._connect() as connection:
            rows = connection.execute(query).mappings().all()
        return [StoredRun(**{**row, "status": RunStatus(row["status"])}, load=self._load_data)
                for row in rows]

    def _load_data(self, run_id: str) -> RunData:
        with self._connect() as connection:
            units = connection.execute(
                sa.select(run_units.c.code, run_units.c.name, run_units.c.total_milli, run_units.c.rank)
                .where(run_units.c.run_id == run_id).order_by(run_units.c.position)).all()
            nodes = connection.execute(
                sa.select(run_nodes).where(run_nodes.c.run_id == run_id)
                .order_by(run_nodes.c.position)).mappings().all()
        if not nodes:
            raise DataError(f"run {run_id} is not in the store",
                            hint="its transaction was rolled back; read the runs again")
        n_units = len(units)
        scores = np.empty((len(nodes), n_units), dtype=np.int64)
        for i, node in enumerate(nodes):
            scores[i] = np.frombuffer(node["scores"], dtype=SCORE_DTYPE, count=n_units)
        return RunData(
            unit_codes=tuple(u.code for u in units),
            unit_names=tuple(u.name for u in units),
            totals=np.array([u.total_milli for u in units], dtype=np.int64),
            ranks=np.array([u.rank for u in units], dtype=np.int64),
            node_codes=tuple(n["code"] for n in nodes),
            node_names=tuple(n["name"] for n in nodes),
            node_kinds=tuple(n["kind"] for n in nodes),
            node_parents=tuple(n["parent_code"] for n in nodes),
            node_points=np.array([n["points_milli"] for n in nodes], dtype=np.int64),
            scores=scores,
            values={n["code"]: np.frombuffer(n["values"], dtype=VALUE_DTYPE).astype(np.float64)
                    for n in nodes if n["values"] is not None},
            measure_sources={n["code"]: n["measure_source"] for n in nodes
                             if n["measure_source"] is not None},
        )


RETRYABLE_SQLSTATES = {"40001", "40P01"}
LOCKED_SQLSTATES = {"JXL01", "JXL02"}  # raised by the lock triggers (migration 0003)
LOCK_TIMEOUT_SQLSTATE = "55P03"  # PostgreSQL's lock_not_available: a lock waited past its lock_timeout
LOCK_TIMEOUT_HINT = ("nothing was stored. On PostgreSQL a lock waits for the transactions writing entries to end: "
                     "find a session left open with SELECT pid, usename, state, xact_start FROM pg_stat_activity "
                     "WHERE state LIKE 'idle in transaction%', end it, and try again")
LOCK_HINT = ("locked records cannot change: enter a correction after the lock's date, or have two "
             "admins lift the lock (jx unlock); see docs/records.md")


def write_error(exc: sa.exc.SQLAlchemyError, url: str) -> StoreError | LockedError:
    """The jx error for a failed write: LockedError from a lock trigger, else StoreError.

    A StoreError's ``retryable`` says whether doing the same work again may succeed (a
    serialization failure); a lock refusal never is.
    """
    orig = getattr(exc, "orig", None)
    reason = str(orig or exc).strip().splitlines()[0]
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if sqlstate in LOCKED_SQLSTATES or reason.startswith(("locked:", "append-only:", "refused:")):
        return LockedError(f"the store refused the change: {reason}", hint=LOCK_HINT)
    if sqlstate == LOCK_TIMEOUT_SQLSTATE:
        return StoreError(f"cannot write to the store at {mask_url(url)}: it waited too long for another "
                          f"transaction ({reason})", hint=LOCK_TIMEOUT_HINT)
    error = StoreError(f"cannot write to the store at {mask_url(url)}: {reason}",
                       hint="nothing of this transaction was stored; fix the cause and run again")
    error.retryable = sqlstate in RETRYABLE_SQLSTATES or "database is locked" in reason
    return error


class Store(_Reader):
    """The jx store: runs and their results, in SQLite by default or PostgreSQL."""

    def __init__(self, engine: sa.Engine, url: str):
        self.engine = engine
        self.url = url

    @classmethod
    def open(cls, url: str | None = None) -> "Store":
        """Open the store at ``url`` (default: :func:`jxcore.config.database_url`) and migrate it.

        Raises StoreError, naming the URL with its password masked, if it cannot be opened.
        """
        url = database_url(url)
        shown = mask_url(url)
        try:
            engine = create_engine(url)
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as exc:
            raise StoreError(f"the store URL {shown} is not valid: {exc}", hint=URL_HINT) from exc
        except ImportError as exc:
            raise StoreError(f"the database driver for {shown} is not installed: {exc}",
                             hint="for PostgreSQL: pip install 'jx[postgres]'") from exc
        try:
            migrate(engine)
        except StoreError:
            engine.dispose()
            raise
        except sa.exc.SQLAlchemyError as exc:
            engine.dispose()
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise StoreError(f"cannot open the store at {shown}: {reason}",
                             hint="check that the server runs, the database exists and you may "
                                  "use it; for SQLite, that the directory exists") from exc
        return cls(engine, url)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator["StoreTransaction"]:
        """One transaction: commit on success, roll back on any exception (re-raised).

        Database failures are raised as StoreError; anything else (an output's error) unchanged.
        """
        try:
            with self.engine.connect() as connection:
                connection.execution_options(jx_write=True)
                tx = StoreTransaction(self, connection)
                try:
                    with connection.begin():
                        yield tx
                except BaseException:
                    tx.rolled_back()
                    raise
        except sa.exc.SQLAlchemyError as exc:
            raise write_error(exc, self.url) from exc

    def retry(self, call: Callable[[], T], *, attempts: int = 6) -> T:
        """``call()`` (which opens its own transactions), again after a serialization failure.

        PostgreSQL's SQLSTATE 40001 (serialization failure) and 40P01 (deadlock), and SQLite's
        "database is locked", roll the transaction back; the work is then simply done again, with
        a growing, jittered pause. Other errors, and the last failure, are raised.
        """
        for attempt in range(attempts):
            try:
                return call()
            except StoreError as exc:
                if not exc.retryable or attempt == attempts - 1:
                    raise
            time.sleep(0.02 * 2 ** attempt * (1 + random.random()))
        raise AssertionError("unreachable")

    def write(self, work: Callable[["StoreTransaction"], T], *, attempts: int = 6) -> T:
        """``work(tx)`` in one transaction, retried on serialization failures (see :meth:`retry`)."""
        def once() -> T:
            with self.transaction() as tx:
                return work(tx)

        return self.retry(once, attempts=attempts)

    def _connect(self) -> AbstractContextManager[sa.Connection]:
        return self.engine.connect()


class StoreTransaction(_Reader):
    """An open store transaction: write a run, and read what the store (and it) holds."""

    def __init__(self, store: Store, connection: sa.Connection):
        self.store = store
        self.connection = connection
        self._undo: list[Callable[[], None]] = []

    def on_rollback(self, undo: Callable[[], None]) -> None:
        """Call ``undo()`` if this transaction is rolled back: an output removes the files it
        wrote for a run that is not stored."""
        self._undo.append(undo)

    def rolled_back(self) -> None:
        """The transaction was rolled back: undo what was registered, the latest first."""
        while self._undo:
            with suppress(Exception):  # the rollback's own error is what the caller sees
                self._undo.pop()()

    def save_run(self, result: RunResult, *, scheme_digest: str = "", final: bool = False,
                 plan_document: str | None = None, actor: str | None = None) -> str:
        """Write ``result`` (runs + run_units + run_nodes rows, bulk inserts); return the run id.

        The id is ``result.run.id`` if the engine set one, else a new uuid4 hex. ``plan_document``
        (the plan as JSON, whose sha256 is ``scheme_digest``) is stored once per digest.
        """
        run, scores = result.run, np.asarray(result.scores)
        n_nodes, n_units = len(result.node_codes), len(result.units)
        if scores.shape != (n_nodes, n_units) or len(result.ranks) != n_units:
            raise StoreError(
                f"run result of {run.scheme} {run.period} has scores of shape {scores.shape} and "
                f"{len(result.ranks)} ranks for {n_nodes} nodes × {n_units} units",
                hint="the engine must give one score row per node and one column and rank per unit")
        run_id = run.id or uuid.uuid4().hex
        new_plan = plan_document is not None and self.plan_document(scheme_digest) is None
        if final or new_plan:  # chained rows follow: wait for other chained writers first (docs/records.md)
            ledger.lock_writers(self.connection)
        self.connection.execute(runs_table.insert(), {
            "id": run_id, "scheme": run.scheme, "period": run.period, "as_of": run.as_of,
            "started_at": run.started_at, "finished_at": dt.datetime.now(dt.timezone.utc),
            "status": RunStatus.FINISHED.value, "final": final, "jx_version": jxcore.__version__,
            "scheme_digest": scheme_digest, "unit_count": n_units, "node_count": n_nodes, "actor": actor,
        })
        if new_plan and self.plan_document(scheme_digest) is None:
            try:  # a concurrent run of the same plan may store it first: then theirs is ours
                with self.connection.begin_nested():
                    self.connection.execute(run_plans.insert(), {
                        "digest": scheme_digest, "scheme": run.scheme, "period": run.period,
                        "document": plan_document, "stored_at": dt.datetime.now(dt.timezone.utc)})
                ledger.append_where(self.connection, "run_plans", sa.column("digest") == scheme_digest)
            except sa.exc.IntegrityError:
                pass
        self.connection.execute(run_units.insert(), [
            {"run_id": run_id, "position": i, "code": code, "name": name, "total_milli": total,
             "rank": rank}
            for i, (code, name, total, rank) in enumerate(zip(
                result.units.codes.tolist(), result.units.names.tolist(),
                scores[0].tolist(), np.asarray(result.ranks).tolist()))
        ])
        rows = []
        for i, code in enumerate(result.node_codes):
            node, measure = result.scheme.nodes[code], result.measures.get(code)
            if measure is not None and len(measure.value) != n_units:
                raise StoreError(f"the measure of {code} has {len(measure.value)} values for "
                                 f"{n_units} units", location=Location(node=code),
                                 hint="a collector must return one value per unit (NaN for none)")
            rows.append({
                "run_id": run_id, "position": i, "code": code, "parent_code": node.parent,
                "kind": node.kind.value, "name": node.name, "points_milli": node.points,
                "scores": scores[i].astype(SCORE_DTYPE).tobytes(),
                "values": None if measure is None else
                np.asarray(measure.value, dtype=VALUE_DTYPE).tobytes(),
                "measure_source": None if measure is None else measure.source,
            })
        self.connection.execute(run_nodes.insert(), rows)
        if final:  # final results join the audit chain (docs/records.md)
            ledger.append_final_run(self.connection, run_id)
        return run_id

    def discard_run(self, run_id: str) -> None:
        """Delete a non-final run and its rows (final runs are kept: StoreError)."""
        if self.load_run(run_id).final:
            raise StoreError(f"run {run_id} is final and cannot be discarded",
                             hint="final results stay in the record; run again with --final to supersede them")
        for table in (run_nodes, run_units):
            self.connection.execute(table.delete().where(table.c.run_id == run_id))
        self.connection.execute(runs_table.delete().where(runs_table.c.id == run_id))

    def add_entries(self, *, scheme: str, period: int, kind: str, source_file: str, source_sha256: str,
                    entered_by: str, rows: Sequence[NewEntry], entered_at: dt.datetime | None = None) -> Batch:
        """Write one batch of manual entries, see :func:`jxcore.store.entries.add_batch`."""
        return add_batch(self.connection, scheme=scheme, period=period, kind=kind, source_file=source_file,
                         source_sha256=source_sha256, entered_by=entered_by, rows=rows,
                         entered_at=entered_at)

    def _connect(self) -> AbstractContextManager[sa.Connection]:
        # After commit, a run read lazily comes from the store; after rollback it is gone.
        if self.connection.closed:
            return self.store.engine.connect()
        return nullcontext(self.connection)
