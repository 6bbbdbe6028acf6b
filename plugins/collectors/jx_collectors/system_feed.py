"""The system feed (业务信息化系统自动采集): measures computed inside the source database.

Every indicator's measure is compiled with SQLAlchemy Core into one aggregate expression; all
measures on the same table are fused into ONE ``SELECT unit, agg1, agg2 … GROUP BY unit`` so each
table is scanned once per run, whatever the number of indicators on it. Only the grouped result
(one row per unit) reaches Python. Filters are written as ``sum(CASE WHEN … THEN 1 ELSE 0 END)``
rather than ``FILTER (WHERE …)`` because MariaDB and others lack FILTER: the same SQL then runs on
DuckDB, SQLite, PostgreSQL, MariaDB and Trino unchanged.

This module declares the parameters and checks them (``jx validate``, no database, no SQLAlchemy);
the SQL is built and run by :mod:`jx_collectors.system_feed_sql`, imported when the feed collects.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from jxcore.errors import Location, Problem, SchemeError
from jxcore.interfaces import CollectContext, CollectRequest, RowSample
from jxcore.models import Measure, Period
from jxcore.params import Param, check_params

if TYPE_CHECKING:  # SQLAlchemy is imported with jx_collectors.system_feed_sql, when the feed collects
    import sqlalchemy as sa

AGGREGATES = ("count", "sum", "avg", "min", "max", "rate", "count_distinct")
NEEDS_COLUMN = ("sum", "avg", "min", "max", "count_distinct")
PLACEHOLDERS = ("{start}", "{end}", "{as_of}")
OPERATORS = ("=", "!=", "<", "<=", ">", ">=", "in", "not in", "is null")
#: parameters of the declarative form, which make no sense next to ``sql``
DECLARATIVE = ("table", "column", "where", "numerator", "window")


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


@attrs.frozen
class Spec:
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


def parts(spec: Spec) -> tuple[str, ...]:
    """The result columns of a measure in the fused query: a rate's numerator and denominator, else its value."""
    return ("numerator", "denominator") if spec.p["aggregate"] == "rate" else ("value",)


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
        return [problem for req in requests for problem in self._checked(req)[1]]

    def _checked(self, req: CollectRequest) -> tuple[dict[str, Any], list[Problem]]:
        """A request's parameters with defaults filled in, and its problems."""
        values, messages = self._values(req)
        if not messages:
            messages = self._spec_problems(values)
        location = _location(req)
        return values, [Problem(m, location, "see docs/collectors.md for the system_feed parameters")
                        for m in messages]

    def _specs(self, requests: Sequence[CollectRequest]) -> list[Spec]:
        """The requests with their parameters completed; a SchemeError if any is wrong."""
        checked = [self._checked(req) for req in requests]
        problems = [problem for _, found in checked for problem in found]
        if problems:
            raise SchemeError.from_problems("system_feed parameters are wrong", problems)
        return [Spec(req.node.code, _location(req), values) for req, (values, _) in zip(requests, checked)]

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

    # ---------------------------------------------------------------- with a database (system_feed_sql)

    def collect(self, ctx: CollectContext, requests: Sequence[CollectRequest]) -> dict[str, Measure]:
        from jx_collectors import system_feed_sql

        return system_feed_sql.collect(ctx, self._specs(requests))

    def compile(self, requests: Sequence[CollectRequest], columns: Mapping[str, Sequence[str]],
                period: Period, as_of: dt.date, dialect: sa.engine.Dialect) -> list[str]:
        """The fused SQL the declarative requests would run, for ``dialect``, without a database.

        ``columns`` gives each table's column names (what reflection would find).
        """
        return [sql for _, sql in self.queries(requests, period, as_of, dialect, columns=columns, raw=False)]

    def queries(self, requests: Sequence[CollectRequest], period: Period, as_of: dt.date,
                dialect: sa.engine.Dialect, *,
                columns: Mapping[str, Sequence[str]] | None = None, raw: bool = True) -> list[tuple[str, str]]:
        """(what, SQL) of every statement the requests send to their sources, compiled for
        ``dialect`` with the window dates written in, without a database (``jx sql``).

        Without ``columns``, each table's columns are those its requests name.
        """
        from jx_collectors import system_feed_sql

        return system_feed_sql.queries(self._specs(requests), period, as_of, dialect, columns=columns, raw=raw)

    def source_rows(self, ctx: CollectContext, request: CollectRequest, unit_code: str, limit: int) -> RowSample:
        """The rows of ``unit_code`` that the measure of ``request`` aggregates, with the same
        compiled filters and window; for a rate, ``numerator`` marks the numerator's rows. A raw-SQL
        measure cannot say which rows it used: its SQL is returned instead."""
        from jx_collectors import system_feed_sql

        return system_feed_sql.source_rows(ctx, self._specs([request])[0], unit_code, limit)
