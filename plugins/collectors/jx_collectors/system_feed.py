"""The system feed (业务信息化系统自动采集): measures computed inside the source database.

Every indicator's measure is compiled with SQLAlchemy Core into one aggregate expression; all
measures on the same table are fused into ONE ``SELECT unit, agg1, agg2 … GROUP BY unit`` so each
table is scanned once per run, whatever the number of indicators on it. Only the grouped result
(one row per unit) reaches Python. Filters are written as ``sum(CASE WHEN … THEN 1 ELSE 0 END)``
rather than ``FILTER (WHERE …)`` because MariaDB and others lack FILTER: the same SQL then runs on
DuckDB, SQLite, PostgreSQL, MariaDB and Trino unchanged.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import attrs
import numpy as np
import sqlalchemy as sa

from jxcore.errors import DataError, Location, Problem, SchemeError
from jxcore.interfaces import CollectContext, CollectRequest, RowSample
from jxcore.models import Measure, Period
from jxcore.params import Param, check_params

log = logging.getLogger(__name__)

AGGREGATES = ("count", "sum", "avg", "min", "max", "rate", "count_distinct")
NEEDS_COLUMN = ("sum", "avg", "min", "max", "count_distinct")
PLACEHOLDERS = ("{start}", "{end}", "{as_of}")
OPERATORS = ("=", "!=", "<", "<=", ">", ">=", "in", "not in", "is null")
#: parameters of the declarative form, which make no sense next to ``sql``
DECLARATIVE = ("table", "column", "where", "numerator", "window")


class _Date(sa.types.TypeDecorator):
    """A DATE bind whose SQL text (Measure.source) is ``DATE 'yyyy-mm-dd'``, typed for Trino & co."""

    impl = sa.Date
    cache_ok = True

    def literal_processor(self, dialect):
        if dialect.name == "sqlite":  # SQLite keeps dates as ISO text and knows no DATE literal
            return lambda value: f"'{value.isoformat()}'"
        return lambda value: f"DATE '{value.isoformat()}'"


@attrs.frozen
class _Window:
    """The run's dates: the window is [start, as_of], both inclusive."""

    start: dt.date
    end: dt.date
    as_of: dt.date

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


def _location(req: CollectRequest) -> Location:
    loc = req.node.collector.location if req.node.collector else req.node.location
    return attrs.evolve(loc, node=req.node.code)


def _filter_problem(flt: Mapping[str, Any]) -> str | None:
    """What is wrong with a ``where``/``numerator`` mapping (syntax only; columns come later)."""
    problems = []
    for column, cond in flt.items():
        values = []
        if isinstance(cond, Mapping):
            for op, value in cond.items():
                if op not in OPERATORS:
                    problems.append(f"{column}: unknown operator {op!r} (known: {', '.join(OPERATORS)})")
                elif op == "is null" and not isinstance(value, bool):
                    problems.append(f"{column}: 'is null' takes true or false, not {value!r}")
                elif op in ("in", "not in") and not isinstance(value, (list, tuple)):
                    problems.append(f"{column}: {op!r} takes a list, not {value!r}")
                else:
                    values += list(value) if isinstance(value, (list, tuple)) else [value]
        else:
            values += list(cond) if isinstance(cond, (list, tuple)) else [cond]
        for value in values:
            if isinstance(value, str) and value.startswith("{") and value.endswith("}") \
                    and value not in PLACEHOLDERS:
                problems.append(f"{column}: unknown placeholder {value!r} (known: {', '.join(PLACEHOLDERS)})")
            elif isinstance(value, (Mapping, list, tuple)):
                problems.append(f"{column}: {value!r} is not a single value")
    return "; ".join(problems) or None


def _condition(table: sa.TableClause, flt: Mapping[str, Any] | None, window: _Window) -> list[Any]:
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


def _window_conditions(table: sa.TableClause, column: str | None, window: _Window) -> list[Any]:
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


def _floats(values: Sequence[Any] | np.ndarray) -> np.ndarray:
    """A result column (numbers, a masked array, or ints, Decimals and None) as float64, NaN for NULL."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "iufb":
        return np.ma.filled(np.ma.asarray(values).astype(np.float64), np.nan)
    arr = np.array(values, dtype=object)
    arr[np.equal(arr, None)] = np.nan
    return arr.astype(np.float64)


def _fetch_columns(conn: sa.Connection, stmt: Any) -> dict[str, Any]:
    """Run ``stmt`` and return its result as one column per name, with no Python row object per
    row: DuckDB hands its result over as numpy arrays (``fetchnumpy``), other drivers' raw tuples
    are transposed once. The columns are results of aggregates, so SQLAlchemy's result
    processing (none for numbers and text) is not needed."""
    result = conn.execute(stmt)
    names, cursor = list(result.keys()), result.cursor
    if hasattr(cursor, "fetchnumpy"):  # duckdb_engine's cursor: a DuckDB connection
        arrays = list(cursor.fetchnumpy().values())  # positional: DuckDB renames duplicate names
    else:
        rows = cursor.fetchall()
        arrays = list(zip(*rows)) if rows else [() for _ in names]
    result.close()
    return dict(zip(names, arrays))


@attrs.frozen
class _Spec:
    """One request with its parameters completed by the declared defaults."""

    node: str
    location: Location
    p: Mapping[str, Any]

    @property
    def table_key(self) -> tuple[str, str]:
        return (self.p["source"], self.p["table"])

    def columns_used(self) -> list[str]:
        p = self.p
        names = [p["unit_column"], *(p["where"] or ()), *(p["numerator"] or ())]
        return names + [c for c in (p["column"], p["window"]) if c]

    def row_conditions(self, table: sa.TableClause, window: _Window) -> tuple[list[Any], list[Any] | None]:
        """The conditions of the rows this measure aggregates (a rate's denominator rows) and, for a
        rate, of its numerator rows: shared by the fused query and the rows ``jx explain`` lists."""
        p = self.p
        base = _condition(table, p["where"], window)
        windowed = base + _window_conditions(table, p["window"], window)
        if p["aggregate"] != "rate":
            return windowed, None
        return (windowed if p["denominator_window"] else base), windowed + _condition(table, p["numerator"], window)

    def expressions(self, table: sa.TableClause, window: _Window) -> dict[str, Any]:
        """Labelled aggregate expressions for this measure: ``value`` or ``numerator``/``denominator``."""
        rows, numerator = self.row_conditions(table, window)
        agg = self.p["aggregate"]
        if numerator is not None:
            return {"numerator": _count_if(numerator), "denominator": _count_if(rows)}
        if agg == "count":
            return {"value": _count_if(rows)}
        col = table.c[self.p["column"]]
        if agg == "count_distinct":
            return {"value": sa.func.count(sa.distinct(_value_if(rows, col)))}
        return {"value": getattr(sa.func, agg)(_value_if(rows, col))}


class SystemFeed:
    """Counts, sums, averages and rates from a business database, aggregated in the database."""

    name: ClassVar[str] = "system_feed"
    description: ClassVar[str] = (
        "Counts, sums, averages and rates per unit from a business database (业务系统自动采集), "
        "aggregated in the database: one scan per table for all indicators on it.")
    params: ClassVar[Sequence[Param]] = (
        Param("source", "string", "name of the scheme's source database (sources: in scheme.yaml)",
              default="business"),
        Param("table", "string", "source table (schema.table allowed); give this or sql", default=None),
        Param("unit_column", "string", "column holding the unit code", default="unit_code"),
        Param("aggregate", "string", "what to compute per unit", default="count", choices=AGGREGATES),
        Param("column", "string", "the column summed/averaged/... (sum, avg, min, max, count_distinct)",
              default=None),
        Param("where", "mapping", "filter on every row: column: value, column: [a, b], or "
              "column: {op: value} with op one of " + ", ".join(OPERATORS), default=None,
              validator=_filter_problem),
        Param("numerator", "mapping", "rate only: the extra filter of the numerator (same syntax as "
              "where), on top of where", default=None, validator=_filter_problem),
        Param("window", "string", "date column limited to [period start, as-of date]", default=None),
        Param("denominator_window", "boolean", "rate only: limit the denominator to the window too "
              "(else only the numerator is)", default=False),
        Param("divide_by", "string", "divide the value by the unit's staff or market entities",
              default=None, choices=("staff", "entities")),
        Param("multiply", "number", "factor applied last (100 for percent, 1000 for per 1,000)", default=1),
        Param("sql", "string", "raw SQL instead of the declarative form; binds :start, :end, :as_of; "
              "returns columns unit and value (others go to the measure's columns)", default=None),
    )

    # ---------------------------------------------------------------- checks (no database)

    def check(self, requests: Sequence[CollectRequest]) -> list[Problem]:
        """Every problem of every request's parameters, each field and across fields; no database."""
        problems = []
        for req in requests:
            values, messages = self._values(req)
            if not messages:
                messages = self._spec_problems(values)
            location = _location(req)
            problems += [Problem(m, location, "see docs/collectors.md for the system_feed parameters")
                         for m in messages]
        return problems

    def _specs(self, requests: Sequence[CollectRequest]) -> list[_Spec]:
        return [_Spec(req.node.code, _location(req), self._values(req)[0]) for req in requests]

    def _values(self, req: CollectRequest) -> tuple[dict[str, Any], list[str]]:
        """Parameters with defaults filled in; None means "not given" (the engine passes defaults)."""
        return check_params(self.params, {k: v for k, v in req.params.items() if v is not None})

    @staticmethod
    def _spec_problems(p: Mapping[str, Any]) -> list[str]:
        agg = p["aggregate"]
        if p["sql"] is not None:
            extra = [name for name in DECLARATIVE if p[name]]
            if extra:
                return [f"sql is given, so {', '.join(extra)} cannot be: use either sql or the "
                        f"declarative form (table, aggregate, where …)"]
            return []
        if not p["table"]:
            return ["neither table nor sql is given"]
        problems = []
        if agg in NEEDS_COLUMN and not p["column"]:
            problems.append(f"aggregate {agg} needs column: the column to {agg}")
        if agg not in NEEDS_COLUMN and p["column"]:
            problems.append(f"column {p['column']!r} has no use with aggregate {agg} (it counts rows)")
        if agg == "rate" and not p["numerator"]:
            problems.append("aggregate rate needs numerator: the filter of the rows counted above the line")
        if agg != "rate" and p["numerator"]:
            problems.append(f"numerator is only for aggregate rate, not {agg}")
        if p["denominator_window"] and (agg != "rate" or not p["window"]):
            problems.append("denominator_window needs aggregate rate and a window column")
        return problems

    # ---------------------------------------------------------------- collect

    def collect(self, ctx: CollectContext, requests: Sequence[CollectRequest]) -> dict[str, Measure]:
        problems = self.check(requests)
        if problems:
            raise SchemeError.from_problems("system_feed parameters are wrong", problems)
        specs = self._specs(requests)
        window = _Window(ctx.period.start, ctx.period.end, ctx.period.clamp(ctx.as_of))
        engines = {name: ctx.source(name) for name in sorted({s.p["source"] for s in specs})}

        declarative = _by_table(specs)
        tables = self._reflect(engines, declarative)

        measures: dict[str, Measure] = {}
        for key, group in declarative.items():
            measures.update(self._collect_table(ctx, engines[key[0]], tables[key], group, window))
        for spec in specs:
            if spec.p["sql"] is not None:
                measures[spec.node] = self._collect_sql(ctx, engines[spec.p["source"]], spec, window)
        return {spec.node: self._scaled(ctx, spec, measures[spec.node]) for spec in specs}

    @staticmethod
    def _reflect(engines: Mapping[str, Any], groups: Mapping[tuple[str, str], list[_Spec]]
                 ) -> dict[tuple[str, str], sa.TableClause]:
        """Check every table and column named, once per table; report all that are missing at once."""
        tables, problems = {}, []
        inspectors: dict[str, Any] = {}
        for (source, name), group in groups.items():
            schema, _, table_name = name.rpartition(".")
            if source not in inspectors:
                inspectors[source] = _inspector(source, engines[source], group[0].location)
            insp = inspectors[source]
            if not insp.has_table(table_name, schema=schema or None):
                for spec in group:
                    problems.append(Problem(
                        f"table {name!r} does not exist in source {source!r}", spec.location,
                        f"check the table name; the source's tables are: "
                        f"{', '.join(sorted(insp.get_table_names(schema=schema or None))) or 'none'}"))
                continue
            known = _column_names(engines[source], name)
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

    def compile(self, requests: Sequence[CollectRequest], columns: Mapping[str, Sequence[str]],
                period: Period, as_of: dt.date, dialect: sa.engine.Dialect) -> list[str]:
        """The fused SQL the declarative requests would run, for ``dialect``, without a database.

        ``columns`` gives each table's column names (what reflection would find).
        """
        return [sql for _, sql in self.queries(requests, period, as_of, dialect, columns=columns, raw=False)]

    def queries(self, requests: Sequence[CollectRequest], period: Period, as_of: dt.date,
                dialect: sa.engine.Dialect, *, columns: Mapping[str, Sequence[str]] | None = None,
                raw: bool = True) -> list[tuple[str, str]]:
        """(what, SQL) of every statement the requests send to their sources, compiled for
        ``dialect`` with the window dates written in, without a database (``jx sql``).

        Without ``columns``, each table's columns are those its requests name.
        """
        problems = self.check(requests)
        if problems:
            raise SchemeError.from_problems("system_feed parameters are wrong", problems)
        window = _Window(period.start, period.end, period.clamp(as_of))
        specs = self._specs(requests)
        out = []
        for (source, name), group in _by_table(specs).items():
            used = columns[name] if columns is not None else \
                list(dict.fromkeys(c for spec in group for c in spec.columns_used()))
            for stmt, labelled in _fused(_table(name, used), group, window):
                nodes = ", ".join(spec.node for spec, _ in labelled)
                out.append((f"source {source}, table {name}: {len(labelled)} indicators ({nodes})",
                            _sql_text(stmt, dialect)))
        if raw:
            out += [(f"source {spec.p['source']}, raw SQL of {spec.node}",
                     _sql_text(window.bound(spec.p["sql"]), dialect)) for spec in specs if spec.p["sql"] is not None]
        return out

    def _collect_table(self, ctx: CollectContext, engine: Any, table: sa.TableClause,
                       group: list[_Spec], window: _Window) -> dict[str, Measure]:
        """Run the fused GROUP BY query (queries, if grouped by several unit columns) of ``table``."""
        results: dict[str, Measure] = {}
        for stmt, labelled in _fused(table, group, window):
            nodes = ", ".join(spec.node for spec, _ in labelled)
            columns = _fetch(engine, stmt, f"the query of table {table.name} (indicators {nodes})",
                             labelled[0][0].location)
            sql = _sql_text(stmt, engine.dialect)
            at, unknown = _align(ctx, columns["unit"], f"table {table.name} (indicators {nodes})",
                                 labelled[0][0].location)
            for spec, names in labelled:
                got = {part: _spread(at, len(ctx.units), _floats(columns[label])) for part, label in names.items()}
                source = _source_text(sql, names, unknown)
                if "numerator" in got:
                    num, den = np.nan_to_num(got["numerator"]), np.nan_to_num(got["denominator"])
                    with np.errstate(divide="ignore", invalid="ignore"):
                        value = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
                    results[spec.node] = Measure(spec.node, value, {"numerator": num, "denominator": den},
                                                 source=source)
                else:
                    value = got["value"]
                    if spec.p["aggregate"] in ("count", "sum", "count_distinct"):
                        value = np.nan_to_num(value)
                    results[spec.node] = Measure(spec.node, value, source=source)
        return results

    def _collect_sql(self, ctx: CollectContext, engine: Any, spec: _Spec, window: _Window) -> Measure:
        stmt = window.bound(spec.p["sql"])
        columns = _fetch(engine, stmt, f"the SQL of {spec.node}", spec.location, raw=True)
        missing = [c for c in ("unit", "value") if c not in columns]
        if missing:
            raise DataError(f"the SQL of {spec.node} returns no column {' or '.join(missing)} "
                            f"(it returns {', '.join(columns)})", location=spec.location,
                            hint="name the result columns: SELECT unit_code AS unit, count(*) AS value …")
        at, unknown = _align(ctx, columns["unit"], f"the SQL of {spec.node}", spec.location)
        arrays = {name: _spread(at, len(ctx.units), _floats(values))
                  for name, values in columns.items() if name != "unit"}
        value = arrays.pop("value")
        return Measure(spec.node, value, arrays,
                       source=_source_text(_sql_text(stmt, engine.dialect), {}, unknown))

    # ---------------------------------------------------------------- rows behind a measure

    def source_rows(self, ctx: CollectContext, request: CollectRequest, unit_code: str, limit: int) -> RowSample:
        """The rows of ``unit_code`` that the measure of ``request`` aggregates, with the same
        compiled filters and window; for a rate, ``numerator`` marks the numerator's rows. A raw-SQL
        measure cannot say which rows it used: its SQL is returned instead."""
        problems = self.check([request])
        if problems:
            raise SchemeError.from_problems("system_feed parameters are wrong", problems)
        spec = self._specs([request])[0]
        window = _Window(ctx.period.start, ctx.period.end, ctx.period.clamp(ctx.as_of))
        engine = ctx.source(spec.p["source"])
        if spec.p["sql"] is not None:
            return RowSample(source=_sql_text(window.bound(spec.p["sql"]), engine.dialect),
                             note="a raw-SQL measure: its rows cannot be listed, only its query")
        table = self._reflect({spec.p["source"]: engine}, {spec.table_key: [spec]})[spec.table_key]
        rows, numerator = spec.row_conditions(table, window)
        where = sa.and_(table.c[spec.p["unit_column"]] == unit_code, *rows)
        marks = [sa.case((sa.and_(*numerator), 1), else_=0).label("numerator")] if numerator is not None else []
        order = [table.c[c] for c in dict.fromkeys([spec.p["window"], table.c.keys()[0]]) if c]
        listing = sa.select(*table.c, *marks).where(where).order_by(*order).limit(limit)
        counts = sa.select(sa.func.count(), *(sa.func.sum(m.element) for m in marks)).where(where) \
            .select_from(table)
        with engine.connect() as conn:
            result = conn.execute(listing)
            columns, listed = tuple(result.keys()), tuple(tuple(r) for r in result.all())
            total, *counted = conn.execute(counts).one()
        return RowSample(columns=columns, rows=listed, total=int(total),
                         counted=int(counted[0] or 0) if counted else None,
                         counted_by="numerator" if counted else None,
                         source=_sql_text(listing, engine.dialect))

    @staticmethod
    def _scaled(ctx: CollectContext, spec: _Spec, measure: Measure) -> Measure:
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


def _inspector(source: str, engine: Any, location: Location) -> Any:
    """The source's inspector; a source that cannot be reached is a DataError naming it."""
    try:
        return sa.inspect(engine)
    except sa.exc.DBAPIError as exc:
        from jxcore.store.api import mask_url

        secret = engine.url.password
        reason = str(exc.orig).replace(str(secret), "***") if secret else str(exc.orig)
        raise DataError(f"cannot open source {source!r} ({mask_url(engine.url.render_as_string(False))}): "
                        f"{reason}", location=location,
                        hint="check the source's URL and that its server is up and reachable") from None


def _column_names(engine: Any, name: str) -> list[str]:
    """A table's column names from a zero-row SELECT: portable where dialects' reflection is not."""
    stmt = sa.select(sa.literal_column("*")).select_from(_table(name, ())).where(sa.false())
    with engine.connect() as conn:
        return list(conn.execute(stmt).keys())


def _by_table(specs: Sequence[_Spec]) -> dict[tuple[str, str], list[_Spec]]:
    groups: dict[tuple[str, str], list[_Spec]] = {}
    for spec in specs:
        if spec.p["sql"] is None:
            groups.setdefault(spec.table_key, []).append(spec)
    return groups


def _table(name: str, columns: Sequence[str]) -> sa.TableClause:
    schema, _, table_name = name.rpartition(".")
    return sa.table(table_name, *(sa.column(c) for c in columns), schema=schema or None)


def _fused(table: sa.TableClause, group: Sequence[_Spec], window: _Window
           ) -> list[tuple[Any, list[tuple[_Spec, dict[str, str]]]]]:
    """One SELECT per unit column (normally one) with every measure's aggregates, labelled m<i>_<part>."""
    fused = []
    for unit_column in sorted({spec.p["unit_column"] for spec in group}):
        labelled = []
        selects = [table.c[unit_column].label("unit")]
        for i, spec in enumerate(s for s in group if s.p["unit_column"] == unit_column):
            names = {}
            for part, expr in spec.expressions(table, window).items():
                names[part] = f"m{i}_{part}"
                selects.append(expr.label(names[part]))
            labelled.append((spec, names))
        fused.append((sa.select(*selects).group_by(table.c[unit_column]), labelled))
    return fused


#: How a raw-SQL measure's transaction is made read-only, per dialect (docs/collectors.md): the
#: statement runs first in the transaction; ``undo`` runs after it (a pooled connection is reused).
_READ_ONLY = {"postgresql": ("SET TRANSACTION READ ONLY", None),
              "mysql": ("SET TRANSACTION READ ONLY", None), "mariadb": ("SET TRANSACTION READ ONLY", None),
              "sqlite": ("PRAGMA query_only = ON", "PRAGMA query_only = OFF")}
_ROLLED_BACK = ("duckdb",)  # no read-only transactions: whatever it writes is rolled back


def _fetch(engine: Any, stmt: Any, what: str, location: Location, *, raw: bool = False) -> dict[str, np.ndarray]:
    """Run ``stmt``; a database error becomes a DataError naming the query and its indicators.

    A ``raw`` (scheme-written) statement runs in a read-only transaction where the engine has one,
    and is always rolled back: a measure cannot change the source whatever rights its credentials have.
    """
    name = engine.dialect.name
    guard, undo = _READ_ONLY.get(name, (None, None)) if raw else (None, None)
    try:
        with engine.connect() as conn:
            if guard:
                conn.exec_driver_sql(guard)
            try:
                return _fetch_columns(conn, stmt)
            finally:
                if raw and (guard or name in _ROLLED_BACK):
                    conn.rollback()
                if undo:
                    conn.exec_driver_sql(undo)
                    conn.commit()
    except sa.exc.DBAPIError as exc:
        raise DataError(f"{what} failed: {exc.orig}", location=location,
                        hint="check the indicators' filters against the column types, or run the SQL "
                             "(jx explain --sql) by hand against the source") from None


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


def _sql_text(stmt: Any, dialect: sa.engine.Dialect) -> str:
    """The statement as the source runs it, with the window dates written in."""
    try:
        return str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    except (sa.exc.CompileError, NotImplementedError):
        compiled = stmt.compile(dialect=dialect)
        return f"{compiled}\n-- parameters: {compiled.params}"


def _source_text(sql: str, names: Mapping[str, str], unknown: list[str]) -> str:
    lines = []
    if names:
        lines.append("-- this indicator: " + ", ".join(f"{part} = {label}" for part, label in names.items()))
    if unknown:
        lines.append(f"-- ignored {len(unknown)} result rows for unknown unit codes: "
                     + ", ".join(unknown[:10]) + (" …" if len(unknown) > 10 else ""))
    return "\n".join(lines + [sql])
