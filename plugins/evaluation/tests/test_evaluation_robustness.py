"""Robustness and sensitivity on hand-made plans whose answers are known."""

from __future__ import annotations

import attrs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluation_kit import measures, scheme, store_run, units
from jx_evaluation.analysis import evaluate, load_baseline, plan_model, run_variations, sobol_indices
from jx_evaluation.model import weight_factors
from jx_evaluation.settings import evaluation_settings
from jxcore.errors import SchemeError, UsageError
from jxcore.testing import build_scheme, installed_registry

REVIEW = {"leadership_review": {"bottom": 3, "admonition_years": 2, "reshuffle_years": 3, "pass_line": 60}}
ITEMS = {"A": 40, "B": 40, "C": 20}
# u6 sits just below u5: 8·fA + 29.5·fB against 30·fA + 8·fB, so u6 is in the bottom 3 exactly when
# B's weight is at most ~2.3 % above A's (relative to nominal). C is the same for everyone.
SCORES = {"A1": [38, 35, 33, 30, 30, 8, 10, 5], "B1": [36, 35, 30, 30, 8, 29.5, 10, 5], "C1": [10] * 8}
# The year before: u6, u7, u8 were the bottom 3 as well.
EARLIER = {"A1": [38, 35, 33, 30, 30, 5, 10, 5], "B1": [36, 35, 30, 30, 30, 5, 10, 5], "C1": [10] * 8}


def hinge(store, **evaluation):
    settings = {**REVIEW, "evaluation": {"params": [], "missing": "keep", "sobol_samples": 512, **evaluation}}
    store_run(store, scheme(ITEMS, units(8), period=2009, settings=settings), EARLIER)
    plan = scheme(ITEMS, units(8), settings=settings)
    store_run(store, plan, SCORES)
    return plan


def test_a_bottom_place_that_hinges_on_one_weight_is_not_robust(store):
    plan = hinge(store)
    ev = evaluate(store, installed_registry(), plan, variations=2000, seed=7, measures=measures(SCORES))
    rb = ev.robustness
    p_bottom = dict(zip(rb.codes, rb.p_bottom))
    assert 0.3 < p_bottom["u6"] < 0.8 and p_bottom["u5"] == pytest.approx(1 - p_bottom["u6"])
    assert p_bottom["u7"] == p_bottom["u8"] == 1.0 and p_bottom["u1"] == 0.0
    low, high = dict(zip(rb.codes, rb.rank_low)), dict(zip(rb.codes, rb.rank_high))
    assert (low["u6"], high["u6"]) == (5, 6) and low["u1"] == high["u1"] == 1
    admonitions = {d.unit: d for d in rb.decisions if d.kind == "admonition"}
    assert admonitions["u6"].decided and not admonitions["u6"].robust
    assert admonitions["u6"].share == pytest.approx(p_bottom["u6"])
    assert admonitions["u7"].robust and admonitions["u8"].robust and admonitions["u8"].share == 1.0
    # u5 would be admonished in the variations that spare u6, but it was not in the bottom 3 the
    # year before: no admonition for u5 in any variation.
    assert rb.shares["admonition"][4] == 0.0


def test_sensitivity_of_the_bottom_set_names_the_two_weights_that_matter(store):
    plan = hinge(store)
    s = evaluate(store, installed_registry(), plan, variations=100, measures=measures(SCORES)).sensitivity
    st = dict(zip(s.items, s.bottom.st))
    # C's multiplier scales A and B alike after renormalisation: it cannot swap u5 and u6.
    assert st["A"] > 0.3 and st["B"] > 0.3 and abs(st["C"]) < 0.05
    assert s.weights == pytest.approx([0.4, 0.4, 0.2])
    # The totals do depend on C (everyone's C points are scaled with its weight).
    assert dict(zip(s.items, s.totals.st))["C"] > 0.01


def test_the_same_seed_gives_the_same_numbers_and_another_seed_does_not(store):
    plan = hinge(store, params=["target"], param_range=0.2)
    args = dict(variations=300, measures=measures(SCORES))
    one = evaluate(store, installed_registry(), plan, seed=3, **args)
    two = evaluate(store, installed_registry(), plan, seed=3, **args)
    other = evaluate(store, installed_registry(), plan, seed=4, **args)
    for a, b in ((one.robustness.p_bottom, two.robustness.p_bottom),
                 (one.sensitivity.totals.s1, two.sensitivity.totals.s1),
                 (one.robustness.rank_high, two.robustness.rank_high)):
        np.testing.assert_array_equal(a, b)
    assert [d.share for d in one.robustness.decisions] == [d.share for d in two.robustness.decisions]
    assert not np.array_equal(one.robustness.p_bottom, other.robustness.p_bottom)


def test_rule_targets_and_missing_data_vary_within_their_declared_ranges(store):
    """Target 0.5 of a rate varies by ±50 % of its room (0.25..0.75); a unit without data is
    scored as excluded (full points) or zero at random, whatever the plan says."""
    feed = {"name": "system_feed", "params": {"table": "t"}}
    plan_dict = {"scale": 100, "nodes": [
        {"code": "A", "name": "a", "points": 100, "children": [
            {"code": "A1", "name": "rate", "points": 100, "collector": feed,
             "rule": {"name": "base_score", "params": {"target": 0.5, "per_step_below": 1, "missing": "exclude"}}}]}]}
    settings = {"evaluation": {"ranges": {"A1": {"target": 0.5}}, "params": [], "levels": 64}}
    plan = build_scheme(plan_dict, units=units(4), name="hand", settings=settings)
    rates = {"A1": [0.6, 0.5, np.nan, 0.3]}
    store_run(store, plan, rates)
    registry = installed_registry()
    baseline = load_baseline(store, registry, plan, measures=measures(rates))
    opts = evaluation_settings(plan)
    (levels,) = plan_model(baseline, registry, opts).levels
    targets = np.array([p["target"] for p in levels.params])
    assert 0.25 <= targets.min() < 0.3 and 0.7 < targets.max() <= 0.75
    assert {p["missing"] for p in levels.params} == {"zero", "exclude"}
    # u1 (0.6) loses points exactly when the target passes 0.6; u3 (no data) 100 or 0 points.
    np.testing.assert_array_equal(levels.deltas[:, 0] < 0, targets > 0.6)
    assert set(levels.deltas[:, 2]) == {0, -100_000}
    keep = plan_model(baseline, registry, {**opts, "missing": "keep"}).levels[0]
    assert {p["missing"] for p in keep.params} == {"exclude"} and not keep.deltas[:, 2].any()
    ev = evaluate(store, registry, plan, variations=500, measures=measures(rates))
    assert ev.robustness.varied_indicators == ("A1",)
    assert ev.robustness.rank_high[2] == 4 and ev.robustness.rank_low[2] == 1


def test_sobol_indices_of_a_linear_model_are_its_squared_coefficients():
    a = np.array([1.0, 2.0, 3.0])
    got = sobol_indices(lambda x: x @ a, ["x1", "x2", "x3"], [[0, 1]] * 3, n=4096, seed=1)
    expected = a ** 2 / (a ** 2).sum()
    np.testing.assert_allclose(got.s1, expected, atol=0.03)
    np.testing.assert_allclose(got.st, expected, atol=0.03)
    assert got.evaluations == 4096 * (3 + 2)
    # A large mean (a total of 700 points moving by a few) changes neither the indices nor their
    # precision: outputs are standardised before SALib's uncentred estimators.
    shifted = sobol_indices(lambda x: 700_000 + x @ a, ["x1", "x2", "x3"], [[0, 1]] * 3, n=4096, seed=1)
    np.testing.assert_allclose(shifted.s1, got.s1, atol=1e-6)
    assert (shifted.s1_conf < 0.05).all() and (shifted.st_conf < 0.05).all()


def test_sobol_indices_of_several_outputs_are_weighted_by_their_variance():
    got = sobol_indices(lambda x: np.column_stack([x[:, 0], 10 * x[:, 1], np.ones(len(x))]), ["x1", "x2"],
                        [[0, 1]] * 2, n=2048, seed=2)
    np.testing.assert_allclose(got.s1, [1 / 101, 100 / 101], atol=0.02)
    assert np.isnan(got.s1_each[2]).all()  # a constant output has no indices
    np.testing.assert_allclose(got.s1_each[0], [1, 0], atol=0.05)


def test_without_a_stored_run_the_store_is_asked_for_one(store):
    plan = scheme(ITEMS, units(8), settings=REVIEW)
    with pytest.raises(UsageError, match="no run of scheme hand for 2010") as err:
        evaluate(store, installed_registry(), plan, measures=measures(SCORES))
    assert "jx run --scheme hand --period 2010 --final" in str(err.value.hint)


def test_bad_evaluation_settings_name_the_setting(store):
    plan = scheme(ITEMS, units(8), settings={"evaluation": {"weight_rnage": 0.1}})
    store_run(store, plan, SCORES)
    with pytest.raises(SchemeError) as err:
        evaluate(store, installed_registry(), plan, measures=measures(SCORES))
    assert "settings.evaluation.weight_rnage" in err.value.render() and "weight_range" in err.value.render()
    plan = scheme(ITEMS, units(8), settings={"evaluation": {"ranges": {"Z9": {"target": 0.1}}}})
    with pytest.raises(SchemeError, match="Z9"):
        evaluate(store, installed_registry(), plan, measures=measures(SCORES))
    plan = scheme(ITEMS, units(8), settings={"evaluation": {"size_classes": [5_000, 30_000]}})
    with pytest.raises(SchemeError) as err:
        evaluate(store, installed_registry(), plan, measures=measures(SCORES))
    assert "settings.evaluation.size_classes" in err.value.render() and "decreasing" in err.value.render()


def test_too_few_variations_are_refused(store):
    plan = hinge(store)
    with pytest.raises(UsageError, match="too few"):
        evaluate(store, installed_registry(), plan, variations=3, measures=measures(SCORES))


def test_variation_totals_are_the_chosen_parameter_sets_summed_and_weighted(store):
    """Each variation's totals, recomputed the plain way: every item's indicator scores under the
    chosen parameter sets, capped, times the item's weight factor."""
    settings = {**REVIEW, "evaluation": {"params": ["target", "per_step_above"], "param_range": 0.5, "levels": 8}}
    plan = scheme(ITEMS, units(8), settings=settings, rewards=5)
    scores = {**SCORES, "R1": [0, 1, 2, 3, 4, 5, 6, 7]}
    store_run(store, plan, scores)
    registry = installed_registry()
    baseline = load_baseline(store, registry, plan, measures=measures(scores))
    opts = {**evaluation_settings(plan), "variations": 50}
    model = plan_model(baseline, registry, opts)
    assert len(model.levels) == 4
    varied = run_variations(model, opts)
    for v in range(len(varied)):
        items = model.raw.copy()
        for j, lv in enumerate(model.levels):
            items[lv.item] += lv.deltas[varied.choice[v, j]]
        items = np.clip(items, model.low[:, None], model.high[:, None])
        factor = np.ones(len(model.items))
        factor[model.weighted] = varied.factors[v]
        np.testing.assert_array_equal(varied.totals[v], np.rint(factor @ items))
    assert np.allclose(varied.factors @ model.points[model.weighted], 100_000)


def test_the_plan_that_scored_the_run_is_evaluated_not_a_later_one(store):
    """The run was scored with A 40 / B 40; the pack now says A 60 / B 20: the evaluation reads the
    run's own plan (its weights, its scores) and says the installed one differs."""
    settings = {"evaluation": {"params": []}}
    store_run(store, scheme(ITEMS, units(8), settings=settings), SCORES)
    later = scheme({"A": 60, "B": 20, "C": 20}, units(8), settings=settings)
    ev = evaluate(store, installed_registry(), later, variations=20, measures=measures(SCORES))
    assert ev.baseline.plan_differs and ev.baseline.drift == 0
    assert ev.scheme.nodes["A"].points == 40_000
    assert ev.sensitivity.weights == pytest.approx([0.4, 0.4, 0.2])


def test_with_nothing_varied_every_decision_holds_in_every_variation(store):
    plan = hinge(store, weight_range=0)
    ev = evaluate(store, installed_registry(), plan, variations=30, measures=measures(SCORES))
    rb = ev.robustness
    assert ev.sensitivity is None and rb.varied_indicators == ()
    np.testing.assert_array_equal(rb.rank_low, rb.rank)
    np.testing.assert_array_equal(rb.rank_high, rb.rank)
    assert {(d.kind, d.unit) for d in rb.decisions} >= {("admonition", "u6"), ("admonition", "u7"),
                                                         ("admonition", "u8"), ("commendation", "u1")}
    assert all(d.decided and d.share == 1.0 and d.robust for d in rb.decisions)


@settings(max_examples=60, deadline=None)
@given(points=st.lists(st.integers(1, 400), min_size=1, max_size=8),
       r=st.floats(0, 0.9), seed=st.integers(0, 2**32 - 1))
def test_varied_weights_keep_the_scale_and_stay_within_their_range(points, r, seed):
    model = attrs.evolve(_two_item_model(), points=np.array(points, dtype=float) * 1000,
                         weighted=np.ones(len(points), dtype=bool))
    multipliers = np.random.default_rng(seed).uniform(1 - r, 1 + r, size=(20, len(points)))
    factors = weight_factors(model, multipliers)
    np.testing.assert_allclose(factors @ model.points, model.points.sum())
    lo, hi = (1 - r) / (1 + r), (1 + r) / (1 - r)
    assert (factors >= lo - 1e-9).all() and (factors <= hi + 1e-9).all()


def _two_item_model():
    from jx_evaluation.model import PlanModel

    return PlanModel(scheme=None, items=("A", "B"), weighted=np.array([True, True]), points=np.array([1.0, 1.0]),
                     low=np.full(2, -np.inf), high=np.full(2, np.inf), raw=np.zeros((2, 1)), watched=(),
                     watched_item=np.zeros(0, dtype=np.int64), watched_base=np.zeros((0, 1)),
                     watched_is_item=np.zeros(0, dtype=bool), levels=())


def test_a_rate_target_of_100_percent_has_no_room_to_vary(store):
    feed = {"name": "system_feed", "params": {"table": "t"}}
    plan = build_scheme({"scale": 100, "nodes": [{"code": "A", "name": "a", "points": 100, "children": [
        {"code": "A1", "name": "rate", "points": 100, "collector": feed,
         "rule": {"name": "base_score", "params": {"target": 1.0, "per_step_below": 1}}}]}]},
        units=units(3), name="hand", settings={"evaluation": {"params": ["target"], "param_range": 0.5}})
    rates = {"A1": [1.0, 0.9, 0.8]}
    store_run(store, plan, rates)
    registry = installed_registry()
    baseline = load_baseline(store, registry, plan, measures=measures(rates))
    assert plan_model(baseline, registry, evaluation_settings(plan)).levels == ()
