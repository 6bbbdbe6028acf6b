"""The ranking (排行榜): every unit's rank, total, item scores, gap to the unit above, and the
movement since the previous run of the same period — what a branch head looks at every morning."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from jxcore.interfaces import OutputContext
from jxcore.params import Param
from jxcore.points import format_points

LABELS = {
    "zh": {"title": "{name} {year} 年度排行榜（截至 {as_of}）", "rank": "名次", "unit": "单位", "total": "总分",
           "gap": "与上一名差距", "move": "名次变化"},
    "en": {"title": "{name} {year} ranking (as of {as_of})", "rank": "rank", "unit": "unit", "total": "total",
           "gap": "gap to above", "move": "move"},
}


class Ranking:
    """Print the leaderboard as a table; rank changes come from the previous stored run."""

    name: ClassVar[str] = "ranking"
    description: ClassVar[str] = "Leaderboard by total with item scores, gap to the unit above and rank movement."
    params: ClassVar[tuple[Param, ...]] = (
        Param("items", "boolean", "show a column per major item", default=True),
        Param("limit", "integer", "show only the first N rows (0 = all)", default=0, minimum=0),
    )

    def emit(self, ctx: OutputContext) -> None:
        if ctx.console is None:
            return
        from rich.table import Table

        result = ctx.result
        scheme = result.scheme
        labels = LABELS.get(scheme.language, LABELS["en"])
        previous = movement(ctx)
        table = Table(title=labels["title"].format(name=scheme.title or scheme.name, year=scheme.period.year,
                                                   as_of=result.run.as_of))
        for key in ("rank", "unit", "total"):
            table.add_column(labels[key], justify="left" if key == "unit" else "right")
        items = scheme.items() if ctx.params["items"] else []
        for item in items:
            table.add_column(item.name, justify="right")
        table.add_column(labels["gap"], justify="right")
        table.add_column(labels["move"], justify="right")
        order = np.lexsort((np.arange(len(result.units)), result.ranks))
        limit = ctx.params["limit"] or len(order)
        totals = result.totals
        for pos, i in enumerate(order[:limit]):
            gap = "" if pos == 0 else format_points(totals[order[pos - 1]] - totals[i])
            cells = [str(result.ranks[i]), str(result.units.names[i]), format_points(totals[i])]
            cells += [format_points(result.scores[result.row(item.code), i]) for item in items]
            cells += [gap, previous.get(result.units.codes[i], "")]
            table.add_row(*cells)
        ctx.console.print(table)


def movement(ctx: OutputContext) -> dict[str, str]:
    """Unit code → '↑2' / '↓1' / '–' against the previous run of the period ('' if none)."""
    if ctx.store is None:
        return {}
    run = ctx.result.run
    before = ctx.store.latest_run(run.scheme, run.period, before=run.id)
    if before is None:
        return {}
    old = dict(zip(before.unit_codes, before.ranks.tolist()))
    moves = {}
    for code, rank in zip(ctx.result.units.codes, ctx.result.ranks.tolist()):
        if code not in old:
            continue
        delta = old[code] - rank
        moves[code] = f"↑{delta}" if delta > 0 else f"↓{-delta}" if delta < 0 else "–"
    return moves
