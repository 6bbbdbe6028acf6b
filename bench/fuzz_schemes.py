"""Fuzz campaign over the guangdong scheme pack: mutants by class, each checked in a forked child
with bounded memory and time, and a table of outcomes per class.

    python bench/fuzz_schemes.py [--per-class 100] [--seed 1] [--cpu-limit 10] [--memory-mb 1024]

Outcomes of one mutant (``jx validate``'s check, :func:`jxcore.scheme.check_pack`, with the
installed plugins):
- clear: refused; every problem names its file, and its line unless it is about the whole file
- vague: refused, but some problem lacks the file, or the line of something inside the file
- crash: an exception other than a JxError (a traceback for the user), or memory exhausted
- hang: the check not done within --cpu-limit seconds of CPU (killed; CPU time, so that a loaded
  machine does not count as a hang)
- slow: done, but the check used more than 1 s of CPU
- same: accepted, and every plan loads exactly as the original (e.g. a flip inside a comment)
- accepted: accepted with a different meaning; then scored on made-up measures (a rule refusing
  them with a DataError scores 0):
  ``run-ok`` (the run goes through), ``run-refused`` (a JxError: validate should have said so),
  ``run-crash`` (any other exception)
Mutant classes are in tests/scheme_mutants.py; the hand-written realistic mistakes are one more class.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import attrs

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import scheme_mutants as sm  # noqa: E402
from jxcore.errors import DataError, JxError  # noqa: E402
from jxcore.scheme import check_pack, load_pack, load_scheme  # noqa: E402
from jxcore.testing import installed_registry  # noqa: E402

WHOLE_FILE = ("file not found", "cannot read the file", "a directory where", "not a regular file",
              "the file is", "the file holds", "plans directory not found", "plan file ", "scheme ")
OUTCOMES = ("clear", "vague", "crash", "hang", "slow", "same", "run-ok", "run-refused", "run-crash")


def vague(problem) -> bool:
    loc = problem.location
    if not loc.file:
        return True
    return loc.line is None and not problem.message.startswith(WHOLE_FILE) and not problem.message.startswith("…")


def baseline(registry) -> tuple[dict, dict]:
    """The original plans, and measures to score mutants on (random, seeded, one per unit)."""
    import numpy as np

    from jxcore.models import Measure

    info = load_pack(sm.GUANGDONG)
    plans = {year: load_scheme(sm.GUANGDONG, year, registry) for year in info.periods}
    rng = np.random.default_rng(7)
    measures = {}
    for year, scheme in plans.items():
        n = len(scheme.units)
        for node in scheme.indicators():
            events = {"unit": rng.integers(0, n, 40), "kind": np.array(["warning"] * 40),
                      "at_fault": np.ones(40, dtype=bool), "date": np.full(40, np.datetime64("2010-03-01")),
                      "score": rng.uniform(60, 100, 40), "count": np.ones(40, dtype=np.int64)}
            measures[(year, node.code)] = Measure(node.code, rng.uniform(0, 1.2, n),
                                                  {"numerator": rng.uniform(0, 50, n),
                                                   "denominator": rng.uniform(50, 60, n)}, events)
    return plans, measures


def score_on(scheme, registry, measures) -> tuple[str, str]:
    """Score an accepted mutant plan on baseline measures: run-ok, run-refused or run-crash."""
    import numpy as np

    from jxcore import engine
    from jxcore.ranking import rank_totals, ranking_settings

    units = scheme.unit_table()
    given = {}
    for node in scheme.indicators():
        m = measures.get((scheme.period.year, node.code))
        if m is None or len(m.value) != len(units):
            return "run-ok", "a changed tree or unit list: nothing to compare against"
        given[node.code] = m
    as_of = dt.date(scheme.period.year, 12, 31)
    try:
        scores = {}
        for node in scheme.indicators():  # one by one: a rule refusing made-up measures is not the plan's fault
            try:
                scores.update(engine.score(scheme, registry, units, given, as_of, only={node.code}))
            except DataError:  # the made-up measures do not fit this rule (kinds, columns)
                scores[node.code] = np.zeros(len(units), dtype=np.int64)
        matrix = engine.aggregate(scheme, scores, len(units))
        rank_totals(matrix, tuple(scheme.nodes), ranking_settings(scheme))
    except JxError as exc:
        return "run-refused", str(exc)[:300]
    except Exception as exc:  # noqa: BLE001 - the campaign counts it
        return "run-crash", f"{type(exc).__name__}: {exc}"[:300]
    return "run-ok", ""


def check_one(pack: Path, registry, plans, measures, report) -> tuple[str, str]:
    """Classify one mutant pack (runs in the child); ``report(cpu)`` is called once the check is done."""
    started = time.process_time()
    try:
        problems = check_pack(pack, registry, warnings=[])
    except JxError as exc:
        return "crash", f"JxError escaped: {exc}"[:300]
    except MemoryError:
        return "crash", "MemoryError"
    except Exception as exc:  # noqa: BLE001
        return "crash", f"{type(exc).__name__}: {exc}"[:300]
    cpu = time.process_time() - started
    report(cpu)
    if problems:
        blurred = [p for p in problems if vague(p)]
        if blurred:
            return "vague", str(blurred[0])[:300]
        return ("slow" if cpu > 1 else "clear"), str(problems[0])[:300]
    outcome = "same"
    for year in load_pack(pack).periods:
        try:
            scheme = load_scheme(pack, year, registry)
        except JxError as exc:
            return "vague", f"check_pack accepted, load_scheme refused: {exc}"[:300]
        original = plans.get(year)
        if original is None or attrs.evolve(scheme, path=original.path) != original:
            outcome, detail = score_on(scheme, registry, measures)
            if outcome != "run-ok":
                return outcome, f"plan {year}: {detail}"
    return outcome, ""


def run_child(pack: Path, registry, plans, measures, cpu_limit: float, memory: int,
              wall_limit: float) -> tuple[str, str, float, float]:
    """Fork; in the child, check under an address-space limit and a CPU-time limit (CPU, not wall
    time, so a loaded machine does not turn slow into hung), then score what was accepted without
    the CPU limit. The verdict comes back through a pipe: a line once checked, then the outcome."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read)
        try:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
            resource.setrlimit(resource.RLIMIT_CPU, (int(cpu_limit), int(cpu_limit) + 600))

            def checked(cpu: float) -> None:
                os.write(write, (json.dumps(["checked", f"{cpu:.3f}"]) + "\n").encode())
                resource.setrlimit(resource.RLIMIT_CPU, (int(cpu_limit) + 600, int(cpu_limit) + 600))

            verdict = check_one(pack, registry, plans, measures, checked)
        except BaseException as exc:  # noqa: BLE001
            verdict = ("crash", f"{type(exc).__name__}: {exc}"[:300])
        os.write(write, (json.dumps(verdict) + "\n").encode())
        os._exit(0)
    os.close(write)
    started = time.perf_counter()
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.perf_counter() - started > wall_limit:
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            break
        time.sleep(0.005)
    with os.fdopen(read, "rb") as pipe:
        lines = [json.loads(line) for line in pipe.read().splitlines()]
    elapsed = time.perf_counter() - started
    cpu = next((float(line[1]) for line in lines if line[0] == "checked"), cpu_limit)
    if not lines:
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) in (signal.SIGXCPU, signal.SIGKILL):
            return "hang", f"check not done within {cpu_limit:g} s of CPU", elapsed, cpu
        return "crash", f"the child died without a verdict (status {status})", elapsed, cpu
    if lines[-1][0] == "checked":
        return "run-crash", f"checked in {lines[-1][1]} s CPU, then the scoring did not finish", elapsed, cpu
    outcome, detail = lines[-1]
    return outcome, detail, elapsed, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=100, help="random mutants per class")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cpu-limit", type=float, default=10.0, help="CPU seconds before a check counts as a hang")
    parser.add_argument("--wall-limit", type=float, default=600.0, help="wall seconds before any mutant is killed")
    parser.add_argument("--memory-mb", type=int, default=1024, help="address-space limit of each check")
    parser.add_argument("--classes", nargs="*", default=None, help="only these classes")
    parser.add_argument("--show", type=int, default=3, help="examples shown per bad outcome")
    args = parser.parse_args()
    registry = installed_registry()
    plans, measures = baseline(registry)
    rng = random.Random(args.seed)
    wanted = args.classes or [*sm.CLASSES, "hand_written"]
    table: dict[str, Counter] = {}
    examples: dict[tuple[str, str], list[str]] = {}
    slowest = slowest_check = 0.0
    with tempfile.TemporaryDirectory(prefix="jx-fuzz-") as tmp:
        for cls in wanted:
            draws = ([(name, lambda p, n=name: sm.hand_written(p, n)) for name in sm.HAND_WRITTEN]
                     if cls == "hand_written" else [sm.draw(cls, rng) for _ in range(args.per_class)])
            counts = table.setdefault(cls, Counter())
            for i, (description, apply) in enumerate(draws):
                pack = sm.copy_pack(Path(tmp) / f"{cls}-{i}")
                apply(pack)
                outcome, detail, elapsed, cpu = run_child(pack, registry, plans, measures, args.cpu_limit,
                                                     args.memory_mb * 1024 * 1024, args.wall_limit)
                slowest, slowest_check = max(slowest, elapsed), max(slowest_check, cpu)
                counts[outcome] += 1
                if outcome not in ("clear", "same", "run-ok"):
                    examples.setdefault((cls, outcome), []).append(f"{description}: {detail}")
                _remove(pack)
            print(f"{cls:>14}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())), flush=True)
    total = sum(table.values(), Counter())
    print()
    print(f"{'class':>14} " + " ".join(f"{o:>11}" for o in OUTCOMES) + f" {'total':>7}")
    for cls, counts in [*table.items(), ("all", total)]:
        print(f"{cls:>14} " + " ".join(f"{counts[o]:>11}" for o in OUTCOMES) + f" {sum(counts.values()):>7}")
    print(f"\nslowest mutant, fork to verdict (check and scoring): {slowest:.2f} s wall; "
          f"slowest check: {slowest_check:.2f} s CPU")
    for (cls, outcome), shown in sorted(examples.items()):
        print(f"\n{cls} / {outcome} ({len(shown)}):")
        for line in shown[:args.show]:
            print("  " + line.replace("\n", " | "))
    bad = sum(total[o] for o in ("vague", "crash", "hang", "slow", "run-refused", "run-crash"))
    return 1 if bad else 0


def _remove(pack: Path) -> None:
    import shutil

    for path in pack.rglob("*"):  # FIFOs and symlinks to devices: never opened, only unlinked
        if path.is_symlink() or path.is_fifo():
            path.unlink()
    shutil.rmtree(pack, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
