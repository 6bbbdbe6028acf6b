"""The pack's own scoring rule (entry point ``example_county_rules`` in group ``jx``).

None of the standard rules scores a unit against the others: they all compare a value with a fixed
target. A county whose branch offices differ tenfold in size scores volume indicators (cases per
head, patrols per 100 entities) relative to the best unit of the year instead: 功效系数法.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from jxcore import hookimpl
from jxcore.errors import DataError, Location
from jxcore.interfaces import RuleInput
from jxcore.params import Param
from jxcore.points import round_milli


class EfficacyCoefficient:
    """Efficacy coefficient (功效系数法): points by where a unit stands between the worst and the best.

    ``score = points × (floor + (1 − floor) × share)``, with, over the units that have data,

    - ``anchor: worst``: ``share = (value − worst) / (best − worst)`` (the worst unit gets
      ``floor × points``, the best full points);
    - ``anchor: zero``: ``share = value / best`` (relative to the best unit; ``best / value`` for
      lower-is-better; values must be >= 0).

    Best is the highest value (the lowest for ``direction: lower``). When no unit is better than
    another, every unit gets full points. Units without data do not take part: ``missing`` gives
    them an error, 0 points (``zero``) or full points (``exclude``). Reads the measure's ``value``.
    """

    name: ClassVar[str] = "efficacy_coefficient"
    description: ClassVar[str] = ("points by the unit's place between the worst and the best unit "
                                  "of the year (功效系数法); the best gets full points")
    params: ClassVar[tuple[Param, ...]] = (
        Param("floor", "number", "share of the points the worst unit still gets (0.6 = 60 %)",
              default=0.6, minimum=0, maximum=1),
        Param("anchor", "string", "worst (scale from the worst unit to the best) or zero "
              "(value as a share of the best unit's)", default="worst", choices=("worst", "zero")),
        Param("direction", "string", "higher (higher is better) or lower (lower is better)",
              default="higher", choices=("higher", "lower")),
        Param("missing", "string", "a unit without data: error (DataError naming the units), "
              "zero (0 points) or exclude (full points)", default="error",
              choices=("error", "zero", "exclude")),
    )

    def score(self, inp: RuleInput) -> np.ndarray:
        p = inp.params
        value = np.asarray(inp.measure.value, dtype=np.float64)
        where = Location(node=inp.node.code)
        if value.shape != (len(inp.units),):
            raise DataError(f"the measure has {value.size} values for {len(inp.units)} units",
                            location=where, hint="a collector returns one value per unit")
        missing = np.isnan(value)
        if missing.any() and p["missing"] == "error":
            codes = ", ".join(map(str, inp.units.codes[missing]))
            raise DataError(f"no data for {int(missing.sum())} unit(s): {codes}", location=where,
                            hint="check the source for these units, or set missing: zero | exclude")
        share = np.ones_like(value)
        have = ~missing
        if have.any():
            share[have] = self._share(value[have], p["anchor"], p["direction"] == "higher", where)
        points = inp.points / 1000 * (p["floor"] + (1 - p["floor"]) * share)
        scored = round_milli(points)
        scored[missing] = inp.points if p["missing"] == "exclude" else 0
        return scored

    @staticmethod
    def _share(v: np.ndarray, anchor: str, higher: bool, where: Location) -> np.ndarray:
        """Each unit's share in [0, 1] between the anchor (0) and the best unit (1)."""
        best = v.max() if higher else v.min()
        if anchor == "worst":
            worst = v.min() if higher else v.max()
            if best == worst:
                return np.ones_like(v)
            return (v - worst) / (best - worst)
        if (v < 0).any():
            raise DataError(f"anchor: zero needs values >= 0, and the lowest is {v.min():g}",
                            location=where, hint="use anchor: worst for values that can be negative")
        if higher:
            return v / best if best > 0 else np.ones_like(v)
        # lower is better: best / value; a unit at 0 is the best there is
        return np.divide(best, v, out=np.ones_like(v), where=v > 0)


@hookimpl
def jx_register_rules(register):
    register(EfficacyCoefficient())
