"""Stage targets: the warning level (关注 / 警告 / 严重警告) by shortfall as of a date."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from jx_rules.stages import STAGE_PARAMS, due_stage, warning_levels
from jxcore.errors import DataError
from jxcore.models import Stage
from jxcore.params import check_params

D = dt.date
STAGES = (Stage(D(2010, 6, 30), 0.5), Stage(D(2010, 9, 30), 0.75), Stage(D(2010, 12, 31), 1.0))


def test_level_by_shortfall_against_the_milestone_due():
    values = [0.6, 0.5, 0.48, 0.44, 0.40, 0.39]  # due 30 June: 0.5
    got = warning_levels(values, STAGES, D(2010, 8, 15))
    assert got.dtype == np.int8
    assert got.tolist() == [0, 0, 1, 2, 2, 3]


def test_the_latest_milestone_due_counts():
    assert due_stage(STAGES, D(2010, 9, 30)) == STAGES[1]
    assert warning_levels([0.7, 0.7], STAGES, D(2010, 9, 30)).tolist() == [1, 1]
    assert warning_levels([0.7], STAGES, D(2010, 12, 31)).tolist() == [3]


def test_no_warning_before_the_first_milestone():
    assert warning_levels([0.0, 0.1], STAGES, D(2010, 6, 29)).tolist() == [0, 0]


def test_lower_is_better_and_absolute_shortfall():
    stages = [Stage(D(2010, 6, 30), 10)]  # at most 10 complaints by mid-year
    assert warning_levels([8, 10, 11.5, 13], stages, D(2010, 7, 1), direction="lower").tolist() == [0, 0, 2, 3]
    got = warning_levels([10.5, 11.5, 13], stages, D(2010, 7, 1), (0, 1, 2), direction="lower", relative=False)
    assert got.tolist() == [1, 2, 3]


def test_missing_data_is_an_error_naming_the_units_unless_told():
    with pytest.raises(DataError, match=r"QYJG.NJL.*humen"):
        warning_levels([0.5, np.nan], STAGES, D(2010, 7, 1), codes=["dongcheng", "humen"],
                       indicator="QYJG.NJL")
    assert warning_levels([np.nan], STAGES, D(2010, 7, 1), missing="exclude").tolist() == [0]
    assert warning_levels([np.nan], STAGES, D(2010, 7, 1), missing="zero").tolist() == [3]


def test_stage_params_reject_decreasing_thresholds():
    _, problems = check_params(STAGE_PARAMS, {"thresholds": [0.2, 0.1, 0]})
    assert problems and "increasing" in problems[0]
    values, problems = check_params(STAGE_PARAMS, {})
    assert not problems and values["thresholds"] == [0.0, 0.1, 0.2]
