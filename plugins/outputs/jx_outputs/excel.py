"""The Excel workbook of a report, as a bureau prints it: one sheet per table (ranking, items,
indicators with measures, commendation, review, warnings).

Each sheet has a bold title and header row, frozen panes below the header (and right of the unit's
name), column widths from the content, an autofilter, and prints on A4 landscape, one page wide,
with the title rows repeated on every page. Points are numbers shown to three decimals (milli-points
/ 1000, exact), rates as percentages, other measures to two decimals, dates as dates. Text is always
written as text: a unit or item named ``=HYPERLINK(…)`` is a string, never a formula (OWASP's
CSV/formula injection).

The package (SpreadsheetML in a zip) is written directly rather than through openpyxl: a national
report has ~11M cells, and a cell object each took minutes. A column is turned into cell XML at
once (a cell's XML depends only on its value and the column's format, so repeated points are
formatted once); cells carry no ``r`` reference (optional in SpreadsheetML: a cell follows the
one before it, an empty one is written as an empty cell), so a row is a join of its cells; the sheet
is compressed on a second thread (zlib releases the GIL) while the next rows are made. Rows are
made in chunks, so memory stays bounded whatever the number of units.
"""

from __future__ import annotations

import datetime as dt
import functools
import gc
import math
import queue
import re
import threading
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import numpy as np

from jx_outputs.labels import labels
from jx_outputs.report import Report
from jx_outputs.tables import Table, all_tables, columns_of
from jxcore.points import MILLI

#: Excel number format of each column kind
FORMATS = {"points": "0.000", "int": "0", "number": "#,##0.00##", "rate": "0.0%", "date": "yyyy-mm-dd",
           "move": '"↑"0;"↓"0;"–"'}
WIDTH_SAMPLE = 2000  #: rows measured for column widths
MAX_WIDTH = 48
CHUNK = 250  #: rows made (and compressed) at a time
DECIMALS = {"rate": 6, "number": 4}  #: measures are stored rounded, not as raw floats

# cellXfs of styles.xml: 0 plain, 1 title, 2 header, then one per number format
_TITLE, _HEADER = 1, 2
_STYLE = {"int": 3, "points": 4, "rate": 5, "number": 6, "date": 7, "move": 8}
_NUMFMT = {"int": 1, "points": 164, "rate": 165, "number": 166, "date": 167, "move": 168}  # 1 is built in: "0"
_EPOCH = dt.date(1899, 12, 30)  #: day 0 of Excel's 1900 date system (as it counts, past 1900-02-28)
# characters XML 1.0 cannot hold (a workbook with one does not open): left out of text cells
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def without_cyclic_gc(write: Callable[..., Any]) -> Callable[..., Any]:
    """``write`` run with Python's cyclic garbage collector paused (and resumed after, if it was on):
    writing a report makes millions of short-lived lists and tuples and no cycles, and each
    collection would walk every object of the run (nationally ~1 CPU-s for the workbook)."""
    @functools.wraps(write)
    def paused(*args: Any, **kwargs: Any) -> Any:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return write(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()

    return paused


@without_cyclic_gc
def write_workbook(report: Report, path: Path,
                   progress: Callable[[int], Callable[[int], None]] | None = None) -> Path:
    """Write the workbook to ``path`` (directories created); return the path. ``progress(rows)``,
    given the rows to write, returns ``advance(n)``, called as they are written (a progress bar)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lab = labels(report.view.language)
    found = all_tables(report)
    advance = progress(sum(len(t.rows) for t in found)) if progress is not None else None
    names = [lab[f"sheet_{table.name}"] for table in found]
    partial = path.with_name(f".{path.name}.partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as book:
        defined = []
        for n, (table, name) in enumerate(zip(found, names), start=1):
            header_row, last_col, last_row = _sheet(book, f"xl/worksheets/sheet{n}.xml", table, name, lab["unit"],
                                                    advance)
            quoted = "'" + name.replace("'", "''") + "'"
            defined.append(f'<definedName name="_xlnm._FilterDatabase" localSheetId="{n - 1}" hidden="1">'
                           f"{escape(quoted)}!$A${header_row}:${last_col}${last_row}</definedName>")
            defined.append(f'<definedName name="_xlnm.Print_Titles" localSheetId="{n - 1}">'
                           f"{escape(quoted)}!$1:${header_row}</definedName>")
        _package(book, names, defined)
    partial.replace(path)
    return path


# ---------------------------------------------------------------- cells


def _text(value: Any, attrs: str = "") -> str:
    """A text cell: a string whatever it starts with (``=``, ``+``, ``-``, ``@``), never a formula."""
    text = _ILLEGAL.sub("", str(value))
    space = ' xml:space="preserve"' if text != text.strip() else ""
    return f'<c{attrs} t="inlineStr"><is><t{space}>{escape(text)}</t></is></c>'


def _number(value: float, kind: str) -> str:
    return f'<c s="{_STYLE[kind]}"><v>{value!r}</v></c>'


def _cell(value: Any, kind: str) -> str:
    """One cell of a column of ``kind``, any value."""
    if value is None:
        return f'<c s="{_STYLE[kind]}"/>' if kind in _STYLE else "<c/>"
    if kind == "text" or isinstance(value, str) and kind != "date":
        return _text(value)
    if kind == "points":
        return _number(value / MILLI, kind)
    if kind in DECIMALS:
        value = float(value)
        return _number(round(value, DECIMALS[kind]), kind) if math.isfinite(value) else f'<c s="{_STYLE[kind]}"/>'
    if kind == "date":
        day = dt.date.fromisoformat(value) if isinstance(value, str) else value
        if isinstance(day, dt.datetime):
            day = day.date()
        return f'<c s="{_STYLE[kind]}"><v>{(day - _EPOCH).days}</v></c>'
    if isinstance(value, bool):
        return f'<c t="b"><v>{int(value)}</v></c>'
    if kind in _STYLE:
        return _number(value, kind)
    return f"<c><v>{value!r}</v></c>"


class _Memo(dict):
    """Cell XML by value for one column kind, made on first sight."""

    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind

    def __missing__(self, value: Any) -> str:
        cell = self[value] = _cell(value, self.kind)
        return cell


def by_unique(values: np.ndarray, format: Callable[[Any], Any]) -> tuple[np.ndarray, np.ndarray]:
    """``format`` of each distinct value of a numeric column (``np.unique``: a national indicator
    sheet has 5.3M measures but ~1M distinct ones, and fewer distinct scores still), and where each
    value's is: ``texts[where]`` is the column formatted."""
    distinct, where = np.unique(values, return_inverse=True)
    texts = np.empty(len(distinct), dtype=object)
    texts[:] = [format(v) for v in distinct.tolist()]
    return texts, where.reshape(-1)


def encoded(values: list[str]) -> list[bytes]:
    """Each string in UTF-8, with one encode for the column when no value holds a NUL."""
    joined = "\x00".join(values)
    if joined.count("\x00") != len(values) - 1:
        return [v.encode("utf-8") for v in values]
    return joined.encode("utf-8").split(b"\x00") if values else []


class _Cells:
    """The cells of one column as UTF-8 XML, each distinct number's made once, taken a chunk at a time."""

    def __init__(self, values: Sequence[Any], kind: str):
        self.where: np.ndarray | None = None
        if isinstance(values, np.ndarray) and values.dtype.kind in "iuf" and kind in _STYLE and kind != "date":
            style = _STYLE[kind]
            pre, post, empty = f'<c s="{style}"><v>'.encode(), b"</v></c>", f'<c s="{style}"/>'.encode()
            if kind in DECIMALS:
                rounded = np.where(np.isfinite(values), np.round(values, DECIMALS[kind]), np.nan)
                self.texts, self.where = by_unique(
                    rounded, lambda v: pre + repr(v).encode() + post if v == v else empty)
            elif kind == "points" and values.dtype.kind in "iu":
                self.texts, self.where = by_unique(values, lambda m: pre + repr(m / MILLI).encode() + post)
            else:
                self.texts, self.where = by_unique(values, lambda v: _cell(v, kind).encode())
            return
        if isinstance(values, np.ndarray):
            values = values.tolist()
        if kind == "text":
            texts = ["<c/>" if v is None else _text(v) for v in values]
        else:  # values repeat down a column (dates, names of levels): each made once
            texts = list(map(_Memo(kind).__getitem__, values))
        self.texts = np.empty(len(values), dtype=object)
        self.texts[:] = encoded(texts)

    def __getitem__(self, rows: slice) -> np.ndarray:
        return self.texts[rows] if self.where is None else self.texts[self.where[rows]]


def _letter(n: int) -> str:
    """Column letters of the 1-based column ``n`` (1 → A, 27 → AA)."""
    letters = ""
    while n:
        n, rest = divmod(n - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _cell_len(text: str) -> int:
    """Width in character cells (a CJK character is two)."""
    if text.isascii():
        return len(text)
    from rich.cells import cell_len

    return cell_len(text)


def _widths(table: Table, columns: Sequence[Sequence[Any]]) -> list[int]:
    """Column widths from the header and the first rows, in character cells."""
    widths = [_cell_len(c.label) for c in table.columns]
    for i, (column, values) in enumerate(zip(table.columns, columns)):
        sample = values[:WIDTH_SAMPLE]
        if isinstance(sample, np.ndarray) and column.kind == "points" and len(sample):
            shown = max(len(f"{sample.min() / MILLI:.3f}"), len(f"{sample.max() / MILLI:.3f}"))
        elif isinstance(sample, np.ndarray) and sample.dtype.kind in "iuf":
            if sample.dtype.kind == "f":
                sample = np.round(sample, DECIMALS.get(column.kind, 6))
            shown = int(np.strings.str_len(sample.astype(str)).max(initial=0)) if len(sample) else 0
        elif column.kind == "points":
            shown = max((len(f"{v / MILLI:.3f}") for v in sample if v is not None), default=0)
        else:
            shown = max((_cell_len(str(v if v is not None else "")) for v in sample), default=0)
        widths[i] = max(widths[i], shown)
    return widths


# ---------------------------------------------------------------- sheets


class _Writer:
    """Compresses and writes a sheet's chunks on a second thread, while the next ones are made."""

    def __init__(self, book: zipfile.ZipFile, name: str):
        self.stream = book.open(name, "w", force_zip64=True)
        self.queue: queue.Queue[bytes | None] = queue.Queue(maxsize=4)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (chunk := self.queue.get()) is not None:
            if self.error is None:
                try:
                    self.stream.write(chunk)
                except BaseException as error:  # re-raised by close()
                    self.error = error

    def write(self, text: str | bytes) -> None:
        self.queue.put(text.encode("utf-8") if isinstance(text, str) else text)

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error
        self.stream.close()


def _sheet(book: zipfile.ZipFile, part: str, table: Table, name: str, unit_label: str,
           advance: Callable[[int], None] | None) -> tuple[int, str, int]:
    """Write one sheet; return its header row, last column letter and last row of the table."""
    kinds = [c.kind for c in table.columns]
    n_cols = max(len(kinds), 1)
    last_col = _letter(n_cols)
    header_row = 2 if table.title != name else 1
    last = max(header_row + len(table.rows), header_row)
    columns = columns_of(table.rows, len(kinds))
    frozen_cols = next((i + 1 for i, c in enumerate(table.columns) if c.label == unit_label), 0)  # up to the name
    top_left = f"{_letter(frozen_cols + 1)}{header_row + 1}"
    if frozen_cols:
        pane = (f'<pane xSplit="{frozen_cols}" ySplit="{header_row}" topLeftCell="{top_left}" '
                'activePane="bottomRight" state="frozen"/><selection pane="topRight"/>'
                f'<selection pane="bottomLeft"/><selection pane="bottomRight" activeCell="{top_left}" '
                f'sqref="{top_left}"/>')
    else:
        pane = (f'<pane ySplit="{header_row}" topLeftCell="{top_left}" activePane="bottomLeft" state="frozen"/>'
                f'<selection pane="bottomLeft" activeCell="{top_left}" sqref="{top_left}"/>')
    widths = "".join(f'<col min="{i}" max="{i}" width="{min(w + 2, MAX_WIDTH)}" customWidth="1"/>'
                     for i, w in enumerate(_widths(table, columns), start=1))
    end = header_row + len(table.rows) + (1 + len(table.notes) if table.notes else 0)
    out = _Writer(book, part)
    try:
        out.write(f'{_HEAD}<worksheet {_NS}><sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>'
                  f'<dimension ref="A1:{last_col}{max(end, 1)}"/><sheetViews><sheetView workbookViewId="0">'
                  f'{pane}</sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/><cols>{widths}</cols>'
                  "<sheetData>")
        head = []
        if header_row == 2:
            head.append('<row r="1">' + _text(table.title, f' s="{_TITLE}"') + "</row>")
        head.append(f'<row r="{header_row}">' + "".join(_text(c.label, f' s="{_HEADER}"') for c in table.columns)
                    + "</row>")
        out.write("".join(head))
        cells = [_Cells(values, kind) for values, kind in zip(columns, kinds)]
        for start in range(0, len(table.rows), CHUNK):
            # a chunk of rows as one array of cells, a row's opening and closing tags around them: one join
            stop = min(start + CHUNK, len(table.rows))
            block = np.empty((stop - start, len(cells) + 2), dtype=object)
            first = header_row + 1 + start
            block[:, 0] = [b'<row r="%d">' % r for r in range(first, first + stop - start)]
            for k, column in enumerate(cells, start=1):
                block[:, k] = column[start:stop]
            block[:, -1] = b"</row>"
            out.write(b"".join(block.ravel().tolist()))
            if advance is not None:
                advance(stop - start)
        if table.notes:
            row = last + 2
            for note in table.notes:
                out.write(f'<row r="{row}">{_text(note)}</row>')
                row += 1
        out.write(f'</sheetData><autoFilter ref="A{header_row}:{last_col}{last}"/>'
                  '<pageMargins left="0.75" right="0.75" top="1" bottom="1" header="0.5" footer="0.5"/>'
                  '<pageSetup paperSize="9" orientation="landscape" fitToWidth="1" fitToHeight="0"/></worksheet>')
    finally:
        out.close()
    return header_row, last_col, last


# ---------------------------------------------------------------- the package around the sheets


def _styles() -> str:
    formats = "".join(f'<numFmt numFmtId="{_NUMFMT[k]}" formatCode={quoteattr(FORMATS[k])}/>'
                      for k in ("points", "rate", "number", "date", "move"))
    xfs = ['<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>',
           '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>',
           '<xf numFmtId="0" fontId="2" fillId="0" borderId="0" xfId="0" applyFont="1" applyAlignment="1">'
           '<alignment vertical="center" wrapText="1"/></xf>']
    xfs += [f'<xf numFmtId="{_NUMFMT[k]}" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
            for k in sorted(_STYLE, key=_STYLE.get)]
    return (f'{_HEAD}<styleSheet {_NS}><numFmts count="5">{formats}</numFmts><fonts count="3">'
            '<font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
            '<font><b/><sz val="13"/><name val="Calibri"/><family val="2"/></font>'
            '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
            '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/>'
            '</fill></fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
            '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
            f'<cellXfs count="{len(xfs)}">{"".join(xfs)}</cellXfs>'
            '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>')


def _package(book: zipfile.ZipFile, names: list[str], defined: list[str]) -> None:
    sheet_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
    overrides = "".join(f'<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="{sheet_type}"/>'
                        for n in range(1, len(names) + 1))
    book.writestr("[Content_Types].xml", (
        f'{_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/styles.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        '<Override PartName="/docProps/core.xml" '
        'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
        f"{overrides}</Types>"))
    book.writestr("_rels/.rels", (
        f'{_HEAD}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
        '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/'
        'core-properties" Target="docProps/core.xml"/></Relationships>'))
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    book.writestr("docProps/core.xml", (
        f'{_HEAD}<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
        'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dc:creator>jx</dc:creator>'
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{now}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{now}</dcterms:modified></cp:coreProperties>'))
    sheets = "".join(f'<sheet name={quoteattr(name)} sheetId="{n}" r:id="rId{n}"/>'
                     for n, name in enumerate(names, start=1))
    book.writestr("xl/workbook.xml", (
        f'{_HEAD}<workbook {_NS} xmlns:r="{_REL}"><bookViews><workbookView activeTab="0"/></bookViews>'
        f'<sheets>{sheets}</sheets><definedNames>{"".join(defined)}</definedNames>'
        '<calcPr calcId="124519" fullCalcOnLoad="1"/></workbook>'))
    rels = "".join(f'<Relationship Id="rId{n}" Type="{_REL}/worksheet" Target="worksheets/sheet{n}.xml"/>'
                   for n in range(1, len(names) + 1))
    book.writestr("xl/_rels/workbook.xml.rels", (
        f'{_HEAD}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{rels}'
        f'<Relationship Id="rId{len(names) + 1}" Type="{_REL}/styles" Target="styles.xml"/></Relationships>'))
    book.writestr("xl/styles.xml", _styles())

