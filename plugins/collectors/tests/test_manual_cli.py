"""`jx import` and `jx collect` through jxcore.cli.main, on a scheme pack written in tmp_path."""

from __future__ import annotations

import pytest
import yaml

from jxcore.cli import main
from manual_helpers import PLAN, mini_pack, write_csv


@pytest.fixture
def pack(tmp_path, monkeypatch):
    monkeypatch.setenv("JX_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("JX_DATABASE_URL", raising=False)
    monkeypatch.setenv("JX_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("JX_PLUGINS", "jx_collectors.plugin,jx_rules.plugin")
    return mini_pack(tmp_path / "mini", PLAN)


def test_import_prints_what_it_stored_and_refuses_the_same_file_again(pack, tmp_path, capsys):
    path = write_csv(tmp_path / "f.csv", "日期,单位,问题类型,督察人\n2010-02-01,hongmei,absent,张\n", "gbk")
    args = ["import", "inspection", str(path), "--scheme", str(pack), "--period", "2010", "--as", "张科长"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "note: f.csv was read as GBK" in out
    assert "imported 1 rows of inspection from f.csv (sha256 " in out
    assert "as 张科长, 1 units; counts in YW.DC (1)" in out
    assert main(args) == 2
    assert "error: f.csv: this file was already imported as inspection for mini 2010" in capsys.readouterr().err


def test_import_of_a_bad_file_exits_2_and_lists_every_problem(pack, tmp_path, capsys):
    path = write_csv(tmp_path / "v.csv", "轮次,日期,单位,得分\n1,2010-03-01,nowhere,95\n1,2010-03-02,humen,120\n")
    assert main(["import", "mystery_shopper", str(path), "--scheme", str(pack)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: v.csv: nothing imported: 2 problems\n")
    assert "  v.csv: row 2: column C (单位): unknown unit 'nowhere'" in err
    assert "  v.csv: row 3: column D (得分): score 120 is out of range 0..100" in err


def test_collect_lists_each_indicator_with_units_and_events(pack, tmp_path, capsys):
    visits = write_csv(tmp_path / "v.csv", "轮次,日期,单位,得分\n1,2010-03-01,humen,95\n2,2010-06-01,humen,85\n"
                                           "1,2010-03-01,长安,70\n")
    assert main(["import", "mystery_shopper", str(visits), "--scheme", str(pack), "--as", "u"]) == 0
    capsys.readouterr()
    assert main(["collect", "--scheme", str(pack), "--period", "2010", "--as-of", "2010-06-30"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("mini 2010 as of 2010-06-30: 6 indicators, 1 collectors")
    lines = {line.split("│")[2].strip(): [c.strip() for c in line.split("│")[3:6]]
             for line in out.splitlines() if line.count("│") >= 6}
    assert lines["YW.AF"] == ["2 of 3", "3", "0"]
    assert lines["YW.DC"] == ["0 of 3", "0", "0"]
    assert main(["collect", "--scheme", str(pack), "--as-of", "2010-02-01"]) == 0
    lines = {line.split("│")[2].strip(): [c.strip() for c in line.split("│")[3:6]]
             for line in capsys.readouterr().out.splitlines() if line.count("│") >= 6}
    assert lines["YW.AF"] == ["0 of 3", "0", "0"]  # no visit by 1 February


def test_collect_shows_a_collectors_data_error_without_failing(pack, tmp_path, capsys):
    visits = write_csv(tmp_path / "v.csv", "轮次,日期,单位,得分\n1,2010-03-01,hongmei,95\n")
    assert main(["import", "mystery_shopper", str(visits), "--scheme", str(pack), "--as", "u"]) == 0
    units = pack / "units.yaml"  # the unit is dropped from the pack after its entry was stored
    kept = [u for u in yaml.safe_load(units.read_text(encoding="utf-8"))["units"] if u["code"] != "hongmei"]
    units.write_text(yaml.safe_dump({"units": kept}, allow_unicode=True), encoding="utf-8")
    capsys.readouterr()
    assert main(["collect", "--scheme", str(pack), "--as-of", "2010-06-30"]) == 0
    out = capsys.readouterr().out
    assert "problem: manual: " in out and "entries name units that are not in the scheme: hongmei" in out
