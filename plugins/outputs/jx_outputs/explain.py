"""How a unit earned or lost every point (``jx explain``): the tree under a node, each node's
points against its maximum, and for each indicator the measure, the rule with its parameters, the
source the figure came from (the collector's SQL or file) and the source rows or entries behind it
(``Collector.source_rows``) — what a branch head checks before disputing a score."""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any

from jx_outputs.labels import labels
from jx_outputs.view import RunView
from jxcore.errors import JxError, UsageError
from jxcore.interfaces import RowSample
from jxcore.models import Node, Scoring
from jxcore.points import format_points


def explain_unit(view: RunView, unit: str, node: str | None = None,
                 describe_rule: Callable[[str], str] | None = None,
                 rows: Callable[[Node], RowSample | None] | None = None) -> dict[str, Any]:
    """A nested document: unit, run, and ``node`` (default the root) with its ``children``.

    ``rows`` gives an indicator's source rows for this unit (None: its collector cannot list them);
    a JxError it raises (a source out of reach) is shown in place of the rows, not raised."""
    col = view.unit_position(unit)
    start = node or view.scheme.root
    if not view.has_node(start) or view.node(start) is None:
        shown = ", ".join(n.code for n in view.items())
        raise UsageError(f"node {start!r} is not in the {view.scheme.period.year} plan of {view.scheme.name}",
                         hint=f"give a node code such as {shown} (see `jx tree --scheme {view.scheme.name}`)")

    def walk(code: str) -> dict[str, Any]:
        n = view.node(code)
        score = int(view.node_scores(code)[col])
        entry: dict[str, Any] = {"code": code, "name": n.name, "kind": n.kind.value, "scoring": n.scoring.value,
                                 "points": n.points, "score": score, "change": _change(n, score)}
        if n.is_indicator:
            value = view.values.get(code)
            entry["measure"] = None if value is None or value[col] != value[col] else float(value[col])
            entry["rule"] = {"name": n.rule.name, "params": dict(n.rule.params),
                             "description": describe_rule(n.rule.name) if describe_rule else ""}
            entry["collector"] = {"name": n.collector.name, "params": dict(n.collector.params)}
            entry["source"] = view.sources.get(code, "")
            entry["description"] = n.description
            if rows is not None:
                entry["rows"] = _rows_document(rows, n)
        else:
            entry["children"] = [walk(c) for c in n.children if view.has_node(c)]
        return entry

    return {"scheme": view.scheme.name, "period": view.scheme.period.year, "as_of": str(view.as_of),
            "run_id": view.run_id, "unit": {"code": unit, "name": str(view.names[col])},
            "total": int(view.totals[col]), "scale": view.scheme.scale, "rank": int(view.ranks[col]),
            "units": len(view), "node": walk(start)}


def _rows_document(rows: Callable[[Node], RowSample | None], node: Node) -> dict[str, Any] | None:
    try:
        sample = rows(node)
    except JxError as exc:
        return {"error": str(exc)}
    if sample is None:
        return None
    return {"columns": list(sample.columns), "rows": [list(r) for r in sample.rows], "total": sample.total,
            "counted": sample.counted, "counted_by": sample.counted_by, "source": sample.source,
            "note": sample.note}


def _change(node, score: int) -> int:
    """Points gained (+) or lost (−) against the node's base: its points inside the 100 %, 0 for
    reward and deduction items, whose score is all gain or loss."""
    return score - node.points if node.scoring is Scoring.WEIGHTED else score


def render_text(doc: dict[str, Any], language: str, *, sql: bool = False) -> str:
    """The explanation as indented lines, in the scheme's language: each indicator's collector and
    its parameters (the rows counted), and with ``sql`` the query the store recorded."""
    lab = labels(language)
    lines = [lab["explain_title"].format(name=doc["unit"]["name"], code=doc["unit"]["code"], year=doc["period"],
                                         as_of=doc["as_of"], total=format_points(doc["total"]),
                                         scale=format_points(doc["scale"]), rank=f"{doc['rank']}/{doc['units']}")]

    def line(entry: dict[str, Any], depth: int) -> None:
        pad = "  " * depth
        change = entry["change"]
        delta = ""
        if change < 0:
            delta = "  " + lab["lost"].format(lost=format_points(-change))
        elif change > 0:
            delta = "  " + lab["gained"].format(gained=format_points(change))
        earned = lab["earned"].format(score=format_points(entry["score"]), points=format_points(entry["points"]))
        lines.append(f"{pad}{entry['code']} {entry['name']}: {earned}{delta}")
        if "children" in entry:
            for child in entry["children"]:
                line(child, depth + 1)
            return
        measure = lab["no_data"] if entry["measure"] is None else f"{entry['measure']:.6g}"
        params = ", ".join(f"{k}={v}" for k, v in entry["rule"]["params"].items())
        lines.append(f"{pad}  {lab['measure']}: {measure}")
        rule = f"{entry['rule']['name']}({params})"
        if entry["rule"]["description"]:
            rule += f" — {entry['rule']['description']}"
        lines.append(f"{pad}  {lab['rule']}: {rule}")
        if entry["description"]:
            lines.append(f"{pad}  {entry['description']}")
        collector = entry["collector"]
        lines.append(f"{pad}  {lab['source']}: {collector['name']}"
                     f"({', '.join(f'{k}={v}' for k, v in collector['params'].items())})")
        if sql and entry["source"]:
            lines.append(f"{pad}    {' '.join(entry['source'].split())}")
        if entry.get("rows"):
            lines.extend(_rows_lines(entry["rows"], lab, f"{pad}  "))

    line(doc["node"], 0)
    return "\n".join(lines)


def _rows_lines(rows: dict[str, Any], lab: Mapping[str, str], pad: str) -> list[str]:
    """The source rows as a plain table under their indicator: a header, one line per row."""
    if "error" in rows:
        return [f"{pad}{lab['rows_error'].format(error=rows['error'])}"]
    if rows["total"] is None:
        return [f"{pad}{lab['rows_unlisted']}", f"{pad}  {' '.join(rows['source'].split())}"]
    head = lab["rows_shown"].format(shown=len(rows["rows"]), total=rows["total"])
    if rows["counted"] is not None:
        head += lab["rows_counted"].format(counted=rows["counted"], column=rows["counted_by"])
    lines = [f"{pad}{head}:", f"{pad}  {' '.join(rows['source'].split())}"]
    if rows["rows"]:
        table = [rows["columns"], *([_cell(v) for v in row] for row in rows["rows"])]
        widths = [max(_width(r[i]) for r in table) for i in range(len(rows["columns"]))]
        for row in table:
            lines.append(f"{pad}  " + "  ".join(v + " " * (w - _width(v)) for v, w in zip(row, widths)).rstrip())
    return lines


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value):
        return value[:12] + "…"  # a sha256: its start identifies the file
    return str(value)


def _width(text: str) -> int:
    """Display width: CJK characters take two columns."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
