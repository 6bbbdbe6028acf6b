"""The ``manual`` collector: measures from the manual entries in the store (imported with ``jx import``).

One collector for every kind, chosen by the ``kind`` parameter. The entries of the run's scheme and
period dated up to the as-of date are read once per run for all requested kinds; each indicator's
events and per-unit value are then built with numpy over all entries at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import attrs
import numpy as np

from jx_collectors.manual.importer import EntrySource, read_fields, read_file
from jx_collectors.manual.kinds import KINDS, Kind, checklist
from jxcore.entry_values import EntryColumns, NewEntry
from jxcore.errors import DataError, Location, Problem, SchemeError
from jxcore.interfaces import CollectContext, CollectRequest, RowSample
from jxcore.models import Measure, Scheme, UnitTable
from jxcore.params import Param, check_params

VALUES = ("count", "entries", "mean", "sum")
_EVENT_DTYPES = {"integer": np.int64, "number": np.float64, "boolean": bool}


class ManualCollector:
    """Spot checks, inspection findings, mystery-shopper visits, acceptances, honours, major cases, discipline."""

    name: ClassVar[str] = "manual"
    description: ClassVar[str] = (
        "Manual data imported with `jx import` (抽查, 督察, 暗访, 验收, 荣誉, 大要案, 违纪): "
        "events per entry and a per-unit value")
    params: ClassVar[Sequence[Param]] = (
        Param("kind", "string", "the kind of manual data", choices=tuple(KINDS)),
        Param("where", "mapping", "only entries whose fields have these values: field: value or "
              "field: [a, b] (e.g. archive: registration)", default=None),
        Param("value", "string", "the per-unit value: count of events, entries, mean or sum of `column`; "
              "default mean for mystery_shopper and acceptance, else count", default=None, choices=VALUES),
        Param("column", "string", "the field averaged or summed by value: mean / sum", default="score"),
    )

    #: EntryReader (jxcore.interfaces): the kinds this collector reads, and what it says of their entries
    entry_kinds: ClassVar[Mapping[str, str]] = {name: spec.title for name, spec in KINDS.items()}

    def read_file(self, scheme: Scheme, kind: str, path: Any, sheet: str | None = None) -> EntrySource:
        return read_file(scheme, kind, path, sheet)

    def read_fields(self, scheme: Scheme, kind: str, fields: Mapping[str, Any]) -> NewEntry:
        return read_fields(scheme, kind, fields)

    def natural_key(self, kind: str, entry: NewEntry) -> tuple:
        """The values of the kind's ``key`` columns (``date`` and ``unit`` included)."""
        key = KINDS[kind].key
        if "date" not in key and "unit" not in key:  # the common case, without a dict per entry
            payload = entry.payload
            return tuple([payload.get(k) for k in key])
        own = {"date": entry.entry_date.isoformat(), "unit": entry.unit_code}
        return tuple(own[k] if k in own else entry.payload.get(k) for k in key)

    def feeds(self, kind: str, requests: Sequence[CollectRequest], entries: Sequence[NewEntry]) -> np.ndarray:
        """Whether each entry counts in each request's measure: its kind, then its ``where``."""
        fed = np.zeros((len(requests), len(entries)), dtype=bool)
        spec = KINDS[kind]
        columns: dict[str, np.ndarray] = {}
        for i, req in enumerate(requests):
            if req.params["kind"] != kind:
                continue
            keep = np.ones(len(entries), dtype=bool)
            for field, wanted in (req.params["where"] or {}).items():
                if field not in columns:
                    values = [e.payload.get(field) for e in entries]
                    columns[field] = _array(values, _EVENT_DTYPES.get(spec.column(field).type, object))
                allowed = list(wanted) if isinstance(wanted, (list, tuple)) else [wanted]
                keep &= np.isin(columns[field], np.array(allowed, dtype=columns[field].dtype))
            fed[i] = keep
        return fed

    def expects(self, kind: str, request: CollectRequest) -> str:
        """``inspection entries with finding absent`` (empty for another kind's indicator)."""
        if request.params["kind"] != kind:
            return ""
        where = request.params["where"] or {}
        shown = ", ".join(f"{field} {' or '.join(map(str, v)) if isinstance(v, (list, tuple)) else v}"
                          for field, v in where.items())
        return f"{request.params['kind']} entries" + (f" with {shown}" if shown else "")

    def check(self, requests: Sequence[CollectRequest]) -> list[Problem]:
        """For `jx validate`: fields named in ``where`` and the ``column`` of mean / sum must be
        fields of the kind (a typo would otherwise select nothing, or fail at run time)."""
        return [Problem(text, _location(req), hint) for req in requests
                for text, hint in _field_problems(KINDS[req.params["kind"]], req.params)]

    def check_settings(self, scheme: Scheme) -> list[Problem]:
        """For `jx validate`: the checklists the plan's manual indicators read must be mappings of
        code: description, and their ``where`` codes codes of them (a misspelt code would select no
        entry and give every unit full points)."""
        problems: list[Problem] = []
        lists: set[str] = set()
        for node in scheme.indicators():
            if node.collector is None or node.collector.name != self.name:
                continue
            params, issues = check_params(self.params, node.collector.params)
            if issues or params["kind"] not in KINDS:
                continue  # reported with the parameters
            spec = KINDS[params["kind"]]
            needed = {c.checklist for c in spec.columns if c.checklist}
            try:
                for name in sorted(needed - lists):
                    checklist(scheme, name)
                problems += [Problem(text, Location(node=node.code), hint)
                             for text, hint in _checklist_problems(scheme, spec, params)]
            except DataError as exc:
                problems += [attrs.evolve(p, location=Location(node=p.location.node)) for p in exc.problems]
            lists |= needed
        return problems

    def collect(self, ctx: CollectContext, requests: Sequence[CollectRequest]) -> Mapping[str, Measure]:
        problems = self.check(requests) + [
            Problem(text, _location(req), hint) for req in requests
            for text, hint in _checklist_problems(ctx.scheme, KINDS[req.params["kind"]], req.params)]
        if problems:
            raise SchemeError.from_problems("manual collector: bad parameters", problems)
        self._need_store(ctx, requests)
        needed: dict[str, set[str]] = {}
        for req in requests:
            needed.setdefault(req.params["kind"], set()).update(_fields_used(KINDS[req.params["kind"]], req.params))
        read = ctx.store.entry_columns(ctx.scheme.name, ctx.period.year, needed, as_of=ctx.as_of)
        tables = {kind: _EntryTable.build(KINDS[kind], columns, ctx.units) for kind, columns in read.items()}
        return {req.node.code: tables[req.params["kind"]].measure(req, len(ctx.units)) for req in requests}

    def source_rows(self, ctx: CollectContext, request: CollectRequest, unit_code: str, limit: int) -> RowSample:
        """The unit's entries behind the measure (its ``where`` applied), superseded and withdrawn
        ones too, each with its provenance: file, sha256, row, who entered it and when; ``counted``
        marks the entries the measure uses (the live ones)."""
        self._need_store(ctx, [request])
        spec = KINDS[request.params["kind"]]
        every = ctx.store.entries(ctx.scheme.name, ctx.period.year, kinds=[spec.name], as_of=ctx.as_of,
                                  include_superseded=True)
        superseded_by = {e.supersedes: e.id for e in every if e.supersedes is not None}
        live = {e.id for e in ctx.store.entries(ctx.scheme.name, ctx.period.year, kinds=[spec.name], as_of=ctx.as_of)}
        mine = [e for e in every if e.unit_code == unit_code]
        fields = [c.name for c in spec.columns if c.name not in ("unit", "date")]
        keep = _EntryTable.build(spec, EntryColumns.of(mine, fields), ctx.units)._where(request)
        mine = [e for e, kept in zip(mine, keep.tolist()) if kept]
        rows = tuple((e.id, e.entry_date, *(e.payload.get(f) for f in fields), e.source_file, e.source_sha256,
                      e.source_row, e.entered_by, e.entered_at, e.supersedes, superseded_by.get(e.id),
                      e.id in live) for e in mine)
        files = sorted({(e.source_file or "?", (e.source_sha256 or "")[:12]) for e in mine})
        return RowSample(
            columns=("entry", "date", *fields, "file", "sha256", "row", "entered_by", "entered_at", "supersedes",
                     "superseded_by", "counted"),
            rows=rows[:limit], total=len(rows), counted=sum(r[-1] for r in rows), counted_by="counted",
            source=f"manual {spec.name} ({spec.title}) entries of {unit_code} in the store, imported from "
                   + (", ".join(f"{f} (sha256 {h}…)" for f, h in files) or "no file"))

    @staticmethod
    def _need_store(ctx: CollectContext, requests: Sequence[CollectRequest]) -> None:
        if ctx.store is None:
            raise DataError("the manual collector reads the entries in the store, and this run has no store",
                            location=Location(node=requests[0].node.code if requests else None),
                            hint="run with a store (jx run / jx collect open one; pass store= to run_scheme)")


@attrs.frozen(eq=False)
class _EntryTable:
    """The entries of one kind as aligned arrays (one row per entry)."""

    spec: Kind
    unit: np.ndarray
    date: np.ndarray
    ids: np.ndarray
    fields: dict[str, np.ndarray]
    source: str

    @classmethod
    def build(cls, spec: Kind, entries: EntryColumns, units: UnitTable) -> "_EntryTable":
        codes = entries.unit_code
        at = units.positions(codes)
        known = at >= 0
        if not known.all():
            strays = sorted(set(codes[~known].tolist()))
            raise DataError(f"{int((~known).sum())} {spec.name} entries name units that are not in the scheme: "
                            f"{', '.join(strays)}", hint="the units changed after the import; "
                            "enter corrections that supersede those entries, or restore the units")
        fields = {name: _array(values, _EVENT_DTYPES.get(spec.column(name).type, object))
                  for name, values in entries.fields.items()}
        files = sorted({(f or "?", (s or "")[:12]) for f, s in entries.sources})
        source = f"manual {spec.name}: {len(entries)} entries" + (
            " from " + ", ".join(f"{f} (sha256 {s}…)" for f, s in files) if files else "")
        return cls(spec, at, entries.entry_date, entries.id, fields, source)

    def measure(self, req: CollectRequest, n_units: int) -> Measure:
        keep = self._where(req)
        unit, date, ids = self.unit[keep], self.date[keep], self.ids[keep]
        fields = {name: arr[keep] for name, arr in self.fields.items()}
        kind_col = self.spec.event_kind
        if kind_col is None:
            repeat = np.ones(len(unit), dtype=np.int64)
            kinds = np.full(len(unit), self.spec.name)
        elif self.spec.column(kind_col).type == "codes":  # one event per code (a sheet's defects)
            lists = fields[kind_col]
            repeat = np.array([len(v) for v in lists], dtype=np.int64)
            kinds = np.array([c for v in lists for c in v], dtype=str)
        else:
            repeat = np.ones(len(unit), dtype=np.int64)
            kinds = fields[kind_col].astype(str)
        events = {"unit": np.repeat(unit, repeat), "kind": kinds.astype(str), "date": np.repeat(date, repeat),
                  "entry": np.repeat(ids, repeat)}
        events.update({name: np.repeat(fields[name], repeat) for name in self.spec.event_columns})
        entries = np.bincount(unit, minlength=n_units).astype(np.float64)
        return Measure(req.node.code, self._value(req, events, unit, fields, entries, n_units),
                       columns={"entries": entries}, events=events, source=self.source)

    def _where(self, req: CollectRequest) -> np.ndarray:
        keep = np.ones(len(self.unit), dtype=bool)
        for field, wanted in (req.params["where"] or {}).items():  # fields checked by check()
            allowed = list(wanted) if isinstance(wanted, (list, tuple)) else [wanted]
            keep &= np.isin(self.fields[field], np.array(allowed, dtype=self.fields[field].dtype))
        return keep

    def _value(self, req: CollectRequest, events: Mapping[str, np.ndarray], unit: np.ndarray,
               fields: Mapping[str, np.ndarray], entries: np.ndarray, n_units: int) -> np.ndarray:
        how = _value_of(self.spec, req.params)
        if how == "count":
            return np.bincount(events["unit"], minlength=n_units).astype(np.float64)
        if how == "entries":
            return entries
        column = req.params["column"]  # numeric: checked by check()
        total = np.bincount(unit, weights=fields[column].astype(np.float64), minlength=n_units)
        if how == "sum":
            return total
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(entries > 0, total / entries, np.nan)


def _array(values: list, dtype: type) -> np.ndarray:
    """A 1-D array of ``values``; lists (codes) stay one object per entry, never a second axis."""
    if dtype is object:
        return np.fromiter(values, dtype=object, count=len(values))
    return np.array(values, dtype=dtype)


def _fields_used(spec: Kind, params: Mapping) -> set[str]:
    """The payload fields a request reads: its ``where``, the events' kind and columns, its value's column."""
    used = {*(params["where"] or {}), *spec.event_columns}
    if spec.event_kind is not None:
        used.add(spec.event_kind)
    if _value_of(spec, params) in ("mean", "sum"):
        used.add(params["column"])
    return used


def _value_of(spec: Kind, params: Mapping) -> str:
    return params["value"] or ("mean" if spec.value.startswith("mean") else spec.value)


def _field_problems(spec: Kind, params: Mapping) -> list[tuple[str, str]]:
    """(what, how to fix) for ``where`` fields and a mean/sum ``column`` the kind does not have."""
    fields = [c.name for c in spec.columns if c.name not in ("unit", "date")]
    problems = [(f"manual collector: {spec.name} entries have no field {field!r}",
                 f"the fields are: {', '.join(fields)}")
                for field in (params["where"] or {}) if field not in fields]
    numeric = [c.name for c in spec.columns if c.type in ("integer", "number")]
    how = _value_of(spec, params)
    if how in ("mean", "sum") and params["column"] not in numeric:
        problems.append((f"manual collector: value {how} needs a numeric field, and {params['column']!r} is not "
                         f"one of {spec.name}", f"numeric fields: {', '.join(numeric) or 'none'}; or use value: count"))
    return problems


def _checklist_problems(scheme: Scheme, spec: Kind, params: Mapping) -> list[tuple[str, str]]:
    """``where`` values of code fields must be codes of their checklist: a misspelt code would
    select no entry and quietly give every unit full points."""
    problems = []
    for field, wanted in (params["where"] or {}).items():
        column = next((c for c in spec.columns if c.name == field), None)
        if column is None or column.type not in ("code", "codes"):
            continue
        codes = set(checklist(scheme, column.checklist).values())
        for value in wanted if isinstance(wanted, (list, tuple)) else [wanted]:
            if str(value) not in codes:
                problems.append((f"manual collector: where {field}: {value!r} is not a code of checklist "
                                 f"{column.checklist!r}", f"the codes are: {', '.join(sorted(codes))}"))
    return problems


def _location(req: CollectRequest) -> Location:
    loc = req.node.collector.location if req.node.collector else req.node.location
    return attrs.evolve(loc, node=req.node.code)
