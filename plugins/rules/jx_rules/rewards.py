"""Reward points (奖励分), added on top of the raw score: honours, major cases, workload per head.

Every rule here returns a bonus >= 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from jx_rules import _common as c
from jxcore.errors import DataError
from jxcore.interfaces import RuleInput
from jxcore.params import Param
from jxcore.points import round_milli, to_milli

DEFAULT_LEVELS = {"town": 1, "city": 2, "province": 3, "national": 5}


class Honours:
    """Honours by level (荣誉奖励分): only the unit's highest honour counts.

    ``bonus = max(points_by_level[level] over the unit's honours, 0)``.
    Reads events ``unit``, ``kind`` (the level: town, city, province, national — or the scheme's names).
    """

    name: ClassVar[str] = "honours"
    description: ClassVar[str] = "the points of the unit's highest honour (town / city / province / national)"
    params: ClassVar[tuple[Param, ...]] = (
        c.points_mapping_param("points_by_level", "{level: points}", default=DEFAULT_LEVELS),
        c.UNKNOWN_KIND,
    )

    def score(self, inp: RuleInput) -> np.ndarray:
        ev = c.events(inp, "unit", "kind")
        pts = c.kind_points(inp, ev["kind"], ev["unit"], inp.params["points_by_level"], "level")
        best = np.zeros(len(inp.units), dtype=np.int64)
        np.maximum.at(best, ev["unit"], pts)
        return best


def _descending_problem(value: Any) -> str | None:
    if any(isinstance(x, bool) or not isinstance(x, (int, float)) or x < 0 for x in value):
        return "bounds are numbers of market entities >= 0"
    if any(a <= b for a, b in zip(value, value[1:])):
        return f"bounds must be strictly decreasing (class 1 is the largest), not {value!r}"
    return None


def size_class(entities: np.ndarray, bounds) -> np.ndarray:
    """Size class 1..len(bounds)+1 by market entities: class 1 has >= bounds[0], the last < bounds[-1]."""
    ascending = np.asarray(bounds, dtype=np.float64)[::-1]
    return len(bounds) + 1 - np.searchsorted(ascending, entities, side="right")


def _one_points_per_class(points: int, p: Mapping[str, Any]) -> list[tuple[str, str]]:
    bounds = len(p["class_bounds"])
    return c.one_per("class", "classes", "points_by_class", len(p["points_by_class"]), bounds + 1,
                     f"{bounds} class bounds")


class MajorCases(c.Checked):
    """Major cases (大要案) scaled by size class (by market entities).

    ``bonus = min(cases × points_by_class[class], cap)``; class 1 has >= class_bounds[0] entities …
    the last class < class_bounds[-1]. Reads events ``unit`` (one row per major case) or, without
    events, ``value`` (the count per unit); uses the units' ``entities``.
    """

    name: ClassVar[str] = "major_cases"
    description: ClassVar[str] = "points per major case by the unit's size class (small units earn more)"
    params: ClassVar[tuple[Param, ...]] = (
        Param("class_bounds", "list", "market entities at which classes 1..4 start (decreasing)",
              default=[30000, 15000, 10000, 5000], validator=_descending_problem),
        c.points_list_param("points_by_class", "points per case in class 1, 2, …",
                            default=[3, 4.5, 6, 7.5, 9]),
        c.cap_param(),
        c.MISSING,
    )
    conditions = (_one_points_per_class,)

    def score(self, inp: RuleInput) -> np.ndarray:
        self.ensure(inp)
        p = inp.params
        n = len(inp.units)
        if inp.measure.events is not None:
            count = np.bincount(c.events(inp, "unit")["unit"], minlength=n).astype(np.float64)
        else:
            count = c.values(inp)
            neg = count < 0
            if neg.any():
                raise DataError(f"negative case counts for {c.unit_list(inp, neg)}",
                                location=c.where(inp), hint="a count is >= 0")
        missing = c.missing_units(inp, np.isnan(count))
        per_case = np.array([to_milli(x) for x in p["points_by_class"]], dtype=np.int64)
        each = per_case[size_class(inp.units.entities, p["class_bounds"]) - 1]
        return capped(np.where(missing, 0.0, count) * each / 1000, p["cap"])


def capped(bonus_points: np.ndarray, cap: float | None) -> np.ndarray:
    """Float bonus points → milli-points, capped (before rounding, so huge values cannot overflow)."""
    if cap is not None:
        bonus_points = np.minimum(bonus_points, cap)
    return round_milli(bonus_points)


class Workload:
    """Workload per head above the system average (人均工作量奖励).

    ``per_head = value / staff``; ``average = Σ value / Σ staff`` over units with data (pooled);
    ``bonus = clip(s × per_step, 0, cap)`` with ``s = (per_head / average − 1) / step``
    (``step`` is a share of the average: 0.1 = each 10 % above). Reads ``value``; uses ``staff``.
    Units without data (zero or exclude) earn no bonus and do not count toward the average.
    """

    name: ClassVar[str] = "workload"
    description: ClassVar[str] = "bonus per step of workload per head above the system average, capped"
    params: ClassVar[tuple[Param, ...]] = (
        Param("step", "number", "one step as a share of the average (0.1 = 10 %)", default=0.1,
              minimum=1e-9),
        c.points_param("per_step", "points per step above the average"),
        c.cap_param(),
        c.STEPS, c.MISSING,
    )

    def score(self, inp: RuleInput) -> np.ndarray:
        p = inp.params
        v = c.values(inp)
        staff = inp.units.staff
        no_staff = (staff <= 0) & ~np.isnan(v)
        if no_staff.any():
            raise DataError(f"workload per head needs staff, and {c.unit_list(inp, no_staff)} "
                            "have none", location=c.where(inp),
                            hint="set the units' staff in units.yaml")
        missing = c.missing_units(inp, np.isnan(v))
        have = ~missing
        total_staff = staff[have].sum()
        average = v[have].sum() / total_staff if total_staff else 0.0
        if average <= 0:
            return np.zeros(len(v), dtype=np.int64)
        per_head = np.where(have, v, 0.0) / np.where(have, staff, 1)
        s = c.steps(per_head / average - 1, p["step"], p["steps"])
        return np.where(have, capped(np.maximum(s, 0) * p["per_step"], p["cap"]), 0)
