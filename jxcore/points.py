"""Exact points: every score is an integer number of milli-points (1/1000 of a point).

Scheme files write points as decimals (``80``, ``2.5``); sums of children must equal their parent
exactly, and float drift would break that, so points are converted once, here, and rules return
``int64`` arrays of milli-points.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import numpy as np

MILLI = 1000
#: The largest points value a scheme may write: far above any scale (100 or 1000), and small
#: enough that milli-points times millions of events, summed over a tree, stay inside int64.
MAX_POINTS = 1_000_000


def to_milli(value: object) -> int:
    """Convert a points value written in a scheme (int, str, Decimal, float) to milli-points.

    Raises ValueError with a readable message for non-numbers, more than 3 decimals and values
    beyond ±MAX_POINTS.
    """
    if isinstance(value, bool):
        raise ValueError(f"points must be a number, not {value!r}")
    try:
        d = Decimal(str(value)) if isinstance(value, float) else Decimal(value)  # type: ignore[arg-type]
    except (InvalidOperation, TypeError, ValueError):
        raise ValueError(f"points must be a number, not {value!r}") from None
    if not d.is_finite():
        raise ValueError(f"points must be a finite number, not {value!r}")
    if abs(d) > MAX_POINTS:
        raise ValueError(f"points must lie within ±{MAX_POINTS:,}, not {value!r}")
    scaled = d * MILLI
    if scaled != scaled.to_integral_value():
        raise ValueError(f"points {value!r} have more than 3 decimals; the finest unit is 0.001")
    return int(scaled)


def to_points(milli: int | np.integer) -> Decimal:
    """Milli-points back to an exact Decimal of points."""
    return Decimal(int(milli)) / MILLI


def format_points(milli: int | np.integer) -> str:
    """Human form: ``80``, ``2.5``, ``-0.125``."""
    d = to_points(milli)
    text = f"{d:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def round_milli(points: np.ndarray | float) -> np.ndarray:
    """Float points (as a rule computes them) to int64 milli-points, half away from zero.

    A rule computes in float and rounds once, at the end; sums are then done on integers. Works in
    place on one scratch array: this sits on every rule's hot path.
    """
    scaled = np.array(points, dtype=np.float64)  # a copy, also for 0-d input
    scaled *= MILLI
    magnitude = np.abs(scaled, out=np.empty_like(scaled))
    # Nudge by a tiny relative epsilon so that 2.675 * 1000 = 2674.9999... rounds like 2675.
    magnitude *= 1 + 1e-12
    magnitude += 0.5
    np.floor(magnitude, out=magnitude)
    np.copysign(magnitude, scaled, out=magnitude)
    return magnitude.astype(np.int64)
