"""Event kinds to positions in a rule's kind list: the same answer as one text compare per kind."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from jx_rules._kinds import kind_index
from jxcore.testing import score_rule

SEVERITIES = ["warning", "demerit", "major_demerit", "demotion", "dismissal", "criminal"]

# Short texts over few letters make shared prefixes, equal lengths and near misses common;
# the CJK and astral characters check that code points above 0xFFFF and wide gaps work.
texts = st.text(alphabet="abd警告𝔸", max_size=4)


def compare_each(kinds: np.ndarray, names: list[str]) -> np.ndarray:
    """What the rules did before: one compare per name, the last equal name winning."""
    out = np.full(len(kinds), -1)
    for i, name in enumerate(names):
        out[kinds == name] = i
    return out


@given(st.lists(texts, min_size=1, max_size=8), st.lists(texts, max_size=40), st.data())
def test_same_as_one_compare_per_kind(names, others, data):
    rows = others + data.draw(st.lists(st.sampled_from(names), max_size=40))
    kinds = np.array(data.draw(st.permutations(rows)) if rows else [], dtype=str)
    np.testing.assert_array_equal(kind_index(kinds, names), compare_each(kinds, names))


def test_severities_that_share_their_first_letters():
    kinds = np.array(["demotion", "demerit", "dismissal", "warning", "demo", "demerits", "criminal"])
    # major_demerit is longer than any row, so no row can be it
    assert kind_index(kinds, SEVERITIES).tolist() == [3, 1, 4, 0, -1, -1, 5]


def test_a_strided_column_and_chinese_kinds():
    kinds = np.array(["警告", "x", "记过", "x", "记大过", "x", "开除", "x"])[::2]
    assert kind_index(kinds, ["记过", "警告", "记大过"]).tolist() == [1, 0, 2, -1]


def test_no_rows_and_no_name_that_fits():
    assert kind_index(np.array([], dtype=str), ["a"]).tolist() == []
    assert kind_index(np.array(["ab", "c"]), ["abc", "abcd"]).tolist() == [-1, -1]


def test_discipline_with_its_default_severities():
    events = {"unit": [0, 0, 1, 2, 2], "kind": ["demerit", "demotion", "dismissal", "warning", "criminal"],
              "at_fault": [True, True, True, False, True]}
    got = score_rule("discipline", points=10, events=events, units=3)
    # u1: demerit 2 + demotion 4; u2: dismissal 5; u3: criminal 10 (the warning was not its fault)
    assert got.tolist() == [-6000, -5000, -10000]
