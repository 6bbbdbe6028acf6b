"""Entries count exactly once, where the bureau meant them to (issue 11's defects, as tests).

Runs against the installed manual collector through jxcore.services: the same rules as `jx import`,
`jx entry add` and the web forms.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jxcore import services
from jxcore.errors import AccessDenied, DataError, LockedError, UsageError
from jxcore.plugins import Registry, get_plugin_manager
from jxcore.scheme import scheme_from_dict
from jxcore.store import Store

UNITS = [{"code": "humen", "name": "虎门", "staff": 50, "entities": 50000},
         {"code": "changan", "name": "长安", "staff": 30, "entities": 28000},
         {"code": "hongmei", "name": "洪梅", "staff": 8, "entities": 2300}]


def ind(code: str, dept: str, kind: str, rule: dict, **params) -> dict:
    return {"code": code, "name": code, "points": 10, "department": dept, "rule": rule,
            "collector": {"name": "manual", "params": {"kind": kind, **params}}}


PER_EVENT = {"name": "per_event", "params": {"deductions": {"absent": 1, "beyond_authority": 2, "facts_unclear": 2,
                                                            "vehicle_misuse": 1}}}
PLAN = {"scale": 60, "nodes": [{"code": "YW", "name": "业务", "points": 60, "children": [
    ind("DJCC", "DJK", "spot_check", PER_EVENT, where={"archive": "registration"}),  # 登记档案抽查: DJK
    ind("AJCC", "JCK", "spot_check", PER_EVENT, where={"archive": "case"}),  # 案件档案抽查: JCK
    ind("AFQG", "DCK", "inspection", PER_EVENT, where={"finding": "absent", "note": "暗访发现"}),
    ind("NWJC", "RSK", "inspection", PER_EVENT, where={"finding": "vehicle_misuse"}),  # 内务检查: 人事科
    ind("AF", "DJK", "mystery_shopper", {"name": "mystery_stars", "params": {"points_by_star": [2, 4, 6, 8, 10]}}),
    ind("YS", "QYK", "acceptance", {"name": "pass_fail", "params": {"target": 60, "missing": "zero"}}),
]}]}
CHECKLISTS = {"inspection": {"absent": "无故缺岗", "vehicle_misuse": "公车私用"}}


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.from_plugin_manager(get_plugin_manager())


@pytest.fixture
def scheme():
    return scheme_from_dict(PLAN, units=UNITS, name="mini",
                            settings={"checklists": CHECKLISTS, "records": {"inspection_kinds": ["inspection"]}})


@pytest.fixture
def store(tmp_path):
    with Store.open(f"sqlite:///{tmp_path / 'jx.sqlite'}") as opened:
        yield opened


def csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


INSPECTIONS = ("日期,单位,问题类型,说明,督察人\n2010-02-01,humen,absent,暗访发现,张\n"
               "2010-02-03,changan,absent,暗访发现,李\n2010-03-05,hongmei,absent,暗访发现,王\n")


def measure(store, registry, scheme, code: str) -> np.ndarray:
    from jxcore.engine import collect

    return collect(scheme, registry, scheme.unit_table(), dt.date(2010, 12, 31), given={}, store=store)[code].value


def test_the_same_rows_from_another_file_are_refused_naming_the_stored_entry(store, registry, scheme, tmp_path):
    services.import_file(store, registry, scheme, "inspection", csv(tmp_path / "a.csv", INSPECTIONS), user="t")
    more = INSPECTIONS + "2010-04-01,humen,absent,暗访发现,赵\n"
    with pytest.raises(DataError) as caught:
        services.import_file(store, registry, scheme, "inspection", csv(tmp_path / "b.csv", more), user="t")
    text = str(caught.value.render())
    assert "row 2: the same inspection entry is stored already: #1 from a.csv row 2" in text
    assert "supersedes = 1" in text
    assert len(store.entries("mini", 2010)) == 3
    assert measure(store, registry, scheme, "AFQG").tolist() == [1.0, 1.0, 1.0]


def test_a_second_visit_of_one_round_in_another_file_is_refused(store, registry, scheme, tmp_path):
    visits = "轮次,日期,单位,得分\n2,2010-06-01,humen,90\n"
    services.import_file(store, registry, scheme, "mystery_shopper", csv(tmp_path / "v1.csv", visits), user="t")
    again = "轮次,日期,单位,得分\n2,2010-06-03,humen,40\n"
    with pytest.raises(DataError, match="the same mystery_shopper entry is stored already: #1 from v1.csv"):
        services.import_file(store, registry, scheme, "mystery_shopper", csv(tmp_path / "v2.csv", again), user="t")
    assert measure(store, registry, scheme, "AF")[0] == 90.0


def test_an_entry_that_feeds_no_indicator_is_refused_naming_what_the_indicators_expect(store, registry, scheme):
    fields = {"date": "2010-03-01", "unit": "虎门", "finding": "absent", "inspector": "张三"}  # no note
    with pytest.raises(DataError) as caught:
        services.enter(store, registry, scheme, "inspection", fields, user="t")
    text = caught.value.render()
    assert "counts in no indicator of the 2010 plan" in text
    assert "AFQG AFQG: inspection entries with finding absent, note 暗访发现" in text
    assert store.entries("mini", 2010) == []


def test_corrections_by_file_and_withdrawals_of_entries_and_batches(store, registry, scheme, tmp_path):
    first = services.import_file(store, registry, scheme, "inspection", csv(tmp_path / "a.csv", INSPECTIONS),
                                 user="t")
    assert measure(store, registry, scheme, "AFQG").tolist() == [1.0, 1.0, 1.0]
    fix = "日期,单位,问题类型,说明,督察人,supersedes,reason\n2010-02-03,changan,absent,暗访发现,李四,2,督察人姓名写错\n"
    services.import_file(store, registry, scheme, "inspection", csv(tmp_path / "fix.csv", fix), user="t")
    assert len(store.entries("mini", 2010)) == 3
    with pytest.raises(DataError, match="supersedes #999999, which is not an entry of the store"):
        services.enter(store, registry, scheme, "inspection", {"date": "2010-05-01", "unit": "humen", "finding":
                       "absent", "note": "暗访发现", "inspector": "x"}, user="t", supersedes=999999, reason="r")
    with pytest.raises(DataError, match="#2 is superseded by #4 already"):
        services.withdraw(store, registry, scheme, [2], reason="wrong", user="t")
    done = services.withdraw(store, registry, scheme, [1], reason="不是本单位", user="t")
    assert done.entry_ids == (1,) and done.feeds == {"AFQG": 1}
    assert measure(store, registry, scheme, "AFQG").tolist() == [0.0, 1.0, 1.0]
    services.withdraw(store, registry, scheme, batch_id=first.batch_id, reason="整批作废", user="t")
    assert measure(store, registry, scheme, "AFQG").tolist() == [0.0, 1.0, 0.0]  # the correction still counts
    history = services.entry_history(store, 2)
    assert history.superseded_by.id == 4 and not history.live
    assert services.entry_history(store, 1).withdrawn.reason == "不是本单位"
    assert services.verify_store(store).ok


def test_a_correction_must_replace_a_live_entry_of_its_own_kind(store, registry, scheme, tmp_path):
    services.import_file(store, registry, scheme, "inspection", csv(tmp_path / "a.csv", INSPECTIONS), user="t")
    visit = {"round": "1", "date": "2010-05-02", "unit": "humen", "score": "80"}
    with pytest.raises(DataError, match="supersedes #1, a inspection entry of mini 2010, not a mystery_shopper"):
        services.enter(store, registry, scheme, "mystery_shopper", visit, user="t", supersedes=1, reason="x")


def test_a_withdrawal_under_a_lock_is_refused(store, registry, scheme, tmp_path):
    services.add_user(store, "admin1", role="admin")
    services.import_file(store, registry, scheme, "inspection", csv(tmp_path / "a.csv", INSPECTIONS), user="admin1")
    services.lock(store, "mini", 2010, user="admin1", until=dt.date(2010, 6, 30))
    with pytest.raises(LockedError):
        services.withdraw(store, registry, scheme, [1], reason="late", user="admin1")
    assert measure(store, registry, scheme, "AFQG").tolist() == [1.0, 1.0, 1.0]


# The access matrix, per indicator: who may enter which entry is decided by what the entry feeds.
ENTRIES = {
    "registration spot check": ("spot_check", {"date": "2010-03-01", "unit": "humen", "archive": "registration",
                                               "file_no": "D1", "defects": "beyond_authority"}, {"DJCC"}),
    "case spot check": ("spot_check", {"date": "2010-03-01", "unit": "humen", "archive": "case", "file_no": "A1",
                                       "defects": "facts_unclear"}, {"AJCC"}),
    "internal inspection": ("inspection", {"date": "2010-03-01", "unit": "humen", "finding": "vehicle_misuse",
                                           "note": "内务检查", "inspector": "周敏"}, {"NWJC"}),
    "team inspection": ("inspection", {"date": "2010-03-02", "unit": "humen", "finding": "absent",
                                       "note": "暗访发现", "inspector": "张"}, {"AFQG"}),
    "visit": ("mystery_shopper", {"round": "1", "date": "2010-05-01", "unit": "humen", "score": "80"}, {"AF"}),
    "acceptance": ("acceptance", {"project": "x", "unit": "humen", "score": "80", "date": "2010-06-01"}, {"YS"}),
}
PEOPLE = {"djk": ("clerk", "DJK"), "jck": ("clerk", "JCK"), "rsk": ("clerk", "RSK"), "qyk": ("clerk", "QYK"),
          "dck_inspector": ("inspector", "DCK"), "viewer": ("viewer", None), "boss": ("admin", None)}


def expected(person: str, entry: str, scheme) -> bool:
    role, dept = PEOPLE[person]
    kind, _, feeds = ENTRIES[entry]
    if role == "admin":
        return True
    if role == "viewer":
        return False
    if role == "inspector" and kind == "inspection":
        return True
    return all(scheme.nodes[code].department == dept for code in feeds)


def test_the_access_matrix_per_indicator_has_no_wrong_allow_and_no_wrong_denial(store, registry, scheme):
    services.add_user(store, "boss", role="admin")
    for name, (role, dept) in PEOPLE.items():
        if name != "boss":
            services.add_user(store, name, role=role, department=dept, by="boss")
    wrong = []
    for person in PEOPLE:
        for entry, (kind, fields, feeds) in ENTRIES.items():
            report = None
            try:
                report = services.enter(store, registry, scheme, kind, fields, user=person, preview=True)
                allowed = True
            except AccessDenied:
                allowed = False
            if allowed != expected(person, entry, scheme):
                wrong.append((person, entry, allowed))
            if report is not None:
                assert set(report.feeds) == feeds
    assert wrong == []
    # the two cases of the issue: no clerk could enter 业务抽查, 人事科 could not enter its 内务检查
    assert expected("djk", "registration spot check", scheme) and expected("jck", "case spot check", scheme)
    assert expected("rsk", "internal inspection", scheme)
    assert store.entries("mini", 2010) == []  # previews store nothing


def test_a_refusal_is_logged(store, registry, scheme):
    services.add_user(store, "boss", role="admin")
    services.add_user(store, "djk", role="clerk", department="DJK", by="boss")
    kind, fields, _ = ENTRIES["case spot check"]
    with pytest.raises(AccessDenied, match=r"djk \(clerk of DJK\) may not enter this spot_check entry.*AJCC \(JCK\)"):
        services.enter(store, registry, scheme, kind, fields, user="djk")
    assert [r.allowed for r in services.access_log(store, user="djk")] == [False]


def test_an_unknown_kind_is_a_usage_error(store, registry, scheme):
    with pytest.raises(UsageError, match="unknown kind of entry 'votes'"):
        services.enter(store, registry, scheme, "votes", {}, user="t")


# Any sequence of imports, re-imports under other names, corrections and withdrawals leaves every
# measure equal to a plain reference over the live entries: no row counts twice.

ROWS = [(day, unit, inspector) for day in ("2010-02-01", "2010-02-02") for unit in ("humen", "changan", "hongmei")
        for inspector in ("张", "李")]
step = st.one_of(
    st.tuples(st.just("import"), st.lists(st.sampled_from(range(len(ROWS))), min_size=1, max_size=4, unique=True)),
    st.tuples(st.just("correct"), st.integers(0, 40)),
    st.tuples(st.just("withdraw"), st.integers(0, 40)),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=1, max_size=8))
def test_any_sequence_keeps_every_measure_equal_to_the_live_entries(tmp_path_factory, registry, scheme, steps):
    folder = tmp_path_factory.mktemp("seq")
    with Store.open(f"sqlite:///{folder / 'jx.sqlite'}") as store:
        live: dict[int, str] = {}  # entry id → unit, the reference
        for n, (what, arg) in enumerate(steps):
            try:
                if what == "import":
                    text = "日期,单位,问题类型,说明,督察人\n" + "".join(
                        f"{ROWS[i][0]},{ROWS[i][1]},absent,暗访发现,{ROWS[i][2]}\n" for i in arg)
                    report = services.import_file(store, registry, scheme, "inspection",
                                                  csv(folder / f"f{n}.csv", text), user="t")
                    live.update({i: ROWS[k][1] for i, k in zip(report.entry_ids, arg)})
                elif what == "correct" and live:
                    old = sorted(live)[arg % len(live)]
                    unit = live[old]
                    report = services.enter(store, registry, scheme, "inspection", {
                        "date": "2010-03-01", "unit": unit, "finding": "absent", "note": "暗访发现",
                        "inspector": f"更正{n}"}, user="t", supersedes=old, reason="更正")
                    del live[old]
                    live[report.entry_ids[0]] = unit
                elif what == "withdraw" and live:
                    old = sorted(live)[arg % len(live)]
                    services.withdraw(store, registry, scheme, [old], reason="撤回", user="t")
                    del live[old]
            except DataError:
                pass  # refused (a key already live): the reference does not change
            reference = np.bincount([["humen", "changan", "hongmei"].index(u) for u in live.values()],
                                    minlength=3).astype(float)
            assert measure(store, registry, scheme, "AFQG").tolist() == reference.tolist()
        stored = store.entries("mini", 2010, kinds=["inspection"])
        assert sorted(e.id for e in stored) == sorted(live)
        assert len({e.natural_key for e in stored}) == len(stored)
