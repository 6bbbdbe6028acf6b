"""Test helpers for plugin authors, shipped with jx (a pytest plugin: entry point ``pytest11``).

- :func:`make_units`, :func:`score_rule`: score one rule on a few hand-made units.
- :func:`build_scheme`, :func:`run_scheme`: build a scheme from a plan dict, score it on given
  measures, and assert on scores (:class:`SchemeOutcome`).
- :func:`write_pack`: a pack directory on disk, for tests that go through ``jx validate`` / ``jx run``.
- :func:`run_rule_cases`: run a table-driven YAML case file. Any file named ``*.rulecases.yaml``
  under pytest's test paths is collected on its own: one test item per case.

Case file format (expected numbers in points, written by hand)::

    defaults:                      # optional, merged under every case (params key by key)
      rule: base_score
      points: 10
    cases:
      - name: inspection rate 3 % above target
        params: {target: 0.9, per_step_above: 0.5, per_step_below: 1, cap: 5}
        units: 3                   # optional: a count or a list of {code, staff, entities}
        value: [0.93, 0.9, null]   # null = no data
        events:                    # or: rows, unit given by code (or position)
          - {unit: u1, kind: town}
        as_of: 2010-12-31          # optional (default: the period's last day)
        period: 2010               # optional
        expect: [11.5, 10, 0]      # points per unit
      - name: no data is an error
        value: [null]
        expect_error: DataError    # a jxcore.errors class name
        match: "u1"                # a regular expression searched in the message
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest
import yaml

from jxcore import errors
from jxcore.errors import Location, PluginError, Problem, SchemeError
from jxcore.interfaces import Rule, RuleInput
from jxcore.models import Measure, Node, NodeKind, Period, PluginRef, RunResult, Scheme, Unit, UnitTable
from jxcore.params import check_params
from jxcore.plugins import Registry, get_plugin_manager
from jxcore.points import format_points, to_milli, to_points

# --------------------------------------------------------------------------------------------
# Units


def make_units(n_or_specs: int | Iterable[Mapping[str, Any] | Unit], *, staff: int | Sequence[int] = 10,
               entities: int | Sequence[int] = 10_000) -> UnitTable:
    """Quick units: ``make_units(3)`` gives u1, u2, u3 (``staff``/``entities`` per unit or for all);
    or a list of specs ``{code, name, staff, entities}`` / :class:`Unit` objects."""
    if isinstance(n_or_specs, int):
        n = n_or_specs
        staff_of = [staff] * n if isinstance(staff, int) else list(staff)
        entities_of = [entities] * n if isinstance(entities, int) else list(entities)
        units = [Unit(f"u{i + 1}", f"unit {i + 1}", staff_of[i], entities_of[i]) for i in range(n)]
    else:
        units = []
        for i, spec in enumerate(n_or_specs):
            if isinstance(spec, Unit):
                units.append(spec)
                continue
            code = spec.get("code", f"u{i + 1}")
            units.append(Unit(code, spec.get("name", code), spec.get("staff", 10),
                              spec.get("entities", 10_000)))
    return UnitTable.from_units(units)


# --------------------------------------------------------------------------------------------
# Scoring one rule


@functools.cache
def installed_registry() -> Registry:
    """The registry of the installed plugins (built once per process)."""
    return Registry.from_plugin_manager(get_plugin_manager())


def rule_input(rule: Rule, *, points: float | str, params: Mapping[str, Any] | None = None,
               value: Sequence[float | None] | np.ndarray | None = None,
               columns: Mapping[str, Sequence[Any]] | None = None,
               events: Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Any]] | None = None,
               units: int | UnitTable | Iterable[Mapping[str, Any] | Unit] | None = None,
               as_of: dt.date | None = None, period: int = 2010, code: str = "T.IND") -> RuleInput:
    """The :class:`RuleInput` :func:`score_rule` gives ``rule``; params checked (SchemeError)."""
    units = _units(units, value)
    given = dict(params or {})
    checked, problems = check_params(rule.params, given)
    if problems:
        raise SchemeError.from_problems(
            f"bad parameters for rule {rule.name!r}",
            [Problem(text, Location(node=code), "see the rule's parameters in `jx plugins`")
             for text in problems])
    values = np.full(len(units), np.nan) if value is None else np.array(
        [np.nan if v is None else v for v in value], dtype=np.float64)
    node = Node(code, code, NodeKind.INDICATOR, parent=None, points=to_milli(points),
                rule=PluginRef(rule.name, given))
    span = Period.for_year(period)
    measure = Measure(code, values, {k: np.asarray(v) for k, v in (columns or {}).items()},
                      None if events is None else _events(events, units))
    return RuleInput(node=node, params=checked, measure=measure, units=units, period=span,
                     as_of=as_of or span.end)


def score_rule(rule: str | Rule, *, points: float | str, registry: Registry | None = None,
               **inputs: Any) -> np.ndarray:
    """Score ``rule`` on one indicator of ``points`` points; return int64 milli-points per unit.

    ``rule`` is a name looked up in the installed plugins (or ``registry``), or a rule object.
    The other arguments are those of :func:`rule_input`: ``params`` (checked against the rule's
    declaration as ``jx validate`` does: SchemeError), ``value`` (None = no data), ``columns``,
    ``events`` (columns, or a list of rows whose ``unit`` may be a unit code), ``units``
    (default ``len(value)`` quick units), ``as_of``, ``period``, ``code``.
    """
    obj = (registry or installed_registry()).rule(rule) if isinstance(rule, str) else rule
    inp = rule_input(obj, points=points, **inputs)
    result = obj.score(inp)
    n = len(inp.units)
    if not isinstance(result, np.ndarray) or result.dtype != np.int64 or result.shape != (n,):
        raise PluginError(f"rule {obj.name!r} returned {result!r}",
                          hint=f"score() must return an int64 numpy array of {n} milli-points")
    return result


def _units(units, value) -> UnitTable:
    if isinstance(units, UnitTable):
        return units
    if units is None:
        if value is None:
            raise TypeError("score_rule needs units= when no value is given")
        return make_units(len(value))
    return make_units(units)


#: The standard event columns, empty: what a case with ``events: []`` gets.
NO_EVENTS = {"unit": np.zeros(0, np.int64), "kind": np.zeros(0, str), "date": np.zeros(0, "datetime64[D]"),
             "score": np.zeros(0, np.float64), "at_fault": np.zeros(0, bool)}


def _events(events, units: UnitTable) -> dict[str, np.ndarray]:
    """Events as columns, from columns or rows; unit codes become positions, dates datetime64."""
    if not events:
        return dict(NO_EVENTS)
    if not isinstance(events, Mapping):
        rows = list(events)
        names = {k for row in rows for k in row}
        events = {k: [row.get(k) for row in rows] for k in sorted(names)}
    index = units.index()
    cols: dict[str, np.ndarray] = {}
    for name, col in events.items():
        col = list(col)
        if name == "unit":
            cols[name] = np.array([index[u] if isinstance(u, str) else u for u in col], dtype=np.int64)
        elif name == "date":
            cols[name] = np.array([str(d) for d in col], dtype="datetime64[D]")
        elif name == "kind":
            cols[name] = np.array([str(k) for k in col], dtype=str)
        elif col and all(isinstance(x, bool) for x in col):
            cols[name] = np.array(col, dtype=bool)
        else:
            cols[name] = np.asarray(col)
    return cols


# --------------------------------------------------------------------------------------------
# Rule case files


class CaseFailure(AssertionError):
    """A rule case whose result differs from what it expects; the message is the whole story."""


@attrs.frozen
class RuleCase:
    """One case of a case file: what to score and what it must give."""

    name: str
    data: Mapping[str, Any]
    path: Path

    def run(self, registry: Registry | None = None) -> None:
        """Score the case; raise CaseFailure (case, unit, expected vs got) if it does not match."""
        d = self.data
        where = f"{self.path.name}: {self.name}"
        units = _units(d.get("units"), d.get("value"))
        kwargs = {k: d[k] for k in ("params", "value", "columns", "events", "as_of", "period") if k in d}
        expect_error = d.get("expect_error")
        try:
            got = score_rule(d["rule"], points=d["points"], units=units, registry=registry, **kwargs)
        except errors.JxError as exc:
            if not expect_error:
                raise CaseFailure(f"{where}: expected scores, got {type(exc).__name__}: {exc}") from exc
            if type(exc).__name__ != expect_error:
                raise CaseFailure(f"{where}: expected {expect_error}, got {type(exc).__name__}: {exc}") from exc
            if "match" in d and not re.search(str(d["match"]), str(exc)):
                raise CaseFailure(f"{where}: {expect_error} message {str(exc)!r} does not match "
                                  f"{d['match']!r}") from exc
            return
        if expect_error:
            raise CaseFailure(f"{where}: expected {expect_error}, got scores "
                              f"{[format_points(x) for x in got]}")
        expected = [to_milli(x) for x in d["expect"]]
        if len(expected) != len(got):
            raise CaseFailure(f"{where}: expect lists {len(expected)} units, the rule scored {len(got)}")
        wrong = [f"  unit {units.codes[i]}: expected {format_points(e)}, "
                 f"got {format_points(g)}" for i, (e, g) in enumerate(zip(expected, got)) if e != g]
        if wrong:
            raise CaseFailure(f"{where}: rule {d['rule']!r}\n" + "\n".join(wrong))


def load_rule_cases(path: str | Path) -> list[RuleCase]:
    """The cases of a case file, with the file's ``defaults`` merged in (``params`` key by key)."""
    path = Path(path)
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    defaults = doc.get("defaults", {})
    cases = []
    for i, case in enumerate(doc.get("cases", [])):
        data = {**defaults, **case, "params": {**defaults.get("params", {}), **case.get("params", {})}}
        missing = [k for k in ("rule", "points") if k not in data]
        if missing or ("expect" not in data and "expect_error" not in data):
            raise SchemeError(f"case {case.get('name', i + 1)!r} lacks "
                              f"{', '.join(missing) or 'expect or expect_error'}",
                              location=Location(file=str(path)),
                              hint="every case needs rule, points, and expect or expect_error")
        cases.append(RuleCase(str(case.get("name", f"case {i + 1}")), data, path))
    return cases


def run_rule_cases(path: str | Path, registry: Registry | None = None) -> int:
    """Run every case of a case file; raise one CaseFailure listing all failures; return the count."""
    cases = load_rule_cases(path)
    failures = []
    for case in cases:
        try:
            case.run(registry)
        except CaseFailure as exc:
            failures.append(str(exc))
    if failures:
        raise CaseFailure(f"{len(failures)} of {len(cases)} cases failed:\n" + "\n".join(failures))
    return len(cases)


# --------------------------------------------------------------------------------------------
# pytest plugin: collect *.rulecases.yaml


CASE_SUFFIX = ".rulecases.yaml"


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.name.endswith(CASE_SUFFIX):
        return RuleCaseFile.from_parent(parent, path=file_path)
    return None


class RuleCaseFile(pytest.File):
    def collect(self):
        for case in load_rule_cases(self.path):
            yield RuleCaseItem.from_parent(self, name=case.name, case=case)


class RuleCaseItem(pytest.Item):
    def __init__(self, *, case: RuleCase, **kwargs):
        super().__init__(**kwargs)
        self.case = case

    def runtest(self) -> None:
        self.case.run()

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, CaseFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, None, f"rule case: {self.name}"


# --------------------------------------------------------------------------------------------
# Schemes: build one from a dict, run it on given measures, assert on scores


def build_scheme(plan: Mapping[str, Any], *, units: int | Iterable[Mapping[str, Any]] = 3,
                 registry: Registry | None = None, **scheme_fields: Any) -> Scheme:
    """A checked :class:`Scheme` from a plan dict written as in ``plans/<year>.yaml``.

    ``units`` is a count (u1, u2, … with 10 staff and 10,000 entities) or a list of unit dicts;
    ``scheme_fields`` are those of :func:`jxcore.scheme.scheme_from_dict` (name, period, settings,
    outputs …). Bad plans raise :class:`SchemeError` exactly as ``jx validate`` reports them.
    """
    from jxcore.scheme import scheme_from_dict

    if isinstance(units, int):
        units = [{"code": f"u{i}", "name": f"u{i}", "staff": 10, "entities": 10_000} for i in range(1, units + 1)]
    return scheme_from_dict(dict(plan), units=list(units), registry=registry or installed_registry(),
                            **scheme_fields)


@attrs.frozen(eq=False)
class SchemeOutcome:
    """A scored scheme, with lookups in points (Decimal) by unit and node code."""

    result: RunResult

    def score(self, unit: str, node: str) -> Decimal:
        return to_points(self.result.node_scores(node)[self.result.units.index()[unit]])

    def total(self, unit: str) -> Decimal:
        return self.score(unit, self.result.scheme.root)

    def rank(self, unit: str) -> int:
        return int(self.result.ranks[self.result.units.index()[unit]])

    def assert_scores(self, expected: Mapping[str, Mapping[str, float | str]]) -> None:
        """``{unit: {node: points}}``; every mismatch is listed in one AssertionError."""
        wrong = [f"{unit} {node}: expected {want}, got {format_points(to_milli(self.score(unit, node)))}"
                 for unit, nodes in expected.items() for node, want in nodes.items()
                 if self.score(unit, node) != Decimal(str(want))]
        if wrong:
            raise AssertionError("scores differ:\n  " + "\n  ".join(wrong))


def run_scheme(scheme: Scheme | Mapping[str, Any], *, measures: Mapping[str, Any],
               as_of: dt.date | None = None, registry: Registry | None = None,
               units: int | Iterable[Mapping[str, Any]] = 3) -> SchemeOutcome:
    """Score ``scheme`` (or a plan dict) on given measures, without collectors or a store.

    ``measures`` maps indicator codes to a list of values per unit (None = no data), a dict of
    ``value``/``columns``/``events`` as :func:`rule_input` takes them, or a :class:`Measure`.
    """
    from jxcore.engine import run_scheme as engine_run

    registry = registry or installed_registry()
    if not isinstance(scheme, Scheme):
        scheme = build_scheme(scheme, units=units, registry=registry)
    table = scheme.unit_table()
    given = {code: _given_measure(code, spec, table) for code, spec in measures.items()}
    missing = [n.code for n in scheme.indicators() if n.code not in given]
    if missing:
        raise errors.UsageError(f"no measure given for indicators {', '.join(missing)}",
                                hint="run_scheme scores given measures only: give one per indicator")
    return SchemeOutcome(engine_run(scheme, registry, as_of=as_of, measures=given))


def _given_measure(code: str, spec: Any, units: UnitTable) -> Measure:
    if isinstance(spec, Measure):
        return spec
    if not isinstance(spec, Mapping):
        spec = {"value": spec}
    value = spec.get("value")
    values = np.full(len(units), np.nan) if value is None else np.array(
        [np.nan if v is None else v for v in value], dtype=np.float64)
    events = spec.get("events")
    return Measure(code, values, {k: np.asarray(v) for k, v in (spec.get("columns") or {}).items()},
                   None if events is None else _events(events, units))


def write_pack(root: Path, plan: str | Mapping[str, Any], *, scheme: str | Mapping[str, Any] = "name: test\n",
               period: int = 2010, units: int | str | Sequence[Mapping[str, Any]] = 3) -> Path:
    """Write a scheme pack directory (scheme.yaml, units.yaml, plans/<period>.yaml) for tests that
    go through ``jx validate`` / ``jx run``, where problems carry file:line. ``plan`` and ``scheme``
    are YAML text (dedented) or dicts (a plan dict gets ``period`` if it has none); ``units`` a count
    (u1, u2, … with 10 staff, 10,000 entities), unit dicts, or YAML text."""
    import textwrap

    def text(data: str | Mapping[str, Any]) -> str:
        if isinstance(data, str):
            return textwrap.dedent(data)
        return yaml.safe_dump(dict(data), allow_unicode=True, sort_keys=False)

    if isinstance(units, int):
        units = [{"code": f"u{i}", "name": f"u{i}", "staff": 10, "entities": 10_000} for i in range(1, units + 1)]
    if not isinstance(plan, str):
        plan = {"period": period, **plan}
    (root / "plans").mkdir(parents=True, exist_ok=True)
    (root / "scheme.yaml").write_text(text(scheme), encoding="utf-8")
    (root / "units.yaml").write_text(text(units if isinstance(units, str) else {"units": list(units)}),
                                     encoding="utf-8")
    (root / "plans" / f"{period}.yaml").write_text(text(plan), encoding="utf-8")
    return root
