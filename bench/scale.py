"""Scale benchmark: jx at city, province and national size, against what it replaces, measured
as a user runs it.

    .venv/bin/python bench/scale.py [--sizes city,province] [--national] [--repeat N] [--work DIR]
                                    [--cases jx,limit,pandas,report] [--plan PACK]

Sizes: ``city`` (33 units), ``province`` (1,500), ``national`` (30,000 units over 100M market
entities) and ``national-report`` (the 30,000 national units over half the entities: generated,
entered and run in ~4 minutes on a loaded 2-core machine). What ``jx report`` costs goes with units ×
nodes, not source rows, so ``--sizes national-report --cases jx,report`` stores a national run once
and times the report on it; ``--cases report`` alone then reuses the stored run.

For each size it generates the synthetic business system (``jx demo generate``, cached in --work)
and a scheme pack reading it (the plan of --plan, default the installed guangdong pack's latest
plan; outputs ranking, commendation, leadership_review, warnings), writes synthetic manual entries
into a store, and then runs every case N times (interleaved, so a burst of other load hits every
case alike), each a whole process timed by this one with the same clock: wall seconds, CPU
seconds (user + system of the process and the children it waited for, from ``wait4``) and peak
memory (its max RSS):

- ``jx``: ``jx run --scheme PACK --db STORE --as-of Y-12-31`` exactly as typed at a terminal (on
  a pseudo-terminal 100 columns wide, so the real console with its tables), on a fresh copy of the
  store with the manual entries (copied before the clock starts);
- ``limit``: ``bench/baselines.py limit``: DuckDB alone running the collector's SQL, no jx;
- ``pandas``: ``bench/baselines.py pandas``: the competent script a team writes without jx
  (categorical unit codes, ``np.bincount``, record batches); every system-feed measure it writes
  must equal jx's stored one (checked after the runs; the bench fails otherwise);
- ``report``: ``jx report --scheme PACK --db STORE --out DIR`` on the run the ``jx`` case stored
  (workbook + site), on a pseudo-terminal like ``jx``; every run writes into the same DIR, over the
  report of the run before.

Extra in-process cases (``--cases``): ``limit_entries`` (one hand-written SQLite GROUP BY over the
store's entries), ``kernel`` (score + aggregate + rank of all units on a synthetic 200-indicator
plan), ``incremental`` (one new inspection entry → updated ranking, ``engine.update_run``).

It prints, per case, the median and the minimum of wall and CPU seconds and the peak, then one
table of every size with the ratios jx / limit and jx / pandas (of the medians; in CPU seconds
too: steadier on a shared machine), with the load average before and after. No timing here is
asserted by a test. See bench/README.md for the latest figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import fcntl
import json
import os
import pty
import resource
import shutil
import statistics
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import numpy as np
import yaml

#: units and market entities of each size. ``national-report`` has the national units (the report's
#: cost goes with units × nodes, not rows) over half the entities, for timing ``jx report``
#: nationally; fewer entities leave the smallest units without a farmers' cooperative (2 % of
#: entities), and the plan's cooperative indicators refuse units with no data
SIZES = {"city": (33, 500_000), "province": (1_500, 5_000_000), "national": (30_000, 100_000_000),
         "national-report": (30_000, 50_000_000)}
OUTPUTS = ["ranking", "commendation", "leadership_review", "warnings"]
AS_OF = "{year}-12-31"
CASES = ("jx", "report", "limit", "pandas")  #: whole processes, the default
IN_PROCESS = ("limit_entries", "kernel", "incremental")  #: optional, timed inside their own process
BENCH = Path(__file__).resolve().parent
JX = str(Path(sys.executable).with_name("jx"))
COLUMNS = 100  #: width of the pseudo-terminal jx runs on


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
    pack = scale.write_pack(work / f"{size}-pack", units, f"duckdb:///{data}", base=plan_pack, outputs=OUTPUTS)
    for plan in (pack / "plans").glob("*.yaml"):
        add_inspection_indicator(plan)
    template = entries_store(pack)
    import hashlib

    files = sorted((pack / "plans").glob("*.yaml")) + sorted(pack.glob("units.*"))
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest()
    stamp = template.with_name(template.name + ".plan-sha256")
    if template.exists() and stamp.exists() and stamp.read_text() == digest:
        return pack  # the entries of an unchanged plan are kept (national: 25 s quiet, minutes under load)
    started = time.perf_counter()
    template.unlink(missing_ok=True)
    _, scheme = _load(pack)
    from jxcore.store import Store

    with Store.open(f"sqlite:///{template}") as store:
        made = scale.add_synthetic_entries(store, scheme, seed=seed)
    print(f"{size}: {sum(made.values()):,} synthetic manual entries written in "
          f"{time.perf_counter() - started:.1f} s ({made})", flush=True)
    stamp.write_text(digest)
    return pack


def entries_store(pack: Path) -> Path:
    """The store holding the pack's synthetic manual entries; each case works on a copy of it."""
    return pack.with_name(pack.name + "-entries.sqlite")


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


def run_process(cmd: list[str], env: dict[str, str] | None = None, terminal: bool = False) -> dict:
    """Run ``cmd`` as a whole process: its wall seconds (this process's clock), CPU seconds (user +
    system of it and of the children it waited for) and peak RSS (from ``wait4``), its output. With
    ``terminal`` its stdout and stderr are a pseudo-terminal of :data:`COLUMNS` columns, as at a
    user's prompt (rich draws its tables and progress bars as it would there)."""
    if terminal:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, COLUMNS, 0, 0))
        out = err = slave
    else:
        master, slave = os.pipe()
        out, err = slave, subprocess.STDOUT
    env = {**(env or os.environ), "TERM": "xterm-256color"} if terminal else env
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env)
    os.close(slave)
    output = bytearray()
    while True:
        try:
            chunk = os.read(master, 1 << 16)
        except OSError:  # a pseudo-terminal whose other end closed
            break
        if not chunk:
            break
        output += chunk
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    os.close(master)
    text = output.decode("utf-8", errors="replace")
    if proc.returncode:
        return {"error": f"{' '.join(cmd)} exited {proc.returncode}: {text[-1500:]}"}
    return {"seconds": wall, "cpu_seconds": usage.ru_utime + usage.ru_stime, "peak_mib": usage.ru_maxrss / 1024,
            "output": text}


def run_in_process_case(case: str, pack: Path, work: Path) -> dict:
    """One of the in-process cases, in a fresh process of this script; its own clock."""
    got = run_process([sys.executable, __file__, "--case", case, "--pack", str(pack), "--work", str(work)])
    if "error" in got:
        return got
    return {**json.loads(got["output"].strip().splitlines()[-1]), "peak_mib": got["peak_mib"]}


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


def write_spec(pack: Path, work: Path) -> Path:
    """The JSON spec bench/baselines.py reads: the DuckDB file, dates, units, the system-feed
    indicators' parameters and the SQL the collector runs for them (compiled here, outside any clock)."""
    path, texts = _feed_sql(pack)
    _, scheme = _load(pack)
    spec = {"database": path, "sql": texts, "start": str(scheme.period.start), "end": str(scheme.period.end),
            "as_of": AS_OF.format(year=scheme.period.year), "units": [str(u.code) for u in scheme.units],
            "staff": [u.staff for u in scheme.units], "entities": [u.entities for u in scheme.units],
            "scheme": scheme.name, "period": scheme.period.year,
            "measures": [{"node": n.code, "params": dict(n.collector.params)} for n in scheme.indicators()
                         if n.collector.name == "system_feed"]}
    out = work / f"{pack.name}-spec.json"
    out.write_text(json.dumps(spec, ensure_ascii=False, default=str), encoding="utf-8")
    return out


def check_pandas(spec_path: Path, npz: Path, store_url: str) -> str:
    """Every system-feed measure of the pandas script equals jx's stored one (NaN where jx has NaN)."""
    from jxcore.store import Store

    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    got = np.load(npz)
    with Store.open(store_url) as store:
        run = store.latest_run(spec["scheme"], spec["period"])
        values, codes = run.values, list(run.unit_codes)
    assert codes == spec["units"], "the stored run's units are not the pack's"
    exact, close, wrong = 0, 0, []
    for m in spec["measures"]:
        ours, theirs = np.asarray(values[m["node"]], dtype=float), got[m["node"]]
        if np.array_equal(ours, theirs, equal_nan=True):
            exact += 1
        elif np.allclose(ours, theirs, rtol=1e-12, atol=0, equal_nan=True):
            close += 1
        else:
            bad = ~np.isclose(ours, theirs, rtol=1e-12, atol=0, equal_nan=True)
            wrong.append(f"{m['node']} ({int(bad.sum())} units, e.g. jx {ours[bad][0]} pandas {theirs[bad][0]})")
    assert not wrong, "the pandas baseline differs from jx: " + "; ".join(wrong[:10])
    return f"pandas reproduces all {exact + close} system-feed measures ({exact} bit for bit, {close} within 1e-12)"


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


def synthetic_plan(n_indicators: int = 200) -> dict:
    """10 items × 20 indicators with a mix of rules, on a 1000-point scale."""
    rules = [{"name": "base_score", "params": {"target": 0.9, "step": 0.01, "per_step_above": 1,
                                                "per_step_below": 2, "cap": 2}},
             {"name": "deduct_only", "params": {"target": 0.9, "step": 0.01, "per_step_below": 1}},
             {"name": "bands", "params": {"bands": [[0.95, 5], [0.9, 4], [0.8, 2]]}}]
    per_item = n_indicators // 10
    return {"scale": 1000, "nodes": [
        {"code": f"I{i}", "name": f"item {i}", "points": 100, "children": [
            {"code": f"I{i}.{j}", "name": f"indicator {i}.{j}",
             "points": 5 if j < per_item - 1 else 100 - 5 * (per_item - 1),
             "rule": rules[(i * per_item + j) % len(rules)],
             "collector": {"name": "system_feed", "params": {"table": "t"}}}
            for j in range(per_item)]} for i in range(10)]}


def _kernel(scheme, registry, repeat: int = 5) -> float:
    from jxcore.engine import aggregate, score
    from jxcore.models import Measure
    from jxcore.ranking import rank_totals, ranking_settings

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


def load() -> str:
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def run_size(size: str, pack: Path, args: argparse.Namespace) -> dict[str, list[dict]]:
    """Every case of one size, ``args.repeat`` times, interleaved; the pandas script's measures checked."""
    work = args.work
    spec = write_spec(pack, work)
    period = json.loads(spec.read_text(encoding="utf-8"))["period"]
    env = {**os.environ, "JX_HOME": str(work / "jx-home")}
    env.pop("JX_DATABASE_URL", None)
    store = work / f"bench-{size}.sqlite"
    out_dir = work / f"report-{size}"
    npz = work / f"{size}-pandas.npz"
    cases = args.cases.split(",")
    runs: dict[str, list[dict]] = {case: [] for case in cases}
    checked = None
    for _ in range(args.repeat):  # interleaved: a burst of other load hits every case alike
        for case in cases:
            if case == "jx":  # a fresh copy of the store with the entries, made before the clock starts
                for old in work.glob(f"{store.name}*"):
                    old.unlink()
                shutil.copyfile(entries_store(pack), store)
                got = run_process([JX, "run", "--scheme", str(pack), "--db", f"sqlite:///{store}",
                                   "--as-of", AS_OF.format(year=period)], env, terminal=True)
            elif case == "report":
                if not store.exists():
                    got = {"error": "report needs the jx case first (it reports the run jx stored)"}
                else:  # into the directory of the run before, as a daily republish: 30,000 pages deleted
                    # just before made ext4's inode allocation skip the recently freed inodes, 1-6 s of
                    # kernel time at random
                    got = run_process([JX, "report", "--scheme", str(pack), "--db", f"sqlite:///{store}",
                                       "--out", str(out_dir)], env, terminal=True)
            elif case == "limit":
                got = run_process([sys.executable, str(BENCH / "baselines.py"), "limit", str(spec)])
            elif case == "pandas":
                npz.unlink(missing_ok=True)
                got = run_process([sys.executable, str(BENCH / "baselines.py"), "pandas", str(spec), str(npz)])
                if "error" not in got and checked is None and store.exists():
                    checked = check_pandas(spec, npz, f"sqlite:///{store}")
                    print(f"{size}: {checked}", flush=True)
            else:
                got = run_in_process_case(case, pack, work)
            got.pop("output", None)
            got["load"] = load()
            runs[case].append(got)
            if "error" in got:
                print(f"{size} {case} failed: {got['error']}", flush=True)
    if "pandas" in runs and checked is None:
        print(f"{size}: the pandas measures were not checked (run the jx case too)")
    return runs


def summary(runs: list[dict]) -> dict | None:
    ok = [r for r in runs if "error" not in r and "seconds" in r]
    if not ok:
        return None
    walls = [r["seconds"] for r in ok]
    cpus = [r["cpu_seconds"] for r in ok if "cpu_seconds" in r]
    return {"n": len(ok), "wall": statistics.median(walls), "wall_min": min(walls),
            "cpu": statistics.median(cpus) if cpus else float("nan"), "cpu_min": min(cpus) if cpus else float("nan"),
            "peak": max(r.get("peak_mib", 0) for r in ok)}


def print_size(size: str, runs: dict[str, list[dict]]) -> None:
    n, entities = SIZES[size]
    print(f"\n== {size}: {n:,} units, {entities:,} market entities (medians of N runs; min in brackets)")
    for case, got in runs.items():
        s = summary(got)
        if s is None:
            print(f"  {case:14} failed")
            continue
        print(f"  {case:14} wall {s['wall']:8.3f} s [{s['wall_min']:8.3f}]  CPU {s['cpu']:8.3f} s "
              f"[{s['cpu_min']:8.3f}]  peak {s['peak']:7.0f} MiB  N={s['n']}")
    sys.stdout.flush()


def ratio_table(results: dict[str, dict[str, list[dict]]]) -> str:
    """One Markdown table: each size × {jx, limit, pandas, report}, and jx / limit, jx / pandas."""
    def cell(s: dict | None) -> str:
        return "–" if s is None else f"{s['wall']:.2f} [{s['wall_min']:.2f}] / {s['cpu']:.2f}"

    def ratio(a: dict | None, b: dict | None, key: str) -> str:
        return "–" if a is None or b is None or not b[key] else f"{a[key] / b[key]:.2f}"

    lines = ["| size | jx run | limit (DuckDB) | pandas | jx / limit (wall, CPU) | jx / pandas (wall, CPU) "
             "| jx report | load before → after |",
             "|---|---|---|---|---|---|---|---|"]
    for size, runs in results.items():
        s = {case: summary(got) for case, got in runs.items()}
        jx, lim, pd_ = s.get("jx"), s.get("limit"), s.get("pandas")
        loads = [r["load"] for got in runs.values() for r in got if "load" in r]
        lines.append(f"| {size} | {cell(jx)} | {cell(lim)} | {cell(pd_)} | {ratio(jx, lim, 'wall')}, "
                     f"{ratio(jx, lim, 'cpu')} | {ratio(jx, pd_, 'wall')}, {ratio(jx, pd_, 'cpu')} | "
                     f"{cell(s.get('report'))} | {loads[0] if loads else ''} → {loads[-1] if loads else ''} |")
    lines.append("\nCells: median wall seconds [minimum] / median CPU seconds, whole processes. "
                 "Ratios of the medians; below 1 means jx is faster.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="city,province",
                        help="comma-separated: " + ", ".join(SIZES) + " (national units, few rows: for jx report)")
    parser.add_argument("--national", action="store_true", help="add the national size (slow: minutes a run)")
    parser.add_argument("--plan", type=Path, help="a scheme pack whose latest plan is run (default: guangdong)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/jx-bench-data"),
                        help="data, packs, stores and reports (the data is generated once and kept)")
    parser.add_argument("--seed", type=int, default=2010)
    parser.add_argument("--cases", default=",".join(CASES),
                        help=f"comma-separated, in this order each round; also {', '.join(IN_PROCESS)}")
    parser.add_argument("--repeat", type=int, default=3, help="runs of every case (medians and minimums of them)")
    parser.add_argument("--json", type=Path, help="also write every run's figures to this file")
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
    sizes = [s for s in args.sizes.split(",") if s]
    if args.national and "national" not in sizes:
        sizes.append("national")
    print(f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, load {load()}, "
          f"repeat {args.repeat}", flush=True)
    results = {}
    for size in sizes:
        pack = prepare(size, args.plan or PACK_DIR, args.work, args.seed)
        results[size] = run_size(size, pack, args)
        print_size(size, results[size])
    print()
    print(ratio_table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
