"""Loading scheme packs: scheme.yaml, units.yaml and plans/<year>.yaml, into a checked Scheme.

Every entry point collects all problems of what it reads and raises one ``SchemeError`` (or, for
:func:`check_pack`, returns them); no other exception escapes for bad input.
"""

from __future__ import annotations

import csv
import difflib
import io
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from jxcore.config import expand
from jxcore.errors import Location, Problem, SchemeError
from jxcore.models import PluginRef, Scheme, Source, Unit
from jxcore.plugins import Registry
from jxcore.scheme.checks import build_plan, read_outputs
from jxcore.scheme.fields import LIST, Reader, plain
from jxcore.scheme.yamlio import LOOKALIKES, MAX_NODES, LineDict, LineList, read_text, read_yaml

SCHEME_FIELDS = ("name", "title", "language", "units", "plans", "sources", "outputs", "settings")
SOURCE_FIELDS = ("url", "url_env", "options")
UNIT_FIELDS = ("code", "name", "staff", "entities")  # any other key of a unit goes to Unit.extra
NAME = re.compile(r"[a-z0-9_-]+")
YEAR = re.compile(r"[0-9]{4}")
INTEGER = re.compile(r"-?[0-9]+")
#: The largest staff or entities count of a unit (rules multiply and sum them in int64).
MAX_COUNT = 10**12
#: The most problems one check reports; the rest are counted in a last line.
MAX_SHOWN = 200


@attrs.frozen
class SchemeFiles:
    """Where a pack's files are. Problems name files relative to ``root``, e.g. ``plans/2010.yaml``."""

    root: Path
    scheme: Path
    units: Path
    plans: Path

    @classmethod
    def find(cls, path: Path | str, units: str = "units.yaml", plans: str = "plans") -> SchemeFiles:
        """The files of the pack at ``path`` (the pack directory or its scheme.yaml)."""
        path = Path(path).absolute()
        if path.suffix in (".yaml", ".yml"):
            return cls(path.parent, path, path.parent / units, path.parent / plans)
        return cls(path, path / "scheme.yaml", path / units, path / plans)

    def shown(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def plan(self, period: int) -> Path:
        return self.plans / f"{period}.yaml"


@attrs.frozen
class PackInfo:
    """A pack's scheme.yaml and units, read: what every plan of the pack shares."""

    name: str
    title: str
    language: str
    path: Path | None
    periods: list[int]
    files: SchemeFiles | None = None
    units: tuple[Unit, ...] = ()
    sources: Mapping[str, Source] = attrs.field(factory=dict)
    outputs: tuple[PluginRef, ...] = ()
    settings: Mapping[str, Any] = attrs.field(factory=dict)
    #: scheme.yaml's ``settings:`` as read, with lines, so problems found in a plan point at it
    settings_lines: Any = attrs.field(default=None, eq=False, repr=False)


def load_pack(path: Path | str) -> PackInfo:
    """Read a pack's scheme.yaml and units file and list its plans; SchemeError on any problem."""
    info, problems = _read_pack(path)
    _raise(info.name, problems)
    return info


def load_scheme(path: Path | str, period: int | None = None, registry: Registry | None = None) -> Scheme:
    """Load and check one period's plan of the pack at ``path`` (latest plan when ``period`` is None).

    Plugin names and parameters are checked only when a ``registry`` is given.
    """
    info, problems = _read_pack(path)
    if info.files is None:  # scheme.yaml is unreadable: nothing else to look at
        _raise(info.name, problems)
    assert info.files is not None
    if (period is None and not info.periods) or (period is not None and period not in info.periods):
        wanted = "plans" if period is None else f"plan for {period}"
        available = ", ".join(map(str, info.periods)) or "none"
        plans = info.files.shown(info.files.plans)
        problems.append(Problem(f"scheme {info.name} has no {wanted}", Location(file=plans),
                                f"the available periods are: {available}; plans are files {plans}/<year>.yaml"))
        _raise(info.name, problems)
    scheme, plan_problems = _load_plan(info, info.periods[-1] if period is None else period, registry)
    _raise(info.name, problems + plan_problems)
    assert scheme is not None  # no problems means a scheme was built
    return scheme


def check_pack(path: Path | str, registry: Registry | None = None, *,
               warnings: list[Problem] | None = None) -> list[Problem]:
    """Every problem of the pack at ``path``, all plans included, in file order; never raises.

    A problem of scheme.yaml found while checking several plans is listed once. When a
    ``warnings`` list is given, what is valid but looks unintended is appended to it.
    """
    info, problems = _read_pack(path, warnings)
    for period in info.periods:
        problems += _load_plan(info, period, registry, warnings)[1]
    return _in_order(problems)


def scheme_from_dict(data: Any, *, units: Any, name: str = "test", registry: Registry | None = None,
                     period: int = 2010, title: str = "", language: str = "en", sources: Any = None,
                     outputs: Any = (), settings: Any = None) -> Scheme:
    """Build a Scheme from in-memory data (``data`` is a plan as in plans/<year>.yaml), same checks.

    Problems name the pseudo-files ``<scheme>``, ``<units>`` and ``<plan>``. ``period:`` may be
    left out of ``data``.
    """
    scheme_reader = Reader("<scheme>")
    parts = _scheme_parts({"name": name, "title": title or name, "language": language, "sources": sources or {},
                           "outputs": list(outputs), "settings": settings or {}}, scheme_reader, name)
    units_reader = Reader("<units>")
    info = _pack_info(parts, _units({"units": units}, units_reader), None, [])
    plan_reader = Reader("<plan>")
    scheme = build_plan(data, reader=plan_reader, period=period, period_required=False, pack=info,
                        registry=registry)
    _raise(info.name, scheme_reader.problems + units_reader.problems + plan_reader.problems)
    assert scheme is not None
    return scheme


def _raise(name: str, problems: list[Problem]) -> None:
    if problems:
        raise SchemeError.from_problems(f"scheme {name} is invalid", _in_order(problems))


def _in_order(problems: Sequence[Problem]) -> list[Problem]:
    """Problems by file and line, each once, at most MAX_SHOWN (then a line counting the rest)."""
    unique = sorted(dict.fromkeys(problems), key=lambda p: (p.location.file or "", p.location.line or 0))
    if len(unique) <= MAX_SHOWN:
        return unique
    rest = len(unique) - MAX_SHOWN
    more = Problem(f"… and {rest:,} more problems", Location(file=unique[MAX_SHOWN].location.file),
                   "fix the ones above first")
    return unique[:MAX_SHOWN] + [more]


def _read_pack(path: Path | str, warnings: list[Problem] | None = None) -> tuple[PackInfo, list[Problem]]:
    files = SchemeFiles.find(path)
    shown = files.shown(files.scheme)
    data, problems = read_yaml(files.scheme, shown,
                               f"a scheme pack is a directory holding scheme.yaml; none in {files.root}")
    reader = Reader(shown, problems)
    if data is None and problems:
        return _pack_info(_scheme_parts({}, Reader(shown), files.root.name), (), None, []), problems
    parts = _scheme_parts(data, reader, files.root.name)
    files = attrs.evolve(files, units=files.root / parts["units"], plans=files.root / parts["plans"])
    units_shown = files.shown(files.units)
    hint = f"list the units in {units_shown}, or name the file in units:"
    if files.units.suffix == ".csv":
        units_data, units_problems = _read_units_csv(files.units, units_shown, hint)
    else:
        units_data, units_problems = read_yaml(files.units, units_shown, hint, max_nodes=10 * MAX_NODES)
    units_reader = Reader(units_shown, units_problems)
    units = _units(units_data, units_reader) if units_data is not None or not units_problems else ()
    periods = _periods(files, reader)
    if warnings is not None:
        warnings += reader.warnings + units_reader.warnings
    return _pack_info(parts, units, files, periods), reader.problems + units_reader.problems


def _pack_info(parts: dict[str, Any], units: tuple[Unit, ...], files: SchemeFiles | None,
               periods: list[int]) -> PackInfo:
    return PackInfo(name=parts["name"], title=parts["title"], language=parts["language"],
                    path=files.root if files else None, periods=periods, files=files, units=units,
                    sources=parts["sources"], outputs=parts["outputs"], settings=parts["settings"],
                    settings_lines=parts["settings_lines"])


def _load_plan(info: PackInfo, period: int, registry: Registry | None,
               warnings: list[Problem] | None = None) -> tuple[Scheme | None, list[Problem]]:
    assert info.files is not None
    path = info.files.plan(period)
    shown = info.files.shown(path)
    data, problems = read_yaml(path, shown, f"write the plan of {period} in {shown}")
    if data is None and problems:
        return None, problems
    reader = Reader(shown, problems)
    scheme = build_plan(data, reader=reader, period=period, period_required=True, pack=info, registry=registry)
    if warnings is not None:
        warnings += reader.warnings
    return scheme, reader.problems


def _periods(files: SchemeFiles, r: Reader) -> list[int]:
    shown = files.shown(files.plans)
    if not files.plans.is_dir():
        r.problems.append(Problem("plans directory not found", Location(file=shown),
                                  f"create {shown}/<year>.yaml, or name the directory in plans:"))
        return []
    periods = []
    for path in sorted(files.plans.iterdir()):
        if path.name.startswith(".") or path.name.endswith("~"):
            continue  # hidden and editor backup files
        if path.suffix == ".yaml" and YEAR.fullmatch(path.stem):
            periods.append(int(path.stem))
        elif path.suffix.lower() in (".yaml", ".yml") or YEAR.match(path.name):
            year = YEAR.search(path.name)
            hint = f"rename it to {year.group()}.yaml" if year else "rename the file or move it elsewhere"
            r.problems.append(Problem(f"plan file {path.name!r} is not named after its year, e.g. 2010.yaml",
                                      Location(file=files.shown(path)), hint))
    return periods


def _scheme_parts(data: Any, r: Reader, fallback_name: str) -> dict[str, Any]:
    """The fields of scheme.yaml, with defaults for what is missing or wrong."""
    parts: dict[str, Any] = dict(name=fallback_name, title="", language="en", units="units.yaml", plans="plans",
                                 sources={}, outputs=(), settings={}, settings_lines=None)
    if not r.mapping(data, "scheme.yaml", data):
        return parts
    r.known(data, SCHEME_FIELDS, "the scheme")
    name = r.text(data, "name", required=True, hint="add name: my-scheme (a-z, 0-9, _ and -)")
    if name is not None and NAME.fullmatch(name):
        parts["name"] = name
    elif name is not None:
        r.add(f"scheme name {name!r} may only hold a-z, 0-9, _ and -", data, "name",
              hint="use a short lowercase name such as guangdong")
    parts["title"] = r.text(data, "title", default=parts["name"])
    for key in ("language", "units", "plans"):
        parts[key] = r.text(data, key, default=parts[key])
    parts["sources"] = _sources(data, r)
    parts["outputs"] = tuple(read_outputs(r, data, "outputs"))
    parts["settings_lines"] = r.get(data, "settings", Mapping, default={})
    parts["settings"] = plain(parts["settings_lines"])
    return parts


def _sources(data: Mapping, r: Reader) -> dict[str, Source]:
    written = r.get(data, "sources", Mapping, default={})
    sources = {}
    for name, spec in written.items():
        label = f"source {name}"
        if not isinstance(name, str):
            r.add(f"a source name must be a string, not {name!r}", written, name)
            continue
        if not r.mapping(spec, label, written, name, node=label):
            continue
        r.known(spec, SOURCE_FIELDS, label, node=label)
        url = r.text(spec, "url", node=label, required=True, hint="add url: an SQLAlchemy URL, e.g. duckdb:///x.db")
        env = r.text(spec, "url_env", node=label)
        options = r.get(spec, "options", Mapping, node=label, default={})
        if env and os.environ.get(env):
            url = os.environ[env]
        if url:
            sources[name] = Source(name, expand(url), plain(options))
    return sources


def _read_units_csv(path: Path, shown: str, missing_hint: str) -> tuple[Any, list[Problem]]:
    """A units.csv (header ``code,name,staff,entities,…``) as the data a units.yaml gives, with lines.

    Loads 30,000 units in ~0.1 s where YAML takes ~2 s. Integers are converted; other cells stay
    text, so the same checks as for units.yaml report them; empty cells are absent. Strict: a row
    with more or fewer cells than the header (an unquoted ``50,000``), a column named twice, a
    quote never closed or a line break inside a cell are problems, never guessed around.
    """
    text, problems = read_text(path, shown, missing_hint)
    if text is None:
        return None, problems
    rows = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [cell.strip() for cell in next(rows, [])]
    except csv.Error as exc:
        return None, [Problem(f"the header row is not valid CSV: {exc}", Location(file=shown, line=1),
                              "the first row names the columns, e.g. code,name,staff,entities")]
    if "code" not in header:
        return None, [Problem("the first row must name the columns, e.g. code,name,staff,entities",
                              Location(file=shown, line=1), "add the header row")]
    for i, name in enumerate(header):
        if not name:
            problems.append(Problem(f"column {i + 1} of the header has no name", Location(file=shown, line=1),
                                    "name every column, or delete the empty one"))
        elif name in header[:i]:
            problems.append(Problem(f"column {name!r} is named twice (columns {header.index(name) + 1} and {i + 1})",
                                    Location(file=shown, line=1, column=name), "delete or rename one of them"))
    if problems:
        return None, problems
    units = LineList(line=2)
    line = 1
    while True:
        start = line + 1
        try:
            row = next(rows, None)
        except csv.Error as exc:
            return None, problems + [Problem(f"not valid CSV: {exc}", Location(file=shown, line=start),
                                             "a quote opened in this row is not closed where the cell ends; "
                                             "close it, or write the text without quotes")]
        if row is None:
            break
        line = rows.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            extra = f": extra cell {row[len(header)]!r} in column {len(header) + 1}" if len(row) > len(header) else ""
            problems.append(Problem(f"{len(row)} cells where the header names {len(header)} columns{extra}",
                                    Location(file=shown, line=start),
                                    'a cell holding a comma must be quoted ("50,000"); numbers are written '
                                    "without thousands separators (50000)"))
            continue
        unit = LineDict(line=start)
        for key, cell in zip(header, row, strict=True):
            cell = cell.strip()
            if "\n" in cell or "\r" in cell:
                problems.append(Problem(f"cell {cell[:30]!r}… holds a line break", Location(file=shown, line=start,
                                        column=key), "a quote is probably not closed: check the quotes in this row"))
            elif cell:
                unit[key] = int(cell) if INTEGER.fullmatch(cell) else cell
                unit.lines[key] = start
        units.append(unit)
        units.lines.append(start)
    data = LineDict({"units": units}, line=1)
    data.lines["units"] = 1
    return data, problems


def _units(data: Any, r: Reader) -> tuple[Unit, ...]:
    if not r.mapping(data, "the units file", data):
        return ()
    r.known(data, ("units",), "the units file")
    entries = r.get(data, "units", LIST, required=True, hint="add units: with one {code, name} per unit")
    if entries is not None and not entries:
        r.add("there are no units", data, "units", hint="list the assessed units under units:")
    units: list[Unit] = []
    seen: dict[str, int | None] = {}
    for i, entry in enumerate(entries or ()):
        if not r.mapping(entry, "a unit", entries, i):
            continue
        before = len(r.problems)
        code = r.text(entry, "code", required=True, hint="every unit needs a unique code, e.g. code: humen")
        label = f"unit {code}" if code else None
        if code is not None and any(c.isspace() or c in LOOKALIKES for c in code):
            r.add(f"unit code {code!r} contains a space", entry, "code", node=label,
                  hint="unit codes are single words, e.g. humen or 441900")
        elif code in seen:
            r.add(f"duplicate unit code {code}: also at {r.file}:{seen[code]}", entry, "code", node=label,
                  hint="every unit code must be unique; rename one of them")
        elif code:
            seen[code] = r.where(entry, "code").line
        name = r.text(entry, "name", node=label, required=True)
        counts = {key: _count(entry, key, r, label) for key in ("staff", "entities")}
        _unknown_unit_fields(entry, r, label)
        if len(r.problems) == before:
            extra = {k: plain(v) for k, v in entry.items() if k not in UNIT_FIELDS}
            units.append(Unit(code=code, name=name, staff=counts["staff"], entities=counts["entities"],
                              extra=extra))
    return tuple(units)


def _count(entry: Mapping, key: str, r: Reader, label: str | None) -> int:
    """A unit's staff or entities: a whole number from 0 to MAX_COUNT (0 when absent)."""
    hint = f"write a whole number from 0 to {MAX_COUNT:,} without separators, e.g. {key}: 50000"
    value = r.get(entry, key, int, node=label, default=0, hint=hint)
    if not 0 <= value <= MAX_COUNT:
        r.add(f"{key!r} must be between 0 and {MAX_COUNT:,}, not {value}", entry, key, node=label, hint=hint)
        return 0
    return value


def _unknown_unit_fields(entry: Mapping, r: Reader, label: str | None) -> None:
    """A unit's other fields are kept as extra data; one that looks like a misspelt field is a warning."""
    for key in entry:
        if key in UNIT_FIELDS or not isinstance(key, str):
            continue
        close = difflib.get_close_matches(key.strip().lower(), UNIT_FIELDS, n=1, cutoff=0.75)
        if close:
            r.warn(f"unit field {key!r} is kept as extra data; it looks like {close[0]!r}", entry, key, node=label,
                   hint=f"rename it to {close[0]} if that is what it means")
