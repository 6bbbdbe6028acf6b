"""Import files against bad input: control characters, foreign encodings, limits, zip bombs, paths that
are not files, corrections, the problem cap, chunked checking; and fuzzed CSV/XLSX files that must
end as entries or one DataError, never anything else."""

from __future__ import annotations

import io
import os
import re
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from jx_collectors.manual.importer import FileCheck, check_file
from jx_collectors.manual.kinds import KINDS
from jx_collectors.manual.reading import Limits, read_bounded, read_table
from jxcore.errors import DataError, JxError, UsageError
from manual_helpers import small_scheme, write_xlsx

SCHEME = small_scheme()
CASES = "单位,案号,日期\nhumen,A1,2010-01-05\n长安,A2,2010-02-01\n"


def problems(data: bytes, name: str = "f.csv", kind: str = "major_case") -> list[str]:
    with pytest.raises(DataError) as info:
        check_file(SCHEME, KINDS[kind], name, data)
    return [str(p) for p in info.value.problems]


def entries(data: bytes, name: str = "f.csv", kind: str = "major_case"):
    return check_file(SCHEME, KINDS[kind], name, data)[0]


@pytest.mark.parametrize("char, shown", [("\x00", "0x00 (NUL)"), ("\x1b", "0x1B (ESC)"), ("\x7f", "0x7F (DEL)"),
                                         ("\x07", "0x07")])
def test_a_control_character_in_a_cell_is_refused_with_row_column_and_byte_offset(char, shown):
    data = f"单位,案号,日期\nhumen,A1,2010-01-05\n长安,A{char}2,2010-02-01\n".encode()
    offset = data.index(char.encode())
    assert problems(data) == [(f"f.csv: row 3: column B (案号): control character {shown} at byte offset {offset} "
                               "in the cell (delete it: the file may be damaged or exported from another program; "
                               "re-type the cell)")]


def test_control_characters_in_a_gbk_file_are_located_by_their_byte_offsets():
    data = "单位,案号,日期\n虎门,A\x001,2010-01-05\n长安,A2\x00\x00,2010-02-01\n洪梅,\x01A3,2010-02-01\n".encode("gbk")
    zeros = [i for i, b in enumerate(data) if b in (0, 1)]
    got = problems(data)
    assert [p.split(": ")[1:3] for p in got] == [["row 2", "column B (案号)"], ["row 3", "column B (案号)"],
                                                 ["row 4", "column B (案号)"]]
    assert [int(p.split("at byte offset ")[1].split()[0]) for p in got] == [zeros[0], zeros[1], zeros[3]]


def test_tabs_and_line_breaks_inside_quoted_cells_are_text():
    data = '日期,单位,问题类型,说明,督察人\n2010-04-01,humen,absent,"第一行\n第二行\t完",张三\n'.encode()
    assert [e.payload["note"] for e in entries(data, kind="inspection")] == ["第一行\n第二行\t完"]


@pytest.mark.parametrize("encode, named", [
    (lambda t: t.encode("utf-16"), "UTF-16"),  # with a BOM, as Excel's "Unicode Text" saves
    (lambda t: t.encode("utf-16-le"), "UTF-16LE"),
    (lambda t: t.encode("utf-16-be"), "UTF-16BE"),
    (lambda t: t.replace("单位", "單位").replace("案号", "案號").replace("长安", "長安").encode("cp950"), "Big5"),
])
def test_utf16_and_big5_are_named_instead_of_misread(encode, named):
    assert len(got := problems(encode(CASES))) == 1
    assert got[0].startswith(f"f.csv: the file is {named} ")
    assert "save it as CSV UTF-8 (Excel: Save As → CSV UTF-8) or GBK, or as .xlsx" in got[0]


def test_utf8_and_gbk_files_still_read():
    assert len(entries(CASES.encode())) == len(entries(CASES.encode("gbk"))) == 2
    assert check_file(SCHEME, KINDS["major_case"], "f.csv", b"\xef\xbb\xbf" + CASES.encode())[1] == "UTF-8 with BOM"


def test_a_workbook_or_an_old_xls_named_csv_is_named():
    book = io.BytesIO()
    Workbook().save(book)
    assert problems(book.getvalue()) == ["f.csv: the file is an .xlsx workbook, not CSV text (name it .xlsx)"]
    assert "an old Excel .xls workbook" in problems(b"\xd0\xcf\x11\xe0" + b"\0" * 600)[0]


def read_all(name: str, data: bytes, limits: Limits):
    """The rows and problems of ``data`` read with ``limits``."""
    table, found = read_table(name, data, limits=limits)
    if table is None:
        return [], [str(p) for p in found]
    rows = list(table.rows)
    return rows, [str(p) for p in table.problems.listing()]


def test_the_limits_are_named_and_reading_stops_there():
    body = CASES + "".join(f"humen,B{i},2010-03-01\n" for i in range(50))
    old_mac = body.replace("\n", "\r").encode()  # no line feeds to count: the limit stops the stream
    rows, found = read_all("f.csv", old_mac, Limits(rows=10))
    assert len(rows) == 10 and found == [
        ("f.csv: row 12: the file has more than 10 data rows; nothing after row 11 was read "
         "(split it into several files (by month or by unit) and import each)")]
    assert "more than 30 cells" in read_all("f.csv", old_mac, Limits(cells=30))[1][0]
    assert read_all("f.csv", (body + "\n" * 100).encode(), Limits(rows=40))[1] == [
        "f.csv: the file has 52 data rows, more than the 40 an import may hold (split it into several files "
        "(by month or by unit) and import each)"]  # counted before any row is checked; blank lines do not count
    assert read_all("f.csv", body.encode(), Limits(file_bytes=100))[1][0].startswith(
        "f.csv: the file is 0.0 MiB, more than the 0 MiB an import may be")
    wide = "单位,案号,日期\n" + "humen,A1,2010-01-05" + ",x" * 10 + "\n"
    assert "row 2: the row has 13 cells, more than the 8 an import reads" in read_all(
        "f.csv", wide.encode(), Limits(columns=8))[1][0]
    long = "单位,案号,日期\n" + "humen," + "A" * 50 + ",2010-01-05\n"
    assert read_all("f.csv", long.encode(), Limits(cell_chars=20))[1] == [
        "f.csv: row 2: column B (案号): the cell has 50 characters, more than 20 (check the quotes before this cell)"]


def test_an_xlsx_zip_bomb_is_refused_from_its_declared_sizes():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"<" + b"\0" * (8 << 20))
    (got,) = problems(buffer.getvalue(), "bomb.xlsx")
    assert re.fullmatch(r"bomb.xlsx: the workbook's part xl/worksheets/sheet1.xml unpacks 1,\d\d\d times its size "
                        r"\(more than 200\): it is not a spreadsheet Excel wrote \(open it in Excel and save it again "
                        r"as .xlsx, or export it as CSV\)", got)
    _, found = read_all("bomb.xlsx", buffer.getvalue(), Limits(xlsx_unpacked=1 << 20))
    assert found == [("bomb.xlsx: the workbook unpacks to 8 MiB, more than the 1 MiB an import may be "
                      "(split it into several files (by month or by unit) and import each)")]


def test_an_xlsx_whose_sheet_part_is_damaged_names_the_file_not_an_index_error(tmp_path):
    """Found by `make fuzz`: one changed byte in a part's name leaves openpyxl with no worksheet."""
    good = write_xlsx(tmp_path / "good.xlsx", [["单位", "案号", "日期"], ["humen", "A1", "2010-01-05"]]).read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as source, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for member in source.infolist():
            out.writestr(member.filename.replace("sheet1.xml", "wheet1.xml"), source.read(member))
    assert problems(buffer.getvalue(), "damaged.xlsx") == [
        "damaged.xlsx: the workbook has no readable sheet (its parts are damaged) (open it in Excel and save it "
        "again as .xlsx, with the data on its first sheet)"]


def test_an_xlsx_declaring_too_many_rows_is_refused_before_parsing(tmp_path):
    path = write_xlsx(tmp_path / "long.xlsx", [["单位", "案号", "日期"], *[["humen", f"A{i}", "2010-01-05"]
                                                                          for i in range(30)]])
    _, found = read_all("long.xlsx", path.read_bytes(), Limits(rows=20))
    assert found == ["long.xlsx[抽查]: the sheet declares 30 data rows, more than the 20 an import may hold "
                     "(split it into several files (by month or by unit) and import each)"]


def test_an_xlsx_row_reaching_column_xfd_is_not_padded_to_its_width(tmp_path):
    path = write_xlsx(tmp_path / "wide.xlsx", [["单位", "案号", "日期"], ["humen", "A1", "2010-01-05"]])
    from openpyxl import load_workbook

    book = load_workbook(path)
    for row in range(3, 2003):  # declared A1:XFD2002: openpyxl's own rows would be 16,384 cells wide
        book.active.cell(row=row, column=16384, value="x")
    book.save(path)
    got = problems(path.read_bytes(), "wide.xlsx")
    assert got[0] == ("wide.xlsx[抽查]: row 3: a value in column XFD, beyond the 64 columns an import reads "
                      "(delete what is right of the table)")
    assert got[-1] == "wide.xlsx: and 1800 more problems (only the first 200 are listed) " \
                      "(fix these and import the file again to see the rest)"


def test_read_bounded_refuses_what_is_not_a_regular_file_without_reading_it(tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)  # opening it blocking would wait for a writer forever
    zero = tmp_path / "zero.csv"
    zero.symlink_to("/dev/zero")
    for path, what in ((fifo, "a FIFO (named pipe)"), (zero, "a device"), (tmp_path, "a directory")):
        with pytest.raises(UsageError) as info:
            read_bounded(path)
        assert str(info.value) == f"{path}: it is {what}, not a file (give the path of a .csv or .xlsx file)"
    with pytest.raises(UsageError, match="missing.csv: cannot read the file: No such file or directory"):
        read_bounded(tmp_path / "missing.csv")
    big = tmp_path / "big.csv"
    big.write_bytes(b"x" * 3000)
    with pytest.raises(DataError, match="big.csv: the file is 0.0 MiB, more than the 0 MiB an import may be"):
        read_bounded(big, limit=2048)
    assert read_bounded(big) == b"x" * 3000


def test_a_correction_row_names_the_entry_it_supersedes_and_why():
    data = ("单位,案号,日期,更正条目,更正原因\nhumen,A1,2010-01-05,12,案号录错\nhumen,A2,2010-01-05,,\n").encode()
    got = entries(data)
    assert [(e.supersedes, e.reason, dict(e.payload)) for e in got] == [
        (12, "案号录错", {"case_no": "A1"}), (None, None, {"case_no": "A2"})]


@pytest.mark.parametrize("cells, expected", [
    ("12,", "column D (supersedes): a correction needs a reason"),
    (",typo", "column E (reason): a reason without an entry it supersedes"),
    ("twelve,typo", "column D (supersedes): 'twelve' is not a number"),
    ("0,typo", "column D (supersedes): supersedes 0 is out of range 1.."),
    ("1.5,typo", "column D (supersedes): '1.5' is not a whole number"),
])
def test_bad_corrections_are_located(cells, expected):
    assert problems(f"unit,case_no,date,supersedes,reason\nhumen,A1,2010-01-05,{cells}\n".encode())[0].startswith(
        f"f.csv: row 2: {expected}")


def test_problems_are_capped_with_a_count_of_the_rest():
    data = ("单位,案号,日期\n" + "".join(f"nowhere,A{i},2010-01-05\n" for i in range(450))).encode()
    with pytest.raises(DataError) as info:
        check_file(SCHEME, KINDS["major_case"], "f.csv", data)
    assert info.value.message == "f.csv: nothing imported (450 problems in all)"
    shown = [str(p) for p in info.value.problems]
    assert len(shown) == 201 and shown[0].startswith("f.csv: row 2: column A (单位): unknown unit 'nowhere'")
    assert shown[-1].startswith("f.csv: and 250 more problems (only the first 200 are listed)")


def test_chunks_come_in_order_and_a_late_problem_stops_the_import_after_the_last_chunk():
    good = "单位,案号,日期\n" + "".join(f"humen,A{i},2010-01-05\n" for i in range(25))
    check = FileCheck(SCHEME, KINDS["major_case"], "f.csv", good.encode())
    chunks = list(check.chunks(size=10))
    assert [len(c) for c in chunks] == [10, 10, 5] and check.rows == 25
    assert [e.source_row for c in chunks for e in c] == list(range(2, 27))
    late = FileCheck(SCHEME, KINDS["major_case"], "f.csv", (good + "humen,A3,2010-02-01\n").encode())
    seen = []
    with pytest.raises(DataError, match=r"row 27: duplicates row 5 \(case_no are the same\)"):
        for chunk in late.chunks(size=10):
            seen += chunk
    assert len(seen) == 20  # a caller writing chunks in one transaction rolls all of it back


def test_an_unreadable_file_raises_before_any_chunk():
    with pytest.raises(DataError, match="the file is empty"):
        FileCheck(SCHEME, KINDS["major_case"], "f.csv", b"\xef\xbb\xbf \n")


# --- fuzzing: hypothesis over broken files (bounded: a few seconds) --------------------------

GOOD_CSV = CASES.encode()


def _good_xlsx() -> bytes:
    book = Workbook()
    for row in [["单位", "案号", "日期"], ["humen", "A1", "2010-01-05"], ["长安", "A2", "2010-02-01"]]:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


GOOD_XLSX = _good_xlsx()
BAD_BYTES = st.sampled_from([b"\x00", b"\x1b", b"\xff", b"\xfe\xff", b'"', b",", b"\r", b"\n", b"\xe4\xb8",
                             b"\x81\x30", "單".encode("cp950"), b"\xef\xbb\xbf", b"=1+1", b"PK\x03\x04"])


@st.composite
def mutated(draw, good: bytes) -> bytes:
    """``good`` with a few bytes inserted, replaced or deleted, or truncated."""
    data = bytearray(good)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["insert", "replace", "delete", "truncate", "flip"]))
        if action == "insert":
            data[at:at] = draw(BAD_BYTES | st.binary(min_size=1, max_size=4))
        elif action == "replace" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif action == "delete":
            del data[at:at + draw(st.integers(1, 8))]
        elif action == "truncate":
            del data[at:]
        elif action == "flip" and at < len(data):
            data[at] ^= 1 << draw(st.integers(0, 7))
    return bytes(data)


def _accepted_or_refused(name: str, data: bytes) -> None:
    try:
        rows, _ = check_file(SCHEME, KINDS["major_case"], name, data)
    except JxError as exc:
        assert exc.exit_code == 2 and exc.problems and all(str(p) for p in exc.problems)
        return
    for entry in rows:
        assert entry.unit_code in {"humen", "changan", "hongmei"}
        assert all(not any(ord(c) < 32 and c not in "\t\r\n" for c in str(v)) for v in entry.payload.values())


FUZZ = settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(mutated(GOOD_CSV))
def test_fuzzed_csv_files_end_as_entries_or_one_data_error(data):
    _accepted_or_refused("f.csv", data)


@FUZZ
@given(mutated(GOOD_XLSX))
def test_fuzzed_xlsx_files_end_as_entries_or_one_data_error(data):
    _accepted_or_refused("f.xlsx", data)


@FUZZ
@given(st.lists(st.lists(st.text(max_size=12), max_size=6), min_size=1, max_size=6))
def test_any_table_of_text_as_csv_ends_as_entries_or_one_data_error(rows):
    import csv

    out = io.StringIO()
    csv.writer(out).writerows([["单位", "案号", "日期"], *rows])
    _accepted_or_refused("f.csv", out.getvalue().encode("utf-8", "surrogatepass"))
