"""The system feed on DuckDB and on Spark, same data, same run: when does a warehouse pay off?

    .venv/bin/python bench/spark.py [--sizes province,national] [--work DIR] [--repeat N]
                                    [--repeat-national N] [--engines duckdb,local1,local2,cluster]

For each size it generates the synthetic business system (as ``jx demo generate``, cached in
--work) and its Parquet export (as ``jx demo export --parquet``), then collects every system-feed
measure of the guangdong plan (``SystemFeed.collect``: the fused GROUP BY per table and the raw-SQL
measures, results fetched as numpy) on

- ``duckdb``: the DuckDB file, in this process (DuckDB uses both cores);
- ``spark local[1]`` / ``spark local[2]``: a Spark Connect server on this machine, driver and one
  executor with 1 or 2 task threads in one JVM;
- ``spark 2 workers``: a standalone master with two workers of one core each (one executor each),
  the Connect server (the driver) on that master.

Each case runs --repeat times (--repeat-national for the national size) and prints the first run,
the median and the fastest, the CPU seconds (user + system) of the median run counted over every
process doing the work: this process for DuckDB; for Spark this process (the Connect client, Arrow
to numpy) plus every JVM (server/driver, master, workers, executors: their process groups, read
from /proc), and the load average when the case ran. A ``tiny`` dataset (20 units) measures
Spark's cost per collection whatever the data.

The projection (printed at the end) fits, on the largest size run, ``T(n) = F + W / n`` (Amdahl:
a fixed part F and a part W spread over n executor cores) to the medians of local[1] and
local[2], checks it against the two-worker cluster (n = 2 across JVMs), and solves
``F + W / n = DuckDB's median`` for n. A second model uses CPU seconds only, which a shared
machine disturbs less: Spark's fixed part F = its CPU-s on the tiny data (driver work, taken as
serial), its growing part W = CPU-s at the largest size minus F, spread over n executor cores;
DuckDB's time on two free cores = its CPU-s / 2; ``n = W / (DuckDB CPU-s / 2 − F)``. A uniform
inflation of every CPU-s by the load cancels out of that ratio; F close to DuckDB's time makes n
very sensitive to F, and F above it means no number of executors catches up. No test asserts
any of these numbers. Results are also written to --work/spark-bench.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import resource
import signal
import statistics
import sys
import time
from pathlib import Path

import attrs
import sqlalchemy as sa

SIZES = {"tiny": (20, 20_000), "city": (33, 500_000), "province": (1_500, 5_000_000),
         "national": (30_000, 100_000_000)}
#: engine key → (label, SparkConnect settings; None for DuckDB). Memory for a 24 GiB machine shared
#: with other work: local mode runs the executor inside the driver (4 GiB heap); on the cluster the
#: driver only plans and receives 30,000-row results (2 GiB), each one-core executor gets 2 GiB.
#: Run in this order (local[1] last: it is only needed for the fit).
ENGINES = {
    "duckdb": ("duckdb", None),
    "local2": ("spark local[2]", {"cores": 2, "driver_memory": "4g"}),
    "cluster": ("spark 2 workers", {"workers": 2, "driver_memory": "2g", "executor_memory": "2g"}),
    "local1": ("spark local[1]", {"cores": 1, "driver_memory": "4g"}),
}


def prepare(size: str, work: Path, seed: int):
    """(units, DuckDB file, Parquet directory, Spark database) for ``size``, generated once."""
    from jx_scheme_guangdong import demo, scale

    n, entities = SIZES[size]
    units = scale.synthetic_units(n, entities, seed=seed)
    data = work / f"{size}-{n}-{entities}-{seed}-v{demo.SCHEMA_VERSION}.duckdb"
    if not data.exists():
        started = time.perf_counter()
        scale.generate(data, units, seed=seed)
        print(f"{size}: generated {data.name} in {time.perf_counter() - started:.1f} s", flush=True)
    parquet, database = data.with_suffix(".parquet"), f"jx_{size}"
    if not (parquet / "register.sql").exists():
        started = time.perf_counter()
        scale.export_parquet(data, parquet, database=database)
        print(f"{size}: exported Parquet in {time.perf_counter() - started:.1f} s", flush=True)
    return units, data, parquet, database


def table_rows(data: Path) -> int:
    """Rows of the business tables the plan reads (every table of the demo database)."""
    import duckdb

    from jx_scheme_guangdong import demo

    with duckdb.connect(str(data), read_only=True) as con:
        return sum(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in demo.TABLES)


def plan_requests(units):
    """The guangdong plan's system-feed requests, with the synthetic units."""
    from jx_collectors.system_feed import SystemFeed
    from jx_scheme_guangdong import PACK_DIR
    from jxcore.interfaces import CollectRequest
    from jxcore.params import check_params
    from jxcore.plugins import Registry, get_plugin_manager
    from jxcore.scheme import load_scheme

    registry = Registry.from_plugin_manager(get_plugin_manager())
    scheme = attrs.evolve(load_scheme(PACK_DIR, None, registry), units=tuple(units))
    feed = SystemFeed()
    requests = [CollectRequest(node, check_params(feed.params, node.collector.params)[0])
                for node in scheme.indicators() if node.collector.name == feed.name]
    return scheme, feed, requests


def process_cpu(pgids: set[int] | None = None) -> float:
    """CPU seconds (user + system) of this process (every thread), plus those of every live process
    whose process group is in ``pgids`` (the Spark JVMs: a worker's executors are in its group)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    total = usage.ru_utime + usage.ru_stime
    if not pgids:
        return total
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) in pgids:  # fields after the name: state, ppid, pgrp, …, utime (11), stime (12)
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def collect(url: str, size: str, repeat: int, pgids: set[int] | None) -> dict:
    """Run the plan's system feed ``repeat`` times against ``url``: every run's wall and CPU seconds."""
    from jxcore.interfaces import CollectContext

    units = prepare(size, ARGS.work, ARGS.seed)[0]
    scheme, feed, requests = plan_requests(units)
    engine = sa.create_engine(url)
    ctx = CollectContext(scheme=scheme, units=scheme.unit_table(), period=scheme.period,
                         as_of=dt.date(scheme.period.year, 12, 31), open_source=lambda name: engine)
    runs, loads = [], []
    for _ in range(repeat):
        cpu, wall = process_cpu(pgids), time.perf_counter()
        measures = feed.collect(ctx, requests)
        runs.append((time.perf_counter() - wall, process_cpu(pgids) - cpu))
        loads.append(os.getloadavg()[0])
        assert len(measures) == len(requests)
        assert all(len(m.value) == len(units) for m in measures.values())
    engine.dispose()
    walls = sorted(w for w, _ in runs)
    median = statistics.median(walls)
    at_median = min(runs, key=lambda r: abs(r[0] - median))
    return {"runs": runs, "first": runs[0][0], "median": median, "min": walls[0],
            "cpu": statistics.median(c for _, c in runs), "cpu_at_median": at_median[1],
            "load": loads, "queries": len({r.node.collector.params.get("table") or r.node.code for r in requests})}


def repeat_for(size: str, key: str) -> int:
    return ARGS.repeat_national if size == "national" and key != "duckdb" else ARGS.repeat


def run_spark(key: str, sizes: list[str], results: dict) -> None:
    from jx_collectors.spark_local import CONNECT, SparkConnect, run_script

    label, settings = ENGINES[key]
    started = time.perf_counter()
    # one server at a time: Connect on --port, the driver and block managers on the next ports;
    # master, its UI and the workers where --master-port, --master-ui-port, --worker-port say
    ports = {"base_port": ARGS.port - CONNECT, "master_port": ARGS.master_port,
             "master_ui_port": ARGS.master_ui_port, "worker_port": ARGS.worker_port}
    with SparkConnect(ARGS.work / f"spark-{key}", **ports, **settings) as server:
        results["start"][key] = time.perf_counter() - started
        print(f"{label}: started in {results['start'][key]:.1f} s (load {os.getloadavg()[0]:.1f})", flush=True)
        pgids = server.process_groups()
        for size in sizes:
            run_script(server.url(), prepare(size, ARGS.work, ARGS.seed)[2] / "register.sql")
        for size in sizes:
            results[(key, size)] = collect(server.url(f"jx_{size}"), size, repeat_for(size, key), pgids)
            print(f"{label} {size}: {_brief(results[(key, size)])}", flush=True)
            _save(results)


def _brief(r: dict) -> str:
    return (f"first {r['first']:.2f} s, median {r['median']:.2f} s, min {r['min']:.2f} s, "
            f"CPU {r['cpu']:.1f} s, load {', '.join(f'{x:.1f}' for x in r['load'])}")


def _save(results: dict) -> None:
    data = {"when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "start": results["start"],
            "rows": results["rows"], "cases": {f"{k[0]}/{k[1]}": v for k, v in results.items() if isinstance(k, tuple)}}
    (ARGS.work / "spark-bench.json").write_text(json.dumps(data, indent=1), encoding="utf-8")


def report(results: dict, sizes: list[str], keys: list[str]) -> None:
    print(f"\nuptime at the end: {os.popen('uptime').read().strip()}")
    print("\n| data | rows read | engine | runs | first | median | min | CPU-s (median) | median / DuckDB "
          "| CPU / DuckDB | load (1 min) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for size in sizes:
        base = results.get(("duckdb", size))
        for key in keys:
            r = results.get((key, size))
            if not r:
                continue
            ratio = f"{r['median'] / base['median']:.1f}×" if base else "–"
            cpu_ratio = f"{r['cpu'] / max(base['cpu'], 1e-9):.1f}×" if base else "–"
            print(f"| {size} | {results['rows'][size]:,} | {ENGINES[key][0]} | {len(r['runs'])} | {r['first']:.2f} s "
                  f"| {r['median']:.2f} s | {r['min']:.2f} s | {r['cpu']:.1f} | {ratio} | {cpu_ratio} "
                  f"| {min(r['load']):.1f}–{max(r['load']):.1f} |")
    print("\nSpark servers started in " + ", ".join(f"{ENGINES[k][0]} {s:.0f} s" for k, s in results["start"].items()))
    project(results, sizes)


def project(results: dict, sizes: list[str]) -> None:
    largest = [s for s in sizes if s != "tiny"][-1]
    duck = results.get(("duckdb", largest))
    one, two, cluster = (results.get((k, largest)) for k in ("local1", "local2", "cluster"))
    if not duck:
        return
    target = duck["median"]
    print(f"\nProjection for {largest} ({results['rows'][largest]:,} rows; DuckDB median {target:.2f} s on 2 cores):")
    if one and two:
        parallel = 2 * (one["median"] - two["median"])
        fixed = one["median"] - parallel
        if parallel <= 0:
            print(f"- local[2] ({two['median']:.1f} s) was not faster than local[1] ({one['median']:.1f} s): the "
                  "cores were busy with other work (see the load column), no wall-time fit")
            one = None
    if one and two:
        print(f"- Amdahl fit T(n) = F + W/n to local[1] {one['median']:.1f} s and local[2] {two['median']:.1f} s: "
              f"F = {fixed:.1f} s, W = {parallel:.1f} s (per-core throughput "
              f"{results['rows'][largest] / max(parallel, 1e-9) / 1e6:.2f} M rows/s)")
        if cluster:
            print(f"  the fit says {fixed + parallel / 2:.1f} s for n = 2; the two-worker cluster took "
                  f"{cluster['median']:.1f} s")
        if fixed >= target:
            print(f"  F alone ({fixed:.1f} s) exceeds DuckDB's {target:.1f} s: no number of executors matches it")
        else:
            print(f"  → n = W / (DuckDB − F) = {parallel / (target - fixed):.1f} executor cores")
    for key in ("local1", "local2", "cluster"):
        tiny, spark = results.get((key, "tiny")), results.get((key, largest))
        if not (tiny and spark):
            continue
        fixed, growing, duck_cpu = tiny["cpu"], max(spark["cpu"] - tiny["cpu"], 0.0), duck["cpu"]
        quiet = duck_cpu / 2  # DuckDB's wall on 2 free cores (it keeps both busy)
        print(f"- CPU model, {ENGINES[key][0]}: fixed {fixed:.1f} CPU-s per collection (tiny data: 13 queries "
              f"planned and run one after another on the driver, taken as serial), {growing:.1f} CPU-s that grow "
              f"with the rows ({results['rows'][largest] / max(growing, 1e-9) / 1e6:.2f} M rows per executor "
              f"CPU-s; DuckDB {results['rows'][largest] / max(duck_cpu, 1e-9) / 1e6:.2f} M rows per CPU-s); "
              f"DuckDB on 2 free cores ≈ {duck_cpu:.1f} / 2 = {quiet:.1f} s")
        if fixed >= quiet:
            print(f"  the fixed part alone ({fixed:.1f} s) exceeds it: no number of executors matches DuckDB")
        else:
            print(f"  → n = {growing:.1f} / ({quiet:.1f} − {fixed:.1f}) = {math.ceil(growing / (quiet - fixed))} "
                  f"executor cores (the same whatever uniform factor the machine's load put on CPU-s)")


def main() -> None:
    # a terminated benchmark still leaves through the ``with`` blocks, which kill the JVMs
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))
    sizes = ["tiny", *[s for s in ARGS.sizes.split(",") if s != "tiny"]]
    keys = [k for k in ENGINES if k in ARGS.engines.split(",")]
    keys += [k for k in ARGS.engines.split(",") if k not in ENGINES]
    unknown = [s for s in sizes if s not in SIZES] + [k for k in keys if k not in ENGINES]
    if unknown:
        sys.exit(f"unknown size or engine {unknown[0]!r}: sizes {', '.join(SIZES)}; engines {', '.join(ENGINES)}")
    ARGS.work.mkdir(parents=True, exist_ok=True)
    results: dict = {"start": {}, "rows": {}}
    saved = ARGS.work / "spark-bench.json"
    if ARGS.merge and saved.exists():  # cases of an earlier run (e.g. local[1] measured apart)
        data = json.loads(saved.read_text(encoding="utf-8"))
        results["start"].update(data["start"])
        results["rows"].update(data["rows"])
        results.update({tuple(name.split("/")): case for name, case in data["cases"].items()})
    for size in sizes:
        results["rows"][size] = table_rows(prepare(size, ARGS.work, ARGS.seed)[1])
    print(f"uptime at the start: {os.popen('uptime').read().strip()}", flush=True)
    if "duckdb" in keys:
        for size in sizes:
            results[("duckdb", size)] = collect(f"duckdb:///{prepare(size, ARGS.work, ARGS.seed)[1]}", size,
                                                repeat_for(size, "duckdb"), None)
            print(f"duckdb {size}: {_brief(results[('duckdb', size)])}", flush=True)
    spark = [k for k in keys if k != "duckdb"]
    for key in spark:
        run_spark(key, sizes, results)
    _save(results)
    report(results, sizes, [k for k in ENGINES if any((k, size) in results for size in sizes)])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="province,national", help="comma-separated: " + ", ".join(SIZES))
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma-separated: " + ", ".join(ENGINES))
    parser.add_argument("--work", type=Path, default=Path("/tmp/jx-bench"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--repeat-national", type=int, default=2, help="runs of the national size on Spark "
                        "(DuckDB runs it --repeat times)")
    parser.add_argument("--seed", type=int, default=2010)
    parser.add_argument("--merge", action="store_true", help="keep the cases of the last run's "
                        "spark-bench.json that this run does not measure, and report them together")
    parser.add_argument("--port", type=int, default=15010,
                        help="Spark Connect's port; the driver and block managers take the next 9")
    parser.add_argument("--master-port", type=int, default=7177)
    parser.add_argument("--master-ui-port", type=int, default=8180)
    parser.add_argument("--worker-port", type=int, default=20410, help="worker i: this + 2i, its UI + 1")
    ARGS = parser.parse_args()
    main()
