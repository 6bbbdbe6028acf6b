"""The evaluation pages of ``jx serve`` (through jx-web's ``jx_web_register_routes`` hook).

``/evaluation`` shows, for the current period's stored run, how robust each year-end decision is
(beside the decision), each unit's rank interval, size against score, and nominal against
effective weights; ``/api/evaluation`` the same as JSON (``jx evaluate --json``). Bureau accounts
only: it judges every unit. The evaluation of a run is computed once per worker and cached by run
id (the Monte Carlo takes a few seconds at province size).
"""


import json
import threading
from typing import Any

import numpy as np

_W, _ROW = 640, 14  #: chart width and row height in pixels


def rank_intervals(codes, names, low, median, high, n: int) -> dict[str, Any]:
    """SVG geometry of the 5–95 % rank intervals, best median first."""
    order = np.argsort(median, kind="stable")
    x = lambda rank: 120 + (float(rank) - 1) / max(n - 1, 1) * (_W - 140)  # noqa: E731
    rows = [{"y": 10 + i * _ROW, "name": str(names[j]), "code": str(codes[j]), "x1": x(low[j]), "x2": x(high[j]),
             "xm": x(median[j]), "low": int(low[j]), "high": int(high[j]), "median": float(median[j])}
            for i, j in enumerate(order)]
    return {"width": _W, "height": 20 + len(rows) * _ROW, "rows": rows}


def scatter(xs: np.ndarray, ys: np.ndarray, names) -> dict[str, Any]:
    """SVG geometry of a scatter plot (x on a log scale: sizes differ twenty-fold)."""
    lx = np.log10(np.maximum(xs.astype(float), 1))
    ys = ys.astype(float)
    span = lambda v: (v.min(), v.max() if v.max() > v.min() else v.min() + 1)  # noqa: E731
    (x0, x1), (y0, y1) = span(lx), span(ys)
    w, h = _W, 300
    points = [{"x": 40 + (a - x0) / (x1 - x0) * (w - 60), "y": h - 30 - (b - y0) / (y1 - y0) * (h - 50),
               "name": str(n)} for a, b, n in zip(lx.tolist(), ys.tolist(), names)]
    return {"width": w, "height": h, "points": points}


def weight_bars(names, nominal: np.ndarray, effective: np.ndarray) -> dict[str, Any]:
    """SVG geometry of nominal beside effective weights (shares of 1)."""
    top = max(float(np.nanmax(nominal)) if np.isfinite(nominal).any() else 0,
              float(np.nanmax(effective)) if np.isfinite(effective).any() else 0, 0.01)
    scale = lambda v: 0.0 if not np.isfinite(v) else max(float(v), 0.0) / top * (_W - 220)  # noqa: E731
    rows = [{"y": 10 + i * 2 * _ROW, "name": str(name), "nominal": scale(a), "effective": scale(b),
             "a": float(a) if np.isfinite(a) else None, "b": float(b) if np.isfinite(b) else None}
            for i, (name, a, b) in enumerate(zip(names, nominal.tolist(), effective.tolist()))]
    return {"width": _W, "height": 20 + len(rows) * 2 * _ROW, "rows": rows}


class _Cache:
    """One evaluation per run id, computed by one thread while the others wait."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: str | None = None
        self._value: Any = None

    def get(self, key: str, compute) -> Any:
        with self._lock:
            if self._key != key:
                self._value, self._key = compute(), key
            return self._value


def register(app, web) -> None:
    """Add the evaluation pages to the app (called by jx-web's ``jx_web_register_routes`` hook)."""
    import jinja2
    from fastapi import Request
    from fastapi.responses import HTMLResponse, Response

    from jx_evaluation.analysis import evaluate
    from jx_evaluation.report import document
    from jx_web.security import Need, signed_in

    web.env.loader = jinja2.ChoiceLoader([web.env.loader, jinja2.PackageLoader("jx_evaluation", "templates")])
    cache = _Cache()

    def current():
        scheme = web.catalog.scheme
        run_id = web.catalog.latest_id() or ""
        return cache.get(run_id, lambda: evaluate(web.store, web.registry, scheme))

    @app.get("/evaluation", name="evaluation", response_class=HTMLResponse, include_in_schema=False)
    def evaluation_page(request: Request) -> Response:
        signed_in(request, Need.BUREAU)
        ev = current()
        rb, fair, plan = ev.robustness, ev.fairness, ev.plan
        n = len(rb.codes)
        charts = {
            "intervals": rank_intervals(rb.codes, rb.names, rb.rank_low, rb.rank_median, rb.rank_high, n),
            "size": scatter(fair.entities, fair.totals / 1000, fair.names),
            "weights": weight_bars([ev.scheme.nodes[c].name for c in plan.items], plan.item_nominal,
                                   plan.item_effective),
        }
        return web.render(request, "evaluation.html", ev=ev, rb=rb, fair=fair, charts=charts,
                          zh=ev.scheme.language.startswith("zh"))

    @app.get("/api/evaluation", tags=["evaluation"])
    def evaluation_api(request: Request) -> Response:
        """The evaluation of the current period's stored run (as ``jx evaluate --json``); bureau accounts."""
        signed_in(request, Need.BUREAU)
        return Response(json.dumps(document(current()), ensure_ascii=False, default=str),
                        media_type="application/json")
