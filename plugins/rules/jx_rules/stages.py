"""Stage targets (阶段性目标) and early-warning levels (预警): 关注 → 警告 → 严重警告.

The level of a unit is how far its value falls short of the latest milestone due by the as-of
date. The warnings output calls :func:`warning_levels`; :data:`STAGE_PARAMS` declares the
parameters it takes, so an output can offer them to a scheme as its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np

from jxcore.errors import DataError, Location
from jxcore.models import Stage
from jxcore.params import Param

NONE, ATTENTION, WARNING, SERIOUS = 0, 1, 2, 3
LEVEL_NAMES = {NONE: "", ATTENTION: "关注", WARNING: "警告", SERIOUS: "严重警告"}
#: Shortfall (a share of the target) above which each level starts: any shortfall → 关注,
#: more than 10 % → 警告, more than 20 % → 严重警告.
DEFAULT_THRESHOLDS = (0.0, 0.10, 0.20)


def _thresholds_problem(value) -> str | None:
    if len(value) != 3 or any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in value):
        return "give three numbers: where 关注, 警告 and 严重警告 start"
    if not value[0] <= value[1] <= value[2] or value[0] < 0:
        return f"thresholds must be >= 0 and increasing, not {value!r}"
    return None


STAGE_PARAMS = (
    Param("thresholds", "list", "shortfall above which 关注, 警告, 严重警告 start",
          default=list(DEFAULT_THRESHOLDS), validator=_thresholds_problem),
    Param("direction", "string", "higher (higher is better) or lower", default="higher",
          choices=("higher", "lower")),
    Param("relative", "boolean", "shortfall as a share of the target (true) or in the value's unit",
          default=True),
    Param("missing", "string", "a unit without data: error, zero (value 0), exclude (no warning)",
          default="error", choices=("error", "zero", "exclude")),
)


def due_stage(stages: Sequence[Stage], as_of: dt.date) -> Stage | None:
    """The latest milestone whose date is on or before ``as_of`` (None before the first)."""
    due = [s for s in stages if s.date <= as_of]
    return max(due, key=lambda s: s.date) if due else None


def warning_levels(values: np.ndarray, stages: Sequence[Stage], as_of: dt.date,
                   thresholds: Sequence[float] = DEFAULT_THRESHOLDS, *, direction: str = "higher",
                   relative: bool = True, missing: str = "error",
                   codes: Sequence[str] | None = None, indicator: str | None = None) -> np.ndarray:
    """int8 warning level per unit (0 none, 1 关注, 2 警告, 3 严重警告) as of ``as_of``.

    ``shortfall = target − value`` (``value − target`` for lower-is-better), divided by
    ``|target|`` when ``relative`` (absolute if the target is 0); the level is the number of
    ``thresholds`` the shortfall exceeds (strictly). Before the first milestone every level is 0.
    ``codes`` and ``indicator`` name the units and the indicator in the DataError for missing data.
    """
    v = np.asarray(values, dtype=np.float64)
    stage = due_stage(stages, as_of)
    if stage is None:
        return np.zeros(v.shape, dtype=np.int8)
    nan = np.isnan(v)
    if missing == "error" and nan.any():
        where = np.flatnonzero(nan)
        names = [str(codes[i]) if codes is not None else f"#{i}" for i in where[:10]]
        raise DataError(f"no data for the stage target due {stage.date} for "
                        f"{len(where)} unit(s): {', '.join(names)}",
                        location=Location(node=indicator),
                        hint="check the indicator's collector, or set missing: zero | exclude")
    if missing == "zero":
        v = np.where(nan, 0.0, v)
    short = stage.target - v if direction == "higher" else v - stage.target
    if relative and stage.target != 0:
        short = short / abs(stage.target)
    short = np.round(np.where(nan & (missing == "exclude"), 0.0, short), 9)
    levels = np.searchsorted(np.asarray(thresholds, dtype=np.float64), short, side="left")
    return levels.astype(np.int8)
