"""The Excel workbook of a report, as a bureau prints it: one sheet per table (ranking, items,
indicators with measures, commendation, review, warnings).

Each sheet has a bold title and header row, frozen panes below the header (and right of the unit's
name), column widths from the content, an autofilter, and prints on A4 landscape, one page wide,
with the title rows repeated on every page. Points are numbers shown to three decimals (milli-points
/ 1000, exact), rates as percentages, other measures to two decimals, dates as dates. Text is always
written as text: a unit or item named ``=HYPERLINK(…)`` is a string, never a formula (OWASP's
CSV/formula injection). Write-only mode keeps 30,000 units in bounded memory.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties

from jx_outputs.labels import labels
from jx_outputs.report import Report
from jx_outputs.tables import Table, all_tables
from jxcore.points import MILLI

#: Excel number format of each column kind
FORMATS = {"points": "0.000", "int": "0", "number": "#,##0.00##", "rate": "0.0%", "date": "yyyy-mm-dd",
           "move": '"↑"0;"↓"0;"–"'}
WIDTH_SAMPLE = 2000  #: rows measured for column widths
MAX_WIDTH = 48


def _value(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "points":
        return value / MILLI
    if kind in ("number", "rate"):
        return None if math.isnan(value) else round(value, 6 if kind == "rate" else 4)
    if kind == "date" and isinstance(value, str):
        return dt.date.fromisoformat(value)
    return value


def write_workbook(report: Report, path: Path,
                   progress: Callable[[int], Callable[[int], None]] | None = None) -> Path:
    """Write the workbook to ``path`` (directories created); return the path. ``progress(rows)``,
    given the rows to write, returns ``advance(n)``, called as they are written (a progress bar)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    book = Workbook(write_only=True)
    lab = labels(report.view.language)
    found = all_tables(report)
    advance = progress(sum(len(t.rows) for t in found)) if progress is not None else None
    for table in found:
        _sheet(book, table, lab[f"sheet_{table.name}"], lab["unit"], advance)
    book.save(path)
    return path


def _text(sheet, value: Any, font: Font | None = None) -> WriteOnlyCell:
    """A cell that is text whatever it starts with (``=``, ``+``, ``-``, ``@``): never a formula."""
    cell = WriteOnlyCell(sheet, value=None)
    cell.value = str(value)
    cell.data_type = "s"
    if font is not None:
        cell.font = font
    return cell


def _sheet(book: Workbook, table: Table, name: str, unit_label: str, advance: Callable[[int], None] | None) -> None:
    from rich.cells import cell_len

    sheet = book.create_sheet(name)
    kinds = [c.kind for c in table.columns]
    header_row = 2 if table.title != name else 1
    # widths from the header and the first rows, in character cells (a CJK character is two)
    widths = [cell_len(c.label) for c in table.columns]
    for row in table.rows[:WIDTH_SAMPLE]:
        for i, (v, k) in enumerate(zip(row, kinds)):
            shown = len(f"{_value(v, k):.3f}") if k == "points" and v is not None else cell_len(str(v or ""))
            widths[i] = max(widths[i], shown)
    for i, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = min(width + 2, MAX_WIDTH)
    labels_ = [c.label for c in table.columns]
    frozen_cols = next((i + 1 for i, c in enumerate(table.columns) if c.label == unit_label), 0)  # up to the name
    sheet.freeze_panes = f"{get_column_letter(frozen_cols + 1)}{header_row + 1}"
    # print setup: set before the first row, since a write-only sheet writes its properties first
    sheet.print_title_rows = f"1:{header_row}"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = "9"  # A4 (Worksheet.PAPERSIZE_A4; write-only sheets lack the constant)
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    bold = Font(bold=True)
    if header_row == 2:
        sheet.append([_text(sheet, table.title, Font(bold=True, size=13))])
    header = [_text(sheet, label, bold) for label in labels_]
    for cell in header:
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    sheet.append(header)
    styles = [FORMATS.get(k) for k in kinds]
    for n, row in enumerate(table.rows, start=1):
        cells: list[Any] = []
        for value, kind, fmt in zip(row, kinds, styles):
            value = _value(value, kind)
            if value is None:
                cells.append(None)
            elif kind == "text" or isinstance(value, str):
                cells.append(_text(sheet, value))
            else:
                cell = WriteOnlyCell(sheet, value=value)
                cell.number_format = fmt or "General"
                cells.append(cell)
        sheet.append(cells)
        if advance is not None and n % 1000 == 0:
            advance(1000)
    if advance is not None:
        advance(len(table.rows) % 1000)
    last = header_row + len(table.rows)
    sheet.auto_filter.ref = f"A{header_row}:{get_column_letter(max(len(labels_), 1))}{max(last, header_row)}"
    if table.notes:
        sheet.append([])
        for note in table.notes:
            sheet.append([_text(sheet, note)])
