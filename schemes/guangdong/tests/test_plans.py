"""The plans 2007–2010: BRIEF.md's weights, the 2010 plan's size and named examples, and the rules
of its indicators on hand-made units (through jxcore.testing)."""

from __future__ import annotations

import re

import pytest

import jx_scheme_guangdong
from jxcore.cli import main
from jxcore.models import NodeKind, Scoring
from jxcore.scheme import load_scheme
from jxcore.testing import installed_registry, make_units, run_scheme, score_rule

PACK = jx_scheme_guangdong.PACK_DIR


@pytest.fixture(scope="module")
def registry():
    return installed_registry()


@pytest.fixture(scope="module")
def plan2010(registry):
    return load_scheme(PACK, 2010, registry)


def test_every_plan_is_valid_with_the_installed_plugins(registry):
    for year in (2007, 2008, 2009, 2010):
        scheme = load_scheme(PACK, year, registry)
        assert scheme.scale == 1_000_000  # 1000 points
        weighted = [n for n in scheme.items() if n.scoring is Scoring.WEIGHTED]
        assert sum(n.points for n in weighted) == 1_000_000


def test_the_2010_plan_has_brief_md_s_size(plan2010):
    kinds = [n.kind for n in plan2010.nodes.values()]
    assert kinds.count(NodeKind.ITEM) == 10
    assert kinds.count(NodeKind.SUBITEM) == 78
    assert kinds.count(NodeKind.INDICATOR) == 178
    assert [n.name for n in plan2010.items()] == ["登记注册", "执法办案", "市场监管", "企业监管", "商标广告管理",
                                                  "信息调研信访统计", "督察工作", "内务管理", "奖励加分", "违纪扣分"]
    scoring = {n.code: n.scoring for n in plan2010.items()}
    assert scoring["JLJF"] is Scoring.REWARD and scoring["WJKF"] is Scoring.DEDUCTION
    assert scoring["DCGZ"] is Scoring.DEDUCTION  # 督察工作: business item fed by inspection findings


def test_every_2010_indicator_is_complete(plan2010):
    departments = re.compile(r"^(DJK|JCK|FZK|SCK|XBK|QYK|SBK|BGS|DCS|RSK|JJS|CWK)$")
    for node in plan2010.indicators():
        assert re.search(r"[\u4e00-\u9fff]", node.name), node.code
        assert node.department and departments.match(node.department), node.code
        assert node.rule and node.collector, node.code
    rules = {n.rule.name for n in plan2010.indicators()}
    assert rules == {"base_score", "deduct_only", "bands", "pass_fail", "per_event", "mystery_stars", "honours",
                     "major_cases", "workload", "discipline"}


def test_brief_md_s_named_examples(plan2010):
    children = {n.name: [c.name for c in plan2010.children(n.code)] for n in plan2010.nodes.values()}
    assert {"日常监管", "重点及主管行业无照经营清理", "年检验照"} <= set(children["企业监管"])
    assert children["年检验照"] == ["年检质量", "年检率", "验照率"]
    patrol = plan2010.node("SCJG.XC.WCL")
    assert patrol.name == "巡查计划完成率" and patrol.rule.name == "deduct_only"
    assert [s.date.isoformat() for s in plan2010.node("QYJG.NJYZ.NJL").stages] == ["2010-04-30", "2010-05-31",
                                                                                   "2010-06-30"]
    assert [s.date.isoformat() for s in plan2010.node("XXDY.DY.BGS").stages] == ["2010-06-30"]
    assert plan2010.settings["leadership_review"]["pass_line"] == 600
    assert plan2010.settings["commendation"]["exclude_if_deducted"] == ["WJKF"]


def _rule(plan, code):
    node = plan.node(code)
    return node.rule.name, dict(node.rule.params), node.points / 1000


def test_market_patrols_deduct_only(plan2010, registry):
    name, params, points = _rule(plan2010, "SCJG.XC.WCL")
    assert (params, points) == ({"target": 1.02, "step": 0.02, "per_step_below": 1.9}, 27)
    got = score_rule(name, points=points, params=params, value=[1.5, 1.02, 0.92, 0.0], registry=registry)
    assert (got / 1000).tolist() == [27, 27, 17.5, 0]  # five steps below: −9.5; far above the plan earns nothing


def test_mystery_shopper_stars_from_two_visits(plan2010, registry):
    name, params, points = _rule(plan2010, "DJZC.FW.AF")
    visits = [{"unit": "u1", "score": 95}, {"unit": "u1", "score": 85}, {"unit": "u2", "score": 70},
              {"unit": "u2", "score": 68}, {"unit": "u3", "score": 99}]
    got = score_rule(name, points=points, params={**params, "missing": "zero"}, units=3, events=visits,
                     registry=registry)
    assert params["points_by_star"] == [1.4, 2.8, 4.2, 5.6, 7]
    assert (got / 1000).tolist() == [7, 2.8, 0]  # 90 → 5★; 69 → 2★; one visit: no rating


def test_major_cases_by_size_class(plan2010, registry):
    name, params, points = _rule(plan2010, "JLJF.DYA.DYA")
    units = make_units([{"code": c, "entities": e} for c, e in
                        (("humen", 50_000), ("qingxi", 15_300), ("shijie", 10_500), ("qishi", 4_800))])
    got = score_rule(name, points=points, params=params, units=units, value=[1, 1, 1, 2], registry=registry)
    assert (got / 1000).tolist() == [3, 4.5, 6, 12]  # class 5 (under 5,000): 2 × 9 = 18, capped at 12


def test_honours_take_the_highest_only(plan2010, registry):
    name, params, points = _rule(plan2010, "JLJF.RY.JTRY")
    events = [{"unit": "u1", "kind": "town"}, {"unit": "u1", "kind": "city"}, {"unit": "u1", "kind": "province"},
              {"unit": "u2", "kind": "national"}, {"unit": "u2", "kind": "town"}]
    scores = score_rule(name, points=points, params=params, units=3, events=events, registry=registry)
    assert scores.tolist() == [4000, 6000, 0]  # milli-points


def test_inspection_findings_deduct_under_the_inspection_item(registry):
    """督察工作 is a deduction item: per_event gives the deduction, at most the indicator's points."""
    plan = {"period": 2010, "scale": 100, "nodes": [
        {"code": "A", "name": "业务", "points": 100, "children": [
            {"code": "A.1", "name": "x", "points": 100, "rule": {"name": "pass_fail", "params": {"target": 1}},
             "collector": "manual_stub"}]},
        {"code": "DC", "name": "督察工作", "scoring": "deduction", "cap": 5, "children": [
            {"code": "DC.QG", "name": "无故缺岗", "points": 4,
             "rule": {"name": "per_event", "params": {"deductions": {"absent": 1.5}}}, "collector": "manual_stub"}]}]}
    scheme = load_scheme_from_dict(plan, registry)
    events = [{"unit": "u1", "kind": "absent"}, {"unit": "u2", "kind": "absent"}, {"unit": "u2", "kind": "absent"},
              {"unit": "u2", "kind": "absent"}]
    outcome = run_scheme(scheme, measures={"A.1": [1, 1, 1], "DC.QG": {"value": [0, 0, 0], "events": events}},
                         registry=registry)
    outcome.assert_scores({"u1": {"DC": -1.5, "TOTAL": 98.5}, "u2": {"DC": -4, "TOTAL": 96},
                           "u3": {"DC": 0, "TOTAL": 100}})


def load_scheme_from_dict(plan, registry):
    from jxcore.testing import build_scheme

    # the measures are given: the collector is never called
    for item in plan["nodes"]:
        for child in item["children"]:
            child["collector"] = {"name": "system_feed", "params": {"table": "unused"}}
    return build_scheme(plan, registry=registry)


def test_compare_reproduces_brief_md_s_weight_table(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("JX_HOME", str(tmp_path))
    assert main(["tree", "--scheme", "guangdong", "--compare", "2007", "2008", "2009", "2010"]) == 0
    out = capsys.readouterr().out
    weighted, outside = out.split("outside the 100 %")
    rows = {}
    for line in weighted.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃]", line) if c.strip()]
        if len(cells) == 5:
            rows[cells[0]] = cells[1:]
    assert list(rows)[1:] == ["DJZC 登记注册", "ZFBA 执法办案", "SCJG 市场监管", "QYJG 企业监管", "GFZS 规费征收",
                              "SBGG 商标广告管理", "NWGL 内务管理", "ZFHF 政风行风建设", "XXDY 信息调研信访统计",
                              "total"]
    assert rows["DJZC 登记注册"] == ["16", "11", "10", "8"]
    assert rows["ZFBA 执法办案"] == ["16", "16", "13", "20"]
    assert rows["SCJG 市场监管"] == ["17", "23", "26", "23"]
    assert rows["QYJG 企业监管"] == ["29", "30", "33", "34"]
    assert rows["GFZS 规费征收"] == ["2", "—", "—", "—"]
    assert rows["SBGG 商标广告管理"] == ["7", "7", "7", "7"]
    assert rows["NWGL 内务管理"] == ["3", "3", "—", "—"]
    assert rows["ZFHF 政风行风建设"] == ["—", "—", "5", "—"]
    assert rows["XXDY 信息调研信访统计"] == ["10", "10", "6", "8"]
    assert rows["total"] == ["100", "100", "100", "100"]
    # outside the 100 %: caps, and 内务管理 as a deduction item in 2010
    assert re.search(r"JLJF 奖励加分\s*│ \+30\s*│ \+30\s*│ \+30\s*│ \+30", outside)
    assert re.search(r"NWGL 内务管理\s*│ —\s*│ —\s*│ —\s*│ −20", outside)


def test_years_without_compare_are_a_usage_error(capsys):
    assert main(["tree", "--scheme", "guangdong", "2009"]) == 2
    assert "--compare" in capsys.readouterr().err
