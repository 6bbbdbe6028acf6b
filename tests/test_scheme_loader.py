"""Loading scheme packs: files, YAML, scheme.yaml and units.yaml fields, periods, sources."""

from __future__ import annotations

import datetime as dt
import shutil
import textwrap
from pathlib import Path

import pytest

from jxcore.errors import SchemeError
from jxcore.models import NodeKind, Scoring
from jxcore.scheme import check_pack, load_pack, load_scheme, scheme_from_dict

MINI = Path(__file__).parent / "scheme_examples" / "mini"

SCHEME = """\
name: demo
title: Demo
"""
UNITS = """\
units:
  - {code: a, name: A, staff: 5, entities: 100}
  - {code: b, name: B}
"""
PLAN = """\
period: 2010
scale: 100
nodes:
  - code: X
    name: X
    points: 100
    rule: r
    collector: c
"""


def write_pack(root: Path, scheme: str = SCHEME, units: str | None = UNITS,
               plans: dict[str, str] | None = None) -> Path:
    """A pack in ``root``; ``plans`` maps file names (2010.yaml) to text. Texts are dedented."""
    (root / "plans").mkdir(parents=True)
    (root / "scheme.yaml").write_text(textwrap.dedent(scheme), encoding="utf-8")
    if units is not None:
        (root / "units.yaml").write_text(textwrap.dedent(units), encoding="utf-8")
    for name, text in (plans if plans is not None else {"2010.yaml": PLAN}).items():
        (root / "plans" / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def messages(path: Path) -> list[str]:
    return [str(p) for p in check_pack(path)]


def raised(path: Path, period: int | None = None) -> list[str]:
    with pytest.raises(SchemeError) as info:
        load_scheme(path, period)
    assert info.value.exit_code == 2
    return [str(p) for p in info.value.problems]


def test_mini_pack_loads_into_a_tree_in_written_order():
    scheme = load_scheme(MINI)
    assert list(scheme.nodes) == ["TOTAL", "QYJG", "QYJG.NJYZ", "QYJG.NJYZ.NJL", "QYJG.NJYZ.YZL",
                                  "QYJG.NJYZ.ZL", "DJ", "DJ.ZL", "JL", "JL.RY"]
    assert scheme.period.year == 2010 and scheme.scale == 100_000 and scheme.language == "zh"
    kinds = {code: node.kind for code, node in scheme.nodes.items()}
    assert kinds["TOTAL"] is NodeKind.ROOT and kinds["QYJG"] is NodeKind.ITEM
    assert kinds["QYJG.NJYZ"] is NodeKind.SUBITEM and kinds["DJ.ZL"] is NodeKind.INDICATOR
    assert scheme.node("QYJG.NJYZ.YZL").points == 19_500
    assert scheme.node("QYJG.NJYZ").children == ("QYJG.NJYZ.NJL", "QYJG.NJYZ.YZL", "QYJG.NJYZ.ZL")
    reward = scheme.node("JL")
    assert (reward.scoring, reward.cap, reward.points) == (Scoring.REWARD, 30_000, 30_000)
    assert scheme.node("JL.RY").scoring is Scoring.REWARD
    assert [n.code for n in scheme.items()] == ["QYJG", "DJ", "JL"]


def test_mini_pack_plugins_defaults_stages_departments_and_locations():
    scheme = load_scheme(MINI / "scheme.yaml", 2010)
    njl = scheme.node("QYJG.NJYZ.NJL")
    assert njl.rule.name == "base_score" and njl.rule.params == {"target": 0.9}
    assert njl.collector.name == "system_feed"
    assert njl.collector.params == {"source": "business", "table": "inspections"}
    assert njl.collector.location.line == 23 and njl.collector.location.node == "QYJG.NJYZ.NJL"
    assert scheme.node("JL.RY").collector.name == "manual"
    assert [s.date for s in njl.stages] == [dt.date(2010, 4, 30), dt.date(2010, 6, 30)]
    assert njl.department == "QYK"  # inherited from its item
    assert str(njl.location) == "plans/2010.yaml:19: QYJG.NJYZ.NJL"
    assert scheme.units[0].code == "humen" and scheme.units[0].extra == {"kind": "town"}
    assert scheme.settings == {"ranking": {"ties": "order"}}
    assert [(o.name, dict(o.params)) for o in scheme.outputs] == [("ranking", {}), ("commend", {"top": 1})]


def test_latest_plan_by_default_and_earlier_on_request():
    assert load_scheme(MINI).period.year == 2010
    assert list(load_scheme(MINI, 2009).nodes) == ["TOTAL", "DJ"]


def test_unknown_period_names_the_available_ones():
    (problem,) = raised(MINI, 2012)
    assert problem == ("plans: scheme mini has no plan for 2012 (the available periods are: 2009, 2010; "
                       "plans are files plans/<year>.yaml)")


def test_load_pack_reads_the_pack_and_lists_periods():
    info = load_pack(MINI)
    assert (info.name, info.title, info.language, info.periods) == ("mini", "迷你考核", "zh", [2009, 2010])
    assert info.path == MINI.absolute()


def test_source_url_env_wins_and_placeholders_expand(monkeypatch, tmp_path):
    monkeypatch.setenv("JX_HOME", str(tmp_path))
    monkeypatch.delenv("JX_MINI_SOURCE_URL", raising=False)
    assert load_pack(MINI).sources["business"].url == f"sqlite:///{tmp_path}/mini.sqlite"
    monkeypatch.setenv("JX_MINI_SOURCE_URL", "postgresql+psycopg://x@db/prod")
    assert load_pack(MINI).sources["business"].url == "postgresql+psycopg://x@db/prod"


def test_yaml_syntax_error_has_the_line(tmp_path):
    pack = write_pack(tmp_path, plans={"2010.yaml": "period: 2010\nnodes:\n  - code: [X\n    name: y\n"})
    (problem,) = raised(pack)
    assert problem.startswith("plans/2010.yaml:") and "YAML syntax error" in problem


def test_key_written_twice_is_reported(tmp_path):
    plan = PLAN + "    points: 100\n"
    (problem,) = raised(write_pack(tmp_path, plans={"2010.yaml": plan}))
    assert problem.startswith("plans/2010.yaml:9: key 'points' written twice in one mapping; also at line 6")


def test_missing_files_are_reported(tmp_path):
    (problem,) = raised(tmp_path / "nowhere")
    assert problem.startswith("scheme.yaml: file not found")
    pack = write_pack(tmp_path / "p", units=None, plans={})
    found = messages(pack)
    assert any(m.startswith("units.yaml: file not found") for m in found)
    assert "plans: scheme demo has no plans" in " | ".join(raised(pack))


def test_wrong_top_level_types(tmp_path):
    pack = write_pack(tmp_path, scheme="- name: demo\n", units="units: {a: 1}\n",
                      plans={"2010.yaml": "[1, 2]\n"})
    found = messages(pack)
    assert "scheme.yaml:1: scheme.yaml must be a mapping (key: value lines), not [{'name': 'demo'}]" in found
    assert any(m.startswith("units.yaml:1: 'units' must be a list") for m in found)
    assert any(m.startswith("plans/2010.yaml:1: a plan must be a mapping") for m in found)


def test_unknown_fields_in_scheme_yaml_list_the_known_ones(tmp_path):
    pack = write_pack(tmp_path, scheme=SCHEME + "titel: x\nsources:\n  s: {uri: x}\n")
    found = messages(pack)
    assert any(m.startswith("scheme.yaml:3: unknown field 'titel' in the scheme (did you mean 'title'?")
               for m in found)
    assert any(m.startswith("scheme.yaml:5: source s: unknown field 'uri'") for m in found)
    assert any(m.startswith("scheme.yaml:5: source s: missing field 'url'") for m in found)


def test_bad_scheme_name(tmp_path):
    found = messages(write_pack(tmp_path, scheme="name: Guang Dong\n"))
    assert any(m.startswith("scheme.yaml:1: scheme name 'Guang Dong' may only hold") for m in found)


def test_unit_problems(tmp_path):
    units = """\
    units:
      - {code: a, name: A}
      - {code: a, name: A2}
      - {code: b}
      - {code: c, name: C, staff: -1, entities: many}
    """
    found = messages(write_pack(tmp_path, units=units))
    assert "units.yaml:3: unit a: duplicate unit code a: also at units.yaml:2" in " | ".join(found)
    assert any(m.startswith("units.yaml:4: unit b: missing field 'name'") for m in found)
    assert any(m.startswith("units.yaml:5: unit c: 'staff' must be between 0 and 1,000,000,000,000, not -1")
               for m in found)
    assert any(m.startswith("units.yaml:5: unit c: 'entities' must be an integer, not 'many'") for m in found)


def test_plan_period_must_match_its_file_name(tmp_path):
    (problem,) = raised(write_pack(tmp_path, plans={"2011.yaml": PLAN}))
    assert problem.startswith("plans/2011.yaml:1: period 2010 does not match the plan's file name (2011)")


def test_plan_files_must_be_named_after_a_year(tmp_path):
    pack = write_pack(tmp_path, plans={"2010.yaml": PLAN, "draft.yaml": PLAN, "2011.YAML": PLAN,
                                       "2012.yaml.bak": PLAN, "README.md": "notes", ".2013.yaml.swp": ""})
    found = messages(pack)
    assert "plans/draft.yaml: plan file 'draft.yaml' is not named after its year, e.g. 2010.yaml " \
           "(rename the file or move it elsewhere)" in found
    assert "plans/2011.YAML: plan file '2011.YAML' is not named after its year, e.g. 2010.yaml " \
           "(rename it to 2011.yaml)" in found
    assert any(m.startswith("plans/2012.yaml.bak: plan file") for m in found)
    assert len(found) == 3  # README.md and hidden editor files are not plans


def test_check_pack_checks_every_plan(tmp_path):
    bad = PLAN.replace("points: 100", "points: 90")
    pack = write_pack(tmp_path, plans={"2009.yaml": bad.replace("2010", "2009"), "2010.yaml": bad})
    found = messages(pack)
    assert [m.split(":")[0] for m in found] == ["plans/2009.yaml", "plans/2010.yaml"]
    assert all("sum to 90, expected the scale 100" in m for m in found)


def test_pack_can_be_copied_and_loaded_from_elsewhere(tmp_path):
    shutil.copytree(MINI, tmp_path / "copy")
    assert load_scheme(tmp_path / "copy").path == tmp_path / "copy"


def test_scheme_from_dict_builds_the_same_tree():
    plan = {"scale": 10, "nodes": [{"code": "A", "name": "A", "points": 10, "rule": "r", "collector": "c"}]}
    scheme = scheme_from_dict(plan, units=[{"code": "u", "name": "U"}], period=2011)
    assert scheme.period.year == 2011 and scheme.name == "test"
    assert scheme.node("A").points == 10_000 and scheme.units[0].name == "U"
    with pytest.raises(SchemeError) as info:
        scheme_from_dict({**plan, "scale": 20}, units=[])
    found = [str(p) for p in info.value.problems]
    assert "<units>: there are no units (list the assessed units under units:)" in found
    assert any(m.startswith("<plan>: TOTAL: the weighted items' points sum to 10") for m in found)
