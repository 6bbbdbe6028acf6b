"""The guangdong demo end to end: `jx run`, `jx report`, `jx explain`, the workbook and the site.

Expected units are a hand check of the 2010 demo run (as of 2010-12-31, the complete 178-indicator
plan): the totals and item scores printed by `jx run --scheme guangdong --period 2010 --json`.
常平, planted strong in annual inspection, wins 年检验照; 桥头, planted weak in every area, is last.
The multi-year review patterns are checked in schemes/guangdong/tests/test_review.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time

import attrs
import duckdb
import pytest
from openpyxl import load_workbook
from rich.cells import cell_len

from jx_outputs import services
from jx_outputs.view import RunView
from jxcore.cli import main
from jxcore.scheme import load_scheme
from jxcore.store import Store
from jxcore.testing import installed_registry

SETTINGS = {"commendation": {"top": 10, "items": ["DJZC", "ZFBA", "QYJG.NJYZ"], "exclude_if_deducted": []}}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A JX_HOME with one stored 2010 run of guangdong, and `jx report` written from it."""
    home = tmp_path_factory.mktemp("jxhome")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JX_HOME", str(home))
        mp.delenv("JX_DATABASE_URL", raising=False)
        assert main(["run", "--scheme", "guangdong", "--period", "2010", "--as-of", "2010-12-31", "--json"]) == 0
        out = home / "report"
        assert main(["report", "--scheme", "guangdong", "--period", "2010", "--out", str(out)]) == 0
        yield {"home": home, "out": out, "env": mp}


@pytest.fixture
def stored(demo):
    with Store.open(f"sqlite:///{demo['home'] / 'jx.sqlite'}") as store:
        yield store.latest_run("guangdong", 2010)


def test_top_ten_and_item_commendations_match_a_hand_check(stored):
    scheme = load_scheme(installed_registry().scheme_pack("guangdong").path, 2010)
    view = RunView.from_stored(stored, attrs.evolve(scheme, settings=SETTINGS))
    c = services.commendation(view)
    assert [view.codes[i] for i in c.top] == ["huangjiang", "houjie", "dalingshan", "xiegang", "chashan",
                                              "zhangmutou", "liaobu", "shijie", "guancheng", "nancheng"]
    best = {code: [view.codes[i] for i in units] for code, units in c.items.items()}
    assert best == {"DJZC": ["guancheng"], "ZFBA": ["hengli"], "QYJG.NJYZ": ["changping"]}


def test_workbook_totals_equal_the_store(demo, stored):
    book = load_workbook(demo["out"] / "guangdong-2010.xlsx", read_only=True)
    assert book.sheetnames == ["排行榜", "大项得分", "指标得分", "评先评优", "班子评价", "预警"]
    rows = list(book["排行榜"].iter_rows(values_only=True))
    assert rows[0][0] == "东莞市工商局基层单位绩效考核 2010 年度排行榜（截至 2010-12-31）"
    assert rows[1][:4] == ("名次", "代码", "单位", "总分")
    in_book = {row[1]: round(row[3] * 1000) for row in rows[2:]}
    assert len(in_book) == 33
    assert in_book == dict(zip(stored.unit_codes, stored.totals.tolist()))
    indicators = list(book["指标得分"].iter_rows(values_only=True))
    assert len(indicators) == 34 and indicators[0][2].startswith("DJZC.XL.ASBJ 按时办结率")


def test_explain_shows_measure_rule_and_source(demo, capsys):
    capsys.readouterr()
    assert main(["explain", "--scheme", "guangdong", "--unit", "hongmei", "--node", "ZFBA"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("洪梅（hongmei）2010 年得分说明，截至 2010-12-31")
    assert "ZFBA 执法办案: 得 173.344 / 200  失 26.656" in text
    rule = next(line.strip() for line in text.splitlines() if "考核规则: base_score(" in line)
    assert "target=7.5" in rule and "step=0.5" in rule  # the parameters of the stored plan
    source = next(line.strip() for line in text.splitlines() if "数据来源: system_feed(" in line)
    assert "source=business" in source and "table=cases" in source


def explain_json(capsys, *args: str) -> dict:
    capsys.readouterr()
    assert main(["explain", "--scheme", "guangdong", "--unit", "hongmei", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_explain_lists_the_source_rows_behind_a_count(demo, capsys):
    doc = explain_json(capsys, "--node", "ZFBA.SL.RJBA", "--rows", "3")
    rows = doc["node"]["rows"]
    with duckdb.connect(str(demo["home"] / "data" / "guangdong-demo.duckdb"), read_only=True) as db:
        where = "unit_code = 'hongmei' AND opened_on BETWEEN DATE '2010-01-01' AND DATE '2010-12-31'"
        (count,) = db.execute(f"SELECT count(*) FROM cases WHERE {where}").fetchone()
        first = db.execute(f"SELECT case_id, opened_on, kind FROM cases WHERE {where} "
                           "ORDER BY opened_on, case_id LIMIT 1").fetchone()
    assert rows["total"] == count and len(rows["rows"]) == 3
    assert rows["columns"][:3] == ["case_id", "unit_code", "opened_on"]
    assert (rows["rows"][0][0], rows["rows"][0][2], rows["rows"][0][4]) == (first[0], str(first[1]), first[2])
    assert rows["total"] == round(doc["node"]["measure"] * 8)  # cases per head; 洪梅 has 8 staff
    assert "FROM cases" in rows["source"] and "'hongmei'" in rows["source"]


def test_explain_marks_the_numerator_rows_of_a_rate_in_chinese(demo, capsys):
    doc = explain_json(capsys, "--node", "DJZC.XL.ASBJ", "--rows", "0")
    assert "rows" not in doc["node"]  # --rows 0 reads no source
    rows = explain_json(capsys, "--node", "DJZC.XL.ASBJ")["node"]["rows"]
    assert len(rows["rows"]) == 20 and rows["columns"][-1] == "numerator" and rows["counted_by"] == "numerator"
    assert rows["counted"] / rows["total"] == pytest.approx(doc["node"]["measure"])
    assert all(row[-1] == int(row[rows["columns"].index("within_limit")]) for row in rows["rows"])
    assert main(["explain", "--scheme", "guangdong", "--unit", "hongmei", "--node", "DJZC.XL.ASBJ", "--rows", "2"]) == 0
    text = capsys.readouterr().out
    assert f"源数据 2 / {rows['total']} 行，其中 {rows['counted']} 行的 numerator 为真:" in text
    assert "reg_id" in text.splitlines()[-3] and text.splitlines()[-1].split()[1] == "hongmei"


def test_report_and_explain_without_a_run_name_the_command(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("JX_HOME", str(tmp_path))
    monkeypatch.delenv("JX_DATABASE_URL", raising=False)
    for args in (["report", "--out", str(tmp_path / "r")], ["explain", "--unit", "humen"]):
        assert main([*args, "--scheme", "guangdong", "--period", "2010"]) == 2
        err = capsys.readouterr().err
        assert "the store has no run of scheme guangdong for 2010" in err
        assert "jx run --scheme guangdong --period 2010" in err


def chromium() -> str | None:
    found = shutil.which("chromium") or (os.path.exists("/usr/bin/chromium") and "/usr/bin/chromium")
    if not found:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed: the Makefile installs it (apt-get install -y chromium)")
        pytest.skip("chromium is not installed (apt-get install -y chromium); CI fails instead of skipping")
    return found


def browse(tmp_path, page, *extra):
    """Chromium's output for ``page``. The time allowed scales with a blank page's load measured
    first (a loaded machine is slow for both), so only a hang fails, not the load."""
    args = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run", "--disable-sync",
            f"--user-data-dir={tmp_path / 'chromium-profile'}", *extra]
    start = time.perf_counter()
    subprocess.run([*args, "about:blank"], capture_output=True, check=True, timeout=600)
    baseline = time.perf_counter() - start
    done = subprocess.run([*args, page.as_uri()], capture_output=True, text=True, timeout=60 + 30 * baseline,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_site_renders_in_headless_chromium(demo, tmp_path):
    from html.parser import HTMLParser

    class Cells(HTMLParser):
        """Rows of the table with id ``want``, as lists of cell texts (what a reader sees)."""

        def __init__(self, want):
            super().__init__()
            self.want, self.depth, self.rows, self.inside = want, 0, [], False

        def handle_starttag(self, tag, attrs):
            if tag == "table" and dict(attrs).get("id") == self.want:
                self.inside = True
            elif self.inside and tag == "tr":
                self.rows.append([])
            elif self.inside and tag == "td":
                self.rows[-1].append("")

        def handle_endtag(self, tag):
            if tag == "table":
                self.inside = False

        def handle_data(self, data):
            if self.inside and self.rows and self.rows[-1]:
                self.rows[-1][-1] += data.strip()

    index = browse(tmp_path, demo["out"] / "index.html", "--dump-dom")
    ranking = Cells("ranking")
    ranking.feed(index)
    rows = [r for r in ranking.rows if r]
    assert len(rows) == 33
    assert rows[0][:3] == ["1", "huangjiang", "黄江"] and rows[-1][:3] == ["33", "qiaotou", "桥头"]
    unit = browse(tmp_path, demo["out"] / "units" / "hongmei.html", "--dump-dom")
    assert "洪梅（hongmei）" in unit
    items = Cells("items")
    items.feed(unit)
    assert [r[0] for r in items.rows if r] == ["登记注册", "执法办案", "市场监管", "企业监管", "商标广告管理",
                                               "信息调研信访统计", "督察工作", "内务管理", "奖励加分", "违纪扣分"]
    assert next(r for r in items.rows if r and r[0] == "执法办案")[1:3] == ["200", "173.344"]
    shot = tmp_path / "ranking.png"
    browse(tmp_path, demo["out"] / "index.html", f"--screenshot={shot}", "--window-size=1280,1600")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def leaderboard_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if re.match(r"^│\s+\d+\s+│", line)]


def test_report_prints_the_top_ten_and_the_named_unit_within_100_columns(demo, capsys):
    out = demo["home"] / "report-unit"
    capsys.readouterr()
    assert main(["report", "--scheme", "guangdong", "--period", "2010", "--out", str(out), "--unit", "qiaotou"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("东莞市工商局基层单位绩效考核 2010 年度排行榜")  # off a terminal: no progress bar's line
    rows = leaderboard_rows(text)
    assert len(rows) == 11 and [c.strip() for c in rows[0].split("│")[1:5]] == ["1", "huangjiang", "黄江", "1008.675"]
    assert rows[-1].split("│")[1].strip() == "33" and " qiaotou " in rows[-1]
    assert max(cell_len(line) for line in text.splitlines() if line.startswith(("│", "┃", "┏", "┗"))) <= 100
    assert "另有 22 个单位未列出（--all 显示全部）" in text
    assert main(["report", "--scheme", "guangdong", "--period", "2010", "--out", str(out), "--all"]) == 0
    assert len(leaderboard_rows(capsys.readouterr().out)) == 33
    assert main(["report", "--scheme", "guangdong", "--period", "2010", "--out", str(out), "--wide"]) == 0
    text = capsys.readouterr().out  # ten item columns: their headers wrap, no column is cut or dropped
    assert max(cell_len(line.rstrip()) for line in text.splitlines()) <= 160  # the console off a terminal
    for row in leaderboard_rows(text):
        cells = [c.strip() for c in row.split("│")[1:-1]]
        assert len(cells) == 16 and all(cells[:14]) and cells[1].isascii() and cells[2]


def test_report_with_an_unknown_unit_writes_nothing(demo, capsys):
    out = demo["home"] / "report-nowhere"
    assert main(["report", "--scheme", "guangdong", "--period", "2010", "--out", str(out), "--unit", "nowhere"]) == 2
    assert "unit 'nowhere' is not in run" in capsys.readouterr().err and not out.exists()


def test_report_into_a_directory_of_other_files_keeps_them(demo, capsys):
    out = demo["home"] / "shared-folder"
    (out / "units").mkdir(parents=True)
    (out / "notes.txt").write_text("keep me", encoding="utf-8")
    (out / "units" / "gone.html").write_text("a unit page of an earlier report", encoding="utf-8")
    assert main(["report", "--scheme", "guangdong", "--period", "2010", "--out", str(out)]) == 0
    assert (out / "notes.txt").read_text(encoding="utf-8") == "keep me"
    assert (out / "index.html").is_file() and (out / "guangdong-2010.xlsx").is_file()
    assert not (out / "units" / "gone.html").exists() and (out / "units" / "humen.html").is_file()
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".shared-folder")] == []  # nothing staged left


def test_report_that_cannot_be_written_is_refused_and_leaves_the_last_one(demo, capsys, monkeypatch):
    out = demo["home"] / "report-kept"
    assert main(["report", "--scheme", "guangdong", "--period", "2010", "--out", str(out)]) == 0
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    capsys.readouterr()

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("jx_outputs.site.write_site", disk_full)  # after the workbook is written
    assert main(["report", "--scheme", "guangdong", "--period", "2010", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"error: cannot write the reports into {out}: No space left on device" in err and "Traceback" not in err
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".report-kept")] == []
    monkeypatch.undo()
    assert main(["report", "--scheme", "guangdong", "--period", "2010", "--out", "/proc/no-such-dir"]) == 2
    assert "cannot write the reports into /proc/no-such-dir" in capsys.readouterr().err


def test_every_link_on_the_demo_site_resolves(demo):
    from test_documents import Links

    index = demo["out"] / "index.html"
    links = Links()
    links.feed(index.read_text(encoding="utf-8"))
    assert len(links.hrefs) > 33  # the ranking, the commendations, the reviews and the warnings
    assert [h for h in links.hrefs if not (index.parent / h).is_file()] == []
    assert any(c.startswith("level-") for c in links.classes)
