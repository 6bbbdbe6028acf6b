"""Fairness to unit size, resources and peers, and the plan judged by its data, on hand-made runs."""

from __future__ import annotations

import numpy as np
import pytest

from evaluation_kit import measures, scheme, store_run, units
from jx_evaluation.analysis import correlation, evaluate, size_share
from jxcore.testing import installed_registry

STAFF = [8, 10, 12, 15, 20, 25, 30, 35, 40, 45, 50, 55]
ENTITIES = [2_300, 3_000, 4_500, 6_000, 9_000, 12_000, 16_000, 21_000, 27_000, 33_000, 42_000, 50_000]
# Scores in an order unrelated to size (a permutation with Spearman ρ ≈ −0.03 against entities).
NO_SIZE = [90, 60, 40, 45, 85, 50, 70, 55, 80, 35, 65, 75]
BY_SIZE = [35 + 5 * i for i in range(12)]


def evaluated(store, scores, *, settings=None, extra=None):
    plan = scheme({"A": 100}, units(12, STAFF, ENTITIES),
                  settings={"evaluation": {"params": [], "missing": "keep", "sobol_samples": 64,
                                           **(settings or {})}}, **(extra or {}))
    given = {"A1": scores, **({"R1": [0] * 12} if extra else {})}
    store_run(store, plan, given)
    return evaluate(store, installed_registry(), plan, variations=50, measures=measures(given))


def test_when_size_does_not_matter_fairness_says_so(store):
    f = evaluated(store, NO_SIZE).fairness
    assert not f.flagged and f.size_share < 0.05
    total = {(c.size, c.method): c for c in f.correlations if c.node == "TOTAL"}
    for c in total.values():
        assert c.low < 0 < c.high and abs(c.r) < 0.2 and c.p > 0.3


def test_when_size_drives_the_ranking_it_is_flagged(store):
    f = evaluated(store, BY_SIZE).fairness
    assert f.flagged and f.size_share > 0.8
    spearman = next(c for c in f.correlations if c.node == "TOTAL" and c.size == "entities" and c.method == "spearman")
    assert spearman.r == pytest.approx(1.0) and spearman.low > 0.8
    # Within each size class the largest unit still ranks first.
    for cls in np.unique(f.classes):
        members = np.flatnonzero(f.classes == cls)
        assert f.class_ranks[members[-1]] == 1


def test_size_classes_follow_the_setting(store):
    f = evaluated(store, NO_SIZE, settings={"size_classes": [30_000, 10_000]}).fairness
    assert f.class_bounds == (30_000, 10_000)
    assert list(f.classes) == [3] * 5 + [2] * 4 + [1] * 3
    assert sorted(f.class_ranks[:5]) == [1, 2, 3, 4, 5]


def test_correlation_intervals_and_constant_inputs():
    x = np.arange(20, dtype=float)
    r, low, high, p = correlation(x, 2 * x + 1, "pearson")
    assert r == pytest.approx(1.0) and p < 1e-6
    r, low, high, p = correlation(x, np.ones(20), "spearman")
    assert np.isnan(r)
    assert size_share(np.arange(1, 13), np.array(STAFF), np.array(ENTITIES)) > 0.8


def test_peers_and_the_unit_far_from_them(store):
    scores = [60] * 12
    scores[6] = 95  # u7 far above its neighbours in size
    r = evaluated(store, scores, settings={"neighbours": 4, "peer_gap": 2.0}).resources
    assert list(np.flatnonzero(r.far)) == [6]
    assert set(r.peers[6]) == {4, 5, 7, 8} and r.gap[6] == pytest.approx(35_000)
    by_class = evaluated(store, scores, settings={"peers": "class", "size_classes": [30_000, 10_000],
                                                  "peer_gap": 2.0}).resources
    assert by_class.peers.shape == (12, 0) and list(by_class.classes[5:9]) == [2, 2, 2, 2]
    assert by_class.peer_mean[6] == pytest.approx(60_000) and by_class.peer_mean[5] == pytest.approx(71_666.67)
    assert list(np.flatnonzero(by_class.far)) == [6]


def test_workload_per_head_against_the_system_average(store):
    feed = {"name": "system_feed", "params": {"table": "t"}}
    from jxcore.testing import build_scheme

    plan = build_scheme({"scale": 100, "nodes": [
        {"code": "A", "name": "a", "points": 100, "children": [
            {"code": "A1", "name": "a", "points": 100, "collector": feed,
             "rule": {"name": "base_score", "params": {"target": 0, "step": 1, "per_step_above": 1, "base": 0,
                                                        "per_step_below": 0, "cap": 100}}}]},
        {"code": "R", "name": "r", "scoring": "reward", "cap": 5, "children": [
            {"code": "R1", "name": "cases per head", "points": 5, "collector": feed,
             "rule": {"name": "workload", "params": {"per_step": 1, "cap": 5}}}]}]},
        units=units(3, [10, 20, 10], [5_000, 5_000, 5_000]), name="hand")
    given = {"A1": [50, 50, 50], "R1": [100, 100, 400]}
    store_run(store, plan, given)
    r = evaluate(store, installed_registry(), plan, variations=20, measures=measures(given)).resources
    # 600 cases over 40 staff = 15 per head: u1 10/15, u2 5/15, u3 40/15.
    np.testing.assert_allclose(r.workload["R1"], [10 / 15, 5 / 15, 40 / 15])
    np.testing.assert_allclose(r.workload_index, r.workload["R1"])


def test_the_plan_judged_by_its_data(store):
    feed = {"name": "system_feed", "params": {"table": "t"}}
    from jxcore.testing import build_scheme

    def ind(code, pts):
        return {"code": code, "name": code, "points": pts, "collector": feed,
                "rule": {"name": "base_score", "params": {"target": 0, "step": 1, "per_step_above": 1, "base": 0,
                                                            "per_step_below": 0, "cap": pts}}}

    plan = build_scheme({"scale": 100, "nodes": [
        {"code": "A", "name": "a", "points": 60, "children": [ind("A1", 30), ind("A2", 30)]},
        {"code": "B", "name": "b", "points": 40, "children": [ind("B1", 40)]},
        {"code": "R", "name": "r", "scoring": "reward", "cap": 5, "children": [ind("R1", 5)]}]},
        units=units(5), name="hand", settings={"evaluation": {"params": []}})
    given = {"A1": [30, 20, 10, 0, 8], "A2": [29, 19, 9, 1, 7],   # A2 repeats A1: a redundant pair
             "B1": [20, 20, 20, 40, 20],                          # most units on one score, one at cap
             "R1": [0, 0, 0, 0, 5]}                               # the reward lifts u5 past u3
    store_run(store, plan, given)
    p = evaluate(store, installed_registry(), plan, variations=20, measures=measures(given)).plan
    i = {c: k for k, c in enumerate(p.codes)}
    assert [(a, b) for a, b, _ in p.redundant] == [("A1", "A2")]
    assert p.tied[i["B1"]] == pytest.approx(0.8) and p.at_cap[i["B1"]] == 1
    assert p.at_floor[i["A1"]] == 1 and p.at_cap[i["A1"]] == 1
    assert p.nominal[i["A1"]] == pytest.approx(0.3) and np.isnan(p.nominal[i["R1"]])
    assert p.effective.sum() == pytest.approx(1.0)
    assert list(p.moved_by_rewards) == [0, 0, -1, 0, 1]
    assert not p.moved_by_deductions.any()
