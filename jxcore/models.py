"""The values jx works with, as frozen attrs classes.

A ``Scheme`` is one year's plan of one scheme pack: the indicator tree (``Node``), the units, the
sources and the result applications. ``Measure`` is what a collector gathered for one indicator,
``Score`` one unit's points on one node, ``Run`` one scoring of a scheme as of a date.
Arrays are numpy, aligned with ``Scheme.units`` (index i is unit i).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from jxcore.errors import Location, UsageError


class NodeKind(enum.Enum):
    """Level of a node in the indicator tree."""

    ROOT = "root"  #: the plan itself; its points are the scale (100 or 1000)
    ITEM = "item"  #: major item (大项)
    SUBITEM = "subitem"  #: sub-item (子项); may nest
    INDICATOR = "indicator"  #: leaf with a rule and a collector (指标)


class Scoring(enum.Enum):
    """How a node's points count toward the total."""

    WEIGHTED = "weighted"  #: inside the 100 %: children's points sum to the parent's
    REWARD = "reward"  #: reward points (奖励加分), added on top, capped by the item's ``cap``
    DEDUCTION = "deduction"  #: deductions (违纪扣分), subtracted, capped by the item's ``cap``


@attrs.frozen
class PluginRef:
    """A rule, collector or output named in a scheme, with its parameters as written."""

    name: str
    params: Mapping[str, Any] = attrs.field(factory=dict)
    location: Location = Location()


@attrs.frozen
class Stage:
    """A stage target (阶段性目标): by ``date`` the indicator's value should reach ``target``."""

    date: dt.date
    target: float


@attrs.frozen
class Node:
    """One node of the indicator tree. Points are integer milli-points (see jxcore.points)."""

    code: str
    name: str
    kind: NodeKind
    parent: str | None
    points: int
    scoring: Scoring = Scoring.WEIGHTED
    cap: int | None = None
    department: str | None = None
    rule: PluginRef | None = None
    collector: PluginRef | None = None
    stages: tuple[Stage, ...] = ()
    description: str = ""
    children: tuple[str, ...] = ()
    location: Location = Location()

    @property
    def is_indicator(self) -> bool:
        return self.kind is NodeKind.INDICATOR

    @property
    def rule_ref(self) -> PluginRef:
        """An indicator's rule (a loaded scheme gives every indicator one); ValueError on other nodes."""
        if self.rule is None:
            raise ValueError(f"node {self.code} has no rule (only indicators have one)")
        return self.rule

    @property
    def collector_ref(self) -> PluginRef:
        """An indicator's collector (a loaded scheme gives every indicator one); ValueError on other nodes."""
        if self.collector is None:
            raise ValueError(f"node {self.code} has no collector (only indicators have one)")
        return self.collector


@attrs.frozen
class Unit:
    """An assessed unit (branch office): its size matters to some rules (staff, market entities)."""

    code: str
    name: str
    staff: int = 0
    entities: int = 0
    extra: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(eq=False)
class UnitTable:
    """The units of a scheme as aligned arrays, for rules that use size (per head, size class)."""

    codes: np.ndarray
    names: np.ndarray
    staff: np.ndarray
    entities: np.ndarray

    @classmethod
    def from_units(cls, units: tuple[Unit, ...] | list[Unit]) -> "UnitTable":
        return cls(
            codes=np.array([u.code for u in units], dtype=object),
            names=np.array([u.name for u in units], dtype=object),
            staff=np.array([u.staff for u in units], dtype=np.int64),
            entities=np.array([u.entities for u in units], dtype=np.int64),
        )

    def __len__(self) -> int:
        return len(self.codes)

    def index(self) -> dict[str, int]:
        """Unit code → position in the arrays."""
        return {code: i for i, code in enumerate(self.codes)}

    def positions(self, codes: Sequence[Any] | np.ndarray) -> np.ndarray:
        """Position of each of ``codes`` among the units (-1 for a code that is not a unit)."""
        return positions(self.codes, codes)


def positions(known: Sequence[Any] | np.ndarray, codes: Sequence[Any] | np.ndarray) -> np.ndarray:
    """For each of ``codes``, its position in ``known`` or -1: vectorized (sort + binary search),
    so aligning 30,000 result rows with 30,000 units costs milliseconds, not a dict per row."""
    known = np.asarray(known).astype(str)
    got = np.asarray(codes, dtype=object).astype(str)
    if known.size == 0:
        return np.full(got.shape, -1, dtype=np.int64)
    order = np.argsort(known, kind="stable")
    pos = np.minimum(np.searchsorted(known[order], got), len(known) - 1)
    return np.where(known[order][pos] == got, order[pos], -1).astype(np.int64)


@attrs.frozen
class Period:
    """An assessment period (考核周期): one year, 1 January to 31 December."""

    year: int
    start: dt.date
    end: dt.date

    @classmethod
    def for_year(cls, year: int) -> "Period":
        return cls(year, dt.date(year, 1, 1), dt.date(year, 12, 31))

    def clamp(self, day: dt.date) -> dt.date:
        return min(max(day, self.start), self.end)


@attrs.frozen
class Source:
    """A source database named in a scheme (``sources:``), reached through SQLAlchemy.

    ``url`` is final: the loader has applied ``url_env`` and expanded ``{data_dir}`` and ``${ENV}``."""

    name: str
    url: str
    options: Mapping[str, Any] = attrs.field(factory=dict)

    def engine_options(self) -> dict[str, Any]:
        """``create_engine``'s keyword arguments: ``options``, and for a DuckDB file
        ``connect_args: {read_only: true}`` unless they say otherwise. jx only reads its sources,
        and DuckDB lets any number of processes read a file but only one hold it writable: so runs,
        the web app and explanations read the same file at the same time."""
        options = dict(self.options)
        connect_args = options.get("connect_args") or {}
        if _is_duckdb_file(self.url) and isinstance(connect_args, Mapping):
            options["connect_args"] = {"read_only": True, **connect_args}
        return options


def _is_duckdb_file(url: str) -> bool:
    """Whether ``url`` names a DuckDB database file (not ``:memory:``, not a MotherDuck service)."""
    driver, sep, rest = url.partition(":///")
    database = rest.partition("?")[0]
    return driver == "duckdb" and bool(sep) and bool(database) \
        and not database.startswith((":memory:", "md:", "motherduck:"))


@attrs.frozen
class Scheme:
    """One year's plan of a scheme pack, checked: a tree rooted at ``root``, nodes in tree order."""

    name: str
    title: str
    period: Period
    root: str
    nodes: Mapping[str, Node]
    units: tuple[Unit, ...]
    sources: Mapping[str, Source] = attrs.field(factory=dict)
    outputs: tuple[PluginRef, ...] = ()
    settings: Mapping[str, Any] = attrs.field(factory=dict)
    language: str = "en"
    path: Path | None = None

    @property
    def scale(self) -> int:
        """The root's points in milli-points (100 000 for a 100-point scale)."""
        return self.nodes[self.root].points

    def node(self, code: str) -> Node:
        return self.nodes[code]

    def children(self, code: str) -> list[Node]:
        return [self.nodes[c] for c in self.nodes[code].children]

    def items(self) -> list[Node]:
        """The major items (大项), weighted ones first as written, then rewards and deductions."""
        return self.children(self.root)

    def indicators(self) -> list[Node]:
        """All indicators, in tree order."""
        return [n for n in self.nodes.values() if n.is_indicator]

    def unit_table(self) -> UnitTable:
        return UnitTable.from_units(self.units)

    def check_unit(self, code: str) -> None:
        """A UsageError unless ``code`` is one of this scheme's unit codes (a ``--unit`` filter
        that names nothing would otherwise print nothing for it)."""
        codes = [u.code for u in self.units]
        if code not in codes:
            raise UsageError(f"unit {code!r} is not a unit of scheme {self.name} {self.period.year}",
                             hint=f"give a unit code such as {', '.join(codes[:8])}")


@attrs.frozen(eq=False)
class Measure:
    """What a collector gathered for one indicator, over all units.

    ``value`` is the indicator's main figure per unit (float64; NaN where the unit has no data).
    ``columns`` holds further per-unit arrays a rule may use (numerator, denominator, count …).
    ``events`` holds event rows for rules that score by kind of event (defects, findings, honours,
    cases): equal-length arrays, one of them ``unit`` (int64 index into the units).
    ``source`` says where the figures came from (SQL text, file names), for explanations.
    """

    indicator: str
    value: np.ndarray
    columns: Mapping[str, np.ndarray] = attrs.field(factory=dict)
    events: Mapping[str, np.ndarray] | None = None
    source: str = ""

    def column(self, name: str) -> np.ndarray:
        if name == "value":
            return self.value
        return self.columns[name]


@attrs.frozen
class Score:
    """One unit's points on one node, in milli-points; ``value`` is the measure behind it."""

    unit: str
    node: str
    points: int
    value: float | None = None


class RunStatus(enum.Enum):
    STARTED = "started"
    SCORED = "scored"
    FINISHED = "finished"
    FAILED = "failed"


@attrs.frozen
class Run:
    """One scoring of a scheme's period as of a date. ``id`` is set when the store writes it."""

    scheme: str
    period: int
    as_of: dt.date
    started_at: dt.datetime
    id: str | None = None
    status: RunStatus = RunStatus.STARTED
    final: bool = False


@attrs.frozen(eq=False)
class RunResult:
    """Everything one run computed, as arrays: the engine's output and the outputs' input.

    ``scores`` has one row per node of ``node_codes`` (tree order, the root first: its row is the
    total) and one column per unit, in int64 milli-points. ``ranks`` are 1-based, by total.
    """

    run: Run
    scheme: Scheme
    units: UnitTable
    node_codes: tuple[str, ...]
    scores: np.ndarray
    ranks: np.ndarray
    measures: Mapping[str, Measure] = attrs.field(factory=dict)

    @property
    def totals(self) -> np.ndarray:
        return self.scores[0]

    def row(self, code: str) -> int:
        return self.node_codes.index(code)

    def node_scores(self, code: str) -> np.ndarray:
        """int64 milli-points of every unit on node ``code``."""
        return self.scores[self.node_codes.index(code)]

    def unit_scores(self, unit_code: str) -> dict[str, int]:
        """node code → milli-points for one unit."""
        col = self.units.index()[unit_code]
        return {code: int(self.scores[i, col]) for i, code in enumerate(self.node_codes)}
