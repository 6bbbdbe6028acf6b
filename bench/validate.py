"""How long `jx validate --scheme guangdong` takes as a whole process, and where the time goes.

    python bench/validate.py [--repeat 7]

Whole processes, medians beside minimums (wall and CPU of the child), each against `python -c pass`
measured in the same run; then the in-process parts: reading the four plans' YAML, the full check
(`check_pack` with the installed plugins), and importing jxcore.scheme.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

PACK = Path(__file__).resolve().parents[1] / "schemes" / "guangdong" / "jx_scheme_guangdong" / "scheme"
JX = str(Path(sys.executable).with_name("jx"))


def child(cmd: list[str]) -> tuple[float, float]:
    """(wall, cpu) seconds of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def in_process(fn, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return times


def row(label: str, values: list[float], base: float | None = None) -> str:
    med, low = statistics.median(values), min(values)
    ratio = f"{med / base:6.1f}x" if base else "       "
    return f"{label:<44} {med * 1000:8.0f} {low * 1000:8.0f} {ratio}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import jxcore.scheme'": [sys.executable, "-c", "import jxcore.scheme"],
        "python -c 'import jxcore.cli'": [sys.executable, "-c", "import jxcore.cli"],
        "jx validate --scheme guangdong": [JX, "validate", "--scheme", "guangdong"],
    }
    walls: dict[str, list[float]] = {k: [] for k in commands}
    cpus: dict[str, list[float]] = {k: [] for k in commands}
    for _ in range(args.repeat):  # interleaved, so load changes hit every command alike
        for label, cmd in commands.items():
            wall, cpu = child(cmd)
            walls[label].append(wall)
            cpus[label].append(cpu)
    print(f"{'whole process (ms)':<44} {'median':>8} {'min':>8} {'/pass':>7}")
    for kind, table in (("wall", walls), ("cpu", cpus)):
        base = statistics.median(table["python -c pass"])
        for label in commands:
            print(row(f"{label} [{kind}]", table[label], base))

    from jxcore.scheme import check_pack
    from jxcore.scheme.yamlio import read_yaml
    from jxcore.testing import installed_registry

    registry = installed_registry()
    plans = sorted((PACK / "plans").glob("*.yaml"))
    print(f"\n{'in process, cpu (ms)':<44} {'median':>8} {'min':>8}")
    print(row("read the 4 plans' YAML", in_process(lambda: [read_yaml(p, p.name, "") for p in plans], args.repeat)))
    print(row("check_pack (all plans, installed plugins)", in_process(lambda: check_pack(PACK, registry),
                                                                       args.repeat)))
    print(f"\nload average: {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
