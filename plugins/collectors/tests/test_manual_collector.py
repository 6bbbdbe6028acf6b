"""The manual collector: events and values from imported entries, as of a date, as the rules read them."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from jxcore.engine import collect, score
from jxcore.errors import DataError
from jxcore.plugins import Registry, get_plugin_manager
from jxcore.store import Store
from manual_helpers import import_file, small_scheme, write_csv


@pytest.fixture
def registry():
    return Registry.from_plugin_manager(get_plugin_manager())


@pytest.fixture
def loaded(tmp_path):
    """A store holding spot checks, findings, visits and acceptances of the small scheme (humen, changan, hongmei)."""
    scheme = small_scheme()
    files = {
        "spot_check": "日期,单位,档案类别,档案号,瑕疵\n"
                      "2010-03-01,humen,登记,D1,beyond_authority;wrong_procedure\n"
                      "2010-03-02,humen,登记,D2,\n"
                      "2010-08-01,hongmei,登记,D3,beyond_authority\n",   # after the as-of date
        "inspection": "日期,单位,问题类型,督察人\n2010-02-01,hongmei,absent,张\n2010-02-03,hongmei,无故缺岗,李\n",
        "mystery_shopper": "轮次,日期,单位,得分\n1,2010-03-01,humen,95\n2,2010-06-01,humen,85\n"
                           "1,2010-03-01,changan,70\n2,2010-06-01,changan,81\n1,2010-03-01,hongmei,50\n"
                           "2,2010-06-01,hongmei,64\n",
        "acceptance": "项目,单位,得分,日期\n无照清理,humen,80,2010-06-20\n无照清理,hongmei,40,2010-06-20\n",
    }
    store = Store.open(f"sqlite:///{tmp_path / 'jx.sqlite'}")
    for kind, text in files.items():
        import_file(store, scheme, kind, write_csv(tmp_path / f"{kind}.csv", text), user="t")
    yield scheme, store
    store.close()


def test_events_and_values_as_of_a_date(loaded, registry):
    scheme, store = loaded
    got = collect(scheme, registry, scheme.unit_table(), dt.date(2010, 6, 30), given={}, store=store)
    spot = got["YW.DJCC"].events
    assert spot["unit"].tolist() == [0, 0]  # two defects of one registration sheet of humen
    assert spot["kind"].tolist() == ["beyond_authority", "wrong_procedure"]
    assert spot["date"].tolist() == [dt.date(2010, 3, 1)] * 2
    assert got["YW.DJCC"].value.tolist() == [2.0, 0.0, 0.0]
    assert got["YW.DJCC"].columns["entries"].tolist() == [2.0, 0.0, 0.0]  # sheets checked
    assert got["YW.DC"].events["kind"].tolist() == ["absent", "absent"]  # description mapped to the code
    visits = got["YW.AF"]
    assert visits.events["score"].tolist() == [95.0, 70.0, 50.0, 85.0, 81.0, 64.0]
    assert visits.value.tolist() == [90.0, 75.5, 57.0]
    assert np.isnan(got["YW.YS"].value[1]) and got["YW.YS"].value[[0, 2]].tolist() == [80.0, 40.0]
    assert "spot_check.csv (sha256" in got["YW.DJCC"].source


def test_the_rules_score_the_collected_events(loaded, registry):
    scheme, store = loaded
    units = scheme.unit_table()
    as_of = dt.date(2010, 12, 31)
    got = collect(scheme, registry, units, as_of, given={}, store=store, only={"manual"})
    scores = score(scheme, registry, units, got, as_of)
    assert scores["YW.DJCC"].tolist() == [6_500, 10_000, 8_000]  # humen −2 −1.5; hongmei's August sheet counts now
    assert scores["YW.DC"].tolist() == [10_000, 10_000, 8_000]   # hongmei: two absences
    assert scores["YW.AF"].tolist() == [10_000, 6_000, 2_000]    # averages 90 → 5★, 75.5 → 3★, 57 → 1★
    assert scores["YW.YS"].tolist() == [10_000, 0, 0]             # 80 passes, none, 40 fails


def test_without_a_store_the_collector_says_it_needs_one(registry):
    scheme = small_scheme()
    with pytest.raises(DataError, match="reads the entries in the store, and this run has no store"):
        collect(scheme, registry, scheme.unit_table(), dt.date(2010, 6, 30), given={}, store=None)


def test_validate_reports_unknown_where_fields_and_non_numeric_columns(registry):
    from jxcore.errors import SchemeError
    from jxcore.scheme import scheme_from_dict
    from manual_helpers import CHECKLISTS, UNITS, indicator

    plan = {"scale": 20, "nodes": [{"code": "YW", "name": "业务", "points": 20, "children": [
        indicator("YW.CC", {"name": "per_event", "params": {"deductions": {"beyond_authority": 2}}},
                  "spot_check", where={"archiv": "registration"}),
        indicator("YW.AF", {"name": "mystery_stars", "params": {"points_by_star": [2, 4, 6, 8, 10]}},
                  "mystery_shopper", value="mean", column="round_name"),
    ]}]}
    with pytest.raises(SchemeError) as info:
        scheme_from_dict(plan, units=UNITS, name="mini", settings={"checklists": CHECKLISTS}, registry=registry)
    text = str(info.value)
    assert "YW.CC: manual collector: spot_check entries have no field 'archiv'" in text
    assert "YW.AF: manual collector: value mean needs a numeric field, and 'round_name' is not one" in text


def test_a_misspelt_checklist_code_is_refused_before_any_run_instead_of_giving_full_points(loaded, registry):
    from jxcore.errors import SchemeError
    from jxcore.scheme import scheme_from_dict
    from manual_helpers import CHECKLISTS, PLAN, UNITS

    scheme, store = loaded
    bad = {**PLAN, "nodes": [{**PLAN["nodes"][0], "children": [
        {**PLAN["nodes"][0]["children"][0],
         "collector": {"name": "manual", "params": {"kind": "spot_check", "where": {"archive": "registraton"}}}},
        *PLAN["nodes"][0]["children"][1:]]}]}
    with pytest.raises(SchemeError, match="where archive: 'registraton' is not a code of checklist 'archive'"):
        scheme_from_dict(bad, units=UNITS, name="mini", settings={"checklists": CHECKLISTS}, registry=registry)
    scheme = scheme_from_dict(bad, units=UNITS, name="mini", settings={"checklists": CHECKLISTS})  # unchecked
    with pytest.raises(SchemeError, match="where archive: 'registraton' is not a code of checklist 'archive'"):
        collect(scheme, registry, scheme.unit_table(), dt.date(2010, 6, 30), given={}, store=store)
