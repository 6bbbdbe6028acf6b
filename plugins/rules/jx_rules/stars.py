"""Mystery-shopper stars (中介暗访): the year's average visit score → stars → points."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from jx_rules import _common as c
from jxcore.interfaces import RuleInput
from jxcore.params import Param
from jxcore.points import to_milli


def _ascending_problem(value: Any) -> str | None:
    if not value or any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in value):
        return "give the lowest average of each star from 2 stars up, as numbers"
    if any(a >= b for a, b in zip(value, value[1:])):
        return f"star bands must be strictly increasing, not {value!r}"
    return None


def _one_points_per_rating(points: int, p: Mapping[str, Any]) -> list[tuple[str, str]]:
    bands = len(p["bands"])
    return c.one_per("rating", "ratings", "points_by_star", len(p["points_by_star"]), bands + 1,
                     f"{bands} star bands")


def _stars_over_points(points: int, p: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [problem for stars, worth in enumerate(p["points_by_star"], 1)
            for problem in c.over_points(points, f"points_by_star {worth} ({stars}★)", worth)]


class MysteryStars(c.Checked):
    """Mystery-shopper stars (暗访星级).

    ``average = mean(score of the unit's visits)``; ``stars = 1 + #(bands <= average)``;
    ``score = points_by_star[stars − 1]``. A unit with fewer than ``min_visits`` visits has no
    rating: ``missing`` decides (error names the units and their visit counts).
    Reads events ``unit``, ``score`` (0–100 per visit).
    """

    name: ClassVar[str] = "mystery_stars"
    description: ClassVar[str] = "average of the mystery-shopper visits → star rating → points"
    params: ClassVar[tuple[Param, ...]] = (
        Param("min_visits", "integer", "visits each unit needs for a rating", default=2, minimum=1),
        Param("bands", "list", "lowest average for 2, 3, 4, 5 … stars (increasing)",
              default=[60, 70, 80, 90], validator=_ascending_problem),
        c.points_list_param("points_by_star", "points for 1, 2, 3 … stars"),
        c.MISSING,
    )
    conditions = (_one_points_per_rating, _stars_over_points)

    def score(self, inp: RuleInput) -> np.ndarray:
        self.ensure(inp)
        p = inp.params
        by_star = np.array([to_milli(x) for x in p["points_by_star"]], dtype=np.int64)
        ev = c.events(inp, "unit", "score")
        n = len(inp.units)
        visits = np.bincount(ev["unit"], minlength=n)
        total = np.bincount(ev["unit"], weights=ev["score"].astype(np.float64), minlength=n)
        short = c.missing_units(inp, visits < p["min_visits"],
                                f"fewer than {p['min_visits']} mystery-shopper visits (visits made "
                                "in brackets)", detail=visits)
        average = np.round(total / np.maximum(visits, 1), 9)
        stars = 1 + np.searchsorted(np.asarray(p["bands"], dtype=np.float64), average, side="right")
        excluded = inp.points if p["missing"] == "exclude" else 0
        return np.where(short, excluded, by_star[stars - 1]).astype(np.int64)
