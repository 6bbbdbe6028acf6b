"""What a plugin implements (Rule, Collector, Output, SchemePack) and what it is given.

Plugins register objects that satisfy these protocols through the register hooks in
:mod:`jxcore.hookspecs`. Every call is vectorized: a rule is called once per indicator with arrays
over all units; a collector once per run with all of its indicators.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import attrs

from jxcore.models import Measure, Node, Period, RunResult, Scheme, Source, UnitTable
from jxcore.params import Param

if TYPE_CHECKING:  # numpy arrays appear in annotations only
    import numpy as np


@attrs.frozen(eq=False)
class RuleInput:
    """What a rule scores: one indicator, its checked parameters, its measure, all units."""

    node: Node
    params: Mapping[str, Any]
    measure: Measure
    units: UnitTable
    period: Period
    as_of: dt.date

    @property
    def points(self) -> int:
        """The indicator's points in milli-points."""
        return self.node.points


@runtime_checkable
class Rule(Protocol):
    """A scoring rule (考核规则): turns one indicator's measure into points for every unit.

    ``score`` returns an int64 array of milli-points, one per unit (use
    :func:`jxcore.points.round_milli` to round float points once). For indicators under a reward
    item the result is the bonus (>= 0); under a deduction item it is the deduction (<= 0).

    Optional: ``check(requests) -> list[Problem]`` (requests as for collectors) for what the declared
    params cannot say alone; ``jx validate`` calls it once the params pass their declaration.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    params: ClassVar[Sequence[Param]]

    def score(self, inp: RuleInput) -> np.ndarray: ...


@attrs.frozen
class CollectRequest:
    """One indicator a collector must gather, with its checked collector parameters."""

    node: Node
    params: Mapping[str, Any]


@attrs.frozen(eq=False)
class CollectContext:
    """What a collector is given: the scheme, its units, the window, and how to reach sources."""

    scheme: Scheme
    units: UnitTable
    period: Period
    as_of: dt.date
    open_source: Callable[[str], Any]
    store: Any = None
    describe_source: Callable[[str], Source] | None = None

    def source(self, name: str):
        """A SQLAlchemy Engine for the scheme's source ``name`` (prepared by jx_prepare_source)."""
        return self.open_source(name)

    def source_settings(self, name: str) -> Source | None:
        """The scheme's source ``name`` (its URL and options) after jx_prepare_source, not opened:
        for a collector that reaches some engines without SQLAlchemy (the system feed reads DuckDB
        files with duckdb itself). None when the context was made with engines only (tests)."""
        return self.describe_source(name) if self.describe_source is not None else None


@runtime_checkable
class Collector(Protocol):
    """A data collector (数据采集): gathers the measures of all of its indicators in one call.

    Optional: ``check(requests) -> list[Problem]`` for what the declared params cannot say alone
    (fields that go together); ``jx validate`` calls it, without touching any database.

    Optional: ``source_rows(ctx, request, unit_code, limit) -> RowSample``, the source rows or
    entries behind one unit's measure of one indicator; ``jx explain`` shows them.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    params: ClassVar[Sequence[Param]]

    def collect(self, ctx: CollectContext, requests: Sequence[CollectRequest]) -> Mapping[str, Measure]: ...


@runtime_checkable
class EntryFile(Protocol):
    """A file of entries being read: its name, sha256 and encoding, and its entries a chunk at a
    time. ``chunks()`` raises one DataError listing every problem of the file after its last chunk."""

    name: str
    sha256: str
    encoding: str | None

    def chunks(self) -> Iterator[list[Any]]: ...


@runtime_checkable
class EntryReader(Protocol):
    """A collector that reads manual entries (``jxcore.store.NewEntry``) declares their kinds and
    answers for them, so the core decides what an entry feeds, and so who may enter it, without
    knowing the collector's parameters (jxcore.services.entries).

    ``entry_kinds``: kind name → its title (``{"inspection": "督察"}``).
    ``read_file(scheme, kind, path, sheet)``: an :class:`EntryFile` (strict: every problem with its
    row and column). ``read_fields(scheme, kind, fields)``: one entry from ``{column: text}`` (a form
    or ``jx entry add``), DataError naming the field. ``natural_key(kind, entry)``: the values that
    identify an entry of that kind (a live entry's key is unique). ``feeds(kind, requests, entries)``:
    bool array ``(len(requests), len(entries))``, whether each entry counts in each request's
    measure (the collector's own filters). ``expects(kind, request)``: what an entry of ``kind`` must
    hold to count for that indicator, in words ("inspection entries with finding absent"); "" when
    the indicator does not read ``kind``.
    """

    entry_kinds: Mapping[str, str]

    def read_file(self, scheme: Scheme, kind: str, path: Any, sheet: str | None = None) -> EntryFile: ...

    def read_fields(self, scheme: Scheme, kind: str, fields: Mapping[str, Any]) -> Any: ...

    def natural_key(self, kind: str, entry: Any) -> tuple: ...

    def feeds(self, kind: str, requests: Sequence[CollectRequest], entries: Sequence[Any]) -> np.ndarray: ...

    def expects(self, kind: str, request: CollectRequest) -> str: ...


@attrs.frozen
class RowSample:
    """The source rows behind one unit's measure (``Collector.source_rows``), for explanations.

    ``rows`` holds up to the asked number of rows (values as the source gives them), ``total`` how
    many there are (None: they cannot be listed, ``note`` says why). ``counted`` rows have a true
    ``counted_by`` column (a rate's numerator rows, entries not superseded). ``source`` is where
    they came from: the SELECT that lists them, or the imported files.
    """

    columns: tuple[str, ...] = ()
    rows: tuple[tuple[Any, ...], ...] = ()
    total: int | None = None
    counted: int | None = None
    counted_by: str | None = None
    source: str = ""
    note: str = ""


@attrs.frozen(eq=False)
class OutputContext:
    """What an output is given: the finished result, its parameters, the store, a console.

    ``display`` holds the terminal options of the command that ran (``jx run --all --wide --unit
    CODE`` gives ``{"all": True, "wide": True, "unit": "CODE"}``); an output that prints honours
    them over its parameters."""

    result: RunResult
    params: Mapping[str, Any]
    store: Any = None
    console: Any = None
    out_dir: Path | None = None
    display: Mapping[str, Any] = attrs.field(factory=dict)


@runtime_checkable
class Output(Protocol):
    """A result application (绩效应用): ranking, commendation, review, warnings, reports.

    Outputs run inside the run's store transaction: an exception rolls the whole run back.

    Optional: ``check_settings(scheme) -> list[Problem]`` for the ``settings.<key>`` the output
    reads; each Problem's ``location.node`` is the dotted path (``settings.leadership_review.pass_line``)
    and ``jx validate`` fills in the file and line.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    params: ClassVar[Sequence[Param]]

    def emit(self, ctx: OutputContext) -> None: ...


@attrs.frozen
class SchemePack:
    """A scheme pack: a directory holding ``scheme.yaml``, ``units.yaml`` and ``plans/*.yaml``."""

    name: str
    path: Path
    title: str = ""
