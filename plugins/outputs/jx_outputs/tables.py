"""A :class:`Report` as labelled tables: one definition for the terminal, the workbook and the site.

Cells hold raw values: points as int milli-points (kind ``points``), ranks as ints, measures as
floats (NaN = no data), rank movement as an int (None = no previous run). Renderers format them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any, overload

import attrs
import numpy as np

from jx_outputs.labels import labels
from jx_outputs.report import Report
from jxcore.points import format_points

TOP = 10  #: rows of the leaderboard shown on a terminal unless all are asked for


@attrs.frozen
class Column:
    label: str
    kind: str = "text"  #: text, points, int, number, rate (a share, shown as a percentage), date, move


class ColumnRows(Sequence):
    """A table's rows held as columns (numpy arrays or lists, one per column, in row order), so that
    30,000 units × 360 columns are built without a Python object per cell. Reads as a sequence of
    row tuples of Python values; the workbook and the site read :attr:`columns` directly."""

    def __init__(self, columns: Sequence[Any]):
        self.columns = tuple(columns)
        self._n = len(self.columns[0]) if self.columns else 0

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, i: int) -> tuple[Any, ...]: ...

    @overload
    def __getitem__(self, i: slice) -> list[tuple[Any, ...]]: ...

    def __getitem__(self, i):
        if isinstance(i, slice):
            return list(ColumnRows([c[i] for c in self.columns]))
        return tuple(c[i].item() if isinstance(c, np.ndarray) else c[i] for c in self.columns)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return zip(*(c.tolist() if isinstance(c, np.ndarray) else c for c in self.columns))


def columns_of(rows: Sequence[tuple[Any, ...]], width: int) -> tuple[Sequence[Any], ...]:
    """The columns of ``rows`` (a :class:`ColumnRows`' own, or transposed)."""
    if isinstance(rows, ColumnRows):
        return rows.columns
    return tuple(zip(*rows)) if rows else tuple(() for _ in range(width))


@attrs.frozen
class Table:
    name: str  #: short sheet name
    title: str
    columns: tuple[Column, ...]
    rows: Sequence[tuple[Any, ...]]  #: a list, or :class:`ColumnRows` for the tables with a row per unit
    notes: tuple[str, ...] = ()
    marked: tuple[int, ...] = ()  #: rows to stand out (the unit asked for)
    breaks: tuple[int, ...] = ()  #: rows that follow rows left out


def is_rate(node: Any) -> bool:
    """Whether an indicator's measure is a share (its name says 率 or rate): shown as a percentage."""
    return "率" in node.name or "rate" in node.name.casefold()


def format_cell(value: Any, kind: str) -> str:
    """How a cell reads on a screen or a web page."""
    if value is None:
        return ""
    if kind == "points":
        return format_points(value)
    if kind == "move":
        return f"↑{value}" if value > 0 else f"↓{-value}" if value < 0 else "–"
    if kind == "number":
        return "" if math.isnan(value) else f"{value:.4g}"
    if kind == "rate":
        return "" if math.isnan(value) else f"{value:.1%}"
    return str(value)


def ranking_table(report: Report, *, items: bool = True) -> Table:
    view, r = report.view, report.ranking
    lab = labels(view.language)
    shown_items = view.items() if items else []
    cols = [Column(lab["rank"], "int"), Column(lab["code"]), Column(lab["unit"]), Column(lab["total"], "points")]
    cols += [Column(item.name, "points") for item in shown_items]
    cols += [Column(lab["gap"], "points"), Column(lab["move"], "move")]
    order = r.order
    gaps: list[int | None] = r.gaps[order].astype(np.int64).tolist()
    if gaps:
        gaps[0] = None  # the first unit has no unit above
    moves: list[int | None] = [None] * len(order)
    if bool((r.previous > 0).any()):  # movement only against a previous run, for units in it
        moves = [m if p > 0 else None for m, p in zip(r.moves[order].astype(np.int64).tolist(),
                                                        r.previous[order].tolist())]
    data = [r.ranks[order].astype(np.int64), view.codes[order].tolist(), view.names[order].tolist(),
            view.totals[order].astype(np.int64)]
    data += [view.node_scores(item.code)[order].astype(np.int64) for item in shown_items]
    data += [gaps, moves]
    rows = ColumnRows(data)
    title = lab["ranking_title"].format(title=view.scheme.title or view.scheme.name,
                                        year=view.scheme.period.year, as_of=view.as_of)
    return Table("ranking", title, tuple(cols), rows)


def leaderboard_table(report: Report, *, wide: bool = False, all: bool = False, highlight: str | None = None,
                      top: int = TOP) -> Table:
    """The ranking as a terminal shows it: the first ``top`` units and the ``highlight`` unit (by
    code; marked, after a break if it is further down), or every unit with ``all``; the item
    columns only when ``wide``. A note says how many units are left out."""
    table = ranking_table(report, items=wide)
    view, lab = report.view, labels(report.view.language)
    marked = ()
    if highlight is not None:
        marked = (report.ranking.order.tolist().index(view.unit_position(highlight)),)
    if all:
        return attrs.evolve(table, marked=marked)
    keep = sorted({*range(min(top, len(table.rows))), *marked})
    breaks = tuple(n for n, (a, b) in enumerate(zip([-1, *keep], keep)) if b != a + 1)
    left = len(table.rows) - len(keep)
    notes = (lab["more_units"].format(n=left),) if left else ()
    return attrs.evolve(table, rows=[table.rows[i] for i in keep], notes=notes,
                        marked=tuple(keep.index(i) for i in marked), breaks=breaks)


def item_table(report: Report) -> Table:
    view, lab = report.view, labels(report.view.language)
    items = view.items()
    cols = [Column(lab["code"]), Column(lab["unit"])]
    for item in items:
        cols += [Column(item.name, "points"), Column(f"{item.name} {lab['item_rank']}", "int")]
    order = report.ranking.order
    data: list[Any] = [view.codes[order].tolist(), view.names[order].tolist()]
    for item in items:
        data += [view.node_scores(item.code)[order].astype(np.int64),
                 np.asarray(report.ranking.item_ranks[item.code])[order].astype(np.int64)]
    rows = ColumnRows(data)
    return Table("items", lab["items"], tuple(cols), rows)


def indicator_table(report: Report) -> Table:
    view, lab = report.view, labels(report.view.language)
    nodes = [n for n in view.scheme.indicators() if view.has_node(n.code)]
    cols = [Column(lab["code"]), Column(lab["unit"])]
    for node in nodes:
        cols += [Column(f"{node.code} {node.name} {lab['score']}", "points"),
                 Column(f"{node.code} {lab['measure']}", "rate" if is_rate(node) else "number")]
    nan = np.full(len(view), np.nan)
    order = report.ranking.order
    data: list[Any] = [view.codes[order].tolist(), view.names[order].tolist()]
    for node in nodes:
        data += [view.node_scores(node.code)[order].astype(np.int64),
                 np.asarray(view.values.get(node.code, nan), dtype=float)[order]]
    rows = ColumnRows(data)
    return Table("indicators", lab["indicators"], tuple(cols), rows)


def commendation_table(report: Report) -> Table:
    view, c, lab = report.view, report.commendation, labels(report.view.language)
    cols = (Column(lab["commendation"]), Column(lab["rank"], "int"), Column(lab["code"]), Column(lab["unit"]),
            Column(lab["score"], "points"))
    rows = []

    def add(category: str, units: np.ndarray, scores: np.ndarray) -> None:
        for place, i in enumerate(units.tolist(), start=1):
            rows.append((category, place, view.codes[i], view.names[i], int(scores[i])))

    add(lab["top_units"].format(n=c.top_n), c.top, view.totals)
    for code, units in c.items.items():
        add(lab["item_excellence"].format(item=_node_name(view, code)), units, view.node_scores(code))
    notes = ()
    if len(c.excluded):
        nodes = "、".join(_node_name(view, code) for code in c.excluded_by)
        notes = (lab["not_eligible"].format(nodes=nodes) + ": " +
                 ", ".join(f"{view.names[i]} ({view.codes[i]})" for i in c.excluded.tolist()),)
    return Table("commendation", lab["commendation"], cols, rows, notes)


def review_table(report: Report) -> Table:
    view, rv, lab = report.view, report.review, labels(report.view.language)
    cols = (Column(lab["review"]), Column(lab["code"]), Column(lab["unit"]), Column(lab["total"], "points"))
    if rv is None:
        return Table("review", lab["review"], cols, [])
    rows = []
    for decision, units in ((lab["reshuffle"], rv.reshuffle), (lab["admonition"], rv.admonition)):
        rows += [(decision, view.codes[i], view.names[i], int(view.totals[i])) for i in units.tolist()]
    notes = [lab["admonition"] + ": " + lab["admonition_rule"].format(years=rv.admonition_years, k=rv.bottom_k),
             lab["reshuffle"] + ": " + lab["reshuffle_rule"].format(years=rv.reshuffle_years, k=rv.bottom_k,
                                                                   line=format_points(rv.pass_line))]
    notes += [lab["bottom_of"].format(year=year, k=rv.bottom_k) + ": " + ", ".join(map(str, codes))
              for year, codes in sorted(rv.bottom.items(), reverse=True)]
    notes += [lab["missing_year"].format(year=year, command=rv.command(view.scheme.name, year))
              for year in rv.missing]
    return Table("review", lab["review"], cols, rows, tuple(notes))


def warning_table(report: Report, *, new_only: bool = False, units: Sequence[int] | None = None) -> Table:
    """Every warning (unit × indicator with a level), most serious first; ``units`` limits the rows."""
    view, w, lab = report.view, report.warnings, labels(report.view.language)
    rates = all(is_rate(view.node(code)) for code in w.indicators if view.node(code))
    kind = "rate" if w.indicators and rates else "number"  # percentages when every staged indicator is a rate
    cols = (Column(lab["code"]), Column(lab["unit"]), Column(lab["indicator"]), Column(lab["node"]),
            Column(lab["due"], "date"), Column(lab["stage"], kind), Column(lab["value"], kind),
            Column(lab["level"]), Column(lab["new"]))
    shown = w.new if new_only else w.levels > 0
    if units is not None:
        keep = np.zeros(len(view), dtype=bool)
        keep[list(units)] = True
        shown = shown & keep
    ind, unit = np.nonzero(shown)
    order = np.lexsort((unit, ind, -w.levels[ind, unit]))
    new = w.new
    rows = []
    for k in order.tolist():
        i, u = int(ind[k]), int(unit[k])
        code = w.indicators[i]
        stage = w.stages[i]
        rows.append((view.codes[u], view.names[u], code, _node_name(view, code), str(stage.date),
                     float(stage.target), float(view.values[code][u]), lab[f"level_{w.levels[i, u]}"],
                     "✓" if new[i, u] else ""))
    return Table("warnings", lab["warnings"], cols, rows)


def all_tables(report: Report) -> list[Table]:
    return [ranking_table(report), item_table(report), indicator_table(report), commendation_table(report),
            review_table(report), warning_table(report)]


def _node_name(view, code: str) -> str:
    node = view.node(code)
    return node.name if node else code
