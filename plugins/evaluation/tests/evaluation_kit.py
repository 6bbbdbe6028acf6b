"""Hand-made plans for the evaluation tests: each indicator's points are its measure's value
(base_score with base 0, target 0, one point per unit of value), so a test writes scores directly."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from jxcore.engine import run_scheme
from jxcore.models import Measure, Scheme
from jxcore.testing import build_scheme, installed_registry

FEED = {"name": "system_feed", "params": {"table": "t"}}


def points_rule(points: float) -> dict[str, Any]:
    """A rule whose score is the measure's value (0..points)."""
    return {"name": "base_score", "params": {"target": 0, "step": 1, "per_step_above": 1, "per_step_below": 0,
                                             "base": 0, "cap": points}}


def plan(items: Mapping[str, float], *, rewards: float | None = None) -> dict[str, Any]:
    """Items with one indicator each (``<item>1``) on a 100-point scale; optionally a reward item R."""
    nodes = [{"code": code, "name": f"item {code}", "points": pts, "children": [
        {"code": f"{code}1", "name": f"indicator {code}", "points": pts, "collector": FEED, "rule": points_rule(pts)}]}
        for code, pts in items.items()]
    if rewards is not None:
        nodes.append({"code": "R", "name": "rewards", "scoring": "reward", "cap": rewards, "children": [
            {"code": "R1", "name": "bonus", "points": rewards, "collector": FEED, "rule": points_rule(rewards)}]})
    return {"scale": 100, "nodes": nodes}


def units(n: int, staff: Sequence[int] | None = None, entities: Sequence[int] | None = None) -> list[dict[str, Any]]:
    return [{"code": f"u{i + 1}", "name": f"单位{i + 1}", "staff": staff[i] if staff else 10,
             "entities": entities[i] if entities else 10_000} for i in range(n)]


def scheme(items: Mapping[str, float], unit_list: list[dict[str, Any]], *, period: int = 2010,
           settings: Mapping[str, Any] | None = None, rewards: float | None = None) -> Scheme:
    return build_scheme(plan(items, rewards=rewards), units=unit_list, period=period, name="hand",
                        settings=dict(settings or {}))


def measures(scores: Mapping[str, Sequence[float]]) -> dict[str, Measure]:
    """Indicator code → values (= points) per unit."""
    return {code: Measure(code, np.asarray(values, dtype=np.float64)) for code, values in scores.items()}


def store_run(store, plan_scheme: Scheme, scores: Mapping[str, Sequence[float]], *, final: bool = True):
    """Score ``plan_scheme`` on ``scores`` and store it (final by default); return the RunResult."""
    return run_scheme(plan_scheme, installed_registry(), measures=measures(scores), store=store, final=final)
