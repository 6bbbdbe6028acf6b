"""hypothesis properties of the standard rules: caps, floors, monotonicity, the scalar reference."""

from __future__ import annotations

import datetime as dt

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from jx_rules.reference import score_scalar
from jxcore.testing import installed_registry, make_units, rule_input, score_rule

N = 12
rates = st.floats(0, 1, allow_nan=False)
values = st.lists(st.one_of(rates, st.just(float("nan"))), min_size=N, max_size=N)
tenths = st.integers(0, 30).map(lambda k: k / 10)  # points with one decimal, 0 … 3
points = st.integers(1, 40)

step_params = st.fixed_dictionaries({
    "target": st.sampled_from([0.5, 0.8, 0.9, 0.95]),
    "direction": st.sampled_from(["higher", "lower"]),
    "per_step_above": tenths, "per_step_below": tenths, "cap": tenths,
    "steps": st.sampled_from(["proportional", "whole"]),
    "missing": st.sampled_from(["zero", "exclude"]),
})


def given_only(**params):
    """Params as a scheme writes them: an optional one left out rather than null."""
    return {k: v for k, v in params.items() if v is not None}


def rule(name):
    return installed_registry().rule(name)


def check_reference(name, **inputs):
    obj = rule(name)
    inp = rule_input(obj, **inputs)
    np.testing.assert_array_equal(obj.score(inp), score_scalar(name, inp))


@given(step_params, points, values)
def test_base_score_within_zero_and_points_plus_cap(params, pts, vals):
    got = score_rule("base_score", points=pts, params=params, value=vals)
    assert got.min() >= 0
    assert got.max() <= pts * 1000 + round(params["cap"] * 1000)


@given(step_params, points, st.lists(rates, min_size=2, max_size=N))
def test_base_score_monotone_in_the_value(params, pts, vals):
    ordered = sorted(vals, reverse=params["direction"] == "lower")  # from worst to best
    got = score_rule("base_score", points=pts, params=params, value=ordered)
    assert (np.diff(got) >= 0).all()


@given(step_params, points, values)
def test_deduct_only_never_above_base(params, pts, vals):
    params = {k: params[k] for k in ("target", "direction", "per_step_below", "steps", "missing")}
    got = score_rule("deduct_only", points=pts, params=params, value=vals)
    assert ((got >= 0) & (got <= pts * 1000)).all()


@given(step_params, points, values)
def test_steps_equal_the_scalar_reference(params, pts, vals):
    check_reference("base_score", points=pts, params=params, value=vals)
    only = {k: params[k] for k in ("target", "direction", "per_step_below", "steps", "missing")}
    check_reference("deduct_only", points=pts, params=only, value=vals)


@given(st.lists(st.tuples(rates, tenths), min_size=1, max_size=5, unique_by=lambda b: b[0]),
       st.sampled_from(["higher", "lower"]), values)
def test_bands_equal_the_scalar_reference(table, direction, vals):
    params = {"bands": [list(b) for b in table], "direction": direction, "missing": "exclude"}
    check_reference("bands", points=3, params=params, value=vals)
    check_reference("pass_fail", points=3, params={"target": table[0][0], "direction": direction,
                                                   "missing": "zero"}, value=vals)


levels = ["town", "city", "province", "national"]
unit_ix = st.integers(0, N - 1)


@given(st.lists(st.tuples(unit_ix, st.sampled_from(levels)), max_size=40))
def test_only_the_highest_honour_counts(rows):
    events = {"unit": [u for u, _ in rows], "kind": [k for _, k in rows]}
    got = score_rule("honours", points=5, events=events, units=N)
    worth = {"town": 1000, "city": 2000, "province": 3000, "national": 5000}
    for u in range(N):
        mine = [worth[k] for v, k in rows if v == u]
        assert got[u] == max(mine, default=0)
    check_reference("honours", points=5, events=events, units=N)


@given(st.lists(st.tuples(unit_ix, st.sampled_from(["a", "b", "c"]), st.booleans()), max_size=40),
       st.one_of(st.none(), tenths))
def test_event_deductions_equal_the_scalar_reference(rows, cap):
    events = {"unit": [r[0] for r in rows], "kind": [r[1] for r in rows], "at_fault": [r[2] for r in rows]}
    table = {"a": 0.5, "b": 1, "c": 2.5}
    got = score_rule("per_event", points=4, params={"deductions": table}, events=events, units=N)
    assert ((got >= 0) & (got <= 4000)).all()
    check_reference("per_event", points=4, params={"deductions": table}, events=events, units=N)
    params = given_only(deductions=table, cap=cap)
    got = score_rule("discipline", points=4, params=params, events=events, units=N)
    assert (got <= 0).all()
    if cap is not None:
        assert got.min() >= -round(cap * 1000)
    check_reference("discipline", points=4, params=params, events=events, units=N)


entities = st.lists(st.integers(0, 60_000), min_size=N, max_size=N)


@given(entities, st.lists(unit_ix, max_size=30), st.one_of(st.none(), tenths))
def test_major_cases_capped_and_equal_the_reference(ents, cases, cap):
    units = make_units(N, entities=ents)
    params = given_only(cap=cap)
    got = score_rule("major_cases", points=20, params=params, events={"unit": cases}, units=units)
    assert got.min() >= 0
    if cap is not None:
        assert got.max() <= round(cap * 1000)
    check_reference("major_cases", points=20, params=params, events={"unit": cases}, units=units)


@given(st.lists(st.integers(1, 60), min_size=N, max_size=N),
       st.lists(st.one_of(st.floats(0, 1000, allow_nan=False), st.just(float("nan"))),
                min_size=N, max_size=N),
       tenths, st.one_of(st.none(), tenths), st.sampled_from(["proportional", "whole"]))
def test_workload_bonus_capped_and_equal_the_reference(staff, work, per_step, cap, mode):
    units = make_units(N, staff=staff)
    params = given_only(per_step=per_step, cap=cap, steps=mode, missing="exclude")
    got = score_rule("workload", points=5, params=params, value=work, units=units)
    assert got.min() >= 0
    if cap is not None:
        assert got.max() <= round(cap * 1000)
    check_reference("workload", points=5, params=params, value=work, units=units)


@given(st.lists(st.tuples(unit_ix, st.floats(0, 100, allow_nan=False)), max_size=40),
       st.sampled_from(["zero", "exclude"]))
def test_mystery_stars_equal_the_reference(visits, missing):
    params = {"points_by_star": [1, 2, 3, 4, 5], "missing": missing}
    events = {"unit": [u for u, _ in visits], "score": [s for _, s in visits]}
    check_reference("mystery_stars", points=5, params=params, events=events, units=N)


@settings(deadline=None)
@given(st.lists(st.tuples(unit_ix, st.dates(dt.date(2010, 1, 1), dt.date(2010, 12, 31))), max_size=40),
       st.dates(dt.date(2010, 1, 1), dt.date(2010, 12, 31)), st.sampled_from(["half-year", "quarter", "month"]))
def test_per_window_equal_the_reference(rows, as_of, every):
    params = {"every": every, "deduction": 0.5}
    events = {"unit": [u for u, _ in rows], "date": [d for _, d in rows]}
    check_reference("per_window", points=4, params=params, events=events, units=N, as_of=as_of)
