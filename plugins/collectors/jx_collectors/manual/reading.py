"""Read a CSV or XLSX file into a raw table (header + rows of cells), reporting what cannot be read.

CSV: UTF-8 (with or without BOM) first, then GB18030 (a superset of GBK, which Excel on a Chinese
Windows writes); a file neither decodes is refused with the byte offsets where each failed.
XLSX: the first sheet (or the one named); formula cells and merged cells are refused with their
sheet, row and column, since what a formula shows is not what the file holds, and a merged cell
leaves the rows under it without a value.
"""

from __future__ import annotations

import csv
import io
import warnings
from pathlib import Path
from typing import Any

import attrs

from jxcore.errors import Location, Problem


def get_column_letter(index: int) -> str:
    """openpyxl's column letter, imported on use: openpyxl costs 60 ms at every ``jx`` start."""
    from openpyxl.utils import get_column_letter as letter

    return letter(index)


CSV_SUFFIXES = (".csv", ".txt")
XLSX_SUFFIXES = (".xlsx", ".xlsm")


@attrs.frozen
class RawTable:
    """The cells of a file: the header row and the data rows with their row numbers in the file."""

    file: str
    sheet: str | None
    header: tuple[str, ...]
    rows: tuple[tuple[int, tuple[Any, ...]], ...]
    encoding: str | None = None  #: how a CSV was decoded: "UTF-8", "UTF-8 with BOM", "GBK"

    def location(self, row: int | None = None, column: int | None = None) -> Location:
        """Where a cell is; ``column`` is a 0-based index, shown as its letter and header."""
        col = None
        if column is not None:
            header = self.header[column] if column < len(self.header) else ""
            col = get_column_letter(column + 1) + (f" ({header})" if header else "")
        return Location(file=self.file, sheet=self.sheet, row=row, column=col)


def read_table(name: str, data: bytes, sheet: str | None = None) -> tuple[RawTable | None, list[Problem]]:
    """Parse ``data`` (the bytes of file ``name``) by its suffix; (None, problems) if it cannot be read."""
    suffix = Path(name).suffix.lower()
    if not data.strip(b"\xef\xbb\xbf \t\r\n"):
        return None, [Problem("the file is empty", Location(file=name),
                              "export the sheet again; the first row must be the column headers")]
    if suffix in CSV_SUFFIXES:
        return _read_csv(name, data)
    if suffix in XLSX_SUFFIXES:
        return _read_xlsx(name, data, sheet)
    return None, [Problem(f"cannot read files of type {suffix or '(no suffix)'!r}", Location(file=name),
                          "save the sheet as .csv or .xlsx")]


def _decode(name: str, data: bytes) -> tuple[str | None, str | None, list[Problem]]:
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "UTF-8 with BOM", []
        except UnicodeDecodeError as exc:
            return None, None, [Problem(f"the file starts as UTF-8 but byte {exc.start + 3} is not UTF-8",
                                        Location(file=name), "save it again as UTF-8")]
    try:
        return data.decode("utf-8"), "UTF-8", []
    except UnicodeDecodeError as utf8:
        try:
            return data.decode("gb18030"), "GBK", []
        except UnicodeDecodeError as gbk:
            return None, None, [Problem(
                f"the file is neither UTF-8 (bad byte at offset {utf8.start}) nor GBK/GB18030 "
                f"(bad byte at offset {gbk.start})", Location(file=name),
                "save it as CSV UTF-8 (Excel: Save As → CSV UTF-8) or as .xlsx")]


def _read_csv(name: str, data: bytes) -> tuple[RawTable | None, list[Problem]]:
    text, encoding, problems = _decode(name, data)
    if text is None:
        return None, problems
    reader = csv.reader(io.StringIO(text, newline=""))
    header: tuple[str, ...] | None = None
    rows = []
    try:
        for record in reader:
            if header is None:
                header = tuple(cell.strip() for cell in record)
            else:
                rows.append((reader.line_num, tuple(record)))
    except csv.Error as exc:
        return None, [Problem(f"broken CSV: {exc}", Location(file=name, row=reader.line_num),
                              "check the quotes on that line")]
    return RawTable(name, None, header or (), tuple(rows), encoding), []


def _read_xlsx(name: str, data: bytes, sheet: str | None) -> tuple[RawTable | None, list[Problem]]:
    from openpyxl import load_workbook

    try:
        with warnings.catch_warnings():  # openpyxl warns about styles and extensions it ignores
            warnings.simplefilter("ignore")
            book = load_workbook(io.BytesIO(data), data_only=False)
    except Exception as exc:  # openpyxl raises zipfile, KeyError, ValueError … for broken files
        return None, [Problem(f"not a readable .xlsx workbook: {type(exc).__name__}: {exc}",
                              Location(file=name), "open it in Excel and save it again as .xlsx")]
    if sheet is not None and sheet not in book.sheetnames:
        return None, [Problem(f"the workbook has no sheet {sheet!r}", Location(file=name),
                              f"its sheets are: {', '.join(book.sheetnames)}")]
    ws = book[sheet] if sheet is not None else book.worksheets[0]
    problems = [Problem(f"merged cells {rng.coord}", Location(file=name, sheet=ws.title, row=rng.min_row,
                                                             column=get_column_letter(rng.min_col)),
                        "unmerge them and fill every cell")
                for rng in sorted(ws.merged_cells.ranges, key=lambda r: (r.min_row, r.min_col))]
    header: tuple[str, ...] | None = None
    rows = []
    for cells in ws.iter_rows():
        for cell in cells:
            if cell.data_type == "f":
                problems.append(Problem(f"cell {cell.coordinate} holds a formula ({cell.value})",
                                        Location(file=name, sheet=ws.title, row=cell.row,
                                                 column=get_column_letter(cell.column)),
                                        "replace formulas by their values (Paste Special → Values)"))
        values = tuple(cell.value for cell in cells)
        if header is None:
            header = tuple("" if v is None else str(v).strip() for v in values)
        else:
            rows.append((cells[0].row, values))
    return RawTable(name, ws.title, header or (), tuple(rows)), problems
