"""Value bands → points, and pass/fail (one band)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from jx_rules import _common as c
from jxcore.interfaces import RuleInput
from jxcore.params import Param
from jxcore.points import to_milli


def _bands_problem(value: Any) -> str | None:
    if not value:
        return "give at least one [bound, points] pair"
    bounds = []
    for band in value:
        if (not isinstance(band, (list, tuple)) or len(band) != 2
                or any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in band)):
            return f"each band is a [bound, points] pair of numbers, not {band!r}"
        if band[1] < 0 or c.points_problem(band[1]):
            return f"band {band!r}: points must be >= 0 with at most 3 decimals"
        bounds.append(band[0])
    if len(set(bounds)) != len(bounds):
        return "two bands have the same bound"
    return None


def _bands_over_points(points: int, p: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [problem for bound, worth in p["bands"]
            for problem in c.over_points(points, f"band [{bound}, {worth}]", worth)]


def band_score(inp: RuleInput, bounds: np.ndarray, milli_points: np.ndarray, otherwise: int) -> np.ndarray:
    """Points of the best band each value meets (>= bound, or <= bound for lower-is-better)."""
    p = inp.params
    v = c.values(inp)
    missing = c.missing_units(inp, np.isnan(v))
    order = np.argsort(bounds)
    b, pts = bounds[order], milli_points[order]
    if p["direction"] == "higher":
        k = np.searchsorted(b, v, side="right") - 1  # highest bound <= value
        met = k >= 0
    else:
        k = np.searchsorted(b, v, side="left")  # lowest bound >= value
        met = k < len(b)
    score = np.where(met, pts[np.clip(k, 0, len(b) - 1)], otherwise)
    excluded = inp.points if p["missing"] == "exclude" else 0
    return np.where(missing, excluded, score).astype(np.int64)


class Bands(c.Checked):
    """Value bands → points, for rules easier written as a table.

    ``bands: [[bound, points], ...]``: a unit earns the points of the best band its ``value`` meets
    (value >= bound; value <= bound for ``direction: lower``), ``otherwise`` when it meets none.
    Reads the measure's ``value``.
    """

    name: ClassVar[str] = "bands"
    description: ClassVar[str] = "value bands → points (a table: at least this value earns these points)"
    params: ClassVar[tuple[Param, ...]] = (
        Param("bands", "list", "[[bound, points], ...] in any order", validator=_bands_problem),
        c.DIRECTION,
        c.points_param("otherwise", "points when no band is met", default=0),
        c.MISSING,
    )
    conditions = (_bands_over_points, c.param_over_points("otherwise"))

    def score(self, inp: RuleInput) -> np.ndarray:
        self.ensure(inp)
        table = inp.params["bands"]
        return band_score(inp, np.array([b for b, _ in table], dtype=np.float64),
                          np.array([to_milli(x) for _, x in table], dtype=np.int64),
                          to_milli(inp.params["otherwise"]))


class PassFail(c.Checked):
    """Pass/fail (达标得分): full points (or ``pass_points``) if ``value`` meets ``target``, else ``fail_points``.

    Meeting means value >= target (value <= target for ``direction: lower``). Reads ``value``.
    """

    name: ClassVar[str] = "pass_fail"
    description: ClassVar[str] = "the indicator's points if the target is met, else fail_points (default 0)"
    params: ClassVar[tuple[Param, ...]] = (
        Param("target", "number", "the value to reach"),
        c.DIRECTION,
        c.points_param("pass_points", "points when met; omit for the indicator's points", default=None),
        c.points_param("fail_points", "points when not met", default=0),
        c.MISSING,
    )
    conditions = (c.param_over_points("pass_points"), c.param_over_points("fail_points"))

    def score(self, inp: RuleInput) -> np.ndarray:
        self.ensure(inp)
        p = inp.params
        passed = inp.points if p["pass_points"] is None else to_milli(p["pass_points"])
        return band_score(inp, np.array([p["target"]], dtype=np.float64),
                          np.array([passed], dtype=np.int64), to_milli(p["fail_points"]))
