"""The Excel workbook of a report: one sheet per table (ranking, items, indicators with measures,
commendation, review, warnings). Points are numbers in points (milli-points / 1000, exact to
three decimals); write-only mode keeps 30,000 units fast."""

from __future__ import annotations

import math
from pathlib import Path

from openpyxl import Workbook

from jx_outputs.labels import labels
from jx_outputs.report import Report
from jx_outputs.tables import Table, all_tables
from jxcore.points import MILLI


def _cell(value, kind: str):
    if value is None:
        return None
    if kind == "points":
        return value / MILLI
    if kind == "number":
        return None if math.isnan(value) else value
    return value


def write_workbook(report: Report, path: Path) -> Path:
    """Write the workbook to ``path`` (directories created); return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    book = Workbook(write_only=True)
    sheet_names = labels(report.view.language)
    for table in all_tables(report):
        _sheet(book, table, sheet_names[f"sheet_{table.name}"])
    book.save(path)
    return path


def _sheet(book: Workbook, table: Table, name: str) -> None:
    sheet = book.create_sheet(name)
    if table.title != name:
        sheet.append([table.title])
    sheet.append([c.label for c in table.columns])
    kinds = [c.kind for c in table.columns]
    for row in table.rows:
        sheet.append([_cell(v, k) for v, k in zip(row, kinds)])
    if table.notes:
        sheet.append([])
        for note in table.notes:
            sheet.append([note])
