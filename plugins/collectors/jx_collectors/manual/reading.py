"""Read a CSV or XLSX file into a raw table (header + a stream of rows), refusing what cannot be read.

Files are read within :data:`LIMITS` (bytes, rows, columns, cell length, an XLSX's unpacked size and
compression ratio) and streamed row by row, so a huge or hostile file costs bounded time and
memory and is answered with what was exceeded. :func:`read_bounded` reads a path that way: only
regular files, never a FIFO, a device (a symlink to /dev/zero) or a directory.

CSV: UTF-8 (with or without BOM) first, then GB18030 (a superset of GBK, which Excel on a Chinese
Windows writes). UTF-16 (Excel's "Unicode Text", with or without BOM) and Big5 are named and
refused rather than misread; a file that decodes as nothing is refused with the byte offsets where
each decoding failed. Control characters in a cell (NUL, …; tab and line breaks are allowed) are
refused with row, column and byte offset.
XLSX: the first sheet (or the one named); formula cells and merged cells are refused with their
sheet, row and column, since what a formula shows is not what the file holds, and a merged cell
leaves the rows under it without a value.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import stat
import warnings
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from itertools import chain, islice, repeat
from operator import attrgetter
from pathlib import Path
from typing import Any

import attrs

from jxcore.errors import DataError, Location, Problem, UsageError


def get_column_letter(index: int) -> str:
    """openpyxl's column letter, imported on use: openpyxl costs 60 ms at every ``jx`` start."""
    from openpyxl.utils import get_column_letter as letter

    return letter(index)


CSV_SUFFIXES = (".csv", ".txt")
XLSX_SUFFIXES = (".xlsx", ".xlsm")
MiB = 1 << 20


@attrs.frozen
class Limits:
    """What one import file may hold; beyond it the file is refused with the limit named."""

    file_bytes: int = 128 * MiB  #: size of the file as stored
    rows: int = 2_000_000  #: data rows
    columns: int = 64  #: cells in one row (a kind has at most ten columns)
    cells: int = 20_000_000  #: cells in the whole file
    cell_chars: int = 32_767  #: characters in one cell (Excel's own limit)
    xlsx_unpacked: int = 1024 * MiB  #: declared uncompressed size of all members of an XLSX
    xlsx_ratio: int = 200  #: uncompressed/compressed size of one XLSX member over 1 MiB (a zip bomb)
    problems: int = 200  #: problems listed; the rest are counted


LIMITS = Limits()
#: Control characters refused in cells: C0 but tab, line feed and carriage return; DEL.
CONTROL = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f"
_CONTROL_TEXT = re.compile(f"[{CONTROL}]")
_CONTROL_BYTES = re.compile(f"[{CONTROL}]".encode())
_NAMES = {0: "NUL", 0x1b: "ESC", 0x7f: "DEL"}


def control_name(char: str) -> str:
    code = ord(char)
    return f"0x{code:02X}" + (f" ({_NAMES[code]})" if code in _NAMES else "")


def read_bounded(path: Path | str, limit: int = LIMITS.file_bytes) -> bytes:
    """The bytes of the regular file at ``path``, at most ``limit`` of them.

    A directory, FIFO, socket or device (also behind a symlink, such as one to /dev/zero) is
    refused without reading it (UsageError); so is a file larger than ``limit`` (DataError).
    The file is opened non-blocking and checked on the open descriptor, so a path swapped for a
    FIFO between the check and the read cannot hang the import.
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise UsageError(f"cannot read the file: {exc.strerror}", location=Location(file=str(path)),
                         hint="check the file name") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        mode = info.st_mode
        what = ("a directory" if stat.S_ISDIR(mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(mode)
                else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket or other special file")
        raise UsageError(f"it is {what}, not a file", location=Location(file=str(path)),
                         hint="give the path of a .csv or .xlsx file")
    size = info.st_size
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(limit + 1) if size <= limit else b""
    if size > limit or len(data) > limit:
        raise DataError(f"the file is {max(size, len(data)) / MiB:.1f} MiB, more than the {limit / MiB:.0f} MiB "
                        "an import may be", location=Location(file=path.name),
                        hint="split it into several files (by month or by unit) and import each")
    return data


class Problems:
    """Problems of one file: the first ``cap`` kept, the rest counted, so a file bad in every row
    costs bounded memory and a readable report."""

    def __init__(self, cap: int = LIMITS.problems):
        self.cap = cap
        self.kept: list[Problem] = []
        self.more = 0

    def add(self, problem: Problem) -> None:
        if len(self.kept) < self.cap:
            self.kept.append(problem)
        else:
            self.more += 1

    def extend(self, problems: Iterable[Problem]) -> None:
        for problem in problems:
            self.add(problem)

    def __len__(self) -> int:
        return len(self.kept) + self.more

    def listing(self) -> list[Problem]:
        """The kept problems by row (file-wide ones first), then how many more there are."""
        shown = sorted(self.kept, key=lambda p: -1 if p.location.row is None else p.location.row)
        if self.more:
            shown.append(Problem(f"and {self.more} more problems (only the first {self.cap} are listed)",
                                 Location(file=shown[0].location.file if shown else None),
                                 "fix these and import the file again to see the rest"))
        return shown


#: A block of data rows: their row numbers in the file and their cells, in file order.
Block = tuple[Sequence[int], Sequence[Sequence[Any]]]


@attrs.frozen
class RawTable:
    """The cells of a file: the header row and the data rows with their row numbers in the file.

    ``blocks`` may be a one-shot stream of :data:`Block`: problems met while it is read (a broken
    quote, a control character, a limit) go to ``problems``, complete once the stream is exhausted.
    A row the reader found a problem in comes in a block of its own, after that problem was added,
    so a checker adding its problems block by block adds them in the order of the rows.
    """

    file: str
    sheet: str | None
    header: tuple[str, ...]
    blocks: Iterable[Block]
    encoding: str | None = None  #: how a CSV was decoded: "UTF-8", "UTF-8 with BOM", "GBK"
    problems: Problems = attrs.field(factory=Problems)

    @property
    def rows(self) -> Iterator[tuple[int, Sequence[Any]]]:
        """(row number, cells) of each data row, from :attr:`blocks`."""
        return (row for numbers, cells in self.blocks for row in zip(numbers, cells))

    def location(self, row: int | None = None, column: int | None = None) -> Location:
        """Where a cell is; ``column`` is a 0-based index, shown as its letter and header."""
        col = None
        if column is not None:
            header = self.header[column] if column < len(self.header) else ""
            col = get_column_letter(column + 1) + (f" ({header})" if header else "")
        return Location(file=self.file, sheet=self.sheet, row=row, column=col)


def read_table(name: str, data: bytes, sheet: str | None = None,
               limits: Limits = LIMITS) -> tuple[RawTable | None, list[Problem]]:
    """Parse ``data`` (the bytes of file ``name``) by its suffix; (None, problems) if it cannot be read.

    The table's rows are a stream: problems inside them are in ``table.problems`` once it is read.
    """
    suffix = Path(name).suffix.lower()
    where = Location(file=name)
    if len(data) > limits.file_bytes:
        return None, [Problem(f"the file is {len(data) / MiB:.1f} MiB, more than the "
                              f"{limits.file_bytes / MiB:.0f} MiB an import may be", where,
                              "split it into several files (by month or by unit) and import each")]
    if not data.strip(b"\xef\xbb\xbf \t\r\n"):
        return None, [Problem("the file is empty", where,
                              "export the sheet again; the first row must be the column headers")]
    if suffix in CSV_SUFFIXES:
        if data.startswith(b"PK\x03\x04"):
            return None, [Problem("the file is an .xlsx workbook, not CSV text", where, "name it .xlsx")]
        if data.startswith(b"\xd0\xcf\x11\xe0"):
            return None, [Problem("the file is an old Excel .xls workbook, not CSV text", where,
                                  "open it in Excel and save it as .xlsx or CSV UTF-8")]
        return _read_csv(name, data, limits)
    if suffix in XLSX_SUFFIXES:
        return _read_xlsx(name, data, sheet, limits)
    return None, [Problem(f"cannot read files of type {suffix or '(no suffix)'!r}", where,
                          "save the sheet as .csv or .xlsx")]


# --- CSV -------------------------------------------------------------------------------------

_SAVE_AS = "save it as CSV UTF-8 (Excel: Save As → CSV UTF-8) or GBK, or as .xlsx"


def _bad_byte(data: bytes, codec: str, start: int = 0) -> int | None:
    """Offset of the first byte of ``data[start:]`` that is not ``codec``, or None; decoded in
    chunks so a large file is not copied into one string."""
    decoder = codecs.getincrementaldecoder(codec)()
    view = memoryview(data)
    step = 4 * MiB
    for at in range(start, len(data), step):
        pending = len(decoder.getstate()[0])
        try:
            decoder.decode(view[at:at + step], final=at + step >= len(data))
        except UnicodeDecodeError as exc:
            return at - pending + exc.start
    return None


def _utf16(sample: bytes) -> str | None:
    """"UTF-16LE"/"UTF-16BE" if ``sample`` looks like UTF-16 without a BOM: text files written as
    UTF-16 have a zero byte in every ASCII character (digits, commas, line breaks), all at odd
    (little-endian) or all at even (big-endian) offsets."""
    sample = sample[: len(sample) // 2 * 2]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    half = len(sample) // 2
    for zeros, other, name in ((odd, even, "UTF-16LE"), (even, odd, "UTF-16BE")):
        if zeros >= 0.2 * half and other <= 0.02 * half:
            try:
                sample.decode(name.lower().replace("utf-16", "utf-16-"))
            except UnicodeDecodeError:
                return None
            return name
    return None


def _is_big5(data: bytes) -> bool:
    """Whether a file that is not UTF-8 reads best as Big5 (traditional Chinese), judged by
    charset-normalizer on the first 64 KiB: Big5 bytes mostly decode as GB18030 too, but to
    nonsense, which the detector's coherence check sees."""
    from charset_normalizer import from_bytes

    sample = data[:65536]
    if len(data) > len(sample):
        sample = sample[: sample.rfind(b"\n") + 1] or sample
    found = {m.encoding for m in from_bytes(sample)}
    return bool(found & {"big5", "cp950", "big5hkscs"}) and "gb18030" not in found


def _decode(name: str, data: bytes) -> tuple[str | None, str | None, list[Problem]]:
    """(codec, how it is named, problems) for a CSV file."""
    where = Location(file=name)
    if data.startswith(b"\xef\xbb\xbf"):
        bad = _bad_byte(data, "utf-8", 3)
        if bad is not None:
            return None, None, [Problem(f"the file starts as UTF-8 but byte {bad} is not UTF-8", where,
                                        "save it again as UTF-8")]
        return "utf-8-sig", "UTF-8 with BOM", []
    utf16 = "UTF-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else _utf16(data[:4096])
    if utf16:
        return None, None, [Problem(f"the file is {utf16} (Excel's \"Unicode Text\"), which jx does not read",
                                    where, _SAVE_AS)]
    utf8 = _bad_byte(data, "utf-8")
    if utf8 is None:
        return "utf-8", "UTF-8", []
    if _is_big5(data):
        return None, None, [Problem("the file is Big5 (traditional Chinese), which jx does not read", where,
                                    _SAVE_AS)]
    gbk = _bad_byte(data, "gb18030")
    if gbk is None:
        return "gb18030", "GBK", []
    return None, None, [Problem(f"the file is neither UTF-8 (bad byte at offset {utf8}) nor GBK/GB18030 "
                                f"(bad byte at offset {gbk})", where,
                                "save it as CSV UTF-8 (Excel: Save As → CSV UTF-8) or as .xlsx")]


def _read_csv(name: str, data: bytes, limits: Limits) -> tuple[RawTable | None, list[Problem]]:
    codec, encoding, problems = _decode(name, data)
    if codec is None:
        return None, problems
    if data.count(b"\n") > limits.rows:  # maybe too long: count the records (a bare csv pass) before checking any
        rows = _count_records(data, codec) - 1
        if rows > limits.rows:
            return None, [Problem(f"the file has {rows:,} data rows, more than the {limits.rows:,} an import may hold",
                                  Location(file=name),
                                  "split it into several files (by month or by unit) and import each")]
    reader = csv.reader(io.TextIOWrapper(io.BytesIO(data), encoding=codec, newline=""))
    # Control bytes are never part of a UTF-8 or GB18030 multi-byte character: their offsets are
    # found in the bytes, in the order the cells that hold them are met.
    offsets = iter(m.start() for m in _CONTROL_BYTES.finditer(data))
    controls = _CONTROL_BYTES.search(data) is not None
    try:
        first = next(reader, None)
    except csv.Error as exc:
        return None, [Problem(f"broken CSV: {exc}", Location(file=name, row=reader.line_num),
                              "check the quotes on that line")]
    header = tuple(cell.strip() for cell in first or ())
    table = RawTable(name, None, header, (), encoding)
    bad = [i for i, h in enumerate(header) if _CONTROL_TEXT.search(h)]
    if bad:  # a header with control characters: the file is binary or corrupt, its rows are noise
        return None, [_control_problem(table, 1, bad[0], header[bad[0]], next(offsets, None))]
    table = attrs.evolve(table, blocks=_csv_blocks(table, reader, limits, offsets if controls else None))
    return table, []


def _count_records(data: bytes, codec: str) -> int:
    """Non-empty CSV records in ``data`` (0 if the quoting is broken: the checking pass reports that)."""
    try:
        return sum(1 for record in csv.reader(io.TextIOWrapper(io.BytesIO(data), encoding=codec, newline=""))
                   if record)
    except (csv.Error, UnicodeDecodeError):
        return 0


#: CSV records read and vetted at a time (limits, cell lengths) at C speed; a larger block keeps more rows
#: alive across the garbage collector's young collections, which then scans them again and again
BLOCK = 256


def _csv_blocks(table: RawTable, reader, limits: Limits, offsets: Iterator[int] | None) -> Iterator[Block]:
    """The records as blocks of up to :data:`BLOCK` rows. A block within every limit (the usual
    case) is passed on whole; one that is not, or a file with control characters, is gone through
    record by record, each problem added before the row it belongs to is passed on alone."""
    rows = cells = 0
    problems = table.problems
    numbered = zip(reader, map(attrgetter("line_num"), repeat(reader)))  # (record, its last line)
    failed = None
    while failed is None:
        block: list[tuple[list[str], int]] = []
        try:
            block.extend(islice(numbered, BLOCK))  # keeps the records read before an error
        except csv.Error as exc:
            failed = Problem(f"broken CSV: {exc}", table.location(reader.line_num), "check the quotes on that line")
        except UnicodeDecodeError as exc:  # checked before reading, so only a file changed meanwhile
            failed = Problem(f"undecodable byte: {exc.reason}", table.location(reader.line_num), _SAVE_AS)
        if not block:
            break
        records, numbers = zip(*block)
        widths = list(map(len, records))
        if (offsets is None and rows + len(records) <= limits.rows and cells + sum(widths) <= limits.cells
                and max(widths) <= limits.columns
                and max(map(len, chain.from_iterable(records)), default=0) <= limits.cell_chars):
            rows += len(records)
            cells += sum(widths)
            yield numbers, records
            continue
        for record, row in block:
            rows += 1
            cells += len(record)
            if rows > limits.rows or cells > limits.cells:
                problems.add(_limit_problem(table, row, rows > limits.rows, limits))
                return
            if len(record) > limits.columns:
                problems.add(Problem(f"the row has {len(record)} cells, more than the {limits.columns} "
                                     "an import reads", table.location(row),
                                     "check the delimiters: cells are separated by commas"))
                continue
            if offsets is not None:
                for index, cell in enumerate(record):
                    count = len(_CONTROL_TEXT.findall(cell))
                    if count:
                        problems.add(_control_problem(table, row, index, cell, next(offsets, None)))
                        for _ in range(count - 1):
                            next(offsets, None)
            if record and max(map(len, record)) > limits.cell_chars:
                for index, cell in enumerate(record):
                    if len(cell) > limits.cell_chars:
                        problems.add(Problem(f"the cell has {len(cell)} characters, more than {limits.cell_chars}",
                                             table.location(row, index), "check the quotes before this cell"))
            yield (row,), (record,)
    if failed is not None:
        problems.add(failed)


def _limit_problem(table: RawTable, row: int, rows: bool, limits: Limits) -> Problem:
    what = f"more than {limits.rows:,} data rows" if rows else f"more than {limits.cells:,} cells"
    return Problem(f"the file has {what}; nothing after row {row - 1} was read", table.location(row),
                   "split it into several files (by month or by unit) and import each")


def _control_problem(table: RawTable, row: int, index: int, cell: Any, offset: int | None) -> Problem:
    char = _CONTROL_TEXT.search(cell).group()
    at = f" at byte offset {offset}" if offset is not None else ""
    return Problem(f"control character {control_name(char)}{at} in the cell", table.location(row, index),
                   "delete it: the file may be damaged or exported from another program; re-type the cell")


# --- XLSX ------------------------------------------------------------------------------------


def _zip_problem(name: str, data: bytes, limits: Limits) -> Problem | None:
    """Why the XLSX container must not be unpacked (a zip bomb, too big), from its declared sizes."""
    where = Location(file=name)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        return Problem(f"not a readable .xlsx workbook: {exc}", where, "open it in Excel and save it again as .xlsx")
    total = sum(m.file_size for m in members)
    if total > limits.xlsx_unpacked:
        return Problem(f"the workbook unpacks to {total / MiB:,.0f} MiB, more than the "
                       f"{limits.xlsx_unpacked / MiB:,.0f} MiB an import may be", where,
                       "split it into several files (by month or by unit) and import each")
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > MiB and ratio > limits.xlsx_ratio:
            return Problem(f"the workbook's part {member.filename} unpacks {ratio:,.0f} times its size "
                           f"(more than {limits.xlsx_ratio}): it is not a spreadsheet Excel wrote", where,
                           "open it in Excel and save it again as .xlsx, or export it as CSV")
    return None


def _read_xlsx(name: str, data: bytes, sheet: str | None, limits: Limits) -> tuple[RawTable | None, list[Problem]]:
    from openpyxl import load_workbook

    refused = _zip_problem(name, data, limits)
    if refused is not None:
        return None, [refused]
    try:
        with warnings.catch_warnings():  # openpyxl warns about styles and extensions it ignores
            warnings.simplefilter("ignore")
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises zipfile, KeyError, ValueError … for broken files
        return None, [Problem(f"not a readable .xlsx workbook: {type(exc).__name__}: {exc}",
                              Location(file=name), "open it in Excel and save it again as .xlsx")]
    if sheet is not None and sheet not in book.sheetnames:
        return None, [Problem(f"the workbook has no sheet {sheet!r}", Location(file=name),
                              f"its sheets are: {', '.join(book.sheetnames)}")]
    if not book.worksheets:  # a damaged workbook.xml can list no sheet at all
        return None, [Problem("the workbook has no readable sheet (its parts are damaged)", Location(file=name),
                              "open it in Excel and save it again as .xlsx, with the data on its first sheet")]
    ws = book[sheet] if sheet is not None else book.worksheets[0]
    if not hasattr(ws, "_get_source"):  # a chartsheet
        return None, [Problem(f"sheet {ws.title!r} holds no cells", Location(file=name),
                              "give the sheet with the data (--sheet NAME)")]
    if (ws.max_row or 0) - 1 > limits.rows:  # the sheet's declared size: refused before parsing any row
        return None, [Problem(f"the sheet declares {ws.max_row - 1:,} data rows, more than the {limits.rows:,} an "
                              "import may hold", Location(file=name, sheet=ws.title),
                              "split it into several files (by month or by unit) and import each")]
    rows = _xlsx_rows(name, book, ws, limits)
    table = RawTable(name, ws.title, (), ())
    try:
        first = next(rows, None)
    except Exception as exc:  # noqa: BLE001 - broken XML in the sheet: ParseError, ValueError, KeyError …
        return None, [Problem(f"not a readable .xlsx workbook: {type(exc).__name__}: {exc}",
                              Location(file=name, sheet=ws.title), "open it in Excel and save it again as .xlsx")]
    if first is None:
        return None, [Problem("the sheet is empty", Location(file=name, sheet=ws.title),
                              "the first row must be the column headers")]
    header = tuple("" if v is None else str(v).strip() for v in first[1])
    table = RawTable(name, ws.title, header, ())
    rows = _xlsx_rows(name, book, ws, limits, table, skip=first[0])
    return attrs.evolve(table, blocks=(((number,), (cells,)) for number, cells in _guarded(rows, table))), []


def _guarded(rows: Iterator, table: RawTable) -> Iterator:
    """The rows, stopping with a problem where the sheet's XML turns out broken."""
    try:
        yield from rows
    except Exception as exc:  # noqa: BLE001 - as above, met further down the sheet
        table.problems.add(Problem(f"not a readable .xlsx workbook: {type(exc).__name__}: {exc}",
                                   Location(file=table.file, sheet=table.sheet),
                                   "open it in Excel and save it again as .xlsx"))


def _xlsx_rows(name: str, book, ws, limits: Limits, table: RawTable | None = None, skip: int = 0):
    """(row number, values) of the sheet's non-empty rows, parsed as a stream of sparse cells.

    openpyxl's own read-only rows are padded to the sheet's declared width, which a hostile file
    can declare as 16,384 columns; the sheet's parser gives only the cells the file holds. With
    ``table``, problems (formulas, control characters, limits, merged cells) are added to it.
    """
    from openpyxl.worksheet._reader import WorkSheetParser
    from openpyxl.worksheet.cell_range import CellRange

    problems = table.problems if table is not None else Problems()
    rows = cells = 0
    with ws._get_source() as source:
        parser = WorkSheetParser(source, ws._shared_strings, data_only=False, epoch=book.epoch,
                                 date_formats=book._date_formats, timedelta_formats=book._timedelta_formats)
        for number, found in parser.parse():
            if number <= skip or not found:
                continue
            if table is None:  # the header row only
                yield number, _dense(found, limits.columns)
                return
            rows += 1
            cells += len(found)
            if rows > limits.rows or cells > limits.cells:
                problems.add(_limit_problem(table, number, rows > limits.rows, limits))
                return
            for cell in found:
                value = cell["value"]
                if cell["data_type"] == "f":
                    problems.add(Problem(f"cell {get_column_letter(cell['column'])}{number} holds a formula "
                                         f"({value})", Location(file=name, sheet=ws.title, row=number,
                                                                column=get_column_letter(cell["column"])),
                                         "replace formulas by their values (Paste Special → Values)"))
                elif isinstance(value, str):
                    if _CONTROL_TEXT.search(value):
                        problems.add(_control_problem(table, number, cell["column"] - 1, value, None))
                    if len(value) > limits.cell_chars:
                        problems.add(Problem(f"the cell has {len(value)} characters, more than {limits.cell_chars}",
                                             table.location(number, cell["column"] - 1), "shorten it"))
            if found[-1]["column"] > limits.columns:
                problems.add(Problem(f"a value in column {get_column_letter(found[-1]['column'])}, beyond the "
                                     f"{limits.columns} columns an import reads", table.location(number),
                                     "delete what is right of the table"))
                continue
            yield number, _dense(found, limits.columns)
        merged = getattr(parser, "merged_cells", None)  # read after the rows, at the end of the sheet
        ranges = [CellRange(m.ref) for m in getattr(merged, "mergeCell", None) or ()]
        for rng in sorted(ranges, key=lambda r: (r.min_row, r.min_col)):
            problems.add(Problem(f"merged cells {rng.coord}", Location(file=name, sheet=ws.title, row=rng.min_row,
                                                                       column=get_column_letter(rng.min_col)),
                                 "unmerge them and fill every cell"))


def _dense(found: list[dict], width: int) -> tuple[Any, ...]:
    values: list[Any] = [None] * min(found[-1]["column"], width)
    for cell in found:
        if cell["column"] <= width:
            values[cell["column"] - 1] = cell["value"]
    return tuple(values)
