"""Scale benchmark: jx at city, province and national size, against what it replaces.

    .venv/bin/python bench/scale.py [--sizes city,province,national] [--plan PACK] [--work DIR] [--repeat N]

For each size it generates the synthetic business system (``jx demo generate``, cached in --work)
and a scheme pack reading it (the plan of --plan, default the installed guangdong pack's latest
plan; outputs ranking, commendation, leadership_review, warnings: the report output's Excel and
site are a publication step, timed apart), then runs every case in a fresh process and prints
seconds and peak memory (max RSS of that process, interpreter and imports included):

- ``jx``: ``jx run`` end to end in-process: load the plan, collect, score, store, outputs;
- ``limit``: DuckDB alone running the same per-unit measures (the collector's fused SQL, one
  GROUP BY per table, run as it would be written by hand), no jx;
- ``limit_entries``: the manual entries' counterpart, one hand-written SQLite GROUP BY over the store;
- ``pandas``: what a provincial team would otherwise write: read the rows, filter, group by unit;
- ``kernel``: score + aggregate + rank of all units on a synthetic 200-indicator plan;
- ``incremental``: one new inspection entry written → updated ranking (engine.update_run).

No timing here is asserted by a test; the numbers are for docs/scaling.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import operator
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml

SIZES = {"city": (33, 500_000), "province": (1_500, 5_000_000), "national": (30_000, 100_000_000)}
OUTPUTS = ["ranking", "commendation", "leadership_review", "warnings"]
AS_OF = "{year}-12-31"
CASES = ("jx", "jx_all_outputs", "limit", "limit_entries", "pandas", "kernel", "incremental")


# ---------------------------------------------------------------- set-up (parent process)

def prepare(size: str, plan_pack: Path, work: Path, seed: int) -> Path:
    """Data and pack for ``size`` in ``work``; the data is generated once and reused."""
    from jx_scheme_guangdong import demo, scale

    n, entities = SIZES[size]
    data = work / f"{size}-{n}-{entities}-{seed}-v{demo.SCHEMA_VERSION}.duckdb"
    units = scale.synthetic_units(n, entities, seed=seed)
    if not data.exists():
        started = time.perf_counter()
        scale.generate(data, units, seed=seed)
        print(f"{size}: generated {data.name} in {time.perf_counter() - started:.1f} s", flush=True)
    for name, outputs in ((f"{size}-pack", OUTPUTS), (f"{size}-pack-all-outputs", None)):
        pack = scale.write_pack(work / name, units, f"duckdb:///{data}", base=plan_pack, outputs=outputs)
        for plan in (pack / "plans").glob("*.yaml"):
            add_inspection_indicator(plan)
    pack = work / f"{size}-pack"
    started = time.perf_counter()
    template = entries_store(pack)
    template.unlink(missing_ok=True)
    _, scheme = _load(pack)
    from jxcore.store import Store

    with Store.open(f"sqlite:///{template}") as store:
        made = scale.add_synthetic_entries(store, scheme, seed=seed)
    print(f"{size}: {sum(made.values()):,} synthetic manual entries written in "
          f"{time.perf_counter() - started:.1f} s ({made})", flush=True)
    return pack


def entries_store(pack: Path) -> Path:
    """The store holding the pack's synthetic manual entries; each case works on a copy of it."""
    return pack.with_name(pack.name.removesuffix("-all-outputs") + "-entries.sqlite")


def add_inspection_indicator(plan: Path) -> None:
    """Make sure a new inspection entry changes the plan: if no indicator reads inspections, the
    largest indicator gives 10 of its points to a sibling deducting per inspection finding."""
    data = yaml.safe_load(plan.read_text(encoding="utf-8"))
    if '"kind": "inspection"' in json.dumps(data, ensure_ascii=False, default=str):
        return
    leaves = []

    def walk(nodes, siblings):
        for node in nodes:
            if "children" in node:
                walk(node["children"], node["children"])
            elif node.get("scoring") is None:
                leaves.append((node, siblings))
            if node.get("collector", {}).get("params", {}).get("kind") == "inspection":
                leaves.clear()
                raise StopIteration

    try:
        walk([n for n in data["nodes"] if n.get("scoring", "weighted") == "weighted"], None)
    except StopIteration:
        return
    node, siblings = max((x for x in leaves if x[1] is not None), key=lambda x: x[0]["points"])
    node["points"] -= 10
    siblings.append({"code": node["code"] + ".DC", "name": "督察扣分", "points": 10,
                     "rule": {"name": "per_event", "params": {"deductions": {"F1": 2}, "unknown_kind": "ignore"}},
                     "collector": {"name": "manual", "params": {"kind": "inspection"}}})
    plan.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def run_case(case: str, pack: Path, work: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--case", case, "--pack", str(pack), "--work", str(work)],
                         capture_output=True, text=True)
    if out.returncode:
        return {"error": (out.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- the cases (one per process)

def _clock() -> tuple[float, float]:
    """Wall and CPU seconds (user + system, every thread) of this process."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return time.perf_counter(), usage.ru_utime + usage.ru_stime


def _since(start: tuple[float, float]) -> dict:
    """Wall and CPU seconds since ``start``: CPU seconds stay comparable when other work shares the cores."""
    wall, cpu = _clock()
    return {"seconds": wall - start[0], "cpu_seconds": cpu - start[1]}


def _load(pack: Path):
    from jxcore.plugins import Registry, get_plugin_manager
    from jxcore.scheme import load_scheme

    registry = Registry.from_plugin_manager(get_plugin_manager())
    return registry, load_scheme(pack, None, registry)


def _store_copy(work: Path, name: str, pack: Path) -> str:
    """The URL of a fresh copy of the pack's store of manual entries (copied before any timing starts)."""
    path = work / f"{name}.sqlite"
    for old in work.glob(f"{name}.sqlite*"):
        old.unlink()
    shutil.copyfile(entries_store(pack), path)
    return f"sqlite:///{path}"


def case_jx(pack: Path, work: Path) -> dict:
    """``jx run`` in-process; the store (with the manual entries) is a file copied beforehand."""
    from jxcore.engine import run_scheme
    from jxcore.store import Store

    url = _store_copy(work, "bench-jx", pack)
    started = _clock()
    registry, scheme = _load(pack)
    with Store.open(url) as store:
        as_of = dt.date.fromisoformat(AS_OF.format(year=scheme.period.year))
        run_scheme(scheme, registry, as_of=as_of, store=store)
    return _since(started)


def case_jx_all_outputs(pack: Path, work: Path) -> dict:
    """``jx`` with the plan's own outputs, the report output's workbook and site included."""
    import os

    os.environ["JX_HOME"] = str(work / "jx-home")
    return case_jx(pack.with_name(pack.name + "-all-outputs"), work)


def _feed_sql(pack: Path) -> tuple[str, list[str]]:
    """The DuckDB file and every SQL statement the system feed runs for the plan."""
    import duckdb
    import sqlalchemy as sa
    from duckdb_engine import Dialect

    from jx_collectors.system_feed import SystemFeed
    from jxcore.interfaces import CollectRequest

    registry, scheme = _load(pack)
    path = scheme.sources["business"].url.removeprefix("duckdb:///")
    as_of = dt.date.fromisoformat(AS_OF.format(year=scheme.period.year))
    feed = SystemFeed()
    requests = [CollectRequest(n, n.collector.params) for n in scheme.indicators() if n.collector.name == feed.name]
    declarative = [r for r in requests if not r.params.get("sql")]
    with duckdb.connect(path, read_only=True) as con:
        columns = {t: [c[0] for c in con.execute(f"DESCRIBE {t}").fetchall()]
                   for t in {r.params["table"] for r in declarative}}
    texts = feed.compile(declarative, columns, scheme.period, as_of, Dialect())
    for r in requests:
        if r.params.get("sql"):
            binds = {"start": scheme.period.start, "end": scheme.period.end, "as_of": as_of}
            texts.append(str(sa.text(r.params["sql"]).bindparams(
                **{k: v for k, v in binds.items() if f":{k}" in r.params["sql"]}).compile(
                dialect=Dialect(), compile_kwargs={"literal_binds": True})))
    return path, texts


def case_limit(pack: Path, work: Path) -> dict:
    import duckdb

    path, texts = _feed_sql(pack)
    started = _clock()
    with duckdb.connect(path, read_only=True) as con:
        rows = sum(len(con.execute(sql).fetchnumpy()["unit"]) for sql in texts)
    return {**_since(started), "queries": len(texts), "rows": rows}


def case_limit_entries(pack: Path, work: Path) -> dict:
    """The manual entries' counterpart of ``limit``: one hand-written SQLite query over the store's
    entries (those nobody superseded, dated up to the as-of day) giving each unit's count and mean
    score per kind; jx's manual collector reads the same entries and builds 38 measures from them."""
    import sqlite3

    _, scheme = _load(pack)
    path = work / "bench-limit-entries.sqlite"
    shutil.copyfile(entries_store(pack), path)
    started = _clock()
    with sqlite3.connect(path) as con:
        rows = con.execute(
            "SELECT kind, unit_code, count(*), avg(json_extract(payload, '$.score')) FROM entries "
            "WHERE scheme = ? AND period = ? AND entry_date <= ? AND id NOT IN "
            "(SELECT supersedes FROM entries WHERE supersedes IS NOT NULL) GROUP BY kind, unit_code",
            (scheme.name, scheme.period.year, AS_OF.format(year=scheme.period.year))).fetchall()
    return {**_since(started), "rows": len(rows)}


def case_pandas(pack: Path, work: Path) -> dict:
    """The script a team writes without jx: read each table's rows into pandas, then group by unit."""
    import duckdb
    import pandas as pd
    import pyarrow as pa

    registry, scheme = _load(pack)
    path = scheme.sources["business"].url.removeprefix("duckdb:///")
    start, as_of = pd.Timestamp(scheme.period.start), pd.Timestamp(AS_OF.format(year=scheme.period.year))
    specs = [n.collector.params for n in scheme.indicators() if n.collector.name == "system_feed"]
    divisors = pd.DataFrame([(u.code, u.staff, u.entities) for u in scheme.units],
                            columns=["unit_code", "staff", "entities"]).set_index("unit_code")
    strings = {pa.string(): pd.StringDtype("pyarrow"), pa.large_string(): pd.StringDtype("pyarrow")}.get
    started = _clock()
    by_table: dict[str, list] = {}
    for p in specs:
        by_table.setdefault(p.get("table") or "", []).append(p)
    results = {}
    with duckdb.connect(path, read_only=True) as con:
        for table, group in by_table.items():
            if not table:  # raw SQL indicators: a team would write that SQL too
                for p in group:
                    results[p["sql"]] = con.execute(p["sql"].replace(":start", f"DATE '{start.date()}'")
                                                    .replace(":as_of", f"DATE '{as_of.date()}'")).df()
                continue
            used = {"unit_code"} | {c for p in group for key in ("where", "numerator") for c in (p.get(key) or {})}
            used |= {p["window"] for p in group if p.get("window")}
            used |= {p["column"] for p in group if p.get("aggregate") in ("sum", "avg")}
            # Arrow-backed strings: object strings of 100M rows would not fit in memory.
            df = con.execute(f"SELECT {', '.join(sorted(used))} FROM {table}").to_arrow_table().to_pandas(
                types_mapper=strings, date_as_object=False)
            for i, p in enumerate(group):
                keep = _mask(df, p.get("where"), start, as_of)
                window = p.get("window")
                in_window = keep & df[window].between(start, as_of) if window else keep
                how = p.get("aggregate", "count")
                if how == "rate":
                    num = in_window & _mask(df, p["numerator"], start, as_of)
                    den = in_window if p.get("denominator_window") else keep
                    g = pd.DataFrame({"n": num, "d": den, "unit": df["unit_code"]}).groupby("unit").sum()
                    value = g["n"] / g["d"]
                elif how in ("sum", "avg"):
                    value = df.loc[in_window].groupby("unit_code")[p["column"]].agg("sum" if how == "sum" else "mean")
                else:
                    value = df.loc[in_window].groupby("unit_code").size()
                if p.get("divide_by"):
                    value = value / divisors[p["divide_by"]].reindex(value.index)
                results[(table, i)] = value * p.get("multiply", 1)
            del df
    return {**_since(started), "measures": len(results)}


def _mask(df, flt, start, as_of):
    import pandas as pd

    keep = pd.Series(True, index=df.index)
    for col, cond in (flt or {}).items():
        ops = cond if isinstance(cond, dict) else {"in" if isinstance(cond, list) else "=": cond}
        for op, value in ops.items():
            value = {"{start}": start, "{as_of}": as_of}.get(value, value) if isinstance(value, str) else value
            if op == "is null" or value is None:
                keep &= df[col].isna() if value or op == "=" else df[col].notna()
            elif op in ("in", "not in"):
                keep &= df[col].isin(value) if op == "in" else ~df[col].isin(value)
            else:
                keep &= COMPARE[op](df[col], value).fillna(False).astype(bool)
    return keep


COMPARE = {"=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
           ">=": operator.ge}


def synthetic_plan(n_indicators: int = 200) -> dict:
    """10 items × 20 indicators with a mix of rules, on a 1000-point scale."""
    rules = [{"name": "base_score", "params": {"target": 0.9, "step": 0.01, "per_step_above": 1,
                                                "per_step_below": 2, "cap": 2}},
             {"name": "deduct_only", "params": {"target": 0.9, "step": 0.01, "per_step_below": 1}},
             {"name": "bands", "params": {"bands": [[0.95, 5], [0.9, 4], [0.8, 2]]}}]
    per_item = n_indicators // 10
    return {"scale": 1000, "nodes": [
        {"code": f"I{i}", "name": f"item {i}", "points": 100, "children": [
            {"code": f"I{i}.{j}", "name": f"indicator {i}.{j}", "points": 5 if j < per_item - 1 else 100 - 5 * (per_item - 1),
             "rule": rules[(i * per_item + j) % len(rules)],
             "collector": {"name": "system_feed", "params": {"table": "t"}}}
            for j in range(per_item)]} for i in range(10)]}


def _kernel(scheme, registry, repeat: int = 5) -> float:
    from jxcore.engine import aggregate, score
    from jxcore.ranking import rank_totals, ranking_settings
    from jxcore.models import Measure

    units = scheme.unit_table()
    rng = np.random.default_rng(1)
    measures = {n.code: Measure(n.code, rng.uniform(0.7, 1.0, len(units))) for n in scheme.indicators()}
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        scores = score(scheme, registry, units, measures, scheme.period.end)
        matrix = aggregate(scheme, scores, len(units))
        rank_totals(matrix, tuple(scheme.nodes), ranking_settings(scheme))
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def case_kernel(pack: Path, work: Path) -> dict:
    from jxcore.scheme import scheme_from_dict

    registry, scheme = _load(pack)
    units = [{"code": u.code, "name": u.name} for u in scheme.units]
    synthetic = scheme_from_dict(synthetic_plan(), units=units, registry=registry)
    return {"seconds": _kernel(synthetic, registry), "indicators": len(synthetic.indicators())}


def case_incremental(pack: Path, work: Path) -> dict:
    from jxcore.engine import indicators_fed_by, run_scheme, update_run
    from jxcore.store import Store
    from jxcore.store.entries import NewEntry

    registry, scheme = _load(pack)
    as_of = dt.date.fromisoformat(AS_OF.format(year=scheme.period.year))
    fed = indicators_fed_by(scheme, "manual", kind="inspection")
    times, moved = [], 0
    with Store.open(_store_copy(work, "bench-incremental", pack)) as store:
        result = run_scheme(scheme, registry, as_of=as_of, store=store)
        for i in range(7):
            unit = str(scheme.units[(i * 7919) % len(scheme.units)].code)
            started = time.perf_counter()
            with store.transaction() as tx:
                tx.add_entries(scheme=scheme.name, period=scheme.period.year, kind="inspection",
                               source_file="bench", source_sha256=f"{i:064d}", entered_by="bench",
                               rows=[NewEntry(unit, as_of, {"finding": "F1", "inspector": "bench"})])
            updated = update_run(result, registry, fed, store=store)
            times.append(time.perf_counter() - started)
            moved += int((updated.ranks != result.ranks).sum())
            result = updated
    return {"seconds": statistics.median(times), "indicators": fed, "rank_changes": moved}


# ---------------------------------------------------------------- main

def peak_mib() -> float:
    """This process's peak RSS (VmHWM: unlike ru_maxrss it does not carry the parent's over exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="city,province,national")
    parser.add_argument("--plan", type=Path, help="a scheme pack whose latest plan is run (default: guangdong)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/jx-bench"))
    parser.add_argument("--seed", type=int, default=2010)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--repeat", type=int, default=1,
                        help="run the cases this many times, interleaved, and keep each one's fastest run")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--pack", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        got = globals()[f"case_{args.case}"](args.pack, args.work)
        got["peak_mib"] = peak_mib()
        print(json.dumps(got))
        return
    from jx_scheme_guangdong import PACK_DIR

    args.work.mkdir(parents=True, exist_ok=True)
    for size in args.sizes.split(","):
        pack = prepare(size, args.plan or PACK_DIR, args.work, args.seed)
        runs: dict[str, list[dict]] = {case: [] for case in args.cases.split(",")}
        for _ in range(args.repeat):  # interleaved: a burst of other load hits every case alike
            for case in runs:
                runs[case].append(run_case(case, pack, args.work))
        report(size, {case: min(got, key=lambda r: r.get("seconds", float("inf"))) for case, got in runs.items()})


def report(size: str, got: dict) -> None:
    n, entities = SIZES[size]
    print(f"\n== {size}: {n:,} units, {entities:,} market entities")
    for case, r in got.items():
        if "error" in r:
            print(f"  {case:12} failed: {r['error']}")
            continue
        extra = {k: v for k, v in r.items() if k not in ("seconds", "peak_mib")}
        print(f"  {case:12} {r['seconds']:9.3f} s  peak {r['peak_mib']:8.0f} MiB  {extra}")
    ok = {c: r["seconds"] for c, r in got.items() if "error" not in r}
    if "jx" in ok and "limit" in ok:
        print(f"  jx / limit   = {ok['jx'] / ok['limit']:.2f}  (target <= 1.5 nationally); CPU seconds: "
              f"{got['jx']['cpu_seconds'] / got['limit']['cpu_seconds']:.2f}")
    if "jx" in ok and "limit" in ok and "limit_entries" in ok:
        print(f"  jx / (limit + limit_entries) = {ok['jx'] / (ok['limit'] + ok['limit_entries']):.2f}")
    if "jx" in ok and "pandas" in ok:
        print(f"  pandas / jx  = {ok['pandas'] / ok['jx']:.1f}  (target >= 10 nationally)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
