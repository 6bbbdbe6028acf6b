"""The system feed's SQL: the fused ``GROUP BY unit`` statements, built with SQLAlchemy Core, run
on the sources, and their results turned into measures.

Imported only when the feed collects (``jx run``), prints its SQL (``jx sql``) or lists a unit's
rows (``jx explain``): checking a plan (``jx validate``) needs none of it, nor SQLAlchemy.

On the embedded engines (DuckDB, SQLite) each fused statement runs as the SQL text it is shown by
(the window dates written in) and that text is kept in ``JX_HOME/cache/sql/``, one file per plan's
requests and dialect, holding the latest window: the next run with the same plan and dates skips
building and compiling the statements. Server engines get the statement with bound parameters.
A plain DuckDB file is read with duckdb itself (:class:`_DuckDBReader`), its raw-SQL measures too;
SQLAlchemy then only compiles the texts the cache does not hold.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import sqlalchemy as sa

from jx_collectors.system_feed import PLACEHOLDERS, Spec, parts
from jxcore.config import cache_file, write_cache
from jxcore.errors import DataError, Location, Problem
from jxcore.interfaces import CollectContext, RowSample
from jxcore.models import Measure, Period, Source

log = logging.getLogger("jx_collectors.system_feed")

#: Dialects whose fused statements run as their literal SQL text (and whose texts are cached).
TEXT_DIALECTS = ("duckdb", "sqlite")


class _Date(sa.types.TypeDecorator):
    """A DATE bind whose SQL text (Measure.source) is ``DATE 'yyyy-mm-dd'``, typed for Trino & co."""

    impl = sa.Date
    cache_ok = True

    def literal_processor(self, dialect):
        if dialect.name == "sqlite":  # SQLite keeps dates as ISO text and knows no DATE literal
            return lambda value: f"'{value.isoformat()}'"
        return lambda value: f"DATE '{value.isoformat()}'"


@attrs.frozen
class Window:
    """The run's dates: the window is [start, as_of], both inclusive."""

    start: dt.date
    end: dt.date
    as_of: dt.date

    @classmethod
    def of(cls, period: Period, as_of: dt.date) -> Window:
        return cls(period.start, period.end, period.clamp(as_of))

    def resolve(self, value: Any) -> Any:
        """Replace a "{start}" / "{end}" / "{as_of}" placeholder by its date."""
        if isinstance(value, str) and value in PLACEHOLDERS:
            return sa.literal(getattr(self, value[1:-1]), _Date())
        return value

    def bound(self, sql: str) -> Any:
        """A raw-SQL measure's statement with :start, :end and :as_of bound (those it uses)."""
        stmt = sa.text(sql)
        wanted = stmt.compile().params
        dates = {"start": self.start, "end": self.end, "as_of": self.as_of}
        return stmt.bindparams(*(sa.bindparam(k, v, type_=_Date()) for k, v in dates.items() if k in wanted))


def _condition(table: sa.TableClause, flt: Mapping[str, Any] | None, window: Window) -> list[Any]:
    """SQL conditions (to be ANDed) for a checked filter mapping."""
    conds = []
    for name, cond in (flt or {}).items():
        col = table.c[name]
        ops = cond if isinstance(cond, Mapping) else {"in" if isinstance(cond, (list, tuple)) else "=": cond}
        for op, value in ops.items():
            if op == "is null":
                conds.append(col.is_(None) if value else col.is_not(None))
            elif op in ("in", "not in"):
                values = [window.resolve(v) for v in value]
                conds.append(col.in_(values) if op == "in" else col.not_in(values))
            elif value is None:
                conds.append(col.is_(None) if op == "=" else col.is_not(None))
            else:
                value = window.resolve(value)
                conds.append({"=": col.__eq__, "!=": col.__ne__, "<": col.__lt__, "<=": col.__le__,
                              ">": col.__gt__, ">=": col.__ge__}[op](value))
    return conds


def _window_conditions(table: sa.TableClause, column: str | None, window: Window) -> list[Any]:
    if not column:
        return []
    col = table.c[column]
    # Half-open upper bound: right for DATE and for TIMESTAMP columns (the whole as-of day counts).
    return [col >= sa.literal(window.start, _Date()),
            col < sa.literal(window.as_of + dt.timedelta(days=1), _Date())]


def _count_if(conds: list[Any]) -> Any:
    if not conds:
        return sa.func.count()
    return sa.func.sum(sa.case((sa.and_(*conds), 1), else_=0))


def _value_if(conds: list[Any], col: Any) -> Any:
    return sa.case((sa.and_(*conds), col)) if conds else col


def row_conditions(spec: Spec, table: sa.TableClause, window: Window) -> tuple[list[Any], list[Any] | None]:
    """The conditions of the rows this measure aggregates (a rate's denominator rows) and, for a
    rate, of its numerator rows: shared by the fused query and the rows ``jx explain`` lists."""
    p = spec.p
    base = _condition(table, p["where"], window)
    windowed = base + _window_conditions(table, p["window"], window)
    if p["aggregate"] != "rate":
        return windowed, None
    return (windowed if p["denominator_window"] else base), windowed + _condition(table, p["numerator"], window)


def expressions(spec: Spec, table: sa.TableClause, window: Window) -> dict[str, Any]:
    """Aggregate expressions for this measure, one per part (:func:`jx_collectors.system_feed.parts`)."""
    rows, numerator = row_conditions(spec, table, window)
    agg = spec.p["aggregate"]
    if numerator is not None:
        return {"numerator": _count_if(numerator), "denominator": _count_if(rows)}
    if agg == "count":
        return {"value": _count_if(rows)}
    col = table.c[spec.p["column"]]
    if agg == "count_distinct":
        return {"value": sa.func.count(sa.distinct(_value_if(rows, col)))}
    return {"value": getattr(sa.func, agg)(_value_if(rows, col))}


#: One fused statement's measures: each spec with its parts' result labels (m<i>_<part>).
Labelled = list[tuple[Spec, dict[str, str]]]


def _by_table(specs: Sequence[Spec]) -> dict[tuple[str, str], list[Spec]]:
    groups: dict[tuple[str, str], list[Spec]] = {}
    for spec in specs:
        if spec.p["sql"] is None:
            groups.setdefault(spec.table_key, []).append(spec)
    return groups


def _labelled(group: Sequence[Spec]) -> list[tuple[str, Labelled]]:
    """The fused statements of one table, without building them: one per unit column (normally
    one), each with its measures and their labels."""
    out = []
    for unit_column in sorted({spec.p["unit_column"] for spec in group}):
        mine = [s for s in group if s.p["unit_column"] == unit_column]
        out.append((unit_column, [(spec, {part: f"m{i}_{part}" for part in parts(spec)})
                                  for i, spec in enumerate(mine)]))
    return out


def _statement(table: sa.TableClause, unit_column: str, labelled: Labelled, window: Window) -> Any:
    selects = [table.c[unit_column].label("unit")]
    for spec, names in labelled:
        for part, expr in expressions(spec, table, window).items():
            selects.append(expr.label(names[part]))
    return sa.select(*selects).group_by(table.c[unit_column])


def _table(name: str, columns: Sequence[str]) -> sa.TableClause:
    schema, _, table_name = name.rpartition(".")
    return sa.table(table_name, *(sa.column(c) for c in columns), schema=schema or None)


def _used_columns(group: Sequence[Spec]) -> list[str]:
    return list(dict.fromkeys(c for spec in group for c in spec.columns_used()))


# ---------------------------------------------------------------- SQL text (jx sql, Measure.source)

def sql_text(stmt: Any, dialect: sa.engine.Dialect) -> str:
    """The statement as the source runs it, with the window dates written in."""
    literal = _literal(stmt, dialect)
    if literal is not None:
        return literal
    compiled = stmt.compile(dialect=dialect)
    return f"{compiled}\n-- parameters: {compiled.params}"


def _literal(stmt: Any, dialect: sa.engine.Dialect) -> str | None:
    """The statement's SQL with every value written in, or None if the dialect cannot write one."""
    try:
        return str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    except (sa.exc.CompileError, NotImplementedError):
        return None


def queries(specs: Sequence[Spec], period: Period, as_of: dt.date, dialect: sa.engine.Dialect, *,
            columns: Mapping[str, Sequence[str]] | None = None, raw: bool = True) -> list[tuple[str, str]]:
    """(what, SQL) of every statement of the checked requests (see ``SystemFeed.queries``)."""
    window = Window.of(period, as_of)
    out = []
    for (source, name), group in _by_table(specs).items():
        table = _table(name, columns[name] if columns is not None else _used_columns(group))
        for unit_column, labelled in _labelled(group):
            nodes = ", ".join(spec.node for spec, _ in labelled)
            out.append((f"source {source}, table {name}: {len(labelled)} indicators ({nodes})",
                        sql_text(_statement(table, unit_column, labelled, window), dialect)))
    if raw:
        out += [(f"source {spec.p['source']}, raw SQL of {spec.node}",
                 sql_text(window.bound(spec.p["sql"]), dialect)) for spec in specs if spec.p["sql"] is not None]
    return out


# ---------------------------------------------------------------- collect

def collect(ctx: CollectContext, specs: Sequence[Spec]) -> dict[str, Measure]:
    """Every checked request's measure: one fused query per table (one connection per source),
    then each raw-SQL measure, rolled back (on a server engine, in a read-only transaction on a
    connection of its own)."""
    try:
        return _collect(ctx, specs, native=True)
    except _EngineNeeded:  # a table the file cannot show: the engine says what is wrong, as for any source
        return _collect(ctx, specs, native=False)


class _EngineNeeded(Exception):
    """A DuckDB file read with duckdb itself has a table or column problem to report."""


def _collect(ctx: CollectContext, specs: Sequence[Spec], *, native: bool) -> dict[str, Measure]:
    window = Window.of(ctx.period, ctx.as_of)
    engines: dict[str, Any] = {}

    def engine(source: str) -> Any:
        if source not in engines:
            engines[source] = ctx.source(source)
        return engines[source]

    declarative = _by_table(specs)
    raw = [spec for spec in specs if spec.p["sql"] is not None]
    measures: dict[str, Measure] = {}
    with contextlib.ExitStack() as stack:
        locations = {spec.p["source"]: spec.location for spec in reversed(specs)}  # each source's first
        files = {source: _duckdb_file(ctx.source_settings(source)) if native else None for source in locations}
        wanted = {source for source, _ in declarative} | {source for source, file in files.items() if file}
        readers = {source: _open_reader(stack, source, files[source], engine, locations[source])
                   for source in sorted(wanted)}
        tables = _reflect(readers, declarative)
        texts = {source: _SqlCache(reader, {k: g for k, g in declarative.items() if k[0] == source},
                                   [spec for spec in raw if spec.p["source"] == source], window)
                 for source, reader in readers.items()}
        fused: dict[str, list[_Fused]] = {source: [] for source in readers}
        for key, group in declarative.items():
            fused[key[0]] += _fused(readers[key[0]], tables[key], group, window, texts[key[0]])
        for source, statements in fused.items():
            results = readers[source].fetch_all([(f.run, f.what, f.location) for f in statements])
            for statement, columns in zip(statements, results):
                measures.update(_fused_measures(ctx, statement, columns))
        for spec in raw:  # on a DuckDB file, as the SQL text the measure shows (kept in the cache)
            reader = readers.get(spec.p["source"])
            if not isinstance(reader, _DuckDBReader):
                continue
            sql = texts[spec.p["source"]].text(window.bound, spec.p["sql"])
            if sql is not None:  # else (a value the dialect cannot write) through the engine, below
                columns = reader.fetch(sql, f"the SQL of {spec.node}", spec.location, roll_back=True)
                measures[spec.node] = _raw_measure(ctx, spec, columns, sql)
        for cache in texts.values():
            cache.save()
    for spec in raw:
        if spec.node not in measures:
            measures[spec.node] = _collect_sql(ctx, engine(spec.p["source"]), spec, window)
    return {spec.node: _scaled(ctx, spec, measures[spec.node]) for spec in specs}


class _Reader:
    """One source's connection for the fused queries: through SQLAlchemy, or (:class:`_DuckDBReader`)
    a DuckDB file read with duckdb itself."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        self.dialect_name = conn.dialect.name

    def dialect(self) -> sa.engine.Dialect:
        return self.conn.dialect

    def identity(self) -> list[Any]:
        """What the SQL texts compiled for this source depend on, besides the requests."""
        dialect = self.conn.dialect
        driver = type(dialect).__module__.split(".")[0]
        return [dialect.name, dialect.driver, driver, getattr(__import__(driver), "__version__", ""),
                repr(dialect.server_version_info)]

    def column_names(self, name: str) -> list[str] | None:
        """The table's columns; None if the source has no such table."""
        return _column_names(self.conn, name)

    def table_names(self, schema: str | None) -> list[str]:
        return sa.inspect(self.conn).get_table_names(schema=schema)

    def fetch(self, stmt: Any, what: str, location: Location) -> dict[str, Any]:
        """The statement's result, a column per name (see :func:`_fetch_on`)."""
        return _fetch_on(self.conn, stmt, what, location)

    def fetch_all(self, jobs: Sequence[tuple[Any, str, Location]]) -> list[dict[str, Any]]:
        """Each ``(statement, what, location)``'s result, in order, one after the other."""
        return [self.fetch(*job) for job in jobs]


class _DuckDBReader(_Reader):
    """A plain DuckDB file (``duckdb:///path``, no engine options beyond ``connect_args`` of
    ``read_only``), read with duckdb itself: duckdb-engine's import, engine, connection
    and its probes took about 0.2 s of a city run, more than the queries. Runs the same SQL texts
    (compiled by duckdb-engine's dialect, kept in the cache) and gives the same measures."""

    def __init__(self, conn: Any, engine: Callable[[], Any]) -> None:
        self.conn = conn
        self.dialect_name = "duckdb"
        self._engine = engine

    def dialect(self) -> sa.engine.Dialect:
        """The engine's dialect (only when a text is not cached): create_engine sets the driver's
        paramstyle, on which the texts depend (a pyformat dialect would double every ``%``)."""
        return self._engine().dialect

    def identity(self) -> list[Any]:
        import duckdb

        return ["duckdb", "duckdb", "duckdb itself", duckdb.__version__, _duckdb_engine_version()]

    def column_names(self, name: str) -> list[str] | None:
        import duckdb

        quoted = ".".join('"' + part.replace('"', '""') + '"' for part in name.split("."))
        try:
            return [column[0] for column in self.conn.execute(f"SELECT * FROM {quoted} WHERE false").description]
        except duckdb.Error:  # never None: the engine tells a missing table from another failure
            raise _EngineNeeded(name) from None

    def fetch(self, stmt: Any, what: str, location: Location, *, roll_back: bool = False) -> dict[str, Any]:
        """As :meth:`_Reader.fetch`; with ``roll_back`` (a scheme's own SQL) inside a transaction
        that is rolled back, as on the engine (``_ROLLED_BACK``)."""
        if roll_back:
            self.conn.begin()
        try:
            return _fetch_duckdb(self.conn, stmt, what, location)
        finally:
            if roll_back:
                self.conn.rollback()

    def fetch_all(self, jobs: Sequence[tuple[Any, str, Location]]) -> list[dict[str, Any]]:
        """Two at a time, each on a cursor of its own: DuckDB scans a table of fewer than ~120,000
        rows (one row group) on one thread, so one query alone leaves the second core idle (the
        city's 13 queries: about 30 % less wall time). Results and the first error in order."""
        from concurrent.futures import ThreadPoolExecutor

        cursors = [self.conn.cursor() for _ in jobs]  # made here: the connection is not thread-safe
        try:
            with ThreadPoolExecutor(2) as pool:
                return list(pool.map(lambda cursor, job: _fetch_duckdb(cursor, *job), cursors, jobs))
        finally:
            for cursor in cursors:
                cursor.close()


def _fetch_duckdb(conn: Any, sql: str, what: str, location: Location) -> dict[str, Any]:
    """``sql``'s result on a duckdb connection or cursor, a numpy array per column; a DuckDB error
    becomes a DataError naming the query, as on the engine."""
    import duckdb

    try:
        cursor = conn.execute(sql)
        names = [column[0] for column in cursor.description]
        arrays = list(cursor.fetchnumpy().values())  # positional: DuckDB renames duplicate names
    except duckdb.Error as exc:
        raise _failed(what, exc, location) from None
    return dict(zip(names, arrays))


def _duckdb_file(settings: Source | None) -> tuple[str, dict[str, Any]] | None:
    """(database, connect arguments) of a source that :class:`_DuckDBReader` reads; None for any other."""
    if settings is None or not settings.url.startswith("duckdb:"):
        return None
    try:
        url = sa.make_url(settings.url)
    except sa.exc.ArgumentError:
        return None  # the engine says what is wrong with it
    options = settings.engine_options()
    connect_args = options.pop("connect_args", None) or {}
    if options or url.query or url.drivername != "duckdb" or not isinstance(connect_args, Mapping) \
            or set(connect_args) - {"read_only"}:
        return None
    return url.database or ":memory:", dict(connect_args)


def _duckdb_config() -> dict[str, str]:
    """The configuration duckdb-engine opens a file with (its user agent): DuckDB lets one process
    hold a file only under one configuration, so the web app's live refresh (read here) and its
    explanations (read through the engine) can read the same file at the same time."""
    return {"custom_user_agent": f"duckdb_engine/{_duckdb_engine_version()}(sqlalchemy/{sa.__version__})"}


@functools.cache
def _duckdb_engine_version() -> str:
    """duckdb-engine's version, read from its metadata without importing it (once a process)."""
    from importlib.metadata import version

    return version("duckdb_engine")


def _open_reader(stack: contextlib.ExitStack, source: str, file: tuple[str, dict[str, Any]] | None,
                 engine: Callable[[str], Any], location: Location) -> _Reader:
    if file is None:
        return _Reader(stack.enter_context(_connect(source, engine(source), location)))
    import duckdb

    database, connect_args = file
    try:
        conn = duckdb.connect(database, **connect_args, config=_duckdb_config())
    except duckdb.Error as exc:
        raise _unreachable(source, f"duckdb:///{database}", str(exc), location) from None
    stack.callback(conn.close)
    return _DuckDBReader(conn, lambda: engine(source))


@contextlib.contextmanager
def _connect(source: str, engine: Any, location: Location) -> Iterator[sa.Connection]:
    """A connection to the source; a source that cannot be reached is a DataError naming it."""
    try:
        conn = engine.connect()
    except sa.exc.DBAPIError as exc:
        secret = engine.url.password
        reason = str(exc.orig).replace(str(secret), "***") if secret else str(exc.orig)
        raise _unreachable(source, engine.url.render_as_string(False), reason, location) from None
    with conn:
        yield conn


def _unreachable(source: str, url: str, reason: str, location: Location) -> DataError:
    from jxcore.store.api import mask_url

    return DataError(f"cannot open source {source!r} ({mask_url(url)}): {reason}", location=location,
                     hint="check the source's URL and that its server is up and reachable")


def _reflect(readers: Mapping[str, _Reader], groups: Mapping[tuple[str, str], list[Spec]]
             ) -> dict[tuple[str, str], sa.TableClause]:
    """Check every table and column named, once per table; report all that are missing at once."""
    tables, problems = {}, []
    for (source, name), group in groups.items():
        known = readers[source].column_names(name)
        if known is None:
            schema, _, table_name = name.rpartition(".")
            listed = readers[source].table_names(schema or None)
            hint = f"check the table name; the source's tables are: {', '.join(sorted(listed)) or 'none'}"
            problems += [Problem(f"table {name!r} does not exist in source {source!r}", spec.location, hint)
                         for spec in group]
            continue
        known_set = set(known)
        for spec in group:
            for column in dict.fromkeys(spec.columns_used()):
                if column not in known_set:
                    problems.append(Problem(
                        f"column {column!r} does not exist in table {name!r} of source {source!r}",
                        spec.location, f"the table's columns are: {', '.join(known)}"))
        tables[(source, name)] = _table(name, known)
    if problems:
        raise DataError.from_problems("the system feed's source tables do not match the scheme", problems)
    return tables


def _column_names(conn: sa.Connection, name: str) -> list[str] | None:
    """A table's column names from a zero-row SELECT (portable where dialects' reflection is not);
    None if the source has no such table (asked only when the SELECT fails)."""
    stmt = sa.select(sa.literal_column("*")).select_from(_table(name, ())).where(sa.false())
    try:
        return list(conn.execute(stmt).keys())
    except sa.exc.DBAPIError:
        conn.rollback()  # PostgreSQL refuses every statement after a failed one until then
        schema, _, table_name = name.rpartition(".")
        if sa.inspect(conn).has_table(table_name, schema=schema or None):
            raise
        return None


class _SqlCache:
    """The SQL texts of one run's fused statements, kept between runs (see the module's docstring)."""

    VERSION = 1

    def __init__(self, reader: _Reader, groups: Mapping[tuple[str, str], list[Spec]], raw: Sequence[Spec],
                 window: Window) -> None:
        self.reader = reader
        self.window = [window.start.isoformat(), window.end.isoformat(), window.as_of.isoformat()]
        self.path = _cache_path(reader, groups, raw) if reader.dialect_name in TEXT_DIALECTS else None
        self.texts: list[str | None] = []
        self.known: list[str] = []
        self._dialect: sa.engine.Dialect | None = None
        if self.path is not None:
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                data = json.loads(self.path.read_text(encoding="utf-8"))
                if data["window"] == self.window:
                    self.known = [str(text) for text in data["sql"]]

    def text(self, build: Callable[..., Any], *args: Any) -> str | None:
        """The next statement's literal SQL (from the cache, or compiled from ``build(*args)``), or None
        when it must run as a statement (a server engine, or values the dialect cannot write)."""
        if self.reader.dialect_name not in TEXT_DIALECTS:
            return None
        at = len(self.texts)
        if at < len(self.known):
            self.texts.append(self.known[at])
        else:
            self._dialect = self._dialect or self.reader.dialect()
            self.texts.append(_literal(build(*args), self._dialect))
        return self.texts[-1]

    def save(self) -> None:
        if self.path is None or self.texts == self.known or None in self.texts:
            return
        write_cache(self.path, json.dumps({"window": self.window, "sql": self.texts}, ensure_ascii=False))


def _cache_path(reader: _Reader, groups: Mapping[tuple[str, str], list[Spec]], raw: Sequence[Spec]) -> Path | None:
    """``JX_HOME/cache/sql/<sha256>.json``, named by everything the texts depend on except the
    window: this module, SQLAlchemy, the dialect and driver, every table's requests and the raw-SQL
    requests; None with JX_CACHE=0."""
    stamp = [_SqlCache.VERSION, sa.__version__, reader.identity(),
             [[source, name, [[spec.node, spec.p] for spec in group]] for (source, name), group in groups.items()],
             [[spec.node, spec.p] for spec in raw]]
    key = json.dumps(stamp, ensure_ascii=False, sort_keys=True, default=repr).encode()
    return cache_file("sql", key, [Path(__file__)])


@attrs.frozen
class _Fused:
    """One fused GROUP BY statement of a table: its measures' labels, the SQL its measures show,
    and what runs (that text, or on a server engine the statement with bound parameters)."""

    about: str  #: "table T (indicators A, B)", as messages name it
    labelled: Labelled
    sql: str
    run: Any
    location: Location

    @property
    def what(self) -> str:
        return f"the query of {self.about}"


def _fused(reader: _Reader, table: sa.TableClause, group: list[Spec], window: Window,
           texts: _SqlCache) -> list[_Fused]:
    """The fused statements of ``table`` (one per unit column, normally one), not yet run."""
    out = []
    for unit_column, labelled in _labelled(group):
        nodes = ", ".join(spec.node for spec, _ in labelled)
        sql = texts.text(_statement, table, unit_column, labelled, window)
        if sql is None:
            run = _statement(table, unit_column, labelled, window)
            sql = sql_text(run, reader.dialect())
        else:
            run = sql
        out.append(_Fused(f"table {table.name} (indicators {nodes})", labelled, sql, run, labelled[0][0].location))
    return out


def _fused_measures(ctx: CollectContext, fused: _Fused, columns: Mapping[str, Any]) -> dict[str, Measure]:
    """The measures of one fused statement from its result columns."""
    at, unknown = _align(ctx, columns["unit"], fused.about, fused.location)
    results: dict[str, Measure] = {}
    for spec, names in fused.labelled:
        got = {part: _spread(at, len(ctx.units), _floats(columns[label])) for part, label in names.items()}
        source = _source_text(fused.sql, names, unknown)
        if "numerator" in got:
            num, den = np.nan_to_num(got["numerator"]), np.nan_to_num(got["denominator"])
            with np.errstate(divide="ignore", invalid="ignore"):
                value = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
            results[spec.node] = Measure(spec.node, value, {"numerator": num, "denominator": den}, source=source)
        else:
            value = got["value"]
            if spec.p["aggregate"] in ("count", "sum", "count_distinct"):
                value = np.nan_to_num(value)
            results[spec.node] = Measure(spec.node, value, source=source)
    return results


def _collect_sql(ctx: CollectContext, engine: Any, spec: Spec, window: Window) -> Measure:
    stmt = window.bound(spec.p["sql"])
    columns = _fetch_raw(spec.p["source"], engine, stmt, f"the SQL of {spec.node}", spec.location)
    return _raw_measure(ctx, spec, columns, sql_text(stmt, engine.dialect))


def _raw_measure(ctx: CollectContext, spec: Spec, columns: Mapping[str, Any], sql: str) -> Measure:
    """A raw-SQL measure from its result columns (``unit``, ``value`` and any others)."""
    missing = [c for c in ("unit", "value") if c not in columns]
    if missing:
        raise DataError(f"the SQL of {spec.node} returns no column {' or '.join(missing)} "
                        f"(it returns {', '.join(columns)})", location=spec.location,
                        hint="name the result columns: SELECT unit_code AS unit, count(*) AS value …")
    at, unknown = _align(ctx, columns["unit"], f"the SQL of {spec.node}", spec.location)
    arrays = {name: _spread(at, len(ctx.units), _floats(values))
              for name, values in columns.items() if name != "unit"}
    value = arrays.pop("value")
    return Measure(spec.node, value, arrays, source=_source_text(sql, {}, unknown))


def _scaled(ctx: CollectContext, spec: Spec, measure: Measure) -> Measure:
    """Apply divide_by and multiply; keep the undivided total beside it."""
    divide_by, factor = spec.p["divide_by"], spec.p["multiply"]
    if not divide_by and factor == 1:
        return measure
    value, columns = measure.value, dict(measure.columns)
    if divide_by:
        divisor = getattr(ctx.units, divide_by).astype(np.float64)
        columns["total"], columns[divide_by] = value, divisor
        with np.errstate(divide="ignore", invalid="ignore"):
            value = np.where(divisor > 0, value / np.where(divisor > 0, divisor, 1), np.nan)
    return attrs.evolve(measure, value=value * factor, columns=columns)


# ---------------------------------------------------------------- rows behind a measure

def source_rows(ctx: CollectContext, spec: Spec, unit_code: str, limit: int) -> RowSample:
    """The rows of ``unit_code`` that ``spec``'s measure aggregates (see ``SystemFeed.source_rows``)."""
    window = Window.of(ctx.period, ctx.as_of)
    engine = ctx.source(spec.p["source"])
    if spec.p["sql"] is not None:
        return RowSample(source=sql_text(window.bound(spec.p["sql"]), engine.dialect),
                         note="a raw-SQL measure: its rows cannot be listed, only its query")
    with _connect(spec.p["source"], engine, spec.location) as conn:
        table = _reflect({spec.p["source"]: _Reader(conn)}, {spec.table_key: [spec]})[spec.table_key]
        rows, numerator = row_conditions(spec, table, window)
        where = sa.and_(table.c[spec.p["unit_column"]] == unit_code, *rows)
        marks = [sa.case((sa.and_(*numerator), 1), else_=0).label("numerator")] if numerator is not None else []
        order = [table.c[c] for c in dict.fromkeys([spec.p["window"], table.c.keys()[0]]) if c]
        listing = sa.select(*table.c, *marks).where(where).order_by(*order).limit(limit)
        counts = sa.select(sa.func.count(), *(sa.func.sum(m.element) for m in marks)).where(where) \
            .select_from(table)
        result = conn.execute(listing)
        columns, listed = tuple(result.keys()), tuple(tuple(r) for r in result.all())
        total, *counted = conn.execute(counts).one()
    return RowSample(columns=columns, rows=listed, total=int(total),
                     counted=int(counted[0] or 0) if counted else None,
                     counted_by="numerator" if counted else None,
                     source=sql_text(listing, engine.dialect))


# ---------------------------------------------------------------- running statements

#: How a raw-SQL measure's transaction is made read-only, per dialect (docs/collectors.md): the
#: statement runs first in the transaction; ``undo`` runs after it (a pooled connection is reused).
_READ_ONLY = {"postgresql": ("SET TRANSACTION READ ONLY", None),
              "mysql": ("SET TRANSACTION READ ONLY", None), "mariadb": ("SET TRANSACTION READ ONLY", None),
              "sqlite": ("PRAGMA query_only = ON", "PRAGMA query_only = OFF")}
_ROLLED_BACK = ("duckdb",)  # no read-only transactions: whatever it writes is rolled back


def _fetch_raw(source: str, engine: Any, stmt: Any, what: str, location: Location) -> dict[str, Any]:
    """Run a scheme-written ``stmt`` on a connection of its own, in a read-only transaction where the
    engine has one, and always roll it back: a measure cannot change the source whatever rights its
    credentials have. A database error becomes a DataError naming the query."""
    name = engine.dialect.name
    guard, undo = _READ_ONLY.get(name, (None, None))
    with _connect(source, engine, location) as conn:
        try:
            if guard:
                conn.exec_driver_sql(guard)
            try:
                return _fetch_on(conn, stmt, what, location)
            finally:
                if guard or name in _ROLLED_BACK:
                    conn.rollback()
                if undo:
                    conn.exec_driver_sql(undo)
                    conn.commit()
        except sa.exc.DBAPIError as exc:
            raise _failed(what, exc, location) from None


def _fetch_on(conn: sa.Connection, stmt: Any, what: str, location: Location) -> dict[str, Any]:
    """Run ``stmt`` (a statement, or SQL text run as it is) and return its result as one column
    per name, with no Python row object per row: DuckDB hands its result over as numpy arrays
    (``fetchnumpy``), other drivers' raw tuples are transposed once. The columns are results of
    aggregates, so SQLAlchemy's result processing (none for numbers and text) is not needed."""
    try:
        result = conn.exec_driver_sql(stmt) if isinstance(stmt, str) else conn.execute(stmt)
        names, cursor = list(result.keys()), result.cursor
        if hasattr(cursor, "fetchnumpy"):  # duckdb_engine's cursor: a DuckDB connection
            arrays = list(cursor.fetchnumpy().values())  # positional: DuckDB renames duplicate names
        else:
            rows = cursor.fetchall()
            arrays = list(zip(*rows)) if rows else [() for _ in names]
        result.close()
    except sa.exc.DBAPIError as exc:
        raise _failed(what, exc, location) from None
    return dict(zip(names, arrays))


def _failed(what: str, exc: Exception, location: Location) -> DataError:
    """A query the source refused; ``exc`` is SQLAlchemy's error (its driver's error is the reason) or
    the driver's own."""
    return DataError(f"{what} failed: {getattr(exc, 'orig', exc)}", location=location,
                     hint="check the indicators' filters against the column types, or run the SQL "
                          "(jx explain --sql) by hand against the source")


def _floats(values: Sequence[Any] | np.ndarray) -> np.ndarray:
    """A result column (numbers, a masked array, or ints, Decimals and None) as float64, NaN for NULL."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "iufb":
        floats = values.astype(np.float64)
        return floats.filled(np.nan) if hasattr(floats, "filled") else floats  # a masked array: NULLs are NaN
    arr = np.array(values, dtype=object)
    arr[np.equal(arr, None)] = np.nan
    return arr.astype(np.float64)


def _align(ctx: CollectContext, codes: Sequence[Any], where: str, location: Location) -> tuple[np.ndarray, list[str]]:
    """Position in ctx.units of each result row (-1 for unknown units) and the unknown codes.

    A few unknown codes (a unit closed since) are ignored and listed in the measure's source; when
    no returned code is a unit at all, the source speaks of its units differently (names instead of
    codes, another unit column) and every unit would silently score zero: that is a DataError.
    """
    at = ctx.units.positions(codes)
    unknown = sorted(np.asarray(codes, dtype=object).astype(str)[at < 0].tolist())
    if unknown and len(unknown) == len(at):
        raise DataError(f"{where}: none of the {len(unknown)} unit codes the source returned is a unit of the "
                        f"scheme (e.g. {', '.join(unknown[:5])})", location=location,
                        hint="the unit column must hold the codes of units.yaml; set unit_column to the right "
                             "column, or map the source's units to the scheme's codes")
    if unknown:
        log.warning("system_feed ignored %d result rows for unit codes the scheme does not know: %s",
                    len(unknown), ", ".join(unknown[:10]))
    return at, unknown


def _spread(at: np.ndarray, n: int, values: np.ndarray) -> np.ndarray:
    """Result values placed at their units' positions; NaN for units without a row."""
    out = np.full(n, np.nan)
    keep = at >= 0
    out[at[keep]] = values[keep]
    return out


def _source_text(sql: str, names: Mapping[str, str], unknown: list[str]) -> str:
    lines = []
    if names:
        lines.append("-- this indicator: " + ", ".join(f"{part} = {label}" for part, label in names.items()))
    if unknown:
        lines.append(f"-- ignored {len(unknown)} result rows for unknown unit codes: "
                     + ", ".join(unknown[:10]) + (" …" if len(unknown) > 10 else ""))
    return "\n".join(lines + [sql])
