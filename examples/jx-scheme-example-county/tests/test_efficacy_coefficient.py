"""The pack's own rule, through jx's test kit (the table cases are in efficacy_coefficient.rulecases.yaml)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from jxcore.testing import installed_registry, score_rule


def test_the_rule_is_registered_by_the_pack_plugin():
    registered = installed_registry().rules["efficacy_coefficient"]
    assert registered.plugin == "example_county_rules"


values = st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=30)


@settings(max_examples=60, deadline=None)
@given(values, st.sampled_from([0, 0.3, 0.6, 1]), st.sampled_from(["worst", "zero"]),
       st.sampled_from(["higher", "lower"]))
def test_scores_stay_between_the_floor_and_full_points_and_follow_the_value(v, floor, anchor, direction):
    params = {"floor": floor, "anchor": anchor, "direction": direction}
    got = score_rule("efficacy_coefficient", points=10, value=v, params=params)
    assert (got >= round(floor * 10_000) - 1).all() and (got <= 10_000).all()
    assert got.max() == 10_000  # the best unit always gets full points
    order = np.argsort(v if direction == "higher" else np.negative(v), kind="stable")
    assert (np.diff(got[order]) >= 0).all()  # a better value never scores less
