"""The evaluation as tables (for the workbook and the terminal) and as one JSON document."""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from jx_evaluation.analysis import Evaluation, Fairness
from jx_evaluation.labels import label


@attrs.frozen
class Table:
    key: str
    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]


def _num(x: Any, digits: int = 3) -> Any:
    """A plain Python number for a cell (None for NaN)."""
    if isinstance(x, (np.integer, int)) and not isinstance(x, bool):
        return int(x)
    x = float(x)
    return None if math.isnan(x) else round(x, digits)


def tables(ev: Evaluation) -> list[Table]:
    lang = ev.scheme.language
    L = lambda key, **f: label(key, lang, **f)  # noqa: E731
    yes = lambda b: L("yes") if b else L("no")  # noqa: E731
    rb = ev.robustness
    order = np.lexsort((np.arange(len(rb.codes)), rb.rank))
    out = [Table("robustness", L("robustness"),
                 (L("unit"), L("name"), L("rank"), L("rank_low"), L("rank_median"), L("rank_high"),
                  L("p_top", n=rb.top_n), L("p_bottom", n=rb.bottom_k)),
                 tuple((str(rb.codes[u]), str(rb.names[u]), int(rb.rank[u]), int(rb.rank_low[u]),
                        int(rb.rank_median[u]), int(rb.rank_high[u]), _num(rb.p_top[u]), _num(rb.p_bottom[u]))
                       for u in order))]
    nodes = ev.scheme.nodes
    out.append(Table("decisions", L("decisions"),
                     (L("decision"), L("node"), L("unit"), L("name"), L("decided"), L("share"), L("robust")),
                     tuple((L(d.kind), nodes[d.node].name if d.node in nodes else (d.node or ""), d.unit, d.name,
                            yes(d.decided), _num(d.share), yes(d.robust)) for d in rb.decisions)))
    if ev.sensitivity is not None:
        s = ev.sensitivity
        out.append(Table("sensitivity", L("sensitivity"),
                         (L("item"), L("weight"), L("s1_totals"), L("conf"), L("st_totals"), L("conf"),
                          L("s1_bottom", n=s.bottom_k), L("conf"), L("st_bottom", n=s.bottom_k), L("conf")),
                         tuple((nodes[c].name, _num(s.weights[i]), _num(s.totals.s1[i]), _num(s.totals.s1_conf[i]),
                                _num(s.totals.st[i]), _num(s.totals.st_conf[i]), _num(s.bottom.s1[i]),
                                _num(s.bottom.s1_conf[i]), _num(s.bottom.st[i]), _num(s.bottom.st_conf[i]))
                               for i, c in enumerate(s.items))))
    fair_rows = []
    for f in (ev.fairness, ev.fairness_previous):
        if f is None:
            continue
        fair_rows.append((f.year, L("size_share"), "", "", _num(f.size_share), "", "",
                          L("flagged") + ": " + yes(f.flagged)))
        fair_rows += [(f.year, _node_name(ev, f, c.node), L(c.size), c.method, _num(c.r), _num(c.low), _num(c.high),
                       _num(c.p, 4)) for c in f.correlations]
    out.append(Table("fairness", L("fairness"),
                     (L("year"), L("node"), L("size"), L("method"), L("r"), L("low"), L("high"), L("p")),
                     tuple(fair_rows)))
    class_rows = []
    for f in (ev.fairness, ev.fairness_previous):
        if f is None:
            continue
        for u in np.lexsort((f.class_ranks, f.classes)):
            class_rows.append((f.year, str(f.codes[u]), str(f.names[u]), int(f.staff[u]), int(f.entities[u]),
                               int(f.classes[u]), int(f.class_ranks[u]), int(f.ranks[u])))
    out.append(Table("classes", L("classes"),
                     (L("year"), L("unit"), L("name"), L("staff"), L("entities"), L("class"), L("class_rank"),
                      L("rank")),
                     tuple(class_rows)))
    r = ev.resources
    out.append(Table("resources", L("resources"),
                     (L("unit"), L("name"), L("staff"), L("entities"), L("workload_index"), L("total"),
                      L("peer_mean"), L("gap"), L("gap_sd"), L("far"), L("peers")),
                     tuple((str(r.codes[u]), str(r.names[u]), int(r.staff[u]), int(r.entities[u]),
                            _num(r.workload_index[u]), _num(ev.fairness.totals[u] / 1000), _num(r.peer_mean[u] / 1000),
                            _num(r.gap[u] / 1000), _num(r.gap_sd[u]), yes(r.far[u]),
                            "、".join(str(r.names[p]) for p in r.peers[u]) if r.peers.shape[1]
                            else f"{L('class')} {r.classes[u]}")
                           for u in np.argsort(-np.abs(np.nan_to_num(r.gap_sd)), kind="stable"))))
    p = ev.plan
    out.append(Table("indicators", L("indicators"),
                     (L("indicator"), L("name"), L("item"), L("nominal"), L("effective"), L("spread"), L("tied"),
                      L("at_floor"), L("at_cap")),
                     tuple((c, p.names[i], nodes[p.item[i]].name, _num(p.nominal[i], 4), _num(p.effective[i], 4),
                            _num(p.spread[i]), _num(p.tied[i]), int(p.at_floor[i]), int(p.at_cap[i]))
                           for i, c in enumerate(p.codes))))
    out.append(Table("items", L("items"), (L("item"), L("nominal"), L("effective"), L("spread"), L("tied")),
                     tuple((nodes[c].name, _num(p.item_nominal[i], 4), _num(p.item_effective[i], 4),
                            _num(p.item_spread[i]), _num(p.item_tied[i])) for i, c in enumerate(p.items))))
    out.append(Table("redundant", L("redundant"), (L("indicator"), L("other"), L("r")),
                     tuple((f"{a} {nodes[a].name}", f"{b} {nodes[b].name}", _num(rr)) for a, b, rr in p.redundant)))
    out.append(Table("rewards", L("rewards"),
                     (L("unit"), L("name"), L("rank"), L("moved_rewards"), L("moved_deductions")),
                     tuple((str(rb.codes[u]), str(rb.names[u]), int(rb.rank[u]), int(p.moved_by_rewards[u]),
                            int(p.moved_by_deductions[u])) for u in order)))
    return out


def _node_name(ev: Evaluation, f: Fairness, code: str) -> str:
    if code == ev.scheme.root:
        return label("total", ev.scheme.language)
    node = ev.scheme.nodes.get(code)
    return node.name if node is not None else code


def write_workbook(ev: Evaluation, path: Path) -> Path:
    """One sheet per table; written to a temporary file beside ``path`` and renamed, so a failure
    never leaves half a workbook."""
    from openpyxl import Workbook

    path.parent.mkdir(parents=True, exist_ok=True)
    book = Workbook(write_only=True)
    for table in tables(ev):
        sheet = book.create_sheet(table.title[:31])
        sheet.append(list(table.header))
        for row in table.rows:
            sheet.append(list(row))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".evaluation-", suffix=".xlsx")
    os.close(fd)
    try:
        book.save(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def document(ev: Evaluation) -> dict[str, Any]:
    """The ``jx evaluate --json`` document: one object per table, rows as lists, plus the run facts."""
    rb = ev.robustness
    return {
        "scheme": ev.scheme.name, "period": ev.scheme.period.year, "run_id": ev.baseline.stored_run_id,
        "as_of": ev.baseline.result.run.as_of.isoformat(), "drift": ev.baseline.drift,
        "plan_differs": ev.baseline.plan_differs,
        "variations": rb.variations, "seed": rb.seed, "holds_share": rb.holds_share,
        "missing_years": list(rb.missing_years), "varied_indicators": list(rb.varied_indicators),
        "size_flagged": ev.fairness.flagged, "size_share": ev.fairness.size_share,
        "tables": {t.key: {"title": t.title, "header": list(t.header), "rows": [list(r) for r in t.rows]}
                   for t in tables(ev)},
    }
