"""The 绩效之窗 static site: a ranking page and a page per unit, readable from disk, no network.

Pages are rendered with Jinja2 from the package's templates; styles are inline and the rank
history is an inline SVG, so the directory can be copied to any intranet server or opened as files.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import jinja2
import numpy as np

from jx_outputs.labels import labels
from jx_outputs.report import Report
from jx_outputs.tables import (
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


def write_site(report: Report, out_dir: Path, advance: Callable[[int], None] | None = None) -> Path:
    """Write ``index.html`` and ``units/<code>.html`` under ``out_dir``; return the index's path.
    ``advance(1)`` is called after each unit's page (a progress bar)."""
    view = report.view
    lab = labels(view.language)
    (out_dir / "units").mkdir(parents=True, exist_ok=True)
    common = {"lab": lab, "scheme": view.scheme, "as_of": view.as_of, "run_id": view.run_id,
              "lang": "zh-CN" if view.language.startswith("zh") else "en",
              "levels": {lab[f"level_{n}"]: n for n in (1, 2, 3)}}
    index = out_dir / "index.html"
    index.write_text(_ENV.get_template("index.html").render(
        ranking=ranking_table(report), commendation=commendation_table(report), review=review_table(report),
        warnings=warning_table(report, new_only=False), **common), encoding="utf-8")
    unit_page = _ENV.get_template("unit.html")
    items = view.items()
    indicators = [n for n in view.scheme.indicators() if view.has_node(n.code)]
    nan = np.full(len(view), np.nan)
    for i in range(len(view)):
        page = unit_page.render(
            code=view.codes[i], name=view.names[i], rank=int(view.ranks[i]), total=int(view.totals[i]),
            items=[(n, int(view.node_scores(n.code)[i]), int(report.ranking.item_ranks[n.code][i])) for n in items],
            indicators=[(n, int(view.node_scores(n.code)[i]), float(view.values.get(n.code, nan)[i]))
                        for n in indicators],
            chart=rank_chart(report, i), warnings=warning_table(report, units=[i]), n_units=len(view), **common)
        (out_dir / "units" / f"{view.codes[i]}.html").write_text(page, encoding="utf-8")
        if advance is not None:
            advance(1)
    return index


def rank_chart(report: Report, unit: int, width: int = 560, height: int = 200) -> dict | None:
    """An SVG polyline of one unit's rank over the period's runs (rank 1 at the top); None if < 1 run."""
    hist = report.history
    ranks = hist.ranks[:, unit]
    present = ranks > 0
    if not present.any():
        return None
    n_units, pad = len(report.view), 24
    xs = np.linspace(pad, width - pad, len(ranks)) if len(ranks) > 1 else np.array([width / 2])
    ys = pad + (ranks - 1) / max(n_units - 1, 1) * (height - 2 * pad)
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y, p in zip(xs, ys, present) if p)
    dots = [{"x": f"{x:.1f}", "y": f"{y:.1f}", "rank": int(r), "date": str(d)}
            for x, y, r, d, p in zip(xs, ys, ranks, hist.dates, present) if p]
    return {"width": width, "height": height, "points": points, "dots": dots, "first": str(hist.dates[0]),
            "last": str(hist.dates[-1]), "n_units": n_units}
