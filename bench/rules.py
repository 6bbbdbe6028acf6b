"""Time every standard rule on one indicator for 30,000 units, against its scalar reference
(jx_rules.reference) called once per unit, in the same run.  Run: ``make bench``."""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import timeit

import numpy as np

from jx_rules.reference import score_scalar
from jxcore.testing import installed_registry, make_units, rule_input

N = 30_000
rng = np.random.default_rng(2010)
units = make_units(N, staff=rng.integers(5, 60, N).tolist(), entities=rng.integers(1000, 60000, N).tolist())
rate = rng.uniform(0.6, 1.0, N)
one_per_unit = rng.integers(0, N, N)


def kinds(choices):
    return rng.choice(choices, N)


CASES = {
    "base_score": dict(points=10, value=rate, params={"target": 0.9, "per_step_above": 0.5,
                                                      "per_step_below": 1, "cap": 5}),
    "deduct_only": dict(points=10, value=rate, params={"target": 0.9, "per_step_below": 1}),
    "bands": dict(points=10, value=rate, params={"bands": [[0.95, 10], [0.9, 8], [0.8, 5]]}),
    "pass_fail": dict(points=10, value=rate, params={"target": 0.9}),
    "per_event": dict(points=10, params={"deductions": {"a": 1, "b": 0.5, "c": 2, "d": 1.5}},
                      events={"unit": one_per_unit, "kind": kinds(["a", "b", "c", "d"])}),
    "honours": dict(points=5, events={"unit": one_per_unit,
                                      "kind": kinds(["town", "city", "province", "national"])}),
    "major_cases": dict(points=20, params={"cap": 15}, events={"unit": one_per_unit}),
    "workload": dict(points=5, value=rng.integers(0, 2000, N).astype(float), params={"per_step": 0.5, "cap": 3}),
    "mystery_stars": dict(points=10, params={"points_by_star": [2, 4, 6, 8, 10]},
                          events={"unit": np.repeat(np.arange(N), 2), "score": rng.uniform(40, 100, 2 * N)}),
    "discipline": dict(points=10, events={"unit": one_per_unit, "kind": kinds(["warning", "demerit", "criminal"]),
                                          "at_fault": rng.random(N) < 0.5}),
    "per_window": dict(points=4, params={"every": "quarter", "deduction": 1}, as_of=dt.date(2010, 12, 31),
                       events={"unit": one_per_unit,
                               "date": np.datetime64("2010-01-01") + rng.integers(0, 365, N)}),
}


def main() -> int:
    registry = installed_registry()
    print(f"{'rule':<14} {'vectorized':>11} {'(min)':>9} {'scalar/unit':>12} {'ratio':>7}   "
          f"({N:,} units; medians of 5 timings, minimum beside)")
    slow = []
    for name, case in CASES.items():
        rule = registry.rule(name)
        inp = rule_input(rule, units=units, **case)
        assert (rule.score(inp) == score_scalar(name, inp)).all(), name

        def fast_call(rule=rule, inp=inp):
            return rule.score(inp)

        def scalar_call(name=name, inp=inp):
            return score_scalar(name, inp)

        runs, _ = timeit.Timer(fast_call).autorange()
        fast_times = [t / runs for t in timeit.repeat(fast_call, number=runs, repeat=5)]
        scalar = statistics.median(timeit.repeat(scalar_call, number=1, repeat=3))
        fast = statistics.median(fast_times)
        print(f"{name:<14} {fast * 1e3:9.3f}ms {min(fast_times) * 1e3:7.3f}ms {scalar * 1e3:10.1f}ms "
              f"{scalar / fast:6.0f}×")
        if fast > 1e-3:
            slow.append(name)
    if slow:
        print("over 1 ms:", ", ".join(slow))
    return 0


if __name__ == "__main__":
    sys.exit(main())
