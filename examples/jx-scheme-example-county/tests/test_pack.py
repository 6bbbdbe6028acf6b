"""The pack: it validates, its plans score as the bureau's document says, and it runs on its demo data.

Expected points are worked out by hand from the figures in ``jx_scheme_example_county.demo``.
"""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from jx_scheme_example_county import demo
from jx_scheme_example_county.pack import PACK_DIR
from jxcore.engine import run_scheme as run_with_collectors
from jxcore.scheme import check_pack, load_scheme
from jxcore.testing import SchemeOutcome, installed_registry, run_scheme

UNITS = ["dipu", "xiaofeng", "meixi", "xilong", "tianhuangping", "hanggai", "baofu", "zhangcun"]


def test_every_plan_is_valid_with_the_installed_plugins():
    assert check_pack(PACK_DIR, installed_registry()) == []


def test_the_2012_plan_scores_given_measures():
    scheme = load_scheme(PACK_DIR, 2012, installed_registry())
    outcome = run_scheme(scheme, measures={
        "DJ.ASBJ": [0.95, 0.9, 0.85, 1, 0.9, 0.875, 1, 0.75],
        "ZF.RJBA": [5, 4, 6, 3, 4, 2, 3.5, 4],
        "ZF.ASJA": [0.9, 0.9375, 1, 0.75, 0.85, 1, 13 / 14, 11 / 12],
        "SC.XC": [3, 4, 5, 3, 2, 1, 3, 3],
        "SC.TSCL": [0.95, 1, 0.9, 1, 0.9, 1, 1, 1],
    })
    outcome.assert_scores({
        # 0.75 is 15 steps below 0.9: -30 points, down to 0 (扣完为止); 11/12 closed: +1.667
        "zhangcun": {"DJ.ASBJ": 0, "ZF.RJBA": 16, "ZF.ASJA": 21.667, "SC.XC": 16, "AJ2012": 73.667},
        # the best in cases per head and patrols; 18/20 complaints on time is 5 steps short: 20 - 5 × 2
        "meixi": {"ZF.RJBA": 20, "SC.XC": 20, "SC.TSCL": 10, "AJ2012": 82},
    })
    assert outcome.rank("xiaofeng") == 1 and outcome.rank("tianhuangping") == 8


def test_demo_rows_match_the_figures(tmp_path):
    path = demo.ensure(tmp_path / "demo.sqlite")
    with sqlite3.connect(path) as con:
        cases = con.execute("SELECT count(*), sum(closed_in_time) FROM cases "
                            "WHERE unit_code = 'dipu' AND opened_on BETWEEN '2012-01-01' AND '2012-12-31'").fetchone()
        first_half = con.execute("SELECT count(*) FROM patrols WHERE unit_code = 'meixi' "
                                 "AND patrol_on BETWEEN '2012-01-01' AND '2012-06-30'").fetchone()
    assert cases == (70, 63)
    assert first_half == (75,)  # 150 patrols spread evenly over 2012: half by 30 June
    assert demo.ensure(path) == path and demo.current(path)


@pytest.fixture
def jx_home(tmp_path, monkeypatch):
    monkeypatch.setenv("JX_HOME", str(tmp_path))
    monkeypatch.delenv("EXAMPLE_COUNTY_SOURCE_URL", raising=False)
    return tmp_path


def test_2011_end_to_end_on_the_demo_database(jx_home):
    registry = installed_registry()
    scheme = load_scheme(PACK_DIR, 2011, registry)
    result = run_with_collectors(scheme, registry, as_of=dt.date(2011, 12, 31))
    assert (jx_home / "data" / "example-county-demo.sqlite").exists()
    SchemeOutcome(result).assert_scores({
        # 33/36 registrations in time: capped at 30 + 3; 4 cases per head is the best: 20;
        # 50/56 closed in time: capped at 20 + 2; 28/30 complaints on time: above 0.9, 30
        "dipu": {"DJ": 33, "ZF": 42, "SC": 30, "AJ2011": 105},
        # 5/6 in time: 1.667 steps below 0.85, -3.333 each; 1.5 cases per head of the best 4: 7.5
        "hanggai": {"DJ.ASBJ": 26.667, "ZF.RJBA": 7.5, "ZF.ASJA": 16.667, "AJ2011": 80.834},
    })
