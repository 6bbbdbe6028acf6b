"""Evaluation benchmark: plan variations per second at city, province and national size, beside one run.

    .venv/bin/python bench/evaluation.py [--sizes city,province,national] [--home DIR]
                                         [--variations city=10000,province=1000,national=100]

City is the guangdong demo 2010 (33 units): ``jx run --final`` into ``--home`` (timed, end to end:
collection from the demo DuckDB and the store's manual entries, scoring, storing, outputs), then
the evaluation's baseline is read back as ``jx evaluate`` does. Province (1,500 units) and national
(30,000 units) reuse the 2010 plan on synthetic units (bench/scale.py's sizes), each unit given
the measures (values, columns, events) of a demo unit: no source data is generated, so the "run"
there is the engine scoring given measures (score, aggregate, rank; no collection, no store).

Timed per size, each once, in this process, in CPU seconds (wall seconds printed too):
- ``run``: the plain run (above) — the baseline everything else is compared with;
- ``model``: the level tables (each varied indicator's rule called ``levels`` times on all units);
- ``simulate``: the variations' totals (weights and parameter sets) → variations per second;
- ``robustness``: ranks, intervals, P(top N)/P(bottom K) and every decision through
  jx_outputs.services (commendation, leadership_review, once per variation);
- ``sensitivity``: the Sobol' indices (SALib sample, SALib estimators over all units at once).

No timing here is asserted by a test; the numbers are for docs/evaluation.md.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import time
from pathlib import Path

import attrs
import numpy as np

SIZES = {"city": (33, 500_000), "province": (1_500, 5_000_000), "national": (30_000, 100_000_000)}
DEFAULT_VARIATIONS = {"city": 10_000, "province": 1_000, "national": 100}
WALL: list[float] = []


def _timed(call):
    """(result, seconds): CPU seconds of this process (all its threads), which a loaded shared
    machine disturbs far less than wall time; the wall time is printed beside the table."""
    started, wall = time.process_time(), time.perf_counter()
    got = call()
    WALL.append(time.perf_counter() - wall)
    return got, time.process_time() - started


def city_baseline(home: Path):
    """The demo's 2010 baseline from a store with a final run (made and timed here if missing)."""
    os.environ["JX_HOME"] = str(home)
    os.environ.pop("JX_DATABASE_URL", None)
    from jx_evaluation.analysis import load_baseline
    from jxcore.cli import main
    from jxcore.plugins import Registry, get_plugin_manager
    from jxcore.services import open_scheme
    from jxcore.store import Store

    # The first run of a fresh home generates the demo database: not part of a run's cost.
    for _ in range(2):
        with contextlib.redirect_stdout(io.StringIO()):
            _, run_seconds = _timed(lambda: main(["run", "--scheme", "guangdong", "--period", "2010", "--final",
                                                  "--json"]))
    registry = Registry.from_plugin_manager(get_plugin_manager())
    with Store.open(None) as store:
        baseline = load_baseline(store, registry, open_scheme(registry, "guangdong", 2010))
    return registry, baseline, run_seconds


def scaled_measures(measures, idx: np.ndarray):
    """Each new unit j gets the measure of demo unit ``idx[j]`` (values, columns, its event rows)."""
    from jxcore.models import Measure

    out = {}
    for code, m in measures.items():
        events = None
        if m.events is not None:
            src = np.asarray(m.events["unit"], dtype=np.int64)
            order = np.argsort(src, kind="stable")
            counts = np.bincount(src, minlength=int(idx.max()) + 1)
            starts = np.r_[0, np.cumsum(counts)[:-1]]
            rows = np.concatenate([order[starts[s]:starts[s] + counts[s]] for s in idx]) if len(src) else order
            events = {k: np.asarray(v)[rows] for k, v in m.events.items()}
            events["unit"] = np.repeat(np.arange(len(idx)), counts[idx])
        out[code] = Measure(code, np.asarray(m.value)[idx], {k: np.asarray(v)[idx] for k, v in m.columns.items()},
                            events, m.source)
    return out


def scaled_baseline(registry, city, size: str):
    """The city plan on ``size``'s synthetic units, scored from the demo units' measures."""
    from jx_evaluation.analysis import Baseline
    from jx_scheme_guangdong.scale import synthetic_units
    from jxcore.engine import run_scheme

    n, entities = SIZES[size]
    units = synthetic_units(n, entities, seed=2010)
    idx = np.random.default_rng(n).integers(0, len(city.result.units), size=n)
    scheme = attrs.evolve(city.result.scheme, units=tuple(units))
    given = scaled_measures(city.result.measures, idx)
    result, seconds = _timed(lambda: run_scheme(scheme, registry, measures=given))
    return Baseline(result=result, stored_run_id="bench", earlier={}, previous=None, previous_units=None,
                    drift=0), seconds


def bench(size: str, registry, baseline, run_seconds: float, variations: int) -> dict:
    from jx_evaluation import analysis
    from jx_evaluation.settings import evaluation_settings

    opts = evaluation_settings(baseline.result.scheme, variations=variations)
    model, model_s = _timed(lambda: analysis.plan_model(baseline, registry, opts))
    varied, simulate_s = _timed(lambda: analysis.run_variations(model, opts))
    _, robust_s = _timed(lambda: analysis.robustness(baseline, model, varied, opts))
    _, sens_s = _timed(lambda: analysis.sensitivity(model, opts, 3))
    return {"size": size, "units": len(baseline.result.units), "run": run_seconds, "model": model_s,
            "varied": len(model.levels), "variations": variations, "simulate": simulate_s,
            "robustness": robust_s, "sensitivity": sens_s,
            "sobol_evaluations": opts["sobol_samples"] * (int(model.weighted.sum()) + 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="city,province,national")
    parser.add_argument("--home", type=Path, default=Path("/tmp/jx-bench-evaluation"))
    parser.add_argument("--variations", default=",".join(f"{k}={v}" for k, v in DEFAULT_VARIATIONS.items()))
    args = parser.parse_args()
    counts = {**DEFAULT_VARIATIONS, **{k: int(v) for k, v in (p.split("=") for p in args.variations.split(",") if p)}}
    args.home.mkdir(parents=True, exist_ok=True)
    registry, city, city_run = city_baseline(args.home)
    rows = []
    for size in args.sizes.split(","):
        if size == "city":
            baseline, run_s = city, city_run
        else:
            baseline, run_s = scaled_baseline(registry, city, size)
        rows.append(bench(size, registry, baseline, run_s, counts[size]))
        r = rows[-1]
        walls = ", ".join(f"{w:.1f}" for w in WALL[-5:])
        print(f"{size} (CPU s; wall s of the five: {walls}): {r['units']:,} units, run {r['run']:.2f} s; "
              f"model {r['model']:.2f} s "
              f"({r['varied']} indicators varied); {r['variations']:,} variations: totals {r['simulate']:.2f} s "
              f"({r['variations'] / r['simulate']:,.0f}/s), ranks + decisions {r['robustness']:.2f} s "
              f"({r['variations'] / r['robustness']:,.0f}/s); Sobol' {r['sensitivity']:.2f} s "
              f"({r['sobol_evaluations']:,} plan evaluations)", flush=True)
    print()
    print("| size | units | plain run | level tables | variations | totals (var/s) | ranks + decisions (var/s) "
          "| evaluate ÷ run | Sobol' |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        total = r["model"] + r["simulate"] + r["robustness"] + r["sensitivity"]
        print(f"| {r['size']} | {r['units']:,} | {r['run']:.2f} s | {r['model']:.2f} s | {r['variations']:,} | "
              f"{r['simulate']:.2f} s ({r['variations'] / r['simulate']:,.0f}) | {r['robustness']:.2f} s "
              f"({r['variations'] / r['robustness']:,.0f}) | {total / r['run']:.1f}× | {r['sensitivity']:.2f} s |")


if __name__ == "__main__":
    sys.exit(main())
