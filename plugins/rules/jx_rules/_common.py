"""Shared pieces of the standard rules: parameter declarations, cross-parameter conditions,
missing data, event columns."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from jx_rules._kinds import kind_index
from jxcore.errors import DataError, Location, Problem, SchemeError
from jxcore.interfaces import RuleInput
from jxcore.params import REQUIRED, Param
from jxcore.points import format_points, to_milli

#: How many unit codes an error message lists before it says "and N more".
SHOWN = 10


def points_problem(value: Any) -> str | None:
    """Validator for a points-valued parameter: a number with at most 3 decimals."""
    try:
        to_milli(value)
    except ValueError as exc:
        return str(exc)
    return None


def _points_list_problem(value: Any) -> str | None:
    for item in value:
        if isinstance(item, bool) or not isinstance(item, (int, float)) or item < 0:
            return f"every entry must be a number of points >= 0, not {item!r}"
        if problem := points_problem(item):
            return problem
    return None


def _points_mapping_problem(value: Any) -> str | None:
    if not value:
        return "give at least one kind, e.g. {kind: points}"
    for kind, pts in value.items():
        if isinstance(pts, bool) or not isinstance(pts, (int, float)) or pts < 0:
            return f"{kind!r}: points must be a number >= 0, not {pts!r}"
        if problem := points_problem(pts):
            return f"{kind!r}: {problem}"
    return None


def points_param(name: str, help: str, default: Any = REQUIRED) -> Param:
    """A parameter written in points (``0.5``), >= 0, converted to milli-points by the rule."""
    return Param(name, "number", help, default=default, minimum=0, validator=points_problem)


def points_list_param(name: str, help: str, default: Any = REQUIRED) -> Param:
    return Param(name, "list", help, default=default, validator=_points_list_problem)


def points_mapping_param(name: str, help: str, default: Any = REQUIRED) -> Param:
    return Param(name, "mapping", help, default=default, validator=_points_mapping_problem)


def cap_param(help: str = "largest bonus in points; omit for no cap of its own "
              "(the reward item's cap still applies)") -> Param:
    return points_param("cap", help, default=None)


MISSING = Param(
    "missing", "string",
    "a unit without data: error (DataError naming the units), zero (0 points), "
    "exclude (the indicator does not apply to it: full points, or no bonus for reward rules)",
    default="error", choices=("error", "zero", "exclude"))

DIRECTION = Param("direction", "string", "higher (higher is better) or lower (lower is better)",
                  default="higher", choices=("higher", "lower"))

UNKNOWN_KIND = Param("unknown_kind", "string",
                     "an event kind not listed: error (DataError naming kind and unit) or ignore",
                     default="error", choices=("error", "ignore"))


def unit_list(inp: RuleInput, mask: np.ndarray, detail: np.ndarray | None = None) -> str:
    """``u1, u7 (and 3 more)``: the codes of the units in ``mask``, for an error message."""
    where = np.flatnonzero(mask)
    shown = [str(inp.units.codes[i]) + (f" ({detail[i]})" if detail is not None else "")
             for i in where[:SHOWN]]
    more = f" and {len(where) - SHOWN} more" if len(where) > SHOWN else ""
    return ", ".join(shown) + more


def where(inp: Any) -> Location:
    """Where the indicator's rule is written (file:line) and its code; ``inp`` has a ``node``
    (a RuleInput, or a request given to ``check``)."""
    loc = inp.node.rule.location if inp.node.rule is not None else Location()
    return Location(file=loc.file, line=loc.line, node=inp.node.code)


#: A condition between a rule's checked parameters, or against the indicator's milli-points:
#: ``(points, params) -> [(message, hint), ...]`` (empty when it holds).
Condition = Callable[[int, Mapping[str, Any]], Sequence[tuple[str, str]]]


class Checked:
    """Base of the rules whose parameters must agree with each other or with the indicator's points.

    ``jx validate`` reports every broken condition through ``check``; ``score`` calls ``ensure``
    first, so a scheme that skipped validation fails the same way before anything is scored.
    """

    name: ClassVar[str]
    conditions: ClassVar[tuple[Condition, ...]] = ()

    def check(self, requests: Iterable[Any]) -> list[Problem]:
        return [problem for req in requests for problem in self._problems(req)]

    def ensure(self, inp: RuleInput) -> None:
        if problems := self._problems(inp):
            raise SchemeError.from_problems(f"the parameters of rule {self.name} do not fit", problems)

    def _problems(self, req: Any) -> list[Problem]:
        return [Problem(message, where(req), hint)
                for condition in self.conditions for message, hint in condition(req.node.points, req.params)]


def over_points(points: int, what: str, value: Any) -> list[tuple[str, str]]:
    """The problem of a points-valued ``value`` above the indicator's ``points`` (milli), if any."""
    if value is None or to_milli(value) <= points:
        return []
    most = format_points(points)
    return [(f"{what} gives more points than the indicator has ({most})",
             f"lower it to at most {most}, or raise the indicator's points")]


def param_over_points(name: str) -> Condition:
    """The condition "the points-valued parameter ``name`` (if given) is within the indicator's"."""
    def condition(points: int, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        return over_points(points, f"{name} {params[name]}", params[name])
    condition.__name__ = f"{name}_over_points"
    return condition


def one_per(what: str, whats: str, given: str, count: int, wanted: int, made_by: str) -> list[tuple[str, str]]:
    """The problem of a list ``given`` whose length ``count`` is not ``wanted`` (one per ``what``)."""
    if count == wanted:
        return []
    return [(f"{made_by} make {wanted} {whats}, and {given} has {count} entries",
             f"give {given} one entry per {what}")]


def missing_units(inp: RuleInput, missing: np.ndarray, what: str = "no data",
                  detail: np.ndarray | None = None) -> np.ndarray:
    """Apply the ``missing`` policy: raise for ``error``, else return the mask of missing units."""
    if inp.params.get("missing", "error") == "error" and missing.any():
        raise DataError(
            f"{what} for {int(missing.sum())} unit(s): {unit_list(inp, missing, detail)}",
            location=where(inp),
            hint="check the collector's source for these units, or set the rule's parameter "
                 "missing: zero | exclude")
    return missing


def values(inp: RuleInput) -> np.ndarray:
    """The measure's value as float64, checked to be one per unit."""
    v = np.asarray(inp.measure.value, dtype=np.float64)
    if v.shape != (len(inp.units),):
        raise DataError(f"the measure has {v.size} values for {len(inp.units)} units",
                        location=where(inp),
                        hint="a collector must return one value per unit, in the scheme's unit order")
    return v


def events(inp: RuleInput, *required: str) -> dict[str, np.ndarray]:
    """The measure's event columns, checked: present, equal length, ``unit`` a valid index."""
    ev = inp.measure.events
    loc = where(inp)
    if ev is None:
        raise DataError(f"rule {inp.node.rule.name if inp.node.rule else ''!r} scores events, "
                        "and the measure has none", location=loc,
                        hint=f"use a collector that returns events with columns {', '.join(required)}")
    absent = [c for c in required if c not in ev]
    if absent:
        raise DataError(f"the measure's events lack column(s) {', '.join(absent)}", location=loc,
                        hint=f"this rule reads the event columns {', '.join(required)}")
    cols = {name: np.asarray(ev[name]) for name in required}
    lengths = {len(c) for c in cols.values()}
    if len(lengths) > 1:
        raise DataError("the measure's event columns differ in length", location=loc,
                        hint="every event column must have one entry per event row")
    unit = cols["unit"].astype(np.int64, copy=False)
    bad = (unit < 0) | (unit >= len(inp.units))
    if bad.any():
        raise DataError(f"event row {int(np.flatnonzero(bad)[0])} names unit index "
                        f"{int(unit[bad][0])}, and there are {len(inp.units)} units", location=loc,
                        hint="the collector must map unit codes to positions in the scheme's units")
    cols["unit"] = unit
    if "kind" in cols and cols["kind"].dtype.kind != "U":
        cols["kind"] = cols["kind"].astype(str)
    return cols


def kind_points(inp: RuleInput, kinds: np.ndarray, unit: np.ndarray, table: Mapping[str, Any],
                label: str) -> np.ndarray:
    """Milli-points of each event row by its kind (``kinds`` is a numpy text array).

    A kind not in ``table`` is a DataError naming it and the unit, unless ``unknown_kind: ignore``
    (then the row counts 0).
    """
    by_name = {str(kind): to_milli(value) for kind, value in table.items()}
    index = kind_index(kinds, list(by_name))
    pts = np.array([*by_name.values(), 0], dtype=np.int64).take(index)  # -1 takes the 0
    unknown = index < 0
    if inp.params.get("unknown_kind", "error") == "error" and unknown.any():
        row = int(np.flatnonzero(unknown)[0])
        others = sorted(set(kinds[unknown].tolist()))
        raise DataError(
            f"unknown {label} {str(kinds[row])!r} for unit {inp.units.codes[unit[row]]} "
            f"(unknown: {', '.join(map(repr, others))})",
            location=where(inp),
            hint=f"the known {label}s are {', '.join(map(repr, table))}; add it to the rule's "
                 "parameters, or set unknown_kind: ignore")
    return pts


def per_unit_sum(unit: np.ndarray, weights: np.ndarray, n: int) -> np.ndarray:
    """Exact per-unit sum of integer milli-points (integer adds, no float round trip)."""
    total = np.zeros(n, dtype=np.int64)
    np.add.at(total, unit, weights)
    return total


def steps(diff: np.ndarray, step: float, mode: str) -> np.ndarray:
    """How many steps of ``step`` a difference is; ``whole`` counts only full steps.

    Differences are snapped to 1e-9 of a step first, so 0.93 - 0.90 is 3 steps of 0.01, not 2.9999.
    """
    s = np.round(diff / step, 9)
    return np.trunc(s) if mode == "whole" else s


STEPS = Param("steps", "string",
              "proportional (2.5 % above = 2.5 steps) or whole (only full steps count: 2)",
              default="proportional", choices=("proportional", "whole"))
