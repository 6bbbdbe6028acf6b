"""The plugin-author kit's scheme helpers: build a scheme from a dict, run it on given measures."""

from __future__ import annotations

from decimal import Decimal

import pytest

from jxcore.errors import SchemeError, UsageError
from jxcore.testing import build_scheme, run_scheme

# Measures are given to run_scheme, so the collector is never called; it must still be valid.
FEED = {"name": "system_feed", "params": {"table": "t"}}

PLAN = {
    "scale": 100,
    "nodes": [
        {"code": "A", "name": "inspection", "points": 60, "children": [
            {"code": "A.1", "name": "inspection rate", "points": 60, "collector": FEED,
             "rule": {"name": "base_score", "params": {"target": 0.9, "per_step_above": 0.5,
                                                        "per_step_below": 1, "cap": 5}}},
        ]},
        {"code": "B", "name": "patrols", "points": 40, "children": [
            {"code": "B.1", "name": "patrol completion", "points": 40, "collector": FEED,
             "rule": {"name": "deduct_only", "params": {"target": 1.0, "per_step_below": 2}}},
        ]},
        {"code": "R", "name": "rewards", "scoring": "reward", "cap": 4, "children": [
            {"code": "R.1", "name": "honours", "points": 5, "collector": FEED,
             "rule": {"name": "honours", "params": {}}},
        ]},
    ],
}


def test_run_scheme_scores_aggregates_caps_and_ranks():
    outcome = run_scheme(PLAN, measures={
        "A.1": [0.93, 0.90, 0.85],   # +3 % → +1.5; at target; −5 % → −5
        "B.1": [1.0, 0.98, 1.2],     # full; −2 % → −4; above earns nothing
        "R.1": {"events": [{"unit": "u1", "kind": "national"}, {"unit": "u1", "kind": "town"},
                           {"unit": "u3", "kind": "city"}]},
    })
    outcome.assert_scores({
        "u1": {"A.1": 61.5, "B": 40, "R": 4, "TOTAL": 105.5},   # national 5 points, capped at 4
        "u2": {"A.1": 60, "B.1": 36, "R": 0, "TOTAL": 96},
        "u3": {"A": 55, "B.1": 40, "R": 2, "TOTAL": 97},
    })
    assert [outcome.rank(u) for u in ("u1", "u2", "u3")] == [1, 3, 2]
    assert outcome.total("u1") == Decimal("105.5")


def test_assert_scores_lists_every_mismatch():
    outcome = run_scheme(PLAN, measures={"A.1": [0.9] * 3, "B.1": [1.0] * 3, "R.1": {"events": []}})
    with pytest.raises(AssertionError) as info:
        outcome.assert_scores({"u1": {"A.1": 59, "TOTAL": 100}, "u2": {"B.1": 41}})
    assert "u1 A.1: expected 59, got 60" in str(info.value)
    assert "u2 B.1: expected 41, got 40" in str(info.value)
    assert "TOTAL" not in str(info.value)


def test_build_scheme_reports_plan_problems_like_validate():
    broken = {**PLAN, "nodes": [{**PLAN["nodes"][0], "points": 61}, *PLAN["nodes"][1:]]}
    with pytest.raises(SchemeError) as info:
        build_scheme(broken)
    assert "A" in str(info.value) and "60" in str(info.value)


def test_every_indicator_needs_a_measure():
    with pytest.raises(UsageError, match="B.1, R.1"):
        run_scheme(PLAN, measures={"A.1": [0.9] * 3})
