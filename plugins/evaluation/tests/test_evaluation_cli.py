"""`jx evaluate` on the guangdong demo: exit codes, the workbook, the JSON document, bad input."""

from __future__ import annotations

import json

import pytest
from openpyxl import load_workbook

from jxcore.cli import main


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A JX_HOME with final runs of guangdong 2009 and 2010."""
    home = tmp_path_factory.mktemp("jxhome")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JX_HOME", str(home))
        mp.delenv("JX_DATABASE_URL", raising=False)
        for year in ("2009", "2010"):
            assert main(["run", "--scheme", "guangdong", "--period", year, "--final", "--json"]) == 0
        yield home


@pytest.fixture
def env(home, monkeypatch):
    monkeypatch.setenv("JX_HOME", str(home))
    monkeypatch.delenv("JX_DATABASE_URL", raising=False)
    return home


def test_evaluate_guangdong_2010_writes_the_workbook(env, tmp_path, capsys):
    out = tmp_path / "eval"
    assert main(["evaluate", "--scheme", "guangdong", "--period", "2010", "--variations", "200",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "稳健性" in printed and "结果应用稳健性" in printed and "size explains" in printed
    book = load_workbook(out / "evaluation-guangdong-2010.xlsx", read_only=True)
    assert {"稳健性", "结果应用稳健性", "权重敏感性", "规模公平性", "分档排名", "资源与班子", "指标评价",
            "大项评价", "冗余指标", "奖扣分影响"} <= set(book.sheetnames)
    rows = list(book["稳健性"].iter_rows(values_only=True))
    assert rows[0][:3] == ("单位代码", "单位", "名次") and len(rows) == 34
    assert rows[-1][0] == "qiaotou"  # 桥头, planted weak in every area, is last
    indicators = list(book["指标评价"].iter_rows(values_only=True))
    assert len(indicators) == 1 + 178
    years = {r[0] for r in list(book["规模公平性"].iter_rows(values_only=True))[1:]}
    assert years == {2009, 2010}
    assert not list(out.glob(".evaluation-*"))  # no temporary file left behind


def test_evaluate_json_is_one_document_and_repeats_with_the_seed(env, capsys):
    args = ["evaluate", "--scheme", "guangdong", "--period", "2010", "--variations", "100", "--seed", "5", "--json"]
    assert main(args) == 0
    one = json.loads(capsys.readouterr().out)
    assert main(args) == 0
    two = json.loads(capsys.readouterr().out)
    assert one["tables"] == two["tables"] and one["variations"] == 100 and one["seed"] == 5
    decisions = one["tables"]["decisions"]["rows"]
    kinds = {row[0] for row in decisions}
    assert {"评先评优（总分）", "诫勉谈话"} <= kinds
    assert one["missing_years"] == [2008]  # the reshuffle looks back three years; 2008 was not run
    assert one["drift"] == 0


@pytest.mark.parametrize(("args", "message"), [
    (["--period", "1999"], "1999"),
    (["--period", "2008"], "jx run --scheme guangdong --period 2008 --final"),
    (["--variations", "5"], "Invalid value for '--variations'"),
    (["--variations", "many"], "Invalid value for '--variations'"),
    (["--seed", "-1"], "Invalid value for '--seed'"),
])
def test_bad_input_exits_2_with_a_clear_message(env, capsys, args, message):
    assert main(["evaluate", "--scheme", "guangdong", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_wrong_evaluation_setting_exits_2_naming_it(tmp_path, capsys):
    from evaluation_kit import plan
    from jxcore.testing import write_pack

    pack = write_pack(tmp_path / "pack", {**plan({"A": 100}), "settings": {"evaluation": {"holds_shrae": 0.8}}})
    assert main(["evaluate", "--scheme", str(pack), "--period", "2010", "--db",
                 f"sqlite:///{tmp_path / 's.sqlite'}"]) == 2
    err = capsys.readouterr().err
    assert "settings.evaluation.holds_shrae" in err and "holds_share" in err and "Traceback" not in err
