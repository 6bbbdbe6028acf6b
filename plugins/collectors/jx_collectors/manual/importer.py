"""The one import engine: check a raw table against a declared kind, then write it as one batch.

Every problem of a file is collected in one pass (headers, every cell, duplicate rows) and raised
together as one DataError; nothing of a rejected file is written. An accepted file is written in
one store transaction with its provenance (file name, sha256, row, who, when), through
jxcore.records.enter: only a member of the responsible department (or an admin) may enter it, and
nothing dated inside a lock is accepted.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import os
import re
from array import array
from collections.abc import Callable, Iterator
from hashlib import blake2b
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from jx_collectors.manual.kinds import KINDS, Column, Kind, checklist
from jx_collectors.manual.reading import RawTable, read_table
from jxcore.errors import DataError, Problem, UsageError
from jxcore.models import Scheme
from jxcore.records import enter
from jxcore.store.entries import NewEntry

_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_CODE_SPLIT = re.compile(r"[,;、，；\s]+")
_TRUE = {"true", "yes", "y", "1", "是", "有", "有责"}
_FALSE = {"false", "no", "n", "0", "否", "无", "无责"}


@attrs.frozen
class ImportReport:
    """What ``import_file`` wrote: shown by ``jx import``."""

    kind: str
    file: str
    sha256: str
    rows: int
    user: str
    batch_id: str
    entered_at: dt.datetime
    encoding: str | None = None


def current_user(explicit: str | None = None) -> str:
    """Who imports: ``--as``, else ``JX_USER``, else the OS user name."""
    return explicit or os.environ.get("JX_USER") or getpass.getuser()


def kind_of(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise UsageError(f"unknown kind of manual data {name!r}",
                         hint=f"the kinds are: {', '.join(KINDS)}") from None


def import_file(store: Any, scheme: Scheme, kind: str, path: Path | str, *, user: str | None = None,
                sheet: str | None = None, now: dt.datetime | None = None) -> ImportReport:
    """Check the file at ``path`` as ``kind`` for ``scheme``'s period and write it as one batch.

    Raises DataError listing every problem (nothing written), or naming the earlier import if the
    same file (sha256) was imported before for this scheme, period and kind.
    """
    spec = kind_of(kind)
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}", hint="check the file name") from None
    rows, encoding = check_file(scheme, spec, path.name, data, sheet)
    sha = hashlib.sha256(data).hexdigest()
    who = current_user(user)
    batch = enter(store, scheme, spec.name, rows, user=who, source_file=path.name, source_sha256=sha,
                  entered_at=now)
    return ImportReport(spec.name, path.name, sha, len(rows), who, batch.id, batch.entered_at, encoding)


def enter_one(store: Any, scheme: Scheme, kind: str, fields: dict[str, Any], *, user: str | None = None,
              supersedes: int | None = None, reason: str | None = None,
              now: dt.datetime | None = None) -> ImportReport:
    """Check one entry (``fields`` by column name or alias, as in a file) and write it as its own batch.

    The checks and the department and lock rules are those of :func:`import_file`; ``supersedes``
    with a ``reason`` makes it a correction of that entry. The same entry twice is refused.
    """
    spec = kind_of(kind)
    name = "jx entry add"
    table = RawTable(name, None, tuple(fields), ((1, tuple(fields.values())),))
    rows, problems = check_table(scheme, spec, table)
    if problems:
        raise DataError.from_problems(f"{name}: nothing entered", problems)
    rows = [attrs.evolve(r, source_row=None, supersedes=supersedes, reason=reason) for r in rows]
    canon = json.dumps([kind, rows[0].unit_code, rows[0].entry_date.isoformat(), dict(rows[0].payload),
                        supersedes], ensure_ascii=False, sort_keys=True)
    sha = hashlib.sha256(canon.encode("utf-8")).hexdigest()
    who = current_user(user)
    batch = enter(store, scheme, spec.name, rows, user=who, source_file=name, source_sha256=sha, entered_at=now)
    return ImportReport(spec.name, name, sha, 1, who, batch.id, batch.entered_at)


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
        self._rows = _checked_rows(scheme, spec, table)
        self.rows = 0  #: entries yielded so far

    def chunks(self, size: int = 10_000) -> Iterator[list[NewEntry]]:
        chunk: list[NewEntry] = []
        for entry in self._rows:
            chunk.append(entry)
            if len(chunk) >= size:
                self.rows += len(chunk)
                yield chunk
                chunk = []
        problems = self.table.problems
        if problems:
            more = f" ({len(problems)} problems in all)" if problems.more else ""
            raise DataError.from_problems(f"{self.name}: nothing imported{more}", problems.listing())
        if chunk:
            self.rows += len(chunk)
            yield chunk


def check_table(scheme: Scheme, spec: Kind, table: RawTable) -> tuple[list[NewEntry], list[Problem]]:
    """Map the headers to the kind's columns and check every cell; (entries, problems)."""
    entries = list(_checked_rows(scheme, spec, table))
    return entries, table.problems.listing()


#: Optional columns of every kind: a row that corrects (supersedes) an earlier entry, and why.
CORRECTION = (Column("supersedes", "integer", ("更正条目", "被更正条目", "替代条目"), required=False, minimum=1),
              Column("reason", "text", ("更正原因", "原因"), required=False))
_CACHED = ("unit", "code", "codes", "date", "boolean")  #: column types whose cells repeat: parse each text once
_CACHE_SIZE = 100_000


def _checked_rows(scheme: Scheme, spec: Kind, table: RawTable) -> Iterator[NewEntry]:
    """The entries of ``table``'s rows that have no problem; every problem goes to ``table.problems``.

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
        plan[index] = (col, _cached(parse) if col.type in _CACHED else parse)
    iso = [c.name for c in columns.values() if c.type == "date" and c.name != "date"]
    where = {c.name: i for i, c in columns.items()}
    digests, key_rows = bytearray(), array("q")
    data_rows = 0
    for row_no, cells in table.rows:
        if all(map(_blank, cells)):
            continue
        data_rows += 1
        if len(cells) < width:
            cells = (*cells, *(None,) * (width - len(cells)))
        values: dict[str, Any] = {}
        row_ok = True
        for index, cell in enumerate(cells):
            how = plan[index] if index < width else None
            if how is _SKIP:
                continue
            if how is None:
                if not _blank(cell):
                    problems.add(Problem(f"a value ({cell!r}) in a column without a header",
                                         table.location(row_no, index), "give the column a header or clear it"))
                    row_ok = False
                continue
            col, parse = how
            if _blank(cell):
                if col.required:
                    problems.add(Problem(f"{col.name} is missing", table.location(row_no, index), "fill in the cell"))
                    row_ok = False
                values[col.name] = [] if col.type == "codes" else None
                continue
            value, problem = parse(cell)
            if problem:
                problems.add(Problem(problem[0], table.location(row_no, index), problem[1]))
                row_ok = False
            values[col.name] = value
        supersedes, reason = values.pop("supersedes", None), values.pop("reason", None)
        if row_ok and (supersedes is None) != (reason is None):
            problems.add(Problem(
                "a correction needs a reason" if reason is None else "a reason without an entry it supersedes",
                table.location(row_no, where["supersedes" if reason is None else "reason"]),
                "give both the id of the entry corrected (supersedes/更正条目) and why (reason/更正原因), or neither"))
            row_ok = False
        if not row_ok or values.get("unit") is None or values.get("date") is None:
            continue  # the row's problems (or the header's) are reported already
        digests += blake2b(repr(tuple(values.get(name) for name in spec.key)).encode(), digest_size=16).digest()
        key_rows.append(row_no)
        day = values.pop("date")
        unit = values.pop("unit")
        for name in iso:
            if values[name] is not None:
                values[name] = values[name].isoformat()
        yield NewEntry(unit_code=unit, entry_date=day, payload=values, source_row=row_no,
                       supersedes=supersedes, reason=reason)
    if not data_rows and not problems:
        problems.add(Problem("the file has a header row and no data rows", table.location(),
                             "add the rows below the header"))
    _duplicates(table, spec, digests, key_rows)


_SKIP = object()


def _duplicates(table: RawTable, spec: Kind, digests: bytearray, rows: array) -> None:
    """Report each row whose key equals an earlier row's (digests sorted with numpy)."""
    if len(rows) < 2:
        return
    keys = np.frombuffer(bytes(digests), dtype=np.uint64).reshape(-1, 2)
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


def _cached(parse: Callable[[Any], Parsed]) -> Callable[[Any], Parsed]:
    """``parse`` remembering up to 100,000 results: unit names, codes, dates and yes/no repeat down a column."""
    memo: dict[Any, Parsed] = {}

    def cached(cell: Any) -> Parsed:
        try:
            return memo[cell]
        except KeyError:
            result = memo[cell] = parse(cell)
            if len(memo) > _CACHE_SIZE:
                memo.clear()
            return result
        except TypeError:  # an unhashable cell value
            return parse(cell)

    return cached


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
    if value != value or (col.minimum is not None and value < col.minimum) or \
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
    return value is None or (isinstance(value, str) and not value.strip())


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def describe() -> str:
    """The kinds and their columns (optional ones with ``?``), for ``jx import --help``."""
    return "\n".join(f"{k.name} ({k.title}): " + ", ".join(c.name + ("" if c.required else "?") for c in k.columns)
                     for k in KINDS.values())
