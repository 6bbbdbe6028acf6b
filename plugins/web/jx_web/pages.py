"""The documents behind each page, as plain dicts: the HTML templates and the JSON API render the
same ones, so a figure on a page and in /api cannot differ. Points are numbers of points."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from jx_outputs.tables import is_rate
from jx_web import charts
from jx_web.data import Results, losses_against_best
from jxcore.models import Scoring
from jxcore.points import MILLI, format_points


def pts(milli: int | np.integer) -> float:
    return int(milli) / MILLI


def _num(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def run_header(results: Results) -> dict[str, Any]:
    view = results.view
    prev = results.previous
    return {"scheme": view.scheme.name, "title": view.scheme.title or view.scheme.name,
            "period": view.scheme.period.year, "as_of": view.as_of.isoformat(), "run_id": view.run_id,
            "final": view.final, "units": len(view), "scale": pts(view.scheme.scale),
            "plan_differs": view.plan_differs,
            "previous": None if prev is None else {"run_id": prev.run_id, "as_of": prev.as_of.isoformat()}}


def figure_codes(scheme) -> list[str]:
    """The indicators whose measured figures the leaderboard shows beside the scores
    (``settings.web.figures``: the common figures the lecture names, e.g. registrations done in
    time, cases per head, patrols per head); UsageError naming a code the plan does not have."""
    from jxcore.errors import UsageError

    codes = list(((scheme.settings.get("web") or {}).get("figures")) or [])
    wrong = [c for c in codes if c not in scheme.nodes or not scheme.nodes[c].is_indicator]
    if wrong:
        raise UsageError(f"settings.web.figures of {scheme.name} {scheme.period.year} names "
                         f"{', '.join(map(str, wrong))}, which are not indicators of the plan",
                         hint="list indicator codes (jx tree --scheme NAME shows them)")
    return codes


def leaderboard(results: Results, mine: str | None = None) -> dict[str, Any]:
    """Every unit by rank: total, item scores with item ranks, gap to the unit above, movement
    since the previous day's run, warnings, the common figures (:func:`figure_codes`); ``mine``
    (a unit code) is flagged and repeated on top."""
    view, r = results.view, results.ranking
    items = view.items()
    figures = [view.node(c) for c in figure_codes(view.scheme)]
    nan = np.full(len(view), np.nan)
    measured = [view.values.get(n.code, nan) for n in figures]
    scores = [view.node_scores(n.code) for n in items]
    has_prev = results.previous is not None
    first = int(r.order[0]) if len(r.order) else -1
    rows = []
    for i in r.order.tolist():
        rows.append({
            "rank": int(r.ranks[i]), "code": str(view.codes[i]), "name": str(view.names[i]),
            "total": pts(view.totals[i]),
            "items": [{"code": n.code, "score": pts(s[i]), "rank": int(r.item_ranks[n.code][i])}
                      for n, s in zip(items, scores)],
            "gap": None if i == first else pts(r.gaps[i]),
            "move": int(r.moves[i]) if has_prev and r.previous[i] > 0 else None,
            "warnings": int(results.warning_counts[i]), "mine": str(view.codes[i]) == mine,
            "figures": [_num(float(v[i])) for v in measured]})
    mine_row = next((row for row in rows if row["mine"]), None)
    mark = None if mine_row is None else mine_row["total"]
    chart = charts.histogram(view.totals / MILLI, mark=mark, fmt=lambda v: f"{v:.0f}")
    return {**run_header(results), "items": [{"code": n.code, "name": n.name, "points": pts(n.points)} for n in items],
            "figures": [{"code": n.code, "name": n.name, "kind": "rate" if is_rate(n) else "number"} for n in figures],
            "rows": rows, "mine": mine_row, "distribution": chart}


def _status(results: Results, i: int, lab) -> dict[str, Any]:
    c = results.commendation
    commended = []
    if i in c.top.tolist():
        commended.append(lab["top_units"].format(n=c.top_n))
    for code, units in c.items.items():
        if i in units.tolist():
            node = results.view.node(code)
            commended.append(lab["item_excellence"].format(item=node.name if node else code))
    review = []
    rv = results.review
    if rv is not None:
        if i in rv.reshuffle.tolist():
            review.append(lab["reshuffle"])
        elif i in rv.admonition.tolist():
            review.append(lab["admonition"])
    return {"commended": commended, "review": review, "excluded": i in c.excluded.tolist()}


def unit_page(results: Results, code: str, lab) -> dict[str, Any]:
    """One unit: total and rank, items, indicators (target, measure, points earned and lost,
    indicator rank), warnings first, commendation and review status, history charts, losses."""
    view = results.view
    i = results.unit_index(code)
    items = view.items()
    nan = np.full(len(view), np.nan)
    indicators = []
    for n in results.indicators:
        score = int(view.node_scores(n.code)[i])
        target = n.rule.params.get("target") if n.rule else None
        indicators.append({"code": n.code, "name": n.name, "points": pts(n.points), "score": pts(score),
                           "kind": "rate" if is_rate(n) else "number",
                           "lost": pts(max(-(score - n.points if n.scoring is Scoring.WEIGHTED else score), 0)),
                           "target": target if isinstance(target, (int, float)) else None,
                           "measure": _num(float(view.values.get(n.code, nan)[i])),
                           "rank": int(results.indicator_ranks[n.code][i]), "department": n.department})
    w = results.warnings
    warnings = []
    for k, ind in enumerate(w.indicators):
        level = int(w.levels[k, i])
        if level:
            stage = w.stages[k]
            warnings.append({"indicator": ind, "name": view.node(ind).name, "level": level,
                             "kind": "rate" if is_rate(view.node(ind)) else "number",
                             "label": lab[f"level_{level}"], "due": str(stage.date) if stage else None,
                             "stage": float(stage.target) if stage else None,
                             "value": _num(float(view.values[ind][i])), "new": bool(w.new[k, i])})
    warnings.sort(key=lambda x: -x["level"])
    hist = results.full_history
    present = hist.ranks[:, i] > 0
    dates = [str(d) for d, p in zip(hist.dates, present) if p]
    ranks = hist.ranks[present, i]
    totals = hist.totals[present, i] / MILLI
    years = [y for y in results.final_years if y.ranks[i] > 0]
    n = len(view)
    return {
        **run_header(results), "code": code, "name": str(view.names[i]), "rank": int(view.ranks[i]),
        "total": pts(view.totals[i]), "warnings": warnings, "status": _status(results, i, lab),
        "items": [{"code": it.code, "name": it.name, "points": pts(it.points),
                   "score": pts(view.node_scores(it.code)[i]),
                   "rank": int(results.ranking.item_ranks[it.code][i])} for it in items],
        "indicators": indicators,
        "losses": [{"code": row["node"].code, "name": row["node"].name, "score": pts(row["score"]),
                    "best": pts(row["best"]), "gap": pts(row["gap"]), "best_unit": row["best_unit"]}
                   for row in losses_against_best(results, i)],
        "history": {"dates": dates, "ranks": ranks.tolist(), "totals": totals.tolist()},
        "years": [{"year": y.year, "rank": int(y.ranks[i]), "total": pts(y.totals[i])} for y in years],
        "charts": {
            "rank": charts.line_chart(dates, ranks.tolist(), invert=True, low=1, high=n),
            "total": charts.line_chart(dates, totals.tolist(), fmt=lambda v: format_points(round(v * MILLI))),
            "years": charts.line_chart([str(y.year) for y in years], [int(y.ranks[i]) for y in years],
                                       invert=True, low=1, high=n)},
    }


def compare(a: Results, b: Results) -> dict[str, Any]:
    """Two runs side by side, by run B's order: ranks, totals and their changes."""
    va, vb = a.view, b.view
    where = {str(c): k for k, c in enumerate(va.codes)}
    rows = []
    for i in b.ranking.order.tolist():
        code = str(vb.codes[i])
        k = where.get(code)
        rows.append({"code": code, "name": str(vb.names[i]), "rank_b": int(vb.ranks[i]), "total_b": pts(vb.totals[i]),
                     "rank_a": None if k is None else int(va.ranks[k]),
                     "total_a": None if k is None else pts(va.totals[k]),
                     "change": None if k is None else pts(int(vb.totals[i]) - int(va.totals[k])),
                     "move": None if k is None else int(va.ranks[k]) - int(vb.ranks[i])})
    return {"a": run_header(a), "b": run_header(b), "rows": rows}
