"""Strict CSV/XLSX imports: each kind of problem by example, all problems in one pass, provenance."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from openpyxl import load_workbook

from jxcore.errors import DataError, UsageError
from jxcore.store import Store
from manual_helpers import import_file, small_scheme, write_csv, write_xlsx


@pytest.fixture
def store(tmp_path):
    with Store.open(f"sqlite:///{tmp_path / 'jx.sqlite'}") as store:
        yield store


@pytest.fixture
def scheme():
    return small_scheme()


def problems_of(store, scheme, kind, path) -> list[str]:
    with pytest.raises(DataError) as info:
        import_file(store, scheme, kind, path, user="tester")
    assert store.entries("mini", 2010) == []  # nothing of a rejected file is stored
    return [str(p) for p in info.value.problems]


GOOD_VISITS = "轮次,日期,单位,得分\n1,2010-03-01,humen,95\n1,2010-03-02,长安,70\n2,2010-09-01,humen,85\n"


def test_a_good_csv_is_imported_with_its_provenance(store, scheme, tmp_path):
    path = write_csv(tmp_path / "visits.csv", GOOD_VISITS)
    now = dt.datetime(2010, 9, 2, 8, 30, tzinfo=dt.UTC)
    report = import_file(store, scheme, "mystery_shopper", path, user="李科长", now=now)
    assert (report.rows, report.user, report.encoding) == (3, "李科长", "UTF-8")
    assert report.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    got = store.entries("mini", 2010)
    assert [(e.unit_code, e.entry_date, e.payload, e.source_row) for e in got] == [
        ("humen", dt.date(2010, 3, 1), {"round": 1, "score": 95.0}, 2),
        ("changan", dt.date(2010, 3, 2), {"round": 1, "score": 70.0}, 3),  # unit given by name
        ("humen", dt.date(2010, 9, 1), {"round": 2, "score": 85.0}, 4),
    ]
    assert {(e.source_file, e.source_sha256, e.entered_by, e.entered_at, e.batch_id) for e in got} == {
        ("visits.csv", report.sha256, "李科长", now, report.batch_id)}


def test_the_user_comes_from_jx_user_when_not_given(monkeypatch):
    from jxcore.cli_kit import acting_user

    monkeypatch.setenv("JX_USER", "wang")
    assert acting_user(None) == "wang" and acting_user("li") == "li"


def test_importing_the_same_file_twice_is_refused(store, scheme, tmp_path):
    path = write_csv(tmp_path / "visits.csv", GOOD_VISITS)
    import_file(store, scheme, "mystery_shopper", path, user="a")
    copy = write_csv(tmp_path / "renamed.csv", GOOD_VISITS)
    with pytest.raises(DataError, match=r"already imported as mystery_shopper for mini 2010: 3 rows from "
                                        r"visits.csv by a"):
        import_file(store, scheme, "mystery_shopper", copy, user="b")
    assert len(store.entries("mini", 2010)) == 3


@pytest.mark.parametrize("header, expected", [
    ("轮次,日期,单位,得分,颜色", "row 1: column E (颜色): unknown column '颜色' for mystery_shopper"),
    ("轮次,日期,单位", "row 1: missing column score (score/得分/分数)"),
    ("轮次,日期,单位,得分,score", "row 1: column E (score): column score appears twice (also in column D (得分))"),
])
def test_wrong_missing_and_duplicated_headers(store, scheme, tmp_path, header, expected):
    path = write_csv(tmp_path / "v.csv", header + "\n1,2010-03-01,humen,95,1\n")
    assert any(p.startswith(f"v.csv: {expected}") for p in problems_of(store, scheme, "mystery_shopper", path))


@pytest.mark.parametrize("row, expected", [
    ("1,2010-03-01,zhangmutou,95", "column C (单位): unknown unit 'zhangmutou'"),
    ("1,2010-03-01,humen,101", "column D (得分): score 101 is out of range 0..100"),
    ("0,2010-03-01,humen,90", "column A (轮次): round 0 is out of range 1.."),
    ("1,2010-02-30,humen,90", "column B (日期): '2010-02-30' is not a date"),
    ("1,2009-12-31,humen,90", "column B (日期): 2009-12-31 is outside period 2010"),
    ("1,,humen,90", "column B (日期): date is missing"),
])
def test_bad_cells_name_row_and_column(store, scheme, tmp_path, row, expected):
    path = write_csv(tmp_path / "v.csv", "轮次,日期,单位,得分\n" + row + "\n")
    problems = problems_of(store, scheme, "mystery_shopper", path)
    assert len(problems) == 1 and problems[0].startswith(f"v.csv: row 2: {expected}")


def test_duplicate_rows_are_reported_with_the_first(store, scheme, tmp_path):
    path = write_csv(tmp_path / "v.csv", "轮次,日期,单位,得分\n1,2010-03-01,humen,95\n1,2010-03-05,虎门,90\n")
    assert problems_of(store, scheme, "mystery_shopper", path) == [
        "v.csv: row 3: duplicates row 2 (round, unit are the same) (delete one of the two rows)"]


def test_many_problems_in_one_file_are_all_reported(store, scheme, tmp_path):
    path = write_csv(tmp_path / "findings.csv",
                     "日期,单位,问题类型,说明,督察人,颜色\n"
                     "2010-04-01,humen,absent,,张三,\n"
                     "2010-13-01,nowhere,sleeping,,,\n"
                     "2010-04-02,洪梅,办理超时,窗口,李四,\n")
    problems = problems_of(store, scheme, "inspection", path)
    assert [": ".join(p.split(": ")[1:3]) for p in problems] == [
        "row 1: column F (颜色)",
        "row 3: column A (日期)",
        "row 3: column B (单位)",
        "row 3: column C (问题类型)",
        "row 3: column E (督察人)",
    ]
    assert "unknown finding code 'sleeping' (the codes of checklist inspection are: absent, late)" in problems[3]


def test_an_empty_file_and_a_header_only_file_are_refused(store, scheme, tmp_path):
    assert problems_of(store, scheme, "honour", write_csv(tmp_path / "e.csv", "\ufeff\n")) == [
        "e.csv: the file is empty (export the sheet again; the first row must be the column headers)"]
    assert problems_of(store, scheme, "honour", write_csv(tmp_path / "h.csv", "单位,级别,日期,荣誉名称\n")) == [
        "h.csv: the file has a header row and no data rows (add the rows below the header)"]


def test_a_gbk_file_is_imported_and_said_to_be_gbk(store, scheme, tmp_path):
    path = write_csv(tmp_path / "discipline.csv",
                     "单位,当事人,处分,日期,单位有责\n虎门,张三,警告,2010-05-01,是\n洪梅,李四,记大过,2010/6/2,否\n",
                     encoding="gbk")
    report = import_file(store, scheme, "discipline", path, user="u")
    assert report.encoding == "GBK"
    assert [(e.unit_code, e.payload) for e in store.entries("mini", 2010)] == [
        ("humen", {"person": "张三", "severity": "warning", "at_fault": True}),
        ("hongmei", {"person": "李四", "severity": "major_demerit", "at_fault": False}),
    ]


def test_a_file_in_neither_utf8_nor_gbk_is_refused_with_the_offset(store, scheme, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes("单位,案号,日期\n".encode() + b"humen,\xff\xfe,2010-01-01\n")
    assert problems_of(store, scheme, "major_case", path) == [
        ("bad.csv: the file is neither UTF-8 (bad byte at offset 27) nor GBK/GB18030 (bad byte at offset 27) "
         "(save it as CSV UTF-8 (Excel: Save As → CSV UTF-8) or as .xlsx)")]


def test_an_xlsx_is_imported_with_real_dates_and_codes_lists(store, scheme, tmp_path):
    path = write_xlsx(tmp_path / "spot.xlsx", [
        ["日期", "单位", "档案类别", "档案号", "瑕疵"],
        [dt.datetime(2010, 3, 15), "虎门", "登记", "DJ-001", "beyond_authority、超过时限"],
        [dt.datetime(2010, 3, 16), "长安", "case", "AJ-7", None],
    ])
    assert import_file(store, scheme, "spot_check", path, user="u").rows == 2
    assert [(e.unit_code, e.entry_date, e.payload) for e in store.entries("mini", 2010)] == [
        ("humen", dt.date(2010, 3, 15), {"archive": "registration", "file_no": "DJ-001",
                                         "defects": ["beyond_authority", "beyond_time_limit"]}),
        ("changan", dt.date(2010, 3, 16), {"archive": "case", "file_no": "AJ-7", "defects": []}),
    ]


def test_an_xlsx_with_a_formula_and_merged_cells_is_refused_with_sheet_row_column(store, scheme, tmp_path):
    path = write_xlsx(tmp_path / "visits.xlsx", [
        ["轮次", "日期", "单位", "得分"],
        [1, dt.datetime(2010, 3, 1), "humen", "=80+15"],
        [1, dt.datetime(2010, 3, 2), "changan", 70],
        [2, None, "changan", 75],
    ], title="暗访")
    book = load_workbook(path)
    book["暗访"].merge_cells("B3:B4")
    book.save(path)
    problems = problems_of(store, scheme, "mystery_shopper", path)
    assert "visits.xlsx[暗访]: row 3: column B: merged cells B3:B4 (unmerge them and fill every cell)" in problems
    assert ("visits.xlsx[暗访]: row 2: column D: cell D2 holds a formula (=80+15) "
            "(replace formulas by their values (Paste Special → Values))") in problems


def test_an_unknown_sheet_and_an_unknown_kind_are_refused(store, scheme, tmp_path):
    path = write_xlsx(tmp_path / "x.xlsx", [["单位", "案号", "日期"], ["humen", "A1", "2010-01-05"]])
    with pytest.raises(DataError, match="the workbook has no sheet 'Sheet9'.*its sheets are: 抽查"):
        import_file(store, scheme, "major_case", path, sheet="Sheet9")
    unknown = "unknown kind of entry 'votes'.*inspection, major_case, mystery_shopper, spot_check"
    with pytest.raises(UsageError, match=unknown):
        import_file(store, scheme, "votes", path)


def test_inspection_needs_the_schemes_checklist(store, tmp_path):
    from jxcore.scheme import scheme_from_dict
    from manual_helpers import PLAN, UNITS

    bare = scheme_from_dict(PLAN, units=UNITS, name="mini")
    path = write_csv(tmp_path / "f.csv", "日期,单位,问题类型,督察人\n2010-04-01,humen,absent,张三\n")
    assert any("scheme mini has no checklist 'inspection'" in p and "settings: {checklists: {inspection:" in p
               for p in problems_of(store, bare, "inspection", path))


def test_a_nul_byte_late_in_a_file_stores_nothing_of_it(store, scheme, tmp_path):
    rows = "".join(f"{1 + i // 3},2010-03-{1 + i // 3:02d},{('humen', 'changan', 'hongmei')[i % 3]},90\n"
                   for i in range(60))
    path = tmp_path / "v.csv"
    path.write_bytes(("轮次,日期,单位,得分\n" + rows).encode() + b"21,2010-04-01,humen,9\x000\n")
    assert (f"v.csv: row 62: column D (得分): control character 0x00 (NUL) at byte offset {path.read_bytes().index(0)} "
            "in the cell (delete it: the file may be damaged or exported from another program; re-type the cell)"
            ) in problems_of(store, scheme, "mystery_shopper", path)


def test_a_symlink_to_dev_zero_or_a_fifo_is_refused_without_reading(store, scheme, tmp_path):
    import os

    zero = tmp_path / "zero.csv"
    zero.symlink_to("/dev/zero")
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    for path in (zero, fifo):
        with pytest.raises(UsageError, match="not a file"):
            import_file(store, scheme, "mystery_shopper", path)
    assert store.entries("mini", 2010) == []


def test_a_correction_in_a_file_supersedes_the_entry(store, scheme, tmp_path):
    import_file(store, scheme, "mystery_shopper", write_csv(tmp_path / "v.csv", GOOD_VISITS))
    first = store.entries("mini", 2010)[0]
    fix = write_csv(tmp_path / "fix.csv",
                    f"轮次,日期,单位,得分,更正条目,更正原因\n1,2010-03-01,humen,85,{first.id},录入错误\n")
    import_file(store, scheme, "mystery_shopper", fix)
    live = {(e.unit_code, e.payload["round"]): (e.payload["score"], e.supersedes, e.reason)
            for e in store.entries("mini", 2010)}
    assert live[("humen", 1)] == (85.0, first.id, "录入错误")
