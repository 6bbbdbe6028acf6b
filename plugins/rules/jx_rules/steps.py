"""加减分: base score at target, steps above add (capped), steps below deduct (扣完为止)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from jx_rules import _common as c
from jxcore.interfaces import RuleInput
from jxcore.params import Param
from jxcore.points import round_milli, to_milli

_TARGET = Param("target", "number", "the required value (基本要求), e.g. 0.9 for a 90 % rate")
_STEP = Param("step", "number",
              "size of one step in the value's unit: 0.01 = 1 % for a rate written 0..1, 1 for a count",
              default=0.01, minimum=1e-9)
_BELOW = c.points_param("per_step_below", "points deducted per step below the target")


def step_score(inp: RuleInput, *, base: int, per_above: float, cap: int) -> np.ndarray:
    """``clip(base + steps × per-step points, 0, base + cap)`` with the missing-data policy."""
    p = inp.params
    v = c.values(inp)
    missing = c.missing_units(inp, np.isnan(v))
    diff = v - p["target"] if p["direction"] == "higher" else p["target"] - v
    n = c.steps(np.where(missing, 0.0, diff), p["step"], p["steps"])
    delta = np.where(n > 0, n * per_above, n * p["per_step_below"])
    # Clip in float first so an absurd value (or inf) cannot overflow the int64 conversion.
    delta = np.clip(delta, -base / 1000 - 1, cap / 1000 + 1)
    score = np.clip(base + round_milli(delta), 0, base + cap)
    excluded = base if p["missing"] == "exclude" else 0
    return np.where(missing, excluded, score).astype(np.int64)


class BaseScore(c.Checked):
    """Base score with steps (加减分).

    ``score = clip(base + s × per_step_above if s > 0 else base + s × per_step_below, 0, base + cap)``
    where ``s = (value − target) / step`` (``(target − value) / step`` for lower-is-better),
    in whole steps if ``steps: whole``. Reads the measure's ``value``.
    """

    name: ClassVar[str] = "base_score"
    description: ClassVar[str] = ("base points at target; each step above adds (capped), each step "
                                  "below deducts down to 0 (加减分, 扣完为止)")
    params: ClassVar[tuple[Param, ...]] = (
        _TARGET, c.DIRECTION, _STEP,
        c.points_param("per_step_above", "points added per step above the target", default=0),
        _BELOW,
        c.points_param("cap", "largest bonus above the base, in points", default=0),
        c.points_param("base", "points at the target; omit for the indicator's points", default=None),
        c.STEPS, c.MISSING,
    )
    conditions = (c.param_over_points("base"),)

    def score(self, inp: RuleInput) -> np.ndarray:
        self.ensure(inp)
        p = inp.params
        base = inp.points if p["base"] is None else to_milli(p["base"])
        return step_score(inp, base=base, per_above=p["per_step_above"], cap=to_milli(p["cap"]))


class DeductOnly:
    """Deduct-only (只扣分不加分): below target deducts, above earns nothing (e.g. market patrols).

    ``score = clip(points + min(s, 0) × per_step_below, 0, points)``, ``s`` as in base_score.
    Reads the measure's ``value``.
    """

    name: ClassVar[str] = "deduct_only"
    description: ClassVar[str] = "full points at or above target; each step below deducts, down to 0"
    params: ClassVar[tuple[Param, ...]] = (_TARGET, c.DIRECTION, _STEP, _BELOW, c.STEPS, c.MISSING)

    def score(self, inp: RuleInput) -> np.ndarray:
        return step_score(inp, base=inp.points, per_above=0.0, cap=0)
