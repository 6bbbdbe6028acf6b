"""Charts as server-drawn SVG geometry (no chart library, no script): the templates draw the shapes.

Each function returns plain numbers for ``templates/_charts.html``, or None when there is nothing
to draw, so a page shows "none" instead of an empty frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

WIDTH, HEIGHT, PAD = 560, 200, 28


def line_chart(labels: Sequence[str], values: Sequence[float], *, invert: bool = False,
               low: float | None = None, high: float | None = None, fmt=str) -> dict[str, Any] | None:
    """A polyline over ``labels`` (x) and ``values`` (y); ``invert`` puts the smallest value on
    top (rank 1 is best). ``low``/``high`` fix the y range (default: the values' own)."""
    if not len(values):
        return None
    vals = np.asarray(values, dtype=float)
    lo = float(vals.min()) if low is None else low
    hi = float(vals.max()) if high is None else high
    span = (hi - lo) or 1.0
    xs = np.linspace(PAD, WIDTH - PAD, len(vals)) if len(vals) > 1 else np.array([WIDTH / 2])
    frac = (vals - lo) / span
    ys = PAD + (frac if invert else 1 - frac) * (HEIGHT - 2 * PAD)
    dots = [{"x": f"{x:.1f}", "y": f"{y:.1f}", "label": str(label), "value": fmt(v)}
            for x, y, label, v in zip(xs, ys, labels, values)]
    top, bottom = (lo, hi) if invert else (hi, lo)
    return {"width": WIDTH, "height": HEIGHT, "points": " ".join(f"{d['x']},{d['y']}" for d in dots),
            "dots": dots, "top": fmt(top), "bottom": fmt(bottom), "first": str(labels[0]),
            "last": str(labels[-1])}


def histogram(values: np.ndarray, mark: float | None = None, bins: int = 10, fmt=str) -> dict[str, Any] | None:
    """Bars of how many units fall in each of ``bins`` equal score bands; the band holding
    ``mark`` (the signed-in unit's total) is flagged."""
    vals = np.asarray(values, dtype=float)
    if not len(vals):
        return None
    lo, hi = float(vals.min()), float(vals.max())
    if hi == lo:
        hi = lo + 1
    counts, edges = np.histogram(vals, bins=bins, range=(lo, hi))
    tallest = max(int(counts.max()), 1)
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD
    bar_w = inner_w / bins
    marked = None if mark is None else min(int((mark - lo) / (hi - lo) * bins), bins - 1)
    bars = []
    for i, count in enumerate(counts.tolist()):
        h = inner_h * count / tallest
        bars.append({"x": f"{PAD + i * bar_w + 1:.1f}", "y": f"{PAD + inner_h - h:.1f}", "w": f"{bar_w - 2:.1f}",
                     "h": f"{h:.1f}", "count": count, "mine": i == marked,
                     "range": f"{fmt(edges[i])} – {fmt(edges[i + 1])}"})
    return {"width": WIDTH, "height": HEIGHT, "bars": bars, "low": fmt(lo), "high": fmt(hi), "tallest": tallest}
