"""Rules that score event rows: defects and findings by kind, discipline, per-window requirements."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, ClassVar

import numpy as np

from jx_rules import _common as c
from jxcore.errors import DataError
from jxcore.interfaces import RuleInput
from jxcore.models import Scoring
from jxcore.params import Param
from jxcore.points import to_milli


class PerEvent:
    """Per-event deductions (逐项扣分): each defect or finding deducts by its kind, 扣完为止.

    ``score = max(points − Σ deductions[kind of each of the unit's events], 0)``; under a deduction
    item (违纪扣分, 督察扣分) the rule gives the deduction itself, ``−min(Σ, points)``.
    Reads events ``unit``, ``kind`` (spot-check defect code, inspection finding type, absence …).
    """

    name: ClassVar[str] = "per_event"
    description: ClassVar[str] = "each event deducts the points of its kind, down to 0 of the indicator"
    params: ClassVar[tuple[Param, ...]] = (
        c.points_mapping_param("deductions", "{kind: points deducted per event}"),
        c.UNKNOWN_KIND,
    )

    def score(self, inp: RuleInput) -> np.ndarray:
        ev = c.events(inp, "unit", "kind")
        pts = c.kind_points(inp, ev["kind"], ev["unit"], inp.params["deductions"], "kind")
        lost = c.per_unit_sum(ev["unit"], pts, len(inp.units))
        if inp.node.scoring is Scoring.DEDUCTION:
            return -np.minimum(lost, inp.points)
        return np.maximum(inp.points - lost, 0)


DEFAULT_SEVERITIES = {"warning": 1, "demerit": 2, "major_demerit": 3, "demotion": 4,
                      "dismissal": 5, "criminal": 10}


class Discipline:
    """Discipline deductions by severity (违纪扣分), only where the unit was at fault.

    ``score = −min(Σ deductions[severity] over events with at_fault, cap)`` (<= 0).
    Reads events ``unit``, ``kind`` (severity: warning 警告, demerit 记过, major_demerit 记大过,
    demotion 降级, dismissal 撤职/开除, criminal 追究刑事责任 — or the scheme's own names),
    ``at_fault`` (bool).
    """

    name: ClassVar[str] = "discipline"
    description: ClassVar[str] = "deduction by severity for each case where the unit was at fault (<= 0)"
    params: ClassVar[tuple[Param, ...]] = (
        c.points_mapping_param("deductions", "{severity: points deducted per case}",
                               default=DEFAULT_SEVERITIES),
        c.cap_param("largest deduction in points; omit for none of its own (the item's cap applies)"),
        c.UNKNOWN_KIND,
    )

    def score(self, inp: RuleInput) -> np.ndarray:
        ev = c.events(inp, "unit", "kind", "at_fault")
        fault = ev["at_fault"].astype(bool)
        pts = c.kind_points(inp, ev["kind"], ev["unit"], inp.params["deductions"], "severity")
        lost = c.per_unit_sum(ev["unit"], pts * fault, len(inp.units))
        if inp.params["cap"] is not None:
            lost = np.minimum(lost, to_milli(inp.params["cap"]))
        return -lost


_MMDD = re.compile(r"^(\d\d)-(\d\d)$")
_MONTHS_PER = {"half-year": 6, "quarter": 3, "month": 1}


def _windows_problem(value: Any) -> str | None:
    for w in value:
        if not isinstance(w, (list, tuple)) or len(w) != 2:
            return f"each window is [start MM-DD, end MM-DD], not {w!r}"
        for day in w:
            m = _MMDD.match(str(day))
            if not m:
                return f"{day!r} is not a MM-DD day"
            try:
                dt.date(2000, int(m[1]), int(m[2]))
            except ValueError:
                return f"{day!r} is not a day of the year"
        if str(w[0]) > str(w[1]):
            return f"window {w!r} ends before it starts"
    return None


def windows_of(params, year: int) -> list[tuple[dt.date, dt.date]]:
    """The windows of ``year``: the explicit ``windows`` list, else those of ``every``."""
    if params["windows"]:
        return [tuple(dt.date(year, *map(int, str(d).split("-"))) for d in w) for w in params["windows"]]
    size = _MONTHS_PER[params["every"]]
    out = []
    for first in range(1, 13, size):
        start = dt.date(year, first, 1)
        nxt = dt.date(year + 1, 1, 1) if first + size > 12 else dt.date(year, first + size, 1)
        out.append((start, nxt - dt.timedelta(days=1)))
    return out


class PerWindow:
    """Per-window requirement (阶段性要求), e.g. at least one research report in each half-year.

    ``score = max(points − deduction × #(ended windows with fewer than min_per_window events), 0)``;
    a window counts once it has ended by the run's as-of date (its last day <= as_of).
    Reads events ``unit``, ``date``.
    """

    name: ClassVar[str] = "per_window"
    description: ClassVar[str] = "each ended window without the required events deducts"
    params: ClassVar[tuple[Param, ...]] = (
        Param("windows", "list", "[[start MM-DD, end MM-DD], ...]; overrides every",
              default=None, validator=_windows_problem),
        Param("every", "string", "windows of equal size over the year", default="half-year",
              choices=tuple(_MONTHS_PER)),
        Param("min_per_window", "integer", "events required in each window", default=1, minimum=1),
        c.points_param("deduction", "points deducted per window that misses the requirement"),
    )

    def score(self, inp: RuleInput) -> np.ndarray:
        ev = c.events(inp, "unit", "date")
        try:
            dates = ev["date"].astype("datetime64[D]")
        except (TypeError, ValueError):
            raise DataError("the events' date column holds something that is not a date",
                            location=c.where(inp),
                            hint="dates must be datetime64[D] (or ISO text)") from None
        n = len(inp.units)
        missed = np.zeros(n, dtype=np.int64)
        for start, end in windows_of(inp.params, inp.period.year):
            if end > inp.as_of:
                continue
            inside = (dates >= np.datetime64(start)) & (dates <= np.datetime64(end))
            count = np.bincount(ev["unit"][inside], minlength=n)
            missed += count < inp.params["min_per_window"]
        return np.maximum(inp.points - missed * to_milli(inp.params["deduction"]), 0)
