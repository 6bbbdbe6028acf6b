"""The jx command line: exit codes (0 ok, 1 failed run, 2 bad input), messages, no tracebacks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from jxcore.cli import main
from jxcore.testing import write_pack

GUANGDONG = Path(__file__).parent.parent / "schemes" / "guangdong" / "jx_scheme_guangdong" / "scheme"


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("JX_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("JX_DATABASE_URL", raising=False)
    return tmp_path / "home"


def jx(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def toy_pack(tmp_path: Path, plan: str, outputs: str = "[]") -> Path:
    return write_pack(tmp_path / "pack", plan, scheme=f"name: toy\ntitle: Toy\nunits: units.yaml\noutputs: {outputs}\n",
                      units=[{"code": "a", "name": "A", "staff": 1, "entities": 1},
                             {"code": "b", "name": "B", "staff": 2, "entities": 2}])


PLAN = """\
    period: 2010
    scale: 100
    nodes:
      - code: X
        name: item
        points: 100
        children:
          - {code: X.1, name: one, points: 100, rule: RULE, collector: test_ones}
"""


def test_help_works(capsys):
    code, out, _ = jx(capsys, "--help")
    assert code == 0
    for command in ("run", "validate", "tree", "plugins", "schemes"):
        assert command in out


def test_unknown_scheme_is_a_usage_error_listing_installed_ones(capsys):
    code, _, err = jx(capsys, "run", "--scheme", "atlantis")
    assert code == 2
    assert err.startswith("error: unknown scheme 'atlantis'")
    assert "guangdong" in err
    assert "Traceback" not in err


def test_bad_date_is_a_usage_error(capsys):
    code, _, err = jx(capsys, "run", "--scheme", "guangdong", "--as-of", "30/06/2010")
    assert code == 2
    assert "'30/06/2010' is not a date" in err


def test_as_of_outside_the_period_is_a_usage_error(capsys):
    code, _, err = jx(capsys, "run", "--scheme", "guangdong", "--period", "2010", "--as-of", "2011-01-05")
    assert code == 2
    assert "outside period 2010" in err


def test_unknown_period_names_the_available_ones(capsys):
    code, _, err = jx(capsys, "tree", "--scheme", "guangdong", "--period", "1999")
    assert code == 2
    assert "1999" in err and "2010" in err


def test_failing_rule_fails_the_run_with_exit_1_and_names_the_rule(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("JX_PLUGINS", "failing_plugin")
    pack = toy_pack(tmp_path, PLAN.replace("RULE", "test_crashing"))
    code, _, err = jx(capsys, "run", "--scheme", str(pack), "--db", f"sqlite:///{tmp_path / 's.sqlite'}")
    assert code == 1
    assert "rule 'test_crashing' on indicator X.1 failed: ZeroDivisionError: the rule divided by zero" in err
    assert "Traceback" not in err


def test_debug_shows_the_traceback(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("JX_PLUGINS", "failing_plugin")
    pack = toy_pack(tmp_path, PLAN.replace("RULE", "test_crashing"))
    with pytest.raises(Exception, match="divided by zero"):
        main(["--debug", "run", "--scheme", str(pack), "--db", f"sqlite:///{tmp_path / 's.sqlite'}"])


def test_failing_output_stores_nothing(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("JX_PLUGINS", "failing_plugin")
    pack = toy_pack(tmp_path, PLAN.replace("RULE", "test_full"), outputs="[test_exploding]")
    db = f"sqlite:///{tmp_path / 's.sqlite'}"
    code, _, err = jx(capsys, "run", "--scheme", str(pack), "--db", db)
    assert code == 1
    assert "output 'test_exploding' failed: RuntimeError: the printer caught fire" in err
    from jxcore.store import Store

    store = Store.open(db)
    try:
        assert store.runs("toy") == []
    finally:
        store.close()


def test_run_json_on_a_small_pack(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("JX_PLUGINS", "failing_plugin")
    pack = toy_pack(tmp_path, PLAN.replace("RULE", "test_full"))
    code, out, err = jx(capsys, "run", "--scheme", str(pack), "--json", "--as-of", "2010-03-01",
                        "--db", f"sqlite:///{tmp_path / 's.sqlite'}")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["as_of"] == "2010-03-01"
    assert [(u["code"], u["total"], u["rank"], u["items"]) for u in doc["units"]] == [
        ("a", 100, 1, {"X": 100}), ("b", 100, 1, {"X": 100})]


def test_validate_broken_copy_lists_every_problem_with_file_and_line(capsys, tmp_path):
    pack = tmp_path / "guangdong"
    shutil.copytree(GUANGDONG, pack)
    plan = pack / "plans" / "2010.yaml"
    text = plan.read_text(encoding="utf-8")
    text = text.replace("name: base_score, params: {target: 0.97,", "name: base_scor, params: {target: 0.97,", 1)
    text = text.replace("    points: 200\n", "    points: 210\n", 1)
    text = text.replace("code: QYJG.NJYZ.YZL", "code: QYJG.NJYZ.NJL", 1)
    plan.write_text(text, encoding="utf-8")
    code, out, err = jx(capsys, "validate", "--scheme", str(pack))
    assert code == 2
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) >= 4, err
    assert all("2010.yaml:" in line for line in lines), err
    assert any("base_scor" in line for line in lines)
    assert any("duplicate code QYJG.NJYZ.NJL" in line for line in lines)
    assert any("ZFBA" in line and "210" in line for line in lines)


def test_validate_the_installed_pack(capsys):
    code, out, err = jx(capsys, "validate", "--scheme", "guangdong")
    assert code == 0, err
    assert out.startswith("ok: scheme guangdong")


def test_tree_shows_the_plan(capsys):
    code, out, _ = jx(capsys, "tree", "--scheme", "guangdong", "--period", "2010")
    assert code == 0
    for text in ("企业监管", "年检验照", "年检率", "验照率", "base_score"):
        assert text in out


def test_names_print_as_they_are_in_tables_and_the_tree(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("JX_PLUGINS", "failing_plugin")
    plan = PLAN.replace("RULE", "test_full").replace("name: item", "name: '[试点]项目'")
    pack = write_pack(tmp_path / "pack", plan, scheme="name: toy\ntitle: Toy\nunits: units.yaml\noutputs: [ranking]\n",
                      units=[{"code": "a", "name": "[bold]东城[/bold]", "staff": 1, "entities": 1},
                             {"code": "b", "name": "虎门:ok:分局", "staff": 2, "entities": 2}])
    code, out, err = jx(capsys, "tree", "--scheme", str(pack))
    assert code == 0, err
    assert "X [试点]项目  100" in out
    code, out, err = jx(capsys, "run", "--scheme", str(pack), "--as-of", "2010-03-01",
                        "--db", f"sqlite:///{tmp_path / 's.sqlite'}")
    assert code == 0, err
    assert "[bold]东城[/bold]" in out and "虎门:ok:分局" in out


@pytest.mark.slow
def test_run_guangdong_json_ranks_33_units(capsys, tmp_path):
    code, out, err = jx(capsys, "run", "--scheme", "guangdong", "--json",
                        "--db", f"sqlite:///{tmp_path / 's.sqlite'}")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["scheme"] == "guangdong" and doc["period"] == 2010
    assert len(doc["units"]) == 33
    assert sorted(u["rank"] for u in doc["units"])[0] == 1
    names = {u["name"] for u in doc["units"]}
    assert {"虎门", "洪梅", "松山湖"} <= names
    assert set(doc["units"][0]["items"]) == {"DJZC", "ZFBA", "SCJG", "QYJG", "SBGG", "XXDY", "DCGZ", "NWGL", "JLJF",
                                             "WJKF"}
    totals = [u["total"] for u in doc["units"]]
    assert totals == sorted(totals, reverse=True)
    assert len(set(totals)) > 20  # the rules separate the units


def test_failing_output_stores_nothing_on_postgres(capsys, tmp_path, monkeypatch, make_postgres_url):
    monkeypatch.setenv("JX_PLUGINS", "failing_plugin")
    db = make_postgres_url()
    good = toy_pack(tmp_path / "good", PLAN.replace("RULE", "test_full"))
    code, _, err = jx(capsys, "run", "--scheme", str(good), "--json", "--db", db)
    assert code == 0, err
    bad = toy_pack(tmp_path / "bad", PLAN.replace("RULE", "test_full"), outputs="[test_exploding]")
    code, _, err = jx(capsys, "run", "--scheme", str(bad), "--db", db)
    assert code == 1
    from jxcore.store import Store

    with Store.open(db) as store:
        runs = store.runs("toy")
        assert len(runs) == 1  # the good run only
        assert runs[0].totals.tolist() == [100_000, 100_000]


def test_validate_checks_the_ranking_settings_every_run_uses(capsys, tmp_path):
    pack = tmp_path / "guangdong"
    shutil.copytree(GUANGDONG, pack)
    plan = pack / "plans" / "2010.yaml"
    text = plan.read_text(encoding="utf-8")
    assert "\nsettings:\n" in text
    plan.write_text(text.replace("\nsettings:\n", "\nsettings:\n  ranking: {ties: share, tie_break: [NOPE]}\n", 1),
                    encoding="utf-8")
    code, _, err = jx(capsys, "validate", "--scheme", str(pack))
    assert code == 2
    assert "plans/2010.yaml:" in err and "settings.ranking.ties" in err and "'share' is not one of" in err
    assert "tie_break names NOPE" in err


@pytest.mark.parametrize("phase, stored", [("started", 0), ("finished", 1)])
def test_failing_lifecycle_hooks_are_named_and_say_whether_the_run_was_stored(capsys, tmp_path, monkeypatch,
                                                                                phase, stored):
    monkeypatch.setenv("JX_PLUGINS", "failing_plugin,hook_failing_plugin")
    monkeypatch.setenv("JX_HOOK_FAILS", phase)
    pack = toy_pack(tmp_path, PLAN.replace("RULE", "test_full"))
    db = f"sqlite:///{tmp_path / 's.sqlite'}"
    code, _, err = jx(capsys, "run", "--scheme", str(pack), "--db", db)
    assert code == 1
    assert f"the jx_run_{phase} hook of plugin 'hook_failing_plugin' failed" in err and "ConnectionError" in err
    assert ("nothing of this run was stored" in err) == (not stored)
    from jxcore.store import Store

    with Store.open(db) as store:
        assert len(store.runs("toy")) == stored


def test_reports_appear_only_for_stored_runs(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("JX_PLUGINS", "failing_plugin")
    reports = tmp_path / "reports"
    db = f"sqlite:///{tmp_path / 's.sqlite'}"
    report = f"{{name: report, params: {{dir: '{reports}'}}}}"
    bad = toy_pack(tmp_path / "bad", PLAN.replace("RULE", "test_full"), outputs=f"[{report}, test_exploding]")
    code, _, err = jx(capsys, "run", "--scheme", str(bad), "--db", db)
    assert code == 1
    assert not reports.exists()  # the rolled-back run published nothing
    good = toy_pack(tmp_path / "good", PLAN.replace("RULE", "test_full"), outputs=f"[{report}]")
    code, out, err = jx(capsys, "run", "--scheme", str(good), "--db", db)
    assert code == 0, err
    assert (reports / "index.html").exists() and (reports / "toy-2010.xlsx").exists()
    assert [p.name for p in tmp_path.glob(".reports.*")] == []  # no staging left behind
    (reports / "keep.txt").write_text("not the report's", encoding="utf-8")  # dir: a folder of other files
    code, out, err = jx(capsys, "run", "--scheme", str(good), "--db", db)
    assert code == 0, err
    assert (reports / "keep.txt").exists() and (reports / "index.html").exists()
    assert [p.name for p in tmp_path.glob(".reports.*")] == []


def test_a_report_dir_that_is_a_file_fails_the_run_and_stores_nothing(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("JX_PLUGINS", "failing_plugin")
    (tmp_path / "reports").write_text("a file", encoding="utf-8")
    db = f"sqlite:///{tmp_path / 's.sqlite'}"
    report = f"{{name: report, params: {{dir: '{tmp_path / 'reports'}'}}}}"
    pack = toy_pack(tmp_path / "pack", PLAN.replace("RULE", "test_full"), outputs=f"[{report}]")
    code, _, err = jx(capsys, "run", "--scheme", str(pack), "--db", db)
    assert code == 2
    assert f"cannot write the reports into {tmp_path / 'reports'}: it is a file, not a directory" in err
    from jxcore.store import Store

    with Store.open(db) as store:
        assert store.runs("toy") == []


@pytest.mark.parametrize("args", [
    ["demo", "generate", "--units", "5", "--entities", "100", "--out", "{bad}/g.duckdb"],  # the file's parent
    ["demo", "generate", "--units", "5", "--entities", "100", "--out", "{tmp}/g.duckdb", "--pack", "{bad}"],
    ["demo", "export", "--parquet", "{bad}"],
    ["evaluate", "--scheme", "guangdong", "--variations", "10", "--out", "{bad}"],
])
def test_an_output_directory_that_cannot_be_written_is_refused_before_the_work(capsys, tmp_path, args):
    (tmp_path / "a-file").write_text("in the way", encoding="utf-8")
    bad = tmp_path / "a-file" / "reports"  # a directory cannot be made under a file
    args = [a.format(bad=bad, tmp=tmp_path) for a in args]
    code, out, err = jx(capsys, *args)
    assert code == 2 and "Traceback" not in err
    assert f"{bad}: cannot write there: Not a directory (give a directory you may write)" in err
    assert not (tmp_path / "g.duckdb").exists() and "wrote" not in out  # nothing generated


def test_a_file_system_error_anywhere_is_a_clear_exit_2_and_a_bug_stays_an_internal_error(capsys, monkeypatch):
    from jxcore import services

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", "/srv/jx/jx.sqlite")

    monkeypatch.setattr(services, "list_runs", denied)
    code, _, err = jx(capsys, "runs", "--scheme", "guangdong")
    assert code == 2
    assert err.startswith("error: cannot use /srv/jx/jx.sqlite: Permission denied (check the path")

    def broken(*args, **kwargs):
        raise OSError("a socket went away")  # no file named: not the user's input

    monkeypatch.setattr(services, "list_runs", broken)
    code, _, err = jx(capsys, "runs", "--scheme", "guangdong")
    assert code == 1 and "internal error: OSError: a socket went away" in err


def test_entry_list_refuses_a_filter_that_names_no_kind_or_unit(capsys):
    code, out, err = jx(capsys, "entry", "list", "--scheme", "guangdong", "--kind", "inspections")
    assert code == 2 and out == ""
    assert "unknown entry kind 'inspections' (the kinds are: acceptance, discipline, honour, inspection" in err
    code, out, err = jx(capsys, "entry", "list", "--scheme", "guangdong", "--unit", "虎门")
    assert code == 2 and "unit '虎门' is not a unit of scheme guangdong 2010 (give a unit code such as" in err
    code, _, err = jx(capsys, "entry", "list", "--scheme", "guangdong", "--kind", "inspection", "--unit", "humen")
    assert code == 0, err


@pytest.mark.parametrize(("option", "value"), [("--max-item-share", "7"), ("--same-score", "0"),
                                                ("--max-indicators", "0")])
def test_plan_lint_refuses_thresholds_out_of_their_range(capsys, option, value):
    code, _, err = jx(capsys, "plan", "lint", "2010", "--scheme", "guangdong", option, value)
    assert code == 2 and f"Invalid value for '{option}'" in err and "is not in the range" in err


@pytest.mark.parametrize("command", [["diff", "2009", "2010"], ["whatif", "2010"]])
def test_a_workbook_path_ending_in_a_slash_is_refused_as_a_directory(capsys, tmp_path, command):
    code, _, err = jx(capsys, "plan", *command, "--scheme", "guangdong", "--xlsx", f"{tmp_path}/out/")
    assert code == 2 and f"'{tmp_path}/out/' names a directory; give a file name" in err
    assert not (tmp_path / "out").exists()
