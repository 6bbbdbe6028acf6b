"""Output people read: the terminal leaderboard (fits 100 columns, top units and a named one, numbers
never cut), the printed workbook (formats, panes, filters, A4 landscape, text never a formula) and
the site's links, colours and layout."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from openpyxl import load_workbook
from rich.cells import cell_len
from rich.console import Console

from jx_outputs import tables
from jx_outputs.excel import write_workbook
from jx_outputs.outputs import print_leaderboard
from jx_outputs.report import Report
from jx_outputs.site import write_site
from jx_outputs.view import RunView
from jxcore.errors import UsageError
from jxcore.points import format_points
from jxcore.scheme import scheme_from_dict
from outputs_kit import PLAN, make_result, save

EVIL = '=HYPERLINK("http://x","y")'


def scheme_of(n: int, names: list[str] | None = None, item_name: str = "甲项"):
    """The kit's plan with ``n`` units (long Chinese names unless given) and item A named ``item_name``."""
    names = names or [f"东莞市第{i}工商行政管理分局" for i in range(1, n + 1)]
    units = [{"code": f"u{i}", "name": names[i - 1]} for i in range(1, n + 1)]
    nodes = [PLAN["nodes"][0] | {"name": item_name, "children": [PLAN["nodes"][0]["children"][0] | {
        "name": "按时办结率", "stages": [{"date": dt.date(2010, 6, 30), "target": 0.9}]}]}, *PLAN["nodes"][1:]]
    return scheme_from_dict({**PLAN, "nodes": nodes}, units=units, name="demo", language="zh")


def report_of(store, n: int = 300, **kwargs) -> Report:
    scheme = scheme_of(n, **kwargs)
    rng = np.random.default_rng(7)
    before = make_result(scheme, A1=rng.uniform(0, 60, n).round(3).tolist(), as_of=dt.date(2010, 6, 30),
                         values=rng.uniform(0.7, 1, n).tolist())
    save(store, before)
    now = make_result(scheme, A1=rng.uniform(0, 60, n).round(3).tolist(), B1=rng.uniform(0, 40, n).round(3).tolist(),
                      values=rng.uniform(0.5, 1, n).tolist())
    run_id = save(store, now)
    return Report(RunView.from_stored(store.load_run(run_id), scheme), store)


def shown(report: Report, width: int = 100, **options) -> list[str]:
    console = Console(width=width, record=True, force_terminal=False, color_system=None)
    print_leaderboard(console, report, **options)
    return console.export_text().splitlines()


def test_the_leaderboard_fits_100_columns_and_shows_the_top_ten(store):
    report = report_of(store)
    lines = shown(report, width=200)  # a wide terminal: the table is as wide as its content, not more
    assert max(map(cell_len, lines)) <= 100
    rows = [line for line in lines if re.match(r"^│\s+\d+\s+│", line)]
    assert len(rows) == 10
    order = report.ranking.order.tolist()
    for line, i in zip(rows, order):  # rank, code, total, all there and uncut
        assert f" {report.view.codes[i]} " in line and format_points(int(report.view.totals[i])) in line
    assert "另有 290 个单位未列出（--all 显示全部）" in lines[-1]
    assert not any(item.name in "".join(lines) for item in report.view.items())  # items only when wide


def test_a_narrow_terminal_folds_names_but_never_cuts_a_number(store):
    report = report_of(store)
    text = "\n".join(shown(report, width=60))
    for i in report.ranking.order[:10].tolist():
        assert format_points(int(report.view.totals[i])) in text
    assert "…" not in text


def test_the_named_unit_is_shown_marked_after_the_top_and_all_shows_every_unit(store):
    report = report_of(store)
    last = report.view.codes[report.ranking.order[-1]]
    lines = shown(report, highlight=last)
    rows = [line for line in lines if re.match(r"^│\s+\d+\s+│", line)]
    assert len(rows) == 11 and f" {last} " in rows[-1] and rows[-1].split("│")[1].strip() == "300"
    table = tables.leaderboard_table(report, highlight=last)
    assert table.marked == (10,) and table.breaks == (10,)
    assert len([r for r in shown(report, all=True) if re.match(r"^│\s+\d+\s+│", r)]) == 300
    wide = "".join(shown(report, wide=True, width=160))
    assert all(item.name in wide for item in report.view.items())
    with pytest.raises(UsageError, match="unit 'nowhere' is not in run"):
        shown(report, highlight="nowhere")


def test_names_are_printed_as_they_are_not_as_markup_or_emoji_codes(store):
    names = ["[试点]东城分局", "[bold]南城分局[/bold]", "虎门:ok:分局", "长安\\[x]分局", "厚街分局"]
    report = report_of(store, n=5, names=names, item_name="[甲]项")
    text = "\n".join(shown(report, all=True, wide=True, width=200))
    for name in [*names, "[甲]项"]:
        assert name in text


def test_the_ranking_output_prints_the_top_by_default(store):
    from jx_outputs.outputs import RankingOutput

    assert {p.name: p.default for p in RankingOutput.params} == {"items": False, "limit": 10, "unit": ""}


def sheet_xml(path: Path, n: int) -> str:
    with zipfile.ZipFile(path) as archive:
        return archive.read(f"xl/worksheets/sheet{n}.xml").decode()


def test_the_workbook_is_a_printable_document_and_text_is_never_a_formula(store, tmp_path):
    report = report_of(store, n=5, names=[EVIL, "+SUM(A1)", "-1+2", "@cmd", "虎门"], item_name="=1+1")
    path = write_workbook(report, tmp_path / "book.xlsx")
    for n in range(1, 7):
        assert "<f>" not in sheet_xml(path, n)  # no formula anywhere
    book = load_workbook(path)
    ranking = book["排行榜"]
    names = {ranking.cell(row=r, column=3).value: ranking.cell(row=r, column=3).data_type for r in range(3, 8)}
    assert names == {EVIL: "s", "+SUM(A1)": "s", "-1+2": "s", "@cmd": "s", "虎门": "s"}
    assert book["大项得分"]["C1"].value == "=1+1" and book["大项得分"]["C1"].data_type == "s"  # a header
    assert ranking["A1"].font.b and all(c.font.b for c in ranking[2])  # bold title and headers
    assert ranking.freeze_panes == "D3" and ranking.auto_filter.ref == "A2:I7"
    assert ranking.print_title_rows == "$1:$2"
    setup = ranking.page_setup
    assert (setup.orientation, setup.paperSize, setup.fitToWidth, setup.fitToHeight) == ("landscape", 9, 1, 0)
    assert ranking.sheet_properties.pageSetUpPr.fitToPage
    total = ranking["D3"]
    assert total.number_format == "0.000" and isinstance(total.value, float)
    assert ranking.column_dimensions["C"].width >= cell_len(EVIL)
    indicators = book["指标得分"]
    assert indicators["D1"].value == "A1 考核数据" and indicators["D2"].number_format == "0.0%"  # 按时办结率
    assert indicators["D2"].value == round(indicators["D2"].value, 6)  # not a raw float
    warnings = book["预警"]
    assert warnings["E1"].value == "截止日期" and warnings.freeze_panes == "C2"
    assert warnings["E2"].value == dt.datetime(2010, 6, 30) and warnings["E2"].is_date  # a date, not text
    assert warnings["F2"].number_format == warnings["G2"].number_format == "0.0%"  # target and value of a rate


def test_a_workbook_of_many_chunks_numbers_its_rows_without_a_gap(store, tmp_path, monkeypatch):
    from jx_outputs import excel

    report = report_of(store, n=30)
    monkeypatch.setattr(excel, "CHUNK", 7)  # rows are made 7 at a time: 5 chunks
    book = load_workbook(write_workbook(report, tmp_path / "book.xlsx"))
    ranking = book["排行榜"]
    assert ranking.max_row == 32 and ranking.auto_filter.ref.endswith("32")
    assert [ranking.cell(row=r, column=1).value for r in range(3, 33)] == list(range(1, 31))  # every rank, no gap
    codes = [c.value for c in book["指标得分"]["A"][1:]]
    assert len(codes) == 30 and sorted(codes) == sorted(report.view.codes)


class Links(HTMLParser):
    """Every href of a link, the stylesheets, and the class of every cell, of a page."""

    def __init__(self):
        super().__init__()
        self.hrefs, self.styles, self.classes, self.meta = [], [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a":
            self.hrefs.append(attrs["href"])
        elif tag == "link" and attrs.get("rel") == "stylesheet":
            self.styles.append(attrs["href"])
        elif tag == "td" and attrs.get("class"):
            self.classes.append(attrs["class"])
        elif tag == "meta":
            self.meta.append(attrs)


def test_every_link_of_the_site_resolves_and_warning_levels_are_coloured(store, tmp_path):
    report = report_of(store, n=40)
    index = write_site(report, tmp_path / "site")
    links = Links()
    links.feed(index.read_text(encoding="utf-8"))
    assert len(links.hrefs) >= 40 + len(tables.warning_table(report).rows)
    assert all((index.parent / href).is_file() for href in links.hrefs), [
        h for h in links.hrefs if not (index.parent / h).is_file()]
    levels = {c for c in links.classes if c.startswith("level-")}
    assert levels and levels <= {"level-1", "level-2", "level-3"}
    assert {"name": "viewport", "content": "width=device-width, initial-scale=1"} in links.meta
    unit = Links()
    unit.feed((index.parent / links.hrefs[0]).read_text(encoding="utf-8"))
    assert all((index.parent / "units" / h).resolve().is_file() for h in unit.hrefs)
    # one stylesheet beside the index, linked by a relative URL from every page (no network)
    assert links.styles == ["site.css"] and unit.styles == ["../site.css"]
    css = (index.parent / "site.css").read_text(encoding="utf-8")
    assert "white-space: nowrap" in css and ".level-3" in css and "#indicators td + td + td" in css


def test_the_warnings_output_prints_the_most_serious_and_counts_the_rest(store):
    from jx_outputs.outputs import WarningsOutput
    from jxcore.interfaces import OutputContext
    from jxcore.params import check_params

    scheme = scheme_of(30)
    result = make_result(scheme, A1=[50] * 30, values=[0.5] * 30)  # every unit below its 0.9 stage target
    params, _ = check_params(WarningsOutput.params, {"limit": 5})
    console = Console(width=100, record=True, force_terminal=False, color_system=None)
    WarningsOutput().emit(OutputContext(result=result, params=params, store=store, console=console))
    text = console.export_text()
    assert len([line for line in text.splitlines() if line.startswith("│ u")]) == 5
    assert "另有 25 条预警未列出（jx report 写入工作簿与网站）" in text
    console = Console(width=100, record=True, force_terminal=False, color_system=None)
    WarningsOutput().emit(OutputContext(result=result, params=params, store=store, console=console,
                                        display={"all": True}))  # jx run --all
    assert len([line for line in console.export_text().splitlines() if line.startswith("│ u")]) == 30


def test_column_rows_read_as_a_list_of_row_tuples(store):
    report = report_of(store, n=12)
    table = tables.ranking_table(report)
    assert isinstance(table.rows, tables.ColumnRows)
    rows = list(table.rows)
    assert len(rows) == len(table.rows) == 12 and rows[0] == table.rows[0] and rows[2:5] == table.rows[2:5]
    assert all(type(v) in (str, int, type(None)) for row in rows for v in row)  # Python values, not numpy's
    first, second = report.ranking.order[:2].tolist()
    view = report.view
    assert rows[0][:4] == (1, view.codes[first], view.names[first], int(view.totals[first]))
    assert rows[0][-2] is None and rows[1][-2] == int(view.totals[first] - view.totals[second])  # the gap
    indicators = tables.indicator_table(report).rows
    assert repr(indicators[0][3]) == repr(float(view.values["A1"][first]))  # the measure (NaN or a float)


def test_the_workbook_written_beside_the_site_in_a_second_process_is_the_same(store, tmp_path, monkeypatch):
    from jx_outputs import outputs

    report = report_of(store, n=30)
    one_index, one_book = outputs.write_reports(report, tmp_path / "one")
    monkeypatch.setattr(outputs, "PARALLEL_UNITS", 1)  # fork the workbook's process even for 30 units
    steps = []

    class Console:  # the progress bars' steps, as rich would get them
        pass

    def progress(_console):
        from contextlib import contextmanager

        @contextmanager
        def bars():
            yield lambda description, total: (steps.append((description, total)) or (lambda n: steps.append(n)))

        return bars()

    monkeypatch.setattr(outputs, "_progress", progress)
    two_index, two_book = outputs.write_reports(report, tmp_path / "two", Console())
    assert ("写入工作簿", 30 * 3 + len(tables.commendation_table(report).rows) + len(
        tables.warning_table(report).rows)) in steps and ("写入绩效之窗网站", 30) in steps
    with zipfile.ZipFile(one_book) as a, zipfile.ZipFile(two_book) as b:
        assert a.namelist() == b.namelist()
        assert all(a.read(n) == b.read(n) for n in a.namelist() if n != "docProps/core.xml")
    assert one_index.read_text(encoding="utf-8") == two_index.read_text(encoding="utf-8")
    pages = sorted(p.name for p in (tmp_path / "two" / "units").iterdir())
    assert pages == sorted(f"{code}.html" for code in report.view.codes)


def test_a_unit_page_shows_that_units_scores_measures_and_warnings(store, tmp_path):
    report = report_of(store, n=40)
    index = write_site(report, tmp_path / "site")
    view = report.view
    warned = tables.warning_table(report).rows
    for i in (0, 17, 39):
        page = (index.parent / "units" / f"{view.codes[i]}.html").read_text(encoding="utf-8")
        assert f"<h1>{view.names[i]}（{view.codes[i]}）</h1>" in page and "\x00" not in page
        assert f"<strong>{format_points(int(view.totals[i]))}</strong>" in page
        assert f"<strong>{int(view.ranks[i])}</strong> / 40" in page
        assert f'<td>{format_points(int(view.node_scores("A1")[i]))}<td>{view.values["A1"][i]:.4g}\n' in page
        mine = [row for row in warned if row[0] == view.codes[i]]
        assert page.count('<td class="level-') == len(mine)
        assert ("<h2>预警</h2>\n<p>无</p>" in page) == (not mine)
        assert page.count("<circle") == 2  # two runs of the period: the rank history's dots


def test_text_with_characters_xml_cannot_hold_still_makes_a_workbook(store, tmp_path):
    report = report_of(store, n=3, names=["甲\x01乙", " 前后有空格 ", "a&b<c>"])
    book = load_workbook(write_workbook(report, tmp_path / "book.xlsx"))
    names = {book["排行榜"].cell(row=r, column=3).value for r in range(3, 6)}
    assert names == {"甲乙", " 前后有空格 ", "a&b<c>"}
