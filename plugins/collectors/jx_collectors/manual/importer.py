"""The one import engine: check a raw table against a declared kind.

Every problem of a file is collected in one pass (headers, every cell, duplicate rows) and raised
together as one DataError. Writing is the core's (jxcore.services.entries: natural keys, what an
entry feeds, who may enter it, locks), through the manual collector's EntryReader methods.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
from array import array
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from hashlib import blake2b
from itertools import repeat
from operator import is_, methodcaller
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from jx_collectors.manual.kinds import KINDS, Column, Kind, checklist
from jx_collectors.manual.reading import RawTable, read_bounded, read_table
from jxcore.entry_values import NewEntry
from jxcore.errors import DataError, Problem, UsageError
from jxcore.models import Scheme

_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_CODE_SPLIT = re.compile(r"[,;、，；\s]+")
_TRUE = {"true", "yes", "y", "1", "是", "有", "有责"}
_FALSE = {"false", "no", "n", "0", "否", "无", "无责"}
CHUNK = 10_000  #: entries :meth:`FileCheck.chunks` yields at a time


def kind_of(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise UsageError(f"unknown kind of manual data {name!r}",
                         hint=f"the kinds are: {', '.join(KINDS)}") from None


@attrs.frozen(eq=False)
class EntrySource:
    """A file being imported (:class:`jxcore.interfaces.EntryFile`): name, sha256, encoding, entries."""

    name: str
    sha256: str
    check: FileCheck

    @property
    def encoding(self) -> str | None:
        return self.check.encoding

    def chunks(self) -> Iterator[list[NewEntry]]:
        return self.check.chunks()


def read_file(scheme: Scheme, kind: str, path: Path | str, sheet: str | None = None) -> EntrySource:
    """The file at ``path`` checked as ``kind`` (read bounded: no FIFO, device or oversized file)."""
    path = Path(path)
    data = read_bounded(path)
    check = FileCheck(scheme, kind_of(kind), path.name, data, sheet)
    return EntrySource(path.name, hashlib.sha256(data).hexdigest(), check)


def read_fields(scheme: Scheme, kind: str, fields: Mapping[str, Any], name: str = "entry") -> NewEntry:
    """One entry from ``{column or alias: value}`` (a form, ``jx entry add``), checked like a file's row."""
    table = RawTable(name, None, tuple(fields), (((1,), (tuple(fields.values()),)),))
    rows, problems = check_table(scheme, kind_of(kind), table)
    if problems:
        raise DataError.from_problems(f"{name}: nothing entered", problems)
    return rows[0]


def check_file(scheme: Scheme, spec: Kind, name: str, data: bytes,
               sheet: str | None = None) -> tuple[list[NewEntry], str | None]:
    """The entries of a file, or a DataError with every problem; also how a CSV was decoded."""
    check = FileCheck(scheme, spec, name, data, sheet)
    return [entry for chunk in check.chunks() for entry in chunk], check.encoding


class FileCheck:
    """A file checked as a stream: :meth:`chunks` yields its entries a chunk at a time and raises
    one DataError with every problem after the last chunk, so a caller writing the chunks inside one
    transaction rolls back on it and memory does not grow with the file. An unreadable file or a
    bad header raises at once."""

    def __init__(self, scheme: Scheme, spec: Kind, name: str, data: bytes, sheet: str | None = None):
        table, problems = read_table(name, data, sheet)
        if table is None:
            raise DataError.from_problems(f"{name}: nothing imported", problems)
        self.name, self.table, self.encoding = name, table, table.encoding
        self._scheme, self._spec = scheme, spec
        self._blocks: Iterator[list[NewEntry]] | None = None  # made by the first chunks(), a stream like the file
        self.rows = 0  #: entries yielded so far

    def chunks(self, size: int = CHUNK) -> Iterator[list[NewEntry]]:
        if self._blocks is None:
            self._blocks = _checked_blocks(self._scheme, self._spec, self.table, size)
        chunk: list[NewEntry] = []
        for entries in self._blocks:
            chunk += entries
            while len(chunk) >= size:
                self.rows += size
                yield chunk[:size]
                del chunk[:size]
        problems = self.table.problems
        if problems:
            more = f" ({len(problems)} problems in all)" if problems.more else ""
            raise DataError.from_problems(f"{self.name}: nothing imported{more}", problems.listing())
        if chunk:
            self.rows += len(chunk)
            yield chunk


def check_table(scheme: Scheme, spec: Kind, table: RawTable) -> tuple[list[NewEntry], list[Problem]]:
    """Map the headers to the kind's columns and check every cell; (entries, problems)."""
    entries = [entry for block in _checked_blocks(scheme, spec, table, CHUNK) for entry in block]
    return entries, table.problems.listing()


#: Optional columns of every kind: a row that corrects (supersedes) an earlier entry, and why.
CORRECTION = (Column("supersedes", "integer", ("更正条目", "被更正条目", "替代条目"), required=False, minimum=1),
              Column("reason", "text", ("更正原因", "原因"), required=False))
_CACHE_SIZE = 100_000  #: parsed cells remembered per column: units, codes and dates repeat down a column
#: What a blank required cell gives in a column's memo: the row is checked again on its own, which reports it.
_MISSING = ("missing", "fill in the cell")
_DIGEST = partial(blake2b, digest_size=16)  #: 128 bits of a row's key, for duplicates


class _Memo(dict):
    """A column's parsed cells, cell → (value, problem), parsed on a miss (the first ``_CACHE_SIZE``
    kept); a blank cell gives the column's empty value, or ``_MISSING`` if it is required."""

    def __init__(self, parse: Callable[[Any], Parsed], blank: Parsed):
        super().__init__()
        self.parse, self.blank = parse, blank

    def __missing__(self, cell: Any) -> Parsed:
        result = self.blank if _blank(cell) else self.parse(cell)
        if len(self) < _CACHE_SIZE:
            self[cell] = result
        return result


def _checked_blocks(scheme: Scheme, spec: Kind, table: RawTable, size: int) -> Iterator[list[NewEntry]]:
    """The entries of ``table``'s rows that have no problem, a list for each block of at most
    ``size`` rows; every problem goes to ``table.problems``.

    A block is checked a column at a time (the cells of a column mapped through its memo, its
    entries made with ``map``); a block with any problem in it, and a row alone in its block, is
    checked row by row instead, which reports the problems in the order of the rows and columns.
    Duplicate rows (equal keys) are found at the end from 128-bit digests of the keys, so memory
    is 24 bytes a row rather than the keys themselves.
    """
    problems = table.problems
    columns, header_problems = _map_headers(spec, table)
    problems.extend(header_problems)
    width = len(table.header)
    # what to do with each column: None (no header: it must stay empty), _SKIP (an unknown header or
    # a column that cannot be checked: reported once already), or (column, parser)
    plan: list[Any] = [None if not h else _SKIP for h in table.header]
    for index, col in sorted(columns.items()):
        try:
            parse = _parser(col, scheme)
        except DataError as exc:
            problems.extend(exc.problems)
            continue
        plan[index] = (col, parse)
    iso = [c.name for c in columns.values() if c.type == "date" and c.name != "date"]
    where = {c.name: i for i, c in columns.items()}
    checks = [(i, col.name, parse, col.required, col.type == "codes",
               None if col.type == "text" else  # text cells rarely repeat: not remembered
               _Memo(parse, ([] if col.type == "codes" else None, _MISSING if col.required else None)))
              for i, (col, parse) in ((i, how) for i, how in enumerate(plan) if isinstance(how, tuple))]
    by_columns = {"unit", "date"} <= {name for _, name, *_ in checks}
    unnamed = [i for i, how in enumerate(plan) if how is None]
    key_names = spec.key
    digests, key_rows = bytearray(), array("q")
    data_rows = 0

    def check_row(row_no: int, cells: Sequence[Any]) -> NewEntry | None:
        nonlocal data_rows
        if all(map(_blank, cells)):
            return None
        data_rows += 1
        if len(cells) != width:
            if len(cells) < width:
                cells = (*cells, *(None,) * (width - len(cells)))
            unnamed_here = [*unnamed, *range(width, len(cells))]
        else:
            unnamed_here = unnamed
        row_ok = True
        for index in unnamed_here:
            cell = cells[index]
            if not _blank(cell):
                problems.add(Problem(f"a value ({cell!r}) in a column without a header",
                                     table.location(row_no, index), "give the column a header or clear it"))
                row_ok = False
        values: dict[str, Any] = {}
        for index, name, parse, required, codes, memo in checks:
            cell = cells[index]
            if cell is None or (cell.__class__ is str and (not cell or cell.isspace())):
                if required:
                    problems.add(Problem(f"{name} is missing", table.location(row_no, index), "fill in the cell"))
                    row_ok = False
                values[name] = [] if codes else None
                continue
            if memo is None:
                value, problem = parse(cell)
            else:
                try:
                    value, problem = memo[cell]
                except TypeError:  # an unhashable cell value (from jx entry add)
                    value, problem = parse(cell)
                if codes and value is not None:
                    value = list(value)  # codes: each entry its own list
            if problem:
                problems.add(Problem(problem[0], table.location(row_no, index), problem[1]))
                row_ok = False
            values[name] = value
        supersedes, reason = values.pop("supersedes", None), values.pop("reason", None)
        if row_ok and (supersedes is None) != (reason is None):
            problems.add(Problem(
                "a correction needs a reason" if reason is None else "a reason without an entry it supersedes",
                table.location(row_no, where["supersedes" if reason is None else "reason"]),
                "give both the id of the entry corrected (supersedes/更正条目) and why (reason/更正原因), or neither"))
            row_ok = False
        if not row_ok or values.get("unit") is None or values.get("date") is None:
            return None  # the row's problems (or the header's) are reported already
        digests.extend(_DIGEST(repr(tuple([values.get(name) for name in key_names])).encode()).digest())
        key_rows.append(row_no)
        day = values.pop("date")
        unit = values.pop("unit")
        for name in iso:
            if values[name] is not None:
                values[name] = values[name].isoformat()
        return NewEntry(unit_code=unit, entry_date=day, payload=values, source_row=row_no,
                        supersedes=supersedes, reason=reason)

    def check_columns(numbers: Sequence[int], rows: Sequence[Sequence[Any]]) -> list[NewEntry] | None:
        """The entries of a block in which every row is complete and right, else None (nothing recorded)."""
        nonlocal data_rows
        if set(map(len, rows)) != {width}:
            return None
        cells = list(zip(*rows))
        got: dict[str, Sequence[Any]] = {}
        try:
            if any(any(map(str.strip, cells[index])) for index in unnamed):
                return None
            for index, name, _, required, codes, memo in checks:
                if memo is None:  # text: str(cell).strip() of a text cell, None if blank
                    values: Sequence[Any] = list(map(str.strip, cells[index]))
                    if "" in values:
                        if required:
                            return None
                        values = [value or None for value in values]
                else:
                    values, bad = zip(*map(memo.__getitem__, cells[index]))
                    if any(bad):
                        return None
                    if codes:
                        values = list(map(list, values))
                got[name] = values
        except TypeError:  # a cell that is not text, or not hashable: row by row
            return None
        count = len(numbers)
        nothing = (None,) * count
        supersedes, reason = got.pop("supersedes", nothing), got.pop("reason", nothing)
        if supersedes is not reason and \
                list(map(is_, supersedes, repeat(None))) != list(map(is_, reason, repeat(None))):
            return None
        keys = map(repr, zip(*[got.get(name, nothing) for name in key_names]))
        digests.extend(b"".join(map(methodcaller("digest"), map(_DIGEST, map(str.encode, keys)))))
        key_rows.extend(numbers)
        days, units = got.pop("date"), got.pop("unit")
        for name in iso:
            got[name] = [None if day is None else day.isoformat() for day in got[name]]
        pairs = [zip(repeat(name), values) for name, values in got.items()]  # a row's (name, value) pairs
        payloads = map(dict, zip(*pairs)) if pairs else map(dict, repeat((), count))
        data_rows += count
        return list(map(NewEntry, units, days, payloads, numbers, supersedes, reason))

    for numbers, rows in table.blocks:
        for at in range(0, len(numbers), size):
            some, cells = (numbers[at:at + size], rows[at:at + size]) if len(numbers) > size else (numbers, rows)
            entries = check_columns(some, cells) if by_columns and len(some) > 1 else None
            if entries is None:
                entries = [entry for entry in map(check_row, some, cells) if entry is not None]
            yield entries
    if not data_rows and not problems:
        problems.add(Problem("the file has a header row and no data rows", table.location(),
                             "add the rows below the header"))
    _duplicates(table, spec, digests, key_rows)


_SKIP = object()


def _duplicates(table: RawTable, spec: Kind, digests: bytearray, rows: array) -> None:
    """Report each row whose key equals an earlier row's (digests sorted with numpy). Equal keys
    have equal first halves: a file whose first halves all differ (a clean file) needs one sort."""
    if len(rows) < 2:
        return
    keys = np.frombuffer(bytes(digests), dtype=np.uint64).reshape(-1, 2)
    halves = np.sort(keys[:, 0])
    if (halves[1:] != halves[:-1]).all():
        return
    numbers = np.frombuffer(rows, dtype=np.int64)
    order = np.lexsort((numbers, keys[:, 1], keys[:, 0]))
    keys, numbers = keys[order], numbers[order]
    starts = np.ones(len(order), dtype=bool)
    starts[1:] = (keys[1:] != keys[:-1]).any(axis=1)
    if starts.all():
        return
    first = numbers[np.maximum.accumulate(np.where(starts, np.arange(len(order)), 0))]
    for row, earlier in sorted(zip(numbers[~starts].tolist(), first[~starts].tolist())):
        table.problems.add(Problem(f"duplicates row {earlier} ({', '.join(spec.key)} are the same)",
                                   table.location(row), "delete one of the two rows"))


def _map_headers(spec: Kind, table: RawTable) -> tuple[dict[int, Column], list[Problem]]:
    all_columns = (*spec.columns, *CORRECTION)
    by_header = {h.casefold(): col for col in all_columns for h in col.headers}
    columns: dict[int, Column] = {}
    where: dict[str, int] = {}
    problems = []
    known = ", ".join(f"{c.name} ({'/'.join(c.aliases)})" if c.aliases else c.name for c in all_columns)
    for index, header in enumerate(table.header):
        if not header:
            continue
        col = by_header.get(re.sub(r"\s+", " ", header).casefold())
        if col is None:
            problems.append(Problem(f"unknown column {header!r} for {spec.name}", table.location(1, index),
                                    f"the columns of {spec.name} are: {known}"))
        elif col.name in where:
            first = table.location(1, where[col.name]).column
            problems.append(Problem(f"column {col.name} appears twice (also in column {first})",
                                    table.location(1, index), "delete one of the two columns"))
        else:
            columns[index] = col
            where[col.name] = index
    for col in spec.columns:
        if col.name not in where and (col.required or col.name in ("unit", "date")):
            problems.append(Problem(f"missing column {col.name} ({'/'.join(col.headers)})", table.location(1),
                                    f"the columns of {spec.name} are: {known}"))
    if not columns and any(table.header):
        problems.append(Problem("no header is a column of this kind", table.location(1),
                                f"is this a {spec.name} file, and is the first row its headers?"))
    return columns, problems


Parsed = tuple[Any, tuple[str, str] | None]


def _parser(col: Column, scheme: Scheme) -> Callable[[Any], Parsed]:
    """A function checking one cell of ``col``: (value, None) or (None, (what is wrong, how to fix))."""
    if col.type == "unit":
        units = {u.code.casefold(): u.code for u in scheme.units}
        units.update({u.name.casefold(): u.code for u in scheme.units})
        some = ", ".join(f"{u.code} ({u.name})" for u in scheme.units[:5])
        return lambda cell: _lookup(units, cell, f"unknown unit {str(cell).strip()!r}",
                                    f"give a unit code or name of scheme {scheme.name}, e.g. {some}")
    if col.type in ("code", "codes"):
        codes = checklist(scheme, col.checklist)
        allowed = ", ".join(sorted(set(codes.values())))
        hint = f"the codes of checklist {col.checklist} are: {allowed}"

        def one(text: Any) -> Parsed:
            return _lookup(codes, text, f"unknown {col.name} code {str(text).strip()!r}", hint)

        return one if col.type == "code" else lambda cell: _codes(one, cell)
    if col.type == "date":
        period = scheme.period
        return lambda cell: _date(cell, period)
    if col.type in ("integer", "number"):
        return lambda cell: _number(cell, col)
    if col.type == "boolean":
        return _boolean
    return lambda cell: (str(cell).strip(), None)


def _lookup(table: dict[str, str], cell: Any, problem: str, hint: str) -> Parsed:
    found = table.get(str(cell).strip().casefold())
    return (found, None) if found is not None else (None, (problem, hint))


def _codes(one: Callable[[Any], Parsed], cell: Any) -> Parsed:
    codes = []
    for text in filter(None, _CODE_SPLIT.split(str(cell).strip())):
        code, problem = one(text)
        if problem:
            return None, problem
        codes.append(code)
    return codes, None


def _date(cell: Any, period) -> Parsed:
    if isinstance(cell, dt.datetime):
        day = cell.date()
    elif isinstance(cell, dt.date):
        day = cell
    else:
        match = _DATE.match(str(cell).strip())
        try:
            day = dt.date(*map(int, match.groups())) if match else None
        except ValueError:
            day = None
        if day is None:
            return None, (f"{str(cell).strip()!r} is not a date", "write dates as YYYY-MM-DD, e.g. 2010-06-30")
    if not period.start <= day <= period.end:
        return None, (f"{day} is outside period {period.year}",
                      f"give a date from {period.start} to {period.end}, or import it into its own period")
    return day, None


def _number(cell: Any, col: Column) -> Parsed:
    text = str(cell).strip()
    try:
        value = float(cell) if isinstance(cell, (int, float)) and not isinstance(cell, bool) else float(text)
    except ValueError:
        return None, (f"{text!r} is not a number", f"write {col.name} as a number")
    if col.type == "integer":
        if not value.is_integer():
            return None, (f"{text!r} is not a whole number", f"write {col.name} as a whole number")
        value = int(value)
    if math.isnan(value) or (col.minimum is not None and value < col.minimum) or \
            (col.maximum is not None and value > col.maximum):
        lo = "" if col.minimum is None else f"{col.minimum:g}"
        hi = "" if col.maximum is None else f"{col.maximum:g}"
        return None, (f"{col.name} {text} is out of range {lo}..{hi}", f"give a value from {lo} to {hi}".strip())
    return value, None


def _boolean(cell: Any) -> Parsed:
    if isinstance(cell, bool):
        return cell, None
    text = str(cell).strip().casefold()
    if text in _TRUE:
        return True, None
    if text in _FALSE:
        return False, None
    return None, (f"{str(cell).strip()!r} is not yes or no", "write 是/否 (or yes/no, true/false, 1/0)")


def _blank(value: Any) -> bool:
    return value is None or (value.__class__ is str and (not value or value.isspace()))


def describe() -> str:
    """The kinds and their columns (optional ones with ``?``), for ``jx import --help``."""
    return "\n".join(f"{k.name} ({k.title}): " + ", ".join(c.name + ("" if c.required else "?") for c in k.columns)
                     for k in KINDS.values())
