"""`jx validate` checks the outputs' settings (settings.commendation, settings.leadership_review …)
with file:line, instead of the run failing on them later."""

from __future__ import annotations

import pytest

from jxcore.cli import main
from jxcore.testing import write_pack

PLAN = """\
period: 2010
scale: 100
outputs: [ranking, commendation, leadership_review, report]
settings:
  commendation: {top: 3, items: [A, NOPE]}
  leadership_review:
    bottom: 3
    pass_lin: 60
nodes:
  - code: A
    name: 甲
    points: 100
    rule: {name: base_score, params: {target: 1, step: 1, per_step_below: 1}}
    collector: {name: system_feed, params: {table: t}}
"""


@pytest.fixture
def pack(tmp_path, monkeypatch):
    monkeypatch.setenv("JX_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("JX_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("JX_PLUGINS", "jx_collectors.plugin,jx_rules.plugin,jx_outputs.plugin")
    return write_pack(tmp_path / "p", PLAN, scheme="name: p\nlanguage: zh\nsettings:\n  ranking: {ties: random}\n",
                      units=[{"code": "u1", "name": "一"}])


def test_validate_reports_every_bad_output_setting_with_file_and_line(pack, capsys):
    assert main(["validate", "--scheme", str(pack)]) == 2
    err = capsys.readouterr().err
    assert ("plans/2010.yaml:5: settings.commendation.items: items names NOPE, which the 2010 plan does not "
            "have") in err
    assert "plans/2010.yaml:8: settings.leadership_review.pass_lin: unknown setting 'pass_lin' (did you mean " \
           "'pass_line'?" in err
    assert "plans/2010.yaml:6: settings.leadership_review: missing required setting 'pass_line'" in err
    # from scheme.yaml, with its line; listed once though ranking and report both read it
    assert err.count("scheme.yaml:4: settings.ranking.ties: parameter 'ties' = 'random' is not one of") == 1


def test_a_fixed_plan_validates_and_a_missing_review_section_is_named(pack, capsys):
    plan = pack / "plans" / "2010.yaml"
    plan.write_text(PLAN.replace("NOPE", "A").replace("pass_lin", "pass_line"), encoding="utf-8")
    (pack / "scheme.yaml").write_text("name: p\n", encoding="utf-8")
    assert main(["validate", "--scheme", str(pack)]) == 0
    lines = PLAN.replace("NOPE", "A").splitlines()
    plan.write_text("\n".join(lines[:5] + lines[8:]) + "\n", encoding="utf-8")
    assert main(["validate", "--scheme", str(pack)]) == 2
    assert ("plans/2010.yaml:4: settings: scheme p lists the leadership_review output but has no "
            "settings.leadership_review") in capsys.readouterr().err


@pytest.mark.parametrize("line, problem", [("600.0001", "more than 3 decimals"), ("2000000", "within ±1,000,000")])
def test_a_pass_line_the_run_could_not_use_is_refused_at_validate(pack, capsys, line, problem):
    plan = pack / "plans" / "2010.yaml"
    plan.write_text(PLAN.replace("NOPE", "A").replace("pass_lin: 60", f"pass_line: {line}"), encoding="utf-8")
    (pack / "scheme.yaml").write_text("name: p\n", encoding="utf-8")
    assert main(["validate", "--scheme", str(pack)]) == 2
    err = capsys.readouterr().err
    assert "settings.leadership_review.pass_line" in err and problem in err
