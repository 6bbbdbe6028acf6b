"""Ranking, commendation, leadership review and warnings against hand-computed expectations."""

from __future__ import annotations

import datetime as dt

import attrs
import numpy as np
import pytest

from jx_outputs import services, tables
from jx_outputs.report import Report
from jx_outputs.view import RunView
from jxcore.errors import SchemeError
from jxcore.models import positions
from jxcore.ranking import rank_values
from outputs_kit import make_result, make_scheme, save


def codes(view, positions):
    return [view.codes[i] for i in positions]


def test_ranking_shared_ties_gaps_and_movement(store):
    scheme = make_scheme(n=4)
    before = RunView.from_stored(store.load_run(save(store, make_result(scheme, A1=[95, 90, 85, 80]))), scheme)
    now = RunView.from_result(make_result(scheme, A1=[60, 65, 60, 50], B1=[30, 30, 30, 30]))
    r = services.ranking(now, before)
    assert r.ranks.tolist() == [2, 1, 2, 4]
    assert codes(now, r.order) == ["u2", "u1", "u3", "u4"]
    assert r.gaps.tolist() == [5000, 0, 0, 10000]  # milli-points to the unit above
    assert r.moves.tolist() == [-1, 1, 1, 0]
    assert r.item_ranks["A"].tolist() == [2, 1, 2, 4]
    assert r.item_ranks["B"].tolist() == [1, 1, 1, 1]
    table = tables.ranking_table(Report(now))
    assert [tables.format_cell(row[-1], "move") for row in table.rows] == ["", "", "", ""]  # no previous run


def test_ranking_by_tie_break_order():
    scheme = make_scheme(n=3, settings={"ranking": {"ties": "order", "tie_break": ["B"]}})
    view = RunView.from_result(make_result(scheme, A1=[50, 60, 40], B1=[30, 20, 40]))
    assert view.ranks.tolist() == [2, 3, 1]  # all 80: B (30, 20, 40) decides
    assert services.ranking(view).item_ranks["A"].tolist() == [2, 1, 3]


def test_rank_values_and_align_are_vectorized_and_exact():
    assert rank_values(np.array([3, 5, 5, 1])).tolist() == [3, 1, 1, 4]
    assert rank_values(np.array([3, 5, 5, 1]), higher_first=False).tolist() == [2, 3, 3, 1]
    assert positions(["b", "a", "c"], ["a", "x", "c"]).tolist() == [1, -1, 2]
    assert positions([], ["a"]).tolist() == [-1]


COMMEND = {"commendation": {"top": 1, "items": ["B"], "exclude_if_deducted": ["WJKF"]}}


def test_commendation_top_ties_items_and_eligibility():
    scheme = make_scheme(settings=COMMEND)
    view = RunView.from_result(make_result(scheme, A1=[50, 45, 40, 50, 20], B1=[30, 25, 30, 10, 35],
                                           WJ1=[-5, 0, 0, 0, 0]))
    c = services.commendation(view)
    assert codes(view, c.top) == ["u2", "u3"]  # u1 (75) has a discipline deduction; u2 and u3 tie at 70
    assert codes(view, c.items["B"]) == ["u5"]
    assert codes(view, c.excluded) == ["u1"]
    table = tables.commendation_table(Report(view))
    assert [row[:3] for row in table.rows] == [("总分前 1 名", 1, "u2"), ("总分前 1 名", 2, "u3"),
                                               ("单项先进：乙项", 1, "u5")]
    assert table.notes == ("不参评（有 违纪扣分 扣分）: 单位1 (u1)",)


def test_bad_settings_name_every_problem():
    scheme = make_scheme(settings={"commendation": {"top": -1, "items": ["NOPE"], "extra": 1}})
    view = RunView.from_result(make_result(scheme, A1=[1, 2, 3, 4, 5]))
    with pytest.raises(SchemeError) as info:
        services.commendation(view)
    text = str(info.value)
    assert "3 problems" in text and "NOPE" in text and "'top' = -1 is below its minimum 0" in text
    assert "settings.commendation.extra: unknown setting 'extra'" in text


REVIEW = {"leadership_review": {"bottom": 2, "admonition_years": 2, "reshuffle_years": 3, "pass_line": 60}}
TOTALS = {2008: [90, 80, 70, 50, 40], 2009: [85, 50, 75, 45, 60], 2010: [88, 55, 80, 58, 70]}


def test_leadership_review_over_three_years_of_final_results(store):
    for year in (2008, 2009):
        save(store, make_result(make_scheme(year, REVIEW), A1=TOTALS[year], final=True))
    # A later, non-final 2009 run must not count: only final results are used.
    save(store, make_result(make_scheme(2009, REVIEW), A1=[10, 90, 90, 90, 90]))
    view = RunView.from_result(make_result(make_scheme(2010, REVIEW), A1=TOTALS[2010]))
    review = Report(view, store).review
    # Bottom 2: 2008 u5 u4; 2009 u4 u2; 2010 u2 u4. u4 three years running and 58 < 60.
    assert codes(view, review.admonition) == ["u2", "u4"]
    assert codes(view, review.reshuffle) == ["u4"]
    assert review.missing == ()
    assert sorted(review.bottom[2008]) == ["u4", "u5"]
    lower_line = attrs.evolve(view.scheme, settings={"leadership_review": {**REVIEW["leadership_review"],
                                                                           "pass_line": 55}})
    review = Report(attrs.evolve(view, scheme=lower_line), store).review
    assert codes(view, review.reshuffle) == [] and codes(view, review.admonition) == ["u2", "u4"]


def test_leadership_review_names_the_missing_year_and_the_command(store):
    save(store, make_result(make_scheme(2009, REVIEW), A1=TOTALS[2009], final=True))
    view = RunView.from_result(make_result(make_scheme(2010, REVIEW), A1=TOTALS[2010]))
    report = Report(view, store)
    assert report.review.missing == (2008,)
    assert codes(view, report.review.admonition) == ["u2", "u4"]
    assert codes(view, report.review.reshuffle) == []  # cannot be decided without 2008
    notes = tables.review_table(report).notes
    assert "2008 年没有最终结果（请运行 jx run --scheme demo --period 2008 --final）" in notes


def test_warnings_levels_and_what_is_new(store):
    scheme = make_scheme()
    before = make_result(scheme, A1=[1] * 5, values=[0.95, 0.95, 0.75, 0.5, 0.9], as_of=dt.date(2010, 6, 30))
    previous = RunView.from_stored(store.load_run(save(store, before)), scheme)
    view = RunView.from_result(make_result(scheme, A1=[1] * 5, values=[0.95, 0.85, 0.7, 0.5, 0.9],
                                           as_of=dt.date(2010, 7, 1)))
    w = services.warnings(view, previous)
    # shortfall of the 0.9 target: 5.6 % → 关注, 22 % → 严重警告, 44 % → 严重警告; before: u3 16.7 % → 警告
    assert w.indicators == ("A1",)
    assert w.levels[0].tolist() == [0, 1, 3, 3, 0]
    assert w.before[0].tolist() == [0, 0, 2, 3, 0]
    assert w.new[0].tolist() == [False, True, True, False, False]
    report = Report(attrs.evolve(view, run_id=None))
    report.__dict__["previous"] = previous
    rows = tables.warning_table(report).rows
    assert [(r[0], r[7], r[8]) for r in rows] == [("u3", "严重警告", "✓"), ("u4", "严重警告", ""), ("u2", "关注", "✓")]


def test_no_warning_before_the_first_milestone():
    view = RunView.from_result(make_result(make_scheme(), A1=[1] * 5, values=[0.0] * 5,
                                           as_of=dt.date(2010, 6, 29)))
    assert not services.warnings(view).levels.any()


def test_english_labels_for_other_languages():
    scheme = attrs.evolve(make_scheme(settings=COMMEND), language="en")
    view = RunView.from_result(make_result(scheme, A1=[50, 45, 40, 50, 20]))
    assert tables.commendation_table(Report(view)).rows[0][0] == "top 1 by total"


def test_services_work_on_30000_units():
    """Vectorized over 30,000 units (their speed is bench/scale.py's business, not a test's)."""
    n = 30_000
    rng = np.random.default_rng(1)
    scheme = make_scheme(settings={**COMMEND, **REVIEW}, n=n)
    view = RunView.from_result(make_result(scheme, A1=rng.integers(0, 60, n).tolist(),
                                           B1=rng.integers(0, 40, n).tolist(), values=rng.random(n)))
    ranking = services.ranking(view, view)
    assert sorted(ranking.ranks.tolist()) == sorted(view.ranks.tolist()) and (ranking.moves == 0).all()
    best = services.commendation(view)
    assert len(best.top) >= best.top_n and (view.totals[best.top] == view.totals.max()).all()  # ties share
    review = services.leadership_review(view, {2009: services.YearTotals.of(view, 2009), 2008: None})
    assert len(review.admonition) >= 3  # bottom 3 two years running (ties share a place)
    assert services.warnings(view, view).levels.shape[1] == n
