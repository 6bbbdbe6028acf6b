"""`jx validate` reports the rules' cross-parameter mistakes (lengths that must match, points above
the indicator's) with file:line and node code, all at once; scoring refuses them the same way, and
missing-data errors point at the rule's line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from jxcore.cli import main
from jxcore.errors import DataError, SchemeError
from jxcore.scheme import load_scheme
from jxcore.testing import build_scheme, installed_registry, run_scheme, score_rule, write_pack

COLLECTOR = "collector: {name: system_feed, params: {table: t}}"
PLAN = f"""\
period: 2010
scale: 100
nodes:
  - code: A
    name: 甲
    points: 100
    children:
      - code: A.BASE
        name: base
        points: 10
        rule: {{name: base_score, params: {{target: 1, step: 1, per_step_below: 1, base: 12}}}}
        {COLLECTOR}
      - code: A.BANDS
        name: bands
        points: 10
        rule: {{name: bands, params: {{bands: [[90, 12], [80, 8]], otherwise: 11}}}}
        {COLLECTOR}
      - code: A.PASS
        name: pass
        points: 4
        rule: {{name: pass_fail, params: {{target: 1, pass_points: 4.5, fail_points: 4}}}}
        {COLLECTOR}
      - code: A.STARS
        name: stars over
        points: 7
        rule: {{name: mystery_stars, params: {{points_by_star: [1, 3, 5, 7, 9]}}}}
        {COLLECTOR}
      - code: A.STARS2
        name: stars short
        points: 10
        rule: {{name: mystery_stars, params: {{bands: [80, 90], points_by_star: [2, 4, 6, 10]}}}}
        {COLLECTOR}
      - code: A.FINE
        name: fine
        points: 59
        rule: {{name: bands, params: {{bands: [[1, 59]], otherwise: 59}}}}
        {COLLECTOR}
  - code: R
    name: 奖励
    scoring: reward
    cap: 5
    children:
      - code: R.CASES
        name: cases
        points: 5
        rule: {{name: major_cases, params: {{class_bounds: [20000, 10000], points_by_class: [1, 2]}}}}
        {COLLECTOR}
"""


@pytest.fixture
def pack(tmp_path, monkeypatch):
    monkeypatch.setenv("JX_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("JX_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("JX_PLUGINS", "jx_collectors.plugin,jx_rules.plugin,jx_outputs.plugin")
    return write_pack(tmp_path / "p", PLAN, scheme="name: p\n", units=[{"code": "u1", "name": "一"}])


def test_validate_lists_every_rule_parameter_mistake_with_file_line_and_node(pack, capsys):
    assert main(["validate", "--scheme", str(pack)]) == 2
    err = capsys.readouterr().err
    expected = [
        "plans/2010.yaml:11: A.BASE: base 12 gives more points than the indicator has (10) "
        "(lower it to at most 10, or raise the indicator's points)",
        "plans/2010.yaml:16: A.BANDS: band [90, 12] gives more points than the indicator has (10)",
        "plans/2010.yaml:16: A.BANDS: otherwise 11 gives more points than the indicator has (10)",
        "plans/2010.yaml:21: A.PASS: pass_points 4.5 gives more points than the indicator has (4)",
        "plans/2010.yaml:26: A.STARS: points_by_star 9 (5★) gives more points than the indicator has (7)",
        "plans/2010.yaml:31: A.STARS2: 2 star bands make 3 ratings, and points_by_star has 4 entries "
        "(give points_by_star one entry per rating)",
        "plans/2010.yaml:46: R.CASES: 2 class bounds make 3 classes, and points_by_class has 2 entries "
        "(give points_by_class one entry per class)",
    ]
    for line in expected:
        assert line in err
    # what holds is not reported: band [80, 8], fail_points 4 on 4 points, 7 points on 7, A.FINE
    assert "[80, 8]" not in err and "fail_points" not in err and "points_by_star 7" not in err
    assert "A.FINE" not in err


def test_a_fixed_plan_validates(pack, capsys):
    fixed = (PLAN.replace("base: 12", "base: 8").replace("[90, 12]", "[90, 10]").replace("otherwise: 11", "")
             .replace("pass_points: 4.5", "pass_points: 4").replace("[1, 3, 5, 7, 9]", "[1, 3, 5, 6, 7]")
             .replace("[2, 4, 6, 10]", "[2, 6, 10]").replace("points_by_class: [1, 2]", "points_by_class: [1, 2, 3]"))
    (pack / "plans" / "2010.yaml").write_text(fixed, encoding="utf-8")
    assert main(["validate", "--scheme", str(pack)]) == 0, capsys.readouterr().err


def test_checks_apply_to_parameters_merged_from_the_plan_defaults():
    plan = {"defaults": {"rule": {"name": "bands", "params": {"bands": [[1, 8]]}},
                         "collector": {"name": "system_feed", "params": {"table": "t"}}},
            "nodes": [{"code": "A", "name": "a", "points": 100, "children": [
                {"code": "A.1", "name": "one", "points": 6},
                {"code": "A.2", "name": "two", "points": 94, "rule": {"params": {"otherwise": 2}}}]}]}
    with pytest.raises(SchemeError) as info:
        build_scheme(plan)
    problems = [(p.location.node, p.message) for p in info.value.problems]
    assert problems == [("A.1", "band [1, 8] gives more points than the indicator has (6)")]
    assert info.value.problems[0].location.file == "<plan>"


def test_scoring_refuses_the_same_mistakes_all_at_once():
    with pytest.raises(SchemeError) as info:
        score_rule("mystery_stars", points=7, params={"bands": [80, 90], "points_by_star": [2, 4, 9, 10]},
                   events=[], units=1)
    assert [p.message for p in info.value.problems] == [
        "2 star bands make 3 ratings, and points_by_star has 4 entries",
        "points_by_star 9 (3★) gives more points than the indicator has (7)",
        "points_by_star 10 (4★) gives more points than the indicator has (7)",
    ]
    with pytest.raises(SchemeError, match=r"fail_points 5 gives more points than the indicator has \(4\)"):
        score_rule("pass_fail", points=4, params={"target": 1, "fail_points": 5}, value=[1])


def test_a_rule_within_its_limits_scores():
    assert score_rule("mystery_stars", points=7, params={"bands": [80], "points_by_star": [3, 7]},
                      events=[{"unit": "u1", "score": 85}, {"unit": "u1", "score": 95}], units=1).tolist() == [7000]


def test_missing_data_names_the_rules_file_and_line(pack):
    (pack / "units.yaml").write_text("units:\n" + "".join(f"  - {{code: u{i}, name: u{i}}}\n" for i in (1, 2, 3)),
                                     encoding="utf-8")
    (pack / "plans" / "2010.yaml").write_text(
        "period: 2010\nscale: 100\nnodes:\n  - code: A\n    name: a\n    points: 100\n"
        "    rule: {name: bands, params: {bands: [[1, 100]]}}\n    " + COLLECTOR + "\n", encoding="utf-8")
    scheme = load_scheme(pack, 2010, registry=installed_registry())
    with pytest.raises(DataError) as info:
        run_scheme(scheme, measures={"A": [1, None, np.nan]})
    where = info.value.problems[0].location
    assert (Path(where.file).name, where.line, where.node) == ("2010.yaml", 7, "A")
    assert "no data for 2 unit(s): u2, u3" in info.value.message
