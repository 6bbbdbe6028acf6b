"""The system feed on DuckDB and on Spark, same data, same run: when does a warehouse pay off?

    .venv/bin/python bench/spark.py [--sizes province,national] [--work DIR] [--repeat N]

For each size it generates the synthetic business system (as ``jx demo generate``, cached in
--work) and its Parquet export (as ``jx demo export --parquet``), then collects every system-feed
measure of the guangdong plan (``SystemFeed.collect``: the fused GROUP BY per table and the raw-SQL
measures, results fetched) on

- ``duckdb``: the DuckDB file, in this process (DuckDB uses both cores);
- ``spark local[2]``: a Spark Connect server on this machine, driver and executor in one JVM;
- ``spark 2 workers``: a standalone master with two workers of one core each, the server on it.

Each case runs --repeat times; the first run (cold: Spark compiles its code) and the fastest are
printed, with CPU seconds (user + system) of every process doing the work in that run: this
process for DuckDB, the Spark JVMs (server, executors) for Spark. A ``tiny`` dataset measures
Spark's fixed cost per collection (planning, code generation, scheduling, round trips), which
more executors do not shorten; the work that grows with the data is the CPU seconds beyond the
tiny run's, and the projection is

    executor cores needed ≈ growing Spark CPU-s / (DuckDB wall − Spark's fixed wall)

the cores at which Spark's work, spread perfectly, would end when DuckDB does. Sizes not run are
projected from the largest size run, linearly in rows. No test asserts any of these numbers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import resource
import sys
import time
from pathlib import Path

import attrs
import sqlalchemy as sa

SIZES = {"tiny": (20, 20_000), "city": (33, 500_000), "province": (1_500, 5_000_000),
         "national": (30_000, 100_000_000)}


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
    """CPU seconds (user + system) of this process (children's threads included), or of every
    process whose process group is in ``pgids``."""
    if pgids is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    tick, total = os.sysconf("SC_CLK_TCK"), 0.0
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


def collect(url: str, size: str, seed: int, repeat: int, pgids: set[int] | None) -> dict:
    """Run the plan's system feed ``repeat`` times against ``url``: cold and best wall, CPU of best."""
    from jxcore.interfaces import CollectContext

    units = prepare(size, ARGS.work, seed)[0]
    scheme, feed, requests = plan_requests(units)
    engine = sa.create_engine(url)
    ctx = CollectContext(scheme=scheme, units=scheme.unit_table(), period=scheme.period,
                         as_of=dt.date(scheme.period.year, 12, 31), open_source=lambda name: engine)
    runs = []
    for _ in range(repeat):
        cpu, wall = process_cpu(pgids), time.perf_counter()
        measures = feed.collect(ctx, requests)
        runs.append((time.perf_counter() - wall, process_cpu(pgids) - cpu))
    engine.dispose()
    assert len(measures) == len(requests)
    best = min(runs)
    return {"cold": runs[0][0], "wall": best[0], "cpu": best[1]}


def run_spark(name: str, spark, sizes: list[str], results: dict) -> None:
    from jx_collectors.spark_local import run_script

    started = time.perf_counter()
    with spark as server:
        print(f"{name}: started in {time.perf_counter() - started:.1f} s", flush=True)
        pgids = server.process_groups()
        for size in sizes:
            run_script(server.url(), prepare(size, ARGS.work, ARGS.seed)[2] / "register.sql")
        for size in sizes:
            results[(name, size)] = collect(server.url(f"jx_{size}"), size, ARGS.seed, ARGS.repeat, pgids)
            print(f"{name} {size}: {results[(name, size)]}", flush=True)


def report(results: dict, sizes: list[str]) -> None:
    names = ["duckdb", "spark local[2]", "spark 2 workers"]
    print("\n| size | rows | case | first run | fastest | CPU-s (fastest) | wall / DuckDB | CPU / DuckDB |")
    print("|---|---|---|---|---|---|---|---|")
    for size in sizes:
        base = results[("duckdb", size)]
        for name in names:
            r = results.get((name, size))
            if r:
                print(f"| {size} | {SIZES[size][1]:,} entities | {name} | {r['cold']:.2f} s | {r['wall']:.2f} s | "
                      f"{r['cpu']:.1f} | {r['wall'] / base['wall']:.1f}× | {r['cpu'] / max(base['cpu'], 1e-9):.1f}× |")
    cluster = "spark 2 workers"
    fixed, fixed_cpu = results[(cluster, "tiny")]["wall"], results[(cluster, "tiny")]["cpu"]
    largest = [s for s in sizes if s != "tiny"][-1]
    variable = max(results[(cluster, largest)]["cpu"] - fixed_cpu, 0.0)
    print(f"\nSpark's fixed cost per collection (tiny data, 2 workers): {fixed:.2f} s, {fixed_cpu:.1f} CPU-s; "
          f"work that grows with the data at {largest} size: {variable:.1f} CPU-s")
    for size in ("province", "national"):
        factor = SIZES[size][1] / SIZES[largest][1]
        duck = results[("duckdb", largest)]["wall"] * factor
        work = variable * factor
        how = "measured" if size in sizes else f"projected ×{factor:g} from {largest}"
        if duck <= fixed:
            print(f"{size} ({how}): DuckDB {duck:.1f} s is below Spark's fixed {fixed:.1f} s: no number of "
                  f"executors matches it")
        else:
            cores = max(1, math.ceil(work / (duck - fixed)))
            print(f"{size} ({how}): DuckDB {duck:.1f} s; Spark {work:.0f} CPU-s of work + {fixed:.1f} s fixed "
                  f"→ about {cores} executor core{'s' if cores > 1 else ''} to finish with DuckDB")


def main() -> None:
    from jx_collectors.spark_local import SparkConnect, free_blocks

    sizes = ["tiny", *[s for s in ARGS.sizes.split(",") if s != "tiny"]]
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        sys.exit(f"unknown size {unknown[0]!r}: choose from {', '.join(SIZES)}")
    ARGS.work.mkdir(parents=True, exist_ok=True)
    for size in sizes:
        prepare(size, ARGS.work, ARGS.seed)
    results: dict = {}
    for size in sizes:
        results[("duckdb", size)] = collect(f"duckdb:///{prepare(size, ARGS.work, ARGS.seed)[1]}", size,
                                            ARGS.seed, ARGS.repeat, None)
        print(f"duckdb {size}: {results[('duckdb', size)]}", flush=True)
    local_ports, cluster_ports = free_blocks(2)
    run_spark("spark local[2]", SparkConnect(ARGS.work / "spark-local", base_port=local_ports, cores=2,
                                             driver_memory="2g"), sizes, results)
    run_spark("spark 2 workers", SparkConnect(ARGS.work / "spark-cluster", base_port=cluster_ports, workers=2,
                                              executor_memory="1g"), sizes, results)
    report(results, sizes)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="province,national", help="comma-separated: " + ", ".join(SIZES))
    parser.add_argument("--work", type=Path, default=Path("/tmp/jx-bench"))
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2010)
    ARGS = parser.parse_args()
    main()
