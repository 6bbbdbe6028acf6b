"""Diff (checked by hand for 2009 → 2010), effective weights, what-if (equal to a real run), lint, CLI."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pytest

from jxcore import services
from jxcore.cli import main
from jxcore.services import plan_analysis, plans
from jxcore.store import Store
from jxcore.testing import installed_registry

SCHEME = "guangdong"
GUANGDONG = Path(__file__).resolve().parents[1] / "schemes" / "guangdong" / "jx_scheme_guangdong" / "scheme"


@pytest.fixture(scope="module")
def registry():
    return installed_registry()


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """One JX_HOME (demo data generated once) and a store holding the pack's plans and 2009's final run."""
    path = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JX_HOME", str(path))
        patch.setenv("JX_DATABASE_URL", f"sqlite:///{path / 'jx.sqlite'}")
        registry = installed_registry()
        with Store.open() as store:
            plans.import_pack(store, registry, SCHEME, user="局长")
            services.run(store, registry, services.open_scheme(registry, SCHEME, 2009), final=True, actor="局长")
        yield path


@pytest.fixture
def store(home, monkeypatch, tmp_path):
    """A copy of the module's store, so a test may write to it."""
    monkeypatch.setenv("JX_HOME", str(home))
    url = f"sqlite:///{tmp_path / 'jx.sqlite'}"
    shutil.copy(home / "jx.sqlite", tmp_path / "jx.sqlite")
    monkeypatch.setenv("JX_DATABASE_URL", url)
    with Store.open(url) as opened:
        yield opened


def jx(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


# -- diff ---------------------------------------------------------------------------------------

def test_the_diff_of_2009_to_2010_by_hand(store, registry):
    result = plan_analysis.diff_refs(store, registry, SCHEME, "2009", "2010")
    assert (result.a_label, result.b_label) == ("2009v1", "2010v1")
    items = {n.code: n for n in result.items()}
    # BRIEF.md's table, on the 1000-point scale: points and shares of the 100 %
    expected = {"DJZC": (100, 80), "ZFBA": (130, 200), "SCJG": (260, 230), "QYJG": (330, 340), "SBGG": (70, 70),
                "XXDY": (60, 80)}
    for code, (a, b) in expected.items():
        assert (items[code].points_a, items[code].points_b) == (a * 1000, b * 1000), code
        assert (items[code].share_a, items[code].share_b) == (a / 1000, b / 1000), code
        assert ("points" in items[code].changes) is (a != b)
    assert items["ZFHF"].changes == ("removed",) and items["ZFHF"].share_a == 0.05
    assert items["NWGL"].changes == ("added",) and (items["NWGL"].scoring, items["NWGL"].cap_b) == ("deduction", 20000)
    assert items["JLJF"].changes == () and (items["JLJF"].cap_a, items["JLJF"].cap_b) == (30000, 30000)
    root = result.node("GD2010")
    assert root.changes == ("renamed",)
    assert root.details == ("renamed 2009年度基层单位绩效考核 → 2010年度基层单位绩效考核",)
    # named indicators, read off plans/2009.yaml and plans/2010.yaml
    asbj = result.node("DJZC.XL.ASBJ")
    assert (asbj.points_a, asbj.points_b) == (11000, 9000)
    assert "rule base_score: cap: 1.1 → 0.9; per_step_below: 1.3 → 1.1; target: 0.96 → 0.97" in asbj.details
    assert result.node("ZFBA.FK.JAL").changes == ("added",) and result.node("ZFBA.FK.JAL").points_b == 8000
    assert result.node("ZFHF.DC.WT").changes == ("removed",)
    assert "collector system_feed: where: {'year': 2009} → {'year': 2010}" in result.node("QYJG.HJ.XXWZ").details
    assert result.node("SBGG").changes == () and result.count("moved") == 0
    # removed nodes sit after their 2009 siblings: ZFHF's subtree right after SBGG's
    codes = [n.code for n in result.nodes]
    assert codes.index("ZFHF") > codes.index("SBGG") and codes.index("ZFHF.DC.WT") < codes.index("XXDY")


def test_effective_weights_come_from_last_years_final_run_and_add_up(store, registry):
    result = plan_analysis.diff_refs(store, registry, SCHEME, "2009", "2010")
    assert result.reference.startswith("run ") and "(2009, final, as of 2009-12-31)" in result.reference
    items = result.items()
    assert sum(n.effective for n in items if n.effective is not None) == pytest.approx(1.0)
    assert result.node("NWGL").effective is None  # not in 2009's plan: no data to weigh it with
    qyjg = result.node("QYJG")
    kids = [n for n in result.nodes
            if n.code.startswith("QYJG.") and n.code.count(".") == 1 and "added" not in n.changes]
    assert sum(k.effective for k in kids) == pytest.approx(qyjg.effective)
    run = store.latest_run(SCHEME, 2009, final_only=True)
    total, scores = run.totals.astype(float), run.node_scores("QYJG").astype(float)
    assert qyjg.effective == pytest.approx(np.cov(scores, total)[0, 1] / np.var(total, ddof=1))


def test_effective_weights_of_totals_that_do_not_vary_are_left_out():
    assert plan_analysis.effective_weights(np.array([[5, 5], [2, 2], [3, 3]]), ["T", "A", "B"]) == {}
    assert plan_analysis.effective_weights(np.array([[4, 6], [1, 3], [3, 3]]), ["T", "A", "B"]) == {
        "T": 1.0, "A": 1.0, "B": 0.0}


def test_tree_compare_is_the_weight_table_of_the_diff(registry):
    table = plan_analysis.weight_table([services.open_scheme(registry, SCHEME, y) for y in (2009, 2010)])
    rows = {r.code: r for r in table.weighted}
    assert rows["ZFHF"].cells == (50000, None) and rows["ZFBA"].cells == (130000, 200000)
    assert {r.code: r.cells for r in table.outside}["NWGL"] == (None, 20000)


def test_diff_on_the_command_line_with_a_workbook(store, capsys, tmp_path):
    code, out, err = jx(capsys, "plan", "diff", "2009", "2010", "--scheme", SCHEME, "--xlsx", str(tmp_path / "d.xlsx"))
    assert code == 0, err
    assert "ZFBA" in out and "13.0 → 20.0" in out and "42 added, 7 removed" in out
    from openpyxl import load_workbook

    missing_dir = tmp_path / "no" / "d.xlsx"
    code, _, err = jx(capsys, "plan", "diff", "2009", "2010", "--scheme", SCHEME, "--xlsx", str(missing_dir))
    assert code == 2 and "cannot write the workbook" in err and "Traceback" not in err
    sheet = load_workbook(tmp_path / "d.xlsx")["diff"]
    rows = {r[0].strip(): r for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert rows["ZFBA"][4:8] == (130, 200, 13.0, 20.0)


# -- what-if ------------------------------------------------------------------------------------

def test_whatif_equals_a_real_run_of_the_draft(store, registry):
    """2009's plan moved to 2010, scored on 2010's data beside the plan in force, then run for real."""
    draft = plan_analysis.renumbered(services.open_scheme(registry, SCHEME, 2009), 2010)
    baseline = services.open_scheme(registry, SCHEME, 2010)
    as_of = dt.date(2010, 9, 30)
    real_base = services.run(store, registry, baseline, as_of=as_of)  # the demo's first 2010 run imports its entries
    runs_before = [r.id for r in store.runs(SCHEME)]
    result = plan_analysis.whatif(store, registry, draft, baseline, as_of=as_of)
    assert [r.id for r in store.runs(SCHEME)] == runs_before  # the what-if stored nothing
    real = services.run(store, registry, draft, as_of=as_of)
    at = {code: i for i, code in enumerate(real.units.codes)}
    for unit in result.units:
        i = at[unit.code]
        assert (unit.total_after, unit.rank_after) == (int(real.totals[i]), int(real.ranks[i]))
        assert (unit.total_before, unit.rank_before) == (int(real_base.totals[i]), int(real_base.ranks[i]))
    np.testing.assert_array_equal(result.draft.scores, real.scores)
    # statuses: the outputs' own picks on each real run
    from jx_outputs.services import commendation_statuses

    before = commendation_statuses(services.RunView.from_result(real_base))["commended"]
    after = commendation_statuses(services.RunView.from_result(real))["commended"]
    gained = {u.code for u in result.units if "commended" in u.gained}
    lost = {u.code for u in result.units if "commended" in u.lost}
    codes = np.asarray(real.units.codes)
    assert gained == set(codes[after & ~before]) and lost == set(codes[before & ~after])
    assert {"commended", "admonition", "reshuffle"} <= set(result.statuses)
    assert result.changed_status(), "two plans this far apart change someone's status"
    for unit in result.changed_status():
        assert unit.movers and all(d != 0 for _, d in unit.movers)


def test_whatif_of_a_plan_beside_itself_changes_nothing(store, registry):
    plan = services.open_scheme(registry, SCHEME, 2010)
    result = plan_analysis.whatif(store, registry, plan, plan, as_of=dt.date(2010, 6, 30))
    assert all(u.total_before == u.total_after and not u.movers for u in result.units)
    assert result.changed_status() == []


def test_whatif_on_last_years_data_renumbers_the_draft(store, registry, capsys, tmp_path):
    result = plan_analysis.whatif_for(store, registry, SCHEME, "2010", data="last-year")
    assert (result.period, result.as_of) == (2009, dt.date(2009, 12, 31))
    assert (result.baseline_label, result.draft_label) == ("2009v1", "2010v1 on 2009's data")
    final = store.latest_run(SCHEME, 2009, final_only=True)
    at = {c: i for i, c in enumerate(final.unit_codes)}
    assert all(u.total_before == int(final.totals[at[u.code]]) for u in result.units)  # the published result
    code, out, err = jx(capsys, "plan", "whatif", "2010", "--data", "last-year", "--scheme", SCHEME, "--all",
                        "--xlsx", str(tmp_path / "w.xlsx"))
    assert code == 0, err
    assert "units change status" in out and "of 33 change rank" in out and (tmp_path / "w.xlsx").exists()


# -- lint ---------------------------------------------------------------------------------------

def test_lint_names_the_node_and_the_lectures_reason(store, registry):
    plan = services.open_scheme(registry, SCHEME, 2010)
    reference = store.latest_run(SCHEME, 2009, final_only=True)
    found = plan_analysis.lint(plan, reference=reference, max_indicators=100, max_item_share=0.3)
    kinds = {(w.kind, w.node) for w in found}
    assert ("too_many", "GD2010") in kinds and ("item_share", "QYJG") in kinds
    assert all(w.reason == plan_analysis.REASONS[w.kind] for w in found)
    for w in (w for w in found if w.kind == "no_separation"):
        assert plan.nodes[w.node].scoring.value == "weighted"
        scores = reference.node_scores(w.node)
        assert np.unique(scores, return_counts=True)[1].max() >= 0.9 * len(scores)
    assert not [w for w in plan_analysis.lint(plan) if w.kind in ("too_many", "item_share")]  # defaults: 200, 35 %


def test_lint_finds_indicators_that_did_not_separate_and_rewards_that_outweigh():
    from jxcore.scheme import scheme_from_dict

    plan = scheme_from_dict({"code": "T", "scale": 10, "nodes": [
        {"code": "A", "name": "业务", "points": 2, "children": [
            {"code": "A.1", "name": "一", "points": 1, "rule": "linear", "collector": "system_feed"},
            {"code": "A.2", "name": "二", "points": 1, "rule": "linear", "collector": "system_feed"}]},
        {"code": "B", "name": "业务二", "points": 8, "children": [
            {"code": "B.1", "name": "三", "points": 8, "rule": "linear", "collector": "system_feed"}]},
        {"code": "J", "name": "奖励", "scoring": "reward", "cap": 3, "children": [
            {"code": "J.1", "name": "加分", "points": 3, "rule": "linear", "collector": "system_feed"}]}]},
        units=[{"code": f"u{i}", "name": f"u{i}"} for i in range(10)])

    class Run:
        period, node_codes = 2009, ("T", "A", "A.1", "A.2", "B", "B.1", "J", "J.1")

        def node_scores(self, code):
            if code == "J.1":  # a reward nobody earned: rare by design, not judged
                return np.zeros(10, dtype=np.int64)
            return np.array([1000] * 9 + [0]) if code == "A.1" else np.arange(10) * 100

    found = plan_analysis.lint(plan, reference=Run(), max_item_share=0.9)
    assert [(w.kind, w.node) for w in found] == [("no_separation", "A.1"), ("reward_outweighs", "J")]
    assert "9 of 10 scored 1" in found[0].message and "业务 (2)" in found[1].message


def test_lint_finds_changes_to_a_published_plan_without_an_approval(store, registry, tmp_path):
    pack = tmp_path / "pack"
    shutil.copytree(GUANGDONG, pack)
    path = pack / "plans" / "2009.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("name: 2009年度", "name: 2009年度修订", 1),
                    encoding="utf-8")
    changed = services.open_scheme(registry, str(pack), 2009)
    services.run(store, registry, changed, as_of=dt.date(2009, 6, 30))  # a run with the edited copy
    version = plans.get_version(store, SCHEME, 2009)
    found = plan_analysis.lint(changed, store=store, version=version, installed=changed)
    unapproved = [w for w in found if w.kind == "unapproved"]
    assert len(unapproved) == 2 and "(its YAML was changed)" in unapproved[0].message
    assert "as of 2009-06-30 was scored with a plan that is no published version" in unapproved[1].message
    draft = plans.new_version(store, registry, SCHEME, 2011, source="2010", user="a")
    consulted = plan_analysis.lint(draft.plan(), store=store, version=draft)
    assert [w.kind for w in consulted if w.kind == "not_consulted"] == ["not_consulted"]
    plans.submit(store, draft, user="a")
    assert "not_consulted" not in {w.kind for w in plan_analysis.lint(draft.plan(), store=store,
                                                                       version=plans.get_version(store, SCHEME, 2011))}


# -- the command line ---------------------------------------------------------------------------

def test_the_whole_workflow_on_the_command_line(store, capsys, tmp_path):
    def ok(*args):
        return jx(capsys, *args, "--scheme", SCHEME)

    code, out, err = ok("plan", "new", "2011", "--from", "2010")
    assert code == 0 and "plan guangdong 2011v1: draft (from 2010v1)" in out, err
    assert ok("plan", "submit", "2011")[1] == "plan guangdong 2011v1: consultation\n"
    assert "comment #1 on DJZC" in ok("plan", "comment", "2011", "DJZC", "权重偏低")[1]
    code, _, err = ok("plan", "approve", "2011", "--meeting", "局务会议", "--minutes", "纪要1号")
    assert code == 2 and "unanswered comments" in err
    assert "answer #2 to comment #1" in ok("plan", "answer", "2011", "1", "已采纳")[1]
    assert "approved" in ok("plan", "approve", "2011", "--meeting", "局务会议", "--minutes", "纪要1号")[1]
    assert "published" in ok("plan", "publish", "2011v1")[1]
    code, out, _ = ok("plan", "show", "2011")
    assert "consultation → approved  by" in out and "[局务会议; 纪要1号]" in out and "↳ answer to #1" in out
    code, out, _ = ok("plan", "list", "--period", "2011")
    assert out.startswith("2011v1\tpublished\t")
    code, out, _ = ok("plan", "export", "2011", "--pack", str(tmp_path / "pack"))
    assert code == 0
    from jxcore.engine import scheme_digest
    from jxcore.scheme import load_scheme

    assert scheme_digest(load_scheme(tmp_path / "pack", 2011)) == plans.get_version(store, SCHEME, 2011).digest
    code, out, _ = ok("plan", "export", "2011")
    assert out.startswith("# 东莞市工商局基层单位绩效考核: plan 2011") and "code: GD2011" in out
    code, out, _ = ok("plan", "lint", "2011")
    assert code == 0 and out.rstrip().endswith("warnings")
    # a mid-year change of 2010: exported, edited, imported, consulted, approved, published, run
    changed = tmp_path / "2010.yaml"
    assert ok("plan", "export", "2010", "--out", str(changed))[0] == 0
    changed.write_text(changed.read_text(encoding="utf-8").replace("name: 年检率", "name: 年检完成率", 1),
                       encoding="utf-8")
    assert "2010v2: draft (version 2" in ok("plan", "import", str(changed))[1]
    code, out, err = ok("plan", "run", "2010v2", "--as-of", "2010-03-31")
    assert code == 2 and "runs score with the published plan" in err
    for step in (("submit", "2010v2"), ("approve", "2010v2", "--meeting", "局务会议", "--minutes", "纪要5号"),
                 ("publish", "2010v2")):
        assert ok("plan", *step)[0] == 0
    code, out, err = ok("plan", "run", "2010", "--as-of", "2010-03-31")
    assert code == 0, err
    assert "= 2010v2 (not the installed plan)" in jx(capsys, "runs", "--scheme", SCHEME, "--period", "2010")[1]


def test_bad_input_on_the_command_line_exits_2_with_the_place(store, capsys, tmp_path):
    code, _, err = jx(capsys, "plan", "show", "2010v7", "--scheme", SCHEME)
    assert code == 2 and "no plan version 2010v7" in err and "2010v1" in err
    bad = tmp_path / "2012.yaml"
    bad.write_text("period: 2012\nnodes:\n  - code: A\n    name: 甲\n    points: 5\n", encoding="utf-8")
    code, _, err = jx(capsys, "plan", "import", str(bad), "--scheme", SCHEME)
    assert code == 2 and "2012.yaml:3: A: indicator A has no rule" in err and "Traceback" not in err
    code, _, err = jx(capsys, "plan", "comment", "2010", "DJZC", "x", "--scheme", SCHEME)
    assert code == 2 and "published, not out for comments" in err
