"""`jx explain` down to the manual entries: each with its file, sha256, row, who and when, and
whether a correction superseded it."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest

from jxcore.cli import main
from jxcore.store import Store
from jxcore.store.entries import NewEntry
from manual_helpers import indicator, mini_pack, write_csv


@pytest.fixture
def pack(tmp_path, monkeypatch):
    monkeypatch.setenv("JX_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("JX_DATABASE_URL", raising=False)
    monkeypatch.setenv("JX_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("JX_PLUGINS", "jx_collectors.plugin,jx_rules.plugin,jx_outputs.plugin")
    plan = {"scale": 10, "nodes": [{"code": "YW", "name": "业务", "points": 10, "children": [
        indicator("YW.DC", {"name": "per_event", "params": {"deductions": {"absent": 1}}}, "inspection")]}]}
    return mini_pack(tmp_path / "mini", plan, language="zh")


def test_explain_shows_each_entry_with_its_file_row_and_correction(pack, tmp_path, capsys):
    sheet = write_csv(tmp_path / "督察.csv", "日期,单位,问题类型,督察人\n2010-02-01,humen,absent,张\n"
                                             "2010-03-05,hongmei,absent,李\n2010-04-09,hongmei,late,李\n")
    assert main(["import", "inspection", str(sheet), "--scheme", str(pack), "--as", "张科长"]) == 0
    with Store.open(None) as store:
        late = next(e for e in store.entries("mini", 2010) if e.payload["finding"] == "late")
        with store.transaction() as tx:  # the 9 April finding is withdrawn: a correction supersedes it
            tx.add_entries(scheme="mini", period=2010, kind="inspection", source_file="更正.csv",
                           source_sha256="f" * 64, entered_by="王", rows=[NewEntry(
                               "hongmei", dt.date(2010, 4, 9), {**late.payload, "finding": "absent"},
                               source_row=2, supersedes=late.id)])
    assert main(["run", "--scheme", str(pack), "--as-of", "2010-12-31"]) == 0
    capsys.readouterr()
    assert main(["explain", "--scheme", str(pack), "--unit", "hongmei", "--node", "YW.DC", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["node"]["rows"]
    assert (rows["total"], rows["counted"], rows["counted_by"]) == (3, 2, "counted")
    got = [dict(zip(rows["columns"], row)) for row in rows["rows"]]
    sha = hashlib.sha256(sheet.read_bytes()).hexdigest()
    assert [(r["date"], r["finding"], r["file"], r["row"], r["entered_by"], r["counted"]) for r in got] == [
        ("2010-03-05", "absent", "督察.csv", 3, "张科长", True),
        ("2010-04-09", "late", "督察.csv", 4, "张科长", False),
        ("2010-04-09", "absent", "更正.csv", 2, "王", True)]
    assert got[0]["sha256"] == sha and got[1]["entry"] == got[2]["supersedes"] == late.id
    assert got[1]["superseded_by"] == got[2]["entry"] and got[2]["superseded_by"] is None
    assert f"督察.csv (sha256 {sha[:12]}…)" in rows["source"]

    assert main(["explain", "--scheme", str(pack), "--unit", "hongmei", "--node", "YW.DC", "--rows", "2"]) == 0
    text = capsys.readouterr().out.splitlines()
    at = text.index("  源数据 2 / 3 行，其中 2 行的 counted 为真:")
    assert text[at + 2].split()[:4] == ["entry", "date", "finding", "note"]
    assert text[at + 4].split()[1:3] == ["2010-04-09", "late"] and "督察.csv" in text[at + 4]
