"""End to end on a fresh JX_HOME: every year runs (demo data generated, manual files imported), and
the leadership review over the final results finds the planted units.

Hand check (`jx run --scheme guangdong --period Y --as-of Y-12-31 --json`): bottom three by total
2008 桥头 常平 东坑; 2009 桥头 凤岗 望牛墩; 2010 桥头 凤岗 中堂. 桥头 (planted weak 2008–2010) totals
about 400, below the pass line 600; 凤岗 (planted weak 2009–2010) about 645, above it.
"""

from __future__ import annotations

import json

import pytest

import jx_scheme_guangdong
from jx_outputs import services
from jx_outputs.view import RunView
from jxcore.cli import main
from jxcore.scheme import load_scheme
from jxcore.store import Store
from jxcore.testing import installed_registry


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("jxhome")
    runs = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JX_HOME", str(home))
        mp.delenv("JX_DATABASE_URL", raising=False)
        mp.delenv("JX_GUANGDONG_SOURCE_URL", raising=False)
        for year in (2007, 2008, 2009, 2010):
            final = ["--final"] if year < 2010 else []
            runs[year] = _run(["run", "--scheme", "guangdong", "--period", str(year), "--as-of", f"{year}-12-31",
                               "--json", *final])
        yield {"home": home, "runs": runs}


def _run(args):
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(args) == 0
    return json.loads(out.getvalue())


def _bottom(doc):
    return [u["code"] for u in doc["units"][-3:]]


def test_every_year_runs_and_the_planted_units_are_at_the_bottom(home):
    runs = home["runs"]
    assert all(len(doc["units"]) == 33 for doc in runs.values())
    assert sorted(_bottom(runs[2008])) == ["changping", "dongkeng", "qiaotou"]
    assert sorted(_bottom(runs[2009])) == ["fenggang", "qiaotou", "wangniudun"]
    assert sorted(_bottom(runs[2010])) == ["fenggang", "qiaotou", "zhongtang"]
    for doc in runs.values():  # size does not decide: neither the largest nor the smallest is first or last
        ends = {doc["units"][0]["code"], doc["units"][-1]["code"]}
        assert not ends & {"humen", "hongmei"}


def test_review_admonishes_two_and_reshuffles_the_one_below_the_pass_line(home):
    scheme = load_scheme(jx_scheme_guangdong.PACK_DIR, 2010, installed_registry())
    with Store.open(f"sqlite:///{home['home'] / 'jx.sqlite'}") as store:
        view = RunView.from_stored(store.latest_run("guangdong", 2010), scheme)
        finals = services.final_results(store, "guangdong", services.review_years(view))
        review = services.leadership_review(view, finals)
    assert review.missing == ()
    assert sorted(view.codes[review.admonition]) == ["fenggang", "qiaotou"]
    assert list(view.codes[review.reshuffle]) == ["qiaotou"]
    totals = {u["code"]: u["total"] for u in home["runs"][2010]["units"]}
    assert totals["qiaotou"] < 600 < totals["fenggang"]
    assert sum(total < 600 for total in totals.values()) == 1


def test_manual_files_were_imported_once_per_year_as_demo(home):
    with Store.open(f"sqlite:///{home['home'] / 'jx.sqlite'}") as store:
        entries = store.entries("guangdong", 2010)
        kinds = {e.kind for e in entries}
        assert kinds == {"spot_check", "inspection", "mystery_shopper", "acceptance", "honour", "discipline"}
        assert {e.entered_by for e in entries} == {"demo"}
        count = len(entries)
        # a second run of the same year imports nothing again
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("JX_HOME", str(home["home"]))
            _run(["run", "--scheme", "guangdong", "--period", "2010", "--as-of", "2010-06-30", "--json"])
        assert len(store.entries("guangdong", 2010)) == count
        visits = [e for e in entries if e.kind == "mystery_shopper"]
        assert len(visits) == 66  # two rounds × 33 branches
