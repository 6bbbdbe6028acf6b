"""The fast paths of reading and checking an import give exactly what the row-by-row paths give.

A CSV is read in blocks and a clean block is checked a column at a time; a block with any problem
is checked row by row. These tests feed the same rows both ways (as read, and one row a block) and
compare the entries and the problems, including the order that decides which 200 are listed.
"""

from __future__ import annotations

import pytest

from jx_collectors.manual.importer import FileCheck, check_table
from jx_collectors.manual.kinds import KINDS
from jx_collectors.manual.reading import BLOCK, RawTable, read_table
from jxcore.errors import DataError
from jxcore.scheme import scheme_from_dict

UNITS = [{"code": "humen", "name": "虎门", "staff": 50, "entities": 50000},
         {"code": "changan", "name": "长安", "staff": 30, "entities": 28000}]
PLAN = {"scale": 10, "settings": {"checklists": {"inspection": {"absent": "无故缺岗", "late": "办理超时"}}},
        "nodes": [{"code": "YW", "name": "业务", "points": 10, "rule": {"name": "per_event", "params": {}},
                   "collector": {"name": "manual", "params": {"kind": "spot_check"}}}]}
SCHEME = scheme_from_dict(PLAN, units=UNITS, name="mini")

GOOD = {
    "spot_check": ("日期,单位,档案类别,档案号,瑕疵",
                   lambda i: f"2010-{1 + i % 12:02d}-{1 + i % 28:02d},{'虎门' if i % 2 else 'changan'},"
                             f"{'登记' if i % 3 else 'case'},DJ{i:06d},{'超越职权、程序错误' if i % 5 == 0 else ''}"),
    "inspection": ("date,unit,finding,note,inspector,,supersedes,reason",
                   lambda i: f"2010/3/{1 + i % 28},humen,{'absent' if i % 2 else '办理超时'},"
                             f"{'' if i % 3 else 'n' + str(i)}, 张三{i} ,,{'' if i % 4 else i + 1},"
                             f"{'' if i % 4 else '录错'}"),
    "mystery_shopper": ("round,date,unit,score", lambda i: f"{i + 1},2010年5月{1 + i % 28}日,长安,{i % 101}"),
    "discipline": ("unit,person,severity,date,at_fault",
                   lambda i: f"humen,p{i},{'警告' if i % 2 else 'demerit'},2010-06-{1 + i % 28:02d},{'是否'[i % 2]}"),
}


def _file(kind: str, rows: int, bad: dict[int, str] | None = None) -> bytes:
    header, row = GOOD[kind]
    lines = [header, *(row(i) for i in range(rows))]
    for at, line in (bad or {}).items():
        lines[at] = line
    return ("\n".join(lines) + "\n").encode()


def _both_ways(kind: str, data: bytes) -> tuple[tuple, tuple]:
    """(entries, problems) of ``data`` read in blocks, and of the same rows one row a block."""
    results = []
    for single in (False, True):
        table, found = read_table("f.csv", data)
        assert table is not None and not found
        if single:
            table = RawTable(table.file, table.sheet, table.header,
                             (((row,), (cells,)) for row, cells in table.rows), table.encoding, table.problems)
        got, problems = check_table(SCHEME, KINDS[kind], table)
        results.append(([(e.unit_code, e.entry_date, list(e.payload.items()), e.source_row, e.supersedes, e.reason)
                         for e in got], [str(p) for p in problems]))
    return results[0], results[1]


@pytest.mark.parametrize("kind", sorted(GOOD))
def test_clean_blocks_give_the_entries_rows_checked_one_by_one_give(kind):
    by_block, by_row = _both_ways(kind, _file(kind, 3 * BLOCK + 7))
    assert by_block == by_row
    assert len(by_block[0]) == 3 * BLOCK + 7 and by_block[1] == []


def test_payloads_keep_the_files_column_order_and_codes_lists_are_each_entrys_own():
    (got, problems), _ = _both_ways("spot_check", _file("spot_check", 20))
    assert problems == [] and [name for name, _ in got[0][2]] == ["archive", "file_no", "defects"]
    check = FileCheck(SCHEME, KINDS["spot_check"], "f.csv", _file("spot_check", 20))
    entries = [e for chunk in check.chunks() for e in chunk]
    assert entries[0].payload["defects"] == ["beyond_authority", "wrong_procedure"]
    assert entries[0].payload["defects"] is not entries[5].payload["defects"]
    assert entries[1].payload["defects"] == [] and entries[1].payload["defects"] is not entries[2].payload["defects"]


@pytest.mark.parametrize("bad", [
    {5: "2010-01-01,nowhere,登记,X1,"},  # an unknown unit in the first block
    {BLOCK + 3: ",,,,", BLOCK + 4: "", 2 * BLOCK: "2010-13-01,humen,登记,X2,"},  # blank rows, a bad date
    {7: "2010-01-01,humen,登记,DJ000001,", BLOCK + 9: "2010-01-01,humen,bogus,DJ000002,"},  # duplicates across blocks
    {3: "2010-01-01,humen,登记,X3,,extra", 4: "2010-01-01,humen,登记"},  # a cell without a header; a short row
    {BLOCK: "2010-01-01,humen,登记, ,"},  # a blank required text cell
])
def test_a_block_with_a_problem_is_checked_row_by_row_with_the_same_report(bad):
    by_block, by_row = _both_ways("spot_check", _file("spot_check", 2 * BLOCK + 30, bad))
    assert by_block == by_row and by_block[1]


def test_duplicates_are_found_between_a_clean_block_and_a_block_checked_row_by_row():
    data = _file("spot_check", 2 * BLOCK, {BLOCK + 2: "2010-01-01,humen,bogus,X,",
                                           BLOCK + 5: "2010-01-01,虎门,登记,DJ000004,"})
    with pytest.raises(DataError) as info:
        list(FileCheck(SCHEME, KINDS["spot_check"], "f.csv", data).chunks())
    shown = [str(p) for p in info.value.problems]
    assert len(shown) == 2
    assert shown[0].startswith(f"f.csv: row {BLOCK + 3}: column C (档案类别): unknown archive code 'bogus'")
    assert shown[1].startswith(f"f.csv: row {BLOCK + 6}: duplicates row 6 (archive, file_no are the same)")


def test_the_first_200_problems_listed_are_those_of_the_first_rows_whatever_found_them():
    # bad units in every row; a field beyond the csv module's limit at the end, inside the last block:
    # the csv error is found when the block is read, and reported after the rows before it
    for rows in (10, BLOCK + 50):
        lines = ["单位,案号,日期", *(f"nowhere{i},A{i},2010-01-05" for i in range(rows)), 'humen,"A' + "x" * 140_000]
        with pytest.raises(DataError) as info:
            list(FileCheck(SCHEME, KINDS["major_case"], "f.csv", "\n".join(lines).encode()).chunks())
        shown = [str(p) for p in info.value.problems]
        assert shown[0].startswith("f.csv: row 2: column A (单位): unknown unit 'nowhere0'")
        if rows == 10:
            assert len(shown) == 11 and shown[-1].startswith("f.csv: row 12: broken CSV: field larger than field limit")
        else:
            assert info.value.message == f"f.csv: nothing imported ({BLOCK + 51} problems in all)"
            assert shown[199].startswith("f.csv: row 201: column A (单位): unknown unit 'nowhere199'")
            assert shown[200].startswith(f"f.csv: and {BLOCK - 149} more problems")
    # the reader's problem of a row comes before the checker's, in row order
    data = ("单位,案号,日期\nhumen,A1,2010-01-05\nnowhere,A\x002,2010-01-05\n长安,A3,2010-13-05\n").encode()
    with pytest.raises(DataError) as info:
        list(FileCheck(SCHEME, KINDS["major_case"], "f.csv", data).chunks())
    assert [str(p).split(": ", 3)[2:3] for p in info.value.problems] == [
        ["column B (案号)"], ["column A (单位)"], ["column C (日期)"]]


def test_chunks_hold_the_size_asked_whatever_the_blocks():
    data = _file("discipline", 2 * BLOCK + 3)
    for size in (1, 7, BLOCK, BLOCK + 1, 10_000):
        chunks = list(FileCheck(SCHEME, KINDS["discipline"], "f.csv", data).chunks(size=size))
        assert all(len(c) == size for c in chunks[:-1]) and 0 < len(chunks[-1]) <= size
        assert [e.source_row for c in chunks for e in c] == list(range(2, 2 * BLOCK + 5))
