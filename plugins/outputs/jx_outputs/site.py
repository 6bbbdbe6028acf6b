"""The 绩效之窗 static site: a ranking page and a page per unit, readable from disk, no network.

Pages come from the package's Jinja2 templates; the styles are one ``site.css`` beside ``index.html``
(linked by a relative URL) and the rank history is an inline SVG, so the directory can be copied to
any intranet server or opened as files, with no network.

A national site has 30,000 unit pages of ~190 rows each. The unit template is rendered once, with
markers in place of the unit's values, and cut at the markers; each unit's values are formatted a
column at a time (one column per indicator across all units: repeated scores formatted once) and a
page is the join of the template's pieces with that unit's values. Tables are made by
:func:`table_html` the same way, and a unit's warnings are the rows of the site's warning table
that name it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from itertools import repeat
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
from markupsafe import Markup, escape

from jx_outputs.excel import by_unique, encoded, without_cyclic_gc
from jx_outputs.labels import labels
from jx_outputs.report import Report
from jx_outputs.tables import (
    Table,
    columns_of,
    commendation_table,
    format_cell,
    ranking_table,
    review_table,
    warning_table,
)
from jxcore.points import format_points

_ENV = jinja2.Environment(loader=jinja2.PackageLoader("jx_outputs", "templates"),
                          autoescape=jinja2.select_autoescape(["html"]), undefined=jinja2.StrictUndefined,
                          trim_blocks=True, lstrip_blocks=True)
_ENV.filters["cell"] = format_cell
_ENV.filters["points"] = format_points


class _Formatted(dict):
    """Escaped display text by value for one column kind, made on first sight."""

    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind

    def __missing__(self, value: Any) -> str:
        text = self[value] = str(escape(format_cell(value, self.kind)))
        return text


def _points(milli: int) -> str:
    """:func:`jxcore.points.format_points` without Decimal: ``m / 1000`` is the double nearest the
    three-decimal value, and its shortest repr is that decimal (no exponent for |m| < 10**19)."""
    text = repr(milli / 1000)
    return text[:-2] if text.endswith(".0") else text


def _number(value: float) -> str:
    return f"{value:.4g}" if value == value else ""


def _formatter(values: Sequence[Any], kind: str) -> Callable[[Any], str] | None:
    """How a value of a numeric column (an array) is shown, escaped; None for other columns."""
    if not isinstance(values, np.ndarray) or values.dtype.kind not in "iuf" or kind == "text":
        return None
    if kind == "points" and values.dtype.kind in "iu":
        return _points
    if kind == "number" and values.dtype.kind == "f":
        return _number
    return lambda value: str(escape(format_cell(value, kind)))  # by_unique calls it once per distinct value


def _texts(values: Sequence[Any], kind: str) -> list[str]:
    """The escaped display text of every value of a column (numbers formatted once per distinct value)."""
    shown = _formatter(values, kind)
    if shown is not None:
        texts, where = by_unique(np.asarray(values), shown)
        return texts[where].tolist()
    if isinstance(values, np.ndarray):
        values = values.tolist()
    if kind == "text":  # NUL is no character of an HTML page (and marks the unit template's slots)
        return ["" if v is None else str(escape(v)).replace("\x00", "") for v in values]
    return list(map(_Formatted(kind).__getitem__, values))


def _utf8(values: Sequence[Any], kind: str) -> list[bytes]:
    """:func:`_texts` in UTF-8, as the unit pages take them (numbers encoded once per distinct value)."""
    shown = _formatter(values, kind)
    if shown is None:
        return encoded(_texts(values, kind))
    texts, where = by_unique(np.asarray(values), lambda v: shown(v).encode())
    return texts[where].tolist()


def table_rows(table: Table, link_col: int | None = None, code_col: int | None = None, prefix: str = "units/",
               level_col: int | None = None, levels: dict[str, int] | None = None) -> list[str]:
    """Each row of ``table`` as a ``<tr>``: the ``link_col`` cell links to ``{prefix}{code}.html`` (the
    code in ``code_col``), the ``level_col`` cell is coloured by its warning level, numbers right-aligned."""
    levels = levels or {}
    columns = columns_of(table.rows, len(table.columns))
    cells = []
    for k, (column, values) in enumerate(zip(table.columns, columns)):
        texts = _texts(values, column.kind)
        if k == link_col and code_col is not None:
            codes = _texts(columns[code_col], "text")
            cells.append([f'<td><a href="{prefix}{c}.html">{t}</a></td>' for c, t in zip(codes, texts)])
        elif k == level_col:
            raw = values.tolist() if isinstance(values, np.ndarray) else values
            cells.append([f'<td class="level-{levels.get(v, 0)}">{t}</td>' for v, t in zip(raw, texts)])
        elif column.kind == "move":
            raw = values.tolist() if isinstance(values, np.ndarray) else values
            cells.append([f'<td class="n {"up" if v and v > 0 else "down" if v and v < 0 else ""}">{t}</td>'
                          for v, t in zip(raw, texts)])
        elif column.kind == "text":
            cells.append([f"<td>{t}</td>" for t in texts])
        else:
            cells.append([f'<td class="n">{t}</td>' for t in texts])
    join = "".join
    return [f"<tr>{join(row)}</tr>" for row in zip(*cells)]


def table_html(table: Table, link_col: int | None = None, code_col: int | None = None, prefix: str = "units/",
               level_col: int | None = None, levels: dict[str, int] | None = None) -> Markup:
    """``table`` as an HTML table in a sideways-scrolling box, its notes below (see :func:`table_rows`)."""
    rows = table_rows(table, link_col, code_col, prefix, level_col, levels)
    before, after = _around_rows(table)
    return Markup(before + "\n".join(rows) + after)


def _around_rows(table: Table) -> tuple[str, str]:
    """The HTML of ``table`` before its rows (box, table, head) and after them (ends, notes)."""
    head = "".join(f"<th>{escape(c.label)}</th>" for c in table.columns)
    notes = "".join(f'<p class="note">{escape(note)}</p>\n' for note in table.notes)
    return (f'<div class="scroll">\n<table id="{escape(table.name)}">\n<thead><tr>{head}</tr></thead>\n<tbody>\n',
            "\n</tbody>\n</table>\n</div>\n" + notes)


_ENV.globals["table_html"] = table_html


@without_cyclic_gc
def write_site(report: Report, out_dir: Path, advance: Callable[[int], None] | None = None) -> Path:
    """Write ``index.html`` and ``units/<code>.html`` under ``out_dir``; return the index's path.
    ``advance(n)`` is called as unit pages are written (a progress bar)."""
    view = report.view
    lab = labels(view.language)
    units_dir = out_dir / "units"
    units_dir.mkdir(parents=True, exist_ok=True)
    levels = {lab[f"level_{n}"]: n for n in (1, 2, 3)}
    (out_dir / "site.css").write_text(_ENV.loader.get_source(_ENV, "site.css")[0], encoding="utf-8")
    common = {"lab": lab, "scheme": view.scheme, "as_of": view.as_of, "run_id": view.run_id,
              "lang": "zh-CN" if view.language.startswith("zh") else "en", "levels": levels}
    warnings = warning_table(report, new_only=False)
    index = out_dir / "index.html"
    index.write_text(_ENV.get_template("index.html").render(
        ranking=ranking_table(report), commendation=commendation_table(report), review=review_table(report),
        warnings=warnings, root="", **common), encoding="utf-8")

    # the unit template, rendered once with a marker for each of a unit's values (a column of them
    # over all units, in UTF-8)
    n = len(view)
    fields: list[list[bytes]] = []

    def slot(values: list[bytes]) -> Markup:
        fields.append(values)
        return Markup(f"\x00{len(fields) - 1}\x00")

    items = view.items()
    indicators = [node for node in view.scheme.indicators() if view.has_node(node.code)]
    nan = np.full(n, np.nan)
    skeleton = _ENV.get_template("unit.html").render(
        code=slot(_utf8(view.codes, "text")), name=slot(_utf8(view.names, "text")),
        rank=slot(_utf8(view.ranks, "int")), total=slot(_utf8(view.totals, "points")),
        items=[(node, slot(_utf8(view.node_scores(node.code), "points")),
                slot(_utf8(np.asarray(report.ranking.item_ranks[node.code]), "int"))) for node in items],
        indicators=[(node, slot(_utf8(view.node_scores(node.code), "points")),
                     slot(_utf8(np.asarray(view.values.get(node.code, nan), dtype=float), "number")))
                    for node in indicators],
        chart=slot(encoded(chart_html(report, lab))),
        warnings=slot(encoded(_unit_warnings(warnings, view, lab, levels))), n_units=n, root="../", **common)
    pieces = skeleton.split("\x00")  # static, marker number, static, …, static
    if not all(piece.isdigit() for piece in pieces[1::2]):
        raise ValueError("a name of the scheme holds a NUL character: the unit pages cannot be written")
    columns: list[Any] = []  # a page is the join of a value of each column
    for k, piece in enumerate(pieces):
        columns.append(fields[int(piece)] if k % 2 else repeat(piece.encode("utf-8")))
    join = b"".join
    step = max(n // 100, 1)
    folder = os.fspath(units_dir) + os.sep
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    for i, (code, parts) in enumerate(zip(view.codes.tolist(), zip(*columns)), start=1):
        fd = os.open(f"{folder}{code}.html", flags, 0o644)
        try:
            _write_all(fd, join(parts))
        finally:
            os.close(fd)
        if advance is not None and (i % step == 0 or i == n):
            advance(step if i % step == 0 else i % step)
    return index


def _write_all(fd: int, data: bytes) -> None:
    """Write ``data`` whole: after a short write (a full disk) the rest, until done or an error."""
    done = os.write(fd, data)
    if done < len(data):
        rest = memoryview(data)[done:]
        while rest:
            rest = rest[os.write(fd, rest):]


def _unit_warnings(warnings: Table, view: Any, lab: Any, levels: dict[str, int]) -> list[str]:
    """Each unit's warnings as HTML: the rows of the site's warning table (most serious first) that
    name the unit, or 'none'."""
    rows = table_rows(warnings, level_col=7, levels=levels)
    by_unit: dict[str, list[str]] = {}
    for code, row in zip(columns_of(warnings.rows, len(warnings.columns))[0], rows):
        by_unit.setdefault(code, []).append(row)
    none = f"<p>{escape(lab['none'])}</p>"
    before, after = _around_rows(warnings)
    return [before + "\n".join(by_unit[code]) + after if code in by_unit else none for code in view.codes.tolist()]


def chart_html(report: Report, lab: Any, width: int = 560, height: int = 200) -> list[str]:
    """Each unit's rank over the period's runs as an inline SVG polyline (rank 1 at the top), or
    'none' for a unit in no run."""
    hist = report.history
    n_units, pad = len(report.view), 24
    n_runs = len(hist.dates)
    none = f"<p>{escape(lab['none'])}</p>"
    if not n_runs:
        return [none] * n_units
    xs = np.linspace(pad, width - pad, n_runs) if n_runs > 1 else np.array([width / 2])
    ys = pad + (hist.ranks - 1) / max(n_units - 1, 1) * (height - 2 * pad)
    x_text = [f"{x:.1f}" for x in xs.tolist()]
    dates = [str(d) for d in hist.dates]
    label = escape(lab["rank_history"])
    head = (f'<svg id="rank-history" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{label}">\n<rect x="0" y="0" width="{width}" height="{height}" fill="#fff" stroke="#ccc"/>\n'
            f'<text x="4" y="16" font-size="11" fill="#555">1</text>\n'
            f'<text x="4" y="{height - 6}" font-size="11" fill="#555">{n_units}</text>\n')
    foot = f'</svg>\n<p class="note">{dates[0]} – {dates[-1]}</p>\n'
    out = []
    for ranks, y in zip(hist.ranks.T.tolist(), ys.T.tolist()):
        shown = [(x_text[k], f"{y[k]:.1f}", r, dates[k]) for k, r in enumerate(ranks) if r > 0]
        if not shown:
            out.append(none)
            continue
        line = " ".join(f"{x},{yy}" for x, yy, _, _ in shown)
        dots = "".join(f'<circle cx="{x}" cy="{yy}" r="3" fill="#b22"><title>{d}: {r}</title></circle>'
                       for x, yy, r, d in shown)
        out.append(f'{head}<polyline points="{line}" fill="none" stroke="#b22" stroke-width="2"/>\n{dots}\n{foot}')
    return out
