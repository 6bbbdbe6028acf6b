"""Start-up and everyday speed of the `jx` command, as whole processes (issue 12).

    .venv/bin/python bench/startup.py [--repeat 7] [--city PACK [--city-db SQLITE] | --city-work DIR] [--no-bytecode]

Runs each command N times as a fresh process (after one untimed warm-up run), in N interleaved
rounds of every command, and prints the median and the minimum of wall and CPU (user + system of
the child) time, next to `python -c pass` measured in the same rounds, with each median's ratio to
that baseline (on a loaded machine the ratio is the steadier figure). The commands: `jx --help`,
`jx plugins`, `jx validate --scheme guangdong`, the demo `jx run --scheme guangdong` and, with
--city (a pack written by bench/scale.py or `jx demo generate --pack`), a warm city-size `jx run`
against a copy of --city-db (a store with the pack's manual entries); ``--city-work DIR`` makes
that pack and store with bench/scale.py's city size (33 units, 500,000 market entities, the
guangdong plan) in DIR once and keeps them there.
JX_HOME is a temporary directory, so the demo data is generated once during the warm-up and never
timed; the warm-up also fills its caches (parsed YAML, the system feed's SQL), as on a machine where
jx ran before.

Python's compiled bytecode is written during the warm-up and read by the timed runs, as an installed
jx runs (into the temporary directory, ``PYTHONPYCACHEPREFIX``, whatever PYTHONDONTWRITEBYTECODE
says). ``--no-bytecode`` sets PYTHONDONTWRITEBYTECODE instead, as a shell of this project's sessions
does: the libraries' installed bytecode is read, but the editable checkout's modules (jxcore and the
plugins) are compiled from source in every run.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PYTHON = sys.executable
JX = str(Path(sys.executable).with_name("jx"))


def child(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall, cpu) seconds of one child process; fails loudly if the command fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.decode(errors='replace')[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(cases: list[tuple[str, list[str]]], env: dict[str, str], repeat: int) -> list[tuple[str, dict]]:
    """Each command's median and minimum over ``repeat`` rounds; a round runs every command once,
    so a slow stretch of a shared machine slows all of them alike and the ratios hold."""
    for _, cmd in cases:
        child(cmd, env)  # warm-up: page cache, .pyc files, demo data, the help cache
    runs: dict[str, list[tuple[float, float]]] = {label: [] for label, _ in cases}
    for _ in range(repeat):
        for label, cmd in cases:
            runs[label].append(child(cmd, env))
    results = []
    for label, got in runs.items():
        walls, cpus = zip(*got)
        results.append((label, {"wall": statistics.median(walls), "wall_min": min(walls),
                                "cpu": statistics.median(cpus), "cpu_min": min(cpus)}))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--city", type=Path, help="a city-size scheme pack (bench/scale.py, jx demo generate --pack)")
    parser.add_argument("--city-db", type=Path, help="a SQLite store with the city pack's entries (copied first)")
    parser.add_argument("--city-work", type=Path, metavar="DIR",
                        help="make bench/scale.py's city pack and entries' store in DIR (once, kept) and time it")
    parser.add_argument("--no-bytecode", action="store_true",
                        help="write no bytecode: the checkout's modules are compiled in every run")
    args = parser.parse_args()
    if args.city_work:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import scale
        from jx_scheme_guangdong import PACK_DIR

        args.city = scale.prepare("city", PACK_DIR, args.city_work, seed=2010)
        args.city_db = scale.entries_store(args.city)
    home = Path(tempfile.mkdtemp(prefix="jx-startup-bench-"))
    env = {**os.environ, "JX_HOME": str(home / "home"), "JX_USER": "demo"}
    env.pop("JX_DATABASE_URL", None)
    if args.no_bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.pop("PYTHONPYCACHEPREFIX", None)
    else:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(home / "pycache")
    cases = [("python -c pass", [PYTHON, "-c", "pass"]),
             ("jx --help", [JX, "--help"]),
             ("jx plugins", [JX, "plugins"]),
             ("jx validate --scheme guangdong", [JX, "validate", "--scheme", "guangdong"]),
             ("jx run --scheme guangdong (demo)", [JX, "run", "--scheme", "guangdong"])]
    if args.city:
        db = home / "city.sqlite"
        if args.city_db:
            shutil.copy(args.city_db, db)
        cases.append(("jx run --scheme CITY (warm)", [JX, "run", "--scheme", str(args.city), "--db", f"sqlite:///{db}"]))
    try:
        results = measure(cases, env, args.repeat)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    base = results[0][1]
    print(f"{'command':<36} {'wall med':>9} {'wall min':>9} {'cpu med':>9} {'cpu min':>9} {'wall×':>7} {'cpu×':>7}")
    for label, r in results:
        print(f"{label:<36} {r['wall']:9.3f} {r['wall_min']:9.3f} {r['cpu']:9.3f} {r['cpu_min']:9.3f} "
              f"{r['wall'] / base['wall']:7.1f} {r['cpu'] / base['cpu']:7.1f}")
    print(f"(seconds; medians and minimums of {args.repeat} runs after a warm-up; × = median over python -c pass; "
          f"{'no bytecode written' if args.no_bytecode else 'bytecode cached'}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
