"""Scalar references: each rule written plainly, one unit at a time, from the formulas in docs/rules.md.

Not used for scoring. The property tests check that every vectorized rule equals its reference on
random inputs, and ``bench/rules.py`` times a reference called once per unit against the rule.
Missing data here follows ``missing: zero|exclude`` only (errors are tested on the rules).
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from jx_rules.events import windows_of
from jxcore.interfaces import RuleInput
from jxcore.points import round_milli, to_milli


def _r(points: float) -> int:
    return int(round_milli(points))


def _steps(diff: float, step: float, mode: str) -> float:
    s = round(diff / step, 9)
    return float(math.trunc(s)) if mode == "whole" else s


def base_score(p, points: int, value: float, base: int | None = None, per_above: float | None = None,
               cap: int | None = None) -> int:
    base = points if base is None else base
    per_above = p.get("per_step_above", 0) if per_above is None else per_above
    cap = to_milli(p.get("cap", 0)) if cap is None else cap
    if math.isnan(value):
        return base if p["missing"] == "exclude" else 0
    diff = value - p["target"] if p["direction"] == "higher" else p["target"] - value
    s = _steps(diff, p["step"], p["steps"])
    delta = s * per_above if s > 0 else s * p["per_step_below"]
    delta = min(max(delta, -base / 1000 - 1), cap / 1000 + 1)
    return min(max(base + _r(delta), 0), base + cap)


def bands(p, points: int, value: float) -> int:
    if math.isnan(value):
        return points if p["missing"] == "exclude" else 0
    higher = p["direction"] == "higher"
    met = [(b, to_milli(x)) for b, x in p["bands"] if (value >= b if higher else value <= b)]
    if not met:
        return to_milli(p["otherwise"])
    return (max(met) if higher else min(met))[1]


def _unit_events(inp: RuleInput) -> dict[int, list[dict]]:
    rows: dict[int, list[dict]] = defaultdict(list)
    ev = inp.measure.events
    for i in range(len(ev["unit"])):
        rows[int(ev["unit"][i])].append({k: ev[k][i] for k in ev})
    return rows


def score_scalar(name: str, inp: RuleInput) -> np.ndarray:
    """The reference result of rule ``name``: a Python call per unit (events grouped first)."""
    p, pts, n = inp.params, inp.points, len(inp.units)
    v = np.asarray(inp.measure.value, dtype=np.float64)
    out = np.zeros(n, dtype=np.int64)
    rows = _unit_events(inp) if inp.measure.events is not None else {}
    if name == "workload":
        have = [i for i in range(n) if not math.isnan(v[i])]
        total_staff = sum(int(inp.units.staff[i]) for i in have)
        average = sum(v[i] for i in have) / total_staff if total_staff else 0.0
    for i in range(n):
        mine = rows.get(i, [])
        if name == "base_score":
            base = pts if p["base"] is None else to_milli(p["base"])
            out[i] = base_score(p, pts, v[i], base=base)
        elif name == "deduct_only":
            out[i] = base_score(p, pts, v[i], per_above=0.0, cap=0)
        elif name == "bands":
            out[i] = bands(p, pts, v[i])
        elif name == "pass_fail":
            if math.isnan(v[i]):
                out[i] = pts if p["missing"] == "exclude" else 0
                continue
            meets = v[i] >= p["target"] if p["direction"] == "higher" else v[i] <= p["target"]
            passed = pts if p["pass_points"] is None else to_milli(p["pass_points"])
            out[i] = passed if meets else to_milli(p["fail_points"])
        elif name == "per_event":
            lost = sum(to_milli(p["deductions"].get(str(e["kind"]), 0)) for e in mine)
            out[i] = max(pts - lost, 0)
        elif name == "discipline":
            lost = sum(to_milli(p["deductions"][str(e["kind"])]) for e in mine if e["at_fault"])
            out[i] = -(lost if p["cap"] is None else min(lost, to_milli(p["cap"])))
        elif name == "honours":
            out[i] = max((to_milli(p["points_by_level"][str(e["kind"])]) for e in mine), default=0)
        elif name == "major_cases":
            entities = int(inp.units.entities[i])
            klass = 1 + sum(1 for b in p["class_bounds"] if entities < b)
            count = len(mine) if inp.measure.events is not None else (0 if math.isnan(v[i]) else v[i])
            bonus = count * to_milli(p["points_by_class"][klass - 1]) / 1000
            out[i] = _r(bonus if p["cap"] is None else min(bonus, p["cap"]))
        elif name == "workload":
            if math.isnan(v[i]) or average <= 0:
                continue
            s = _steps(v[i] / int(inp.units.staff[i]) / average - 1, p["step"], p["steps"])
            bonus = max(s, 0) * p["per_step"]
            out[i] = _r(bonus if p["cap"] is None else min(bonus, p["cap"]))
        elif name == "mystery_stars":
            if len(mine) < p["min_visits"]:
                out[i] = pts if p["missing"] == "exclude" else 0
                continue
            average = round(sum(float(e["score"]) for e in mine) / len(mine), 9)
            stars = 1 + sum(1 for b in p["bands"] if b <= average)
            out[i] = to_milli(p["points_by_star"][stars - 1])
        elif name == "per_window":
            missed = 0
            for start, end in windows_of(p, inp.period.year):
                if end <= inp.as_of:
                    inside = sum(1 for e in mine
                                 if np.datetime64(start) <= e["date"] <= np.datetime64(end))
                    missed += inside < p["min_per_window"]
            out[i] = max(pts - missed * to_milli(p["deduction"]), 0)
        else:
            raise KeyError(f"no scalar reference for rule {name!r}")
    return out
