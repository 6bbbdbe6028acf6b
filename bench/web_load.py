"""Load on the live 绩效之窗: signed-in branch heads opening the leaderboard and their unit page.

    .venv/bin/python bench/web_load.py                       # 300 users, 60 s, SQLite and PostgreSQL
    .venv/bin/python bench/web_load.py --duration 20 --store sqlite

Each user signs in (a real session in the store), arrives at a random moment of the first
``--ramp`` seconds (default: the whole run, the morning rush) and opens the leaderboard, the
stylesheet (a plain static file served by the same uvicorn: the baseline) and their own unit
page; ``--rounds N`` repeats that N times, 5-15 s apart (0: until the end). The server is
``jx serve --workers N`` on 127.0.0.1 in a subprocess, on a guangdong store with two 2010 runs.
Printed per page: requests, errors, p50/p95/p99 in milliseconds, and each page's p50 and p95 as
a ratio of the static file's: the figure that does not depend on the machine.
The load generator shares the machine with the server: on 2 cores the ratios are what to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import numpy as np

BIN = Path(sys.executable).parent
POSTGRES = os.environ.get("JX_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def prepare(url: str, home: Path) -> list[tuple[str, str]]:
    """Two runs of guangdong 2010 and the demo accounts in the store; (session token, unit) per branch."""
    env = {**os.environ, "JX_HOME": str(home)}
    for day in ("2010-06-30", "2010-09-30"):
        subprocess.run([str(BIN / "jx"), "run", "--scheme", "guangdong", "--period", "2010", "--as-of", day,
                        "--db", url, "--json"], env=env, check=True, stdout=subprocess.DEVNULL)
    from jxcore.records.access import add_user
    from jxcore.scheme import load_scheme
    from jxcore.services import auth
    from jxcore.store import Store
    from jxcore.testing import installed_registry

    scheme = load_scheme(installed_registry().scheme_pack("guangdong").path, 2010)
    with Store.open(url) as store:
        if not auth.accounts(store):
            add_user(store, "admin", role="admin")
            for unit in scheme.units:  # branch accounts only: hashing 46 passwords is not the point here
                add_user(store, f"branch-{unit.code}", role="viewer", by="admin")
                auth.set_unit(store, f"branch-{unit.code}", unit.code, by="admin")
        branches = [a for a in auth.accounts(store) if a.unit_code]
        return [(auth.create_session(store, branches[i % len(branches)]).token, branches[i % len(branches)].unit_code)
                for i in range(len(branches) * 10)]


def serve(url: str, home: Path, port: int, workers: int) -> subprocess.Popen:
    proc = subprocess.Popen([str(BIN / "jx"), "serve", "--scheme", "guangdong", "--period", "2010", "--db", url,
                             "--port", str(port), "--workers", str(workers)],
                            env={**os.environ, "JX_HOME": str(home)}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    import urllib.request

    for _ in range(600):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return proc
        except OSError as exc:
            if proc.poll() is not None:
                raise SystemExit(f"jx serve failed (exit {proc.returncode}); run it by hand to see why") from exc
            time.sleep(0.1)
    raise SystemExit("jx serve did not start")


async def load(port: int, sessions: list[tuple[str, str]], users: int, duration: float, ramp: float,
               max_rounds: int) -> dict:
    import httpx

    times: dict[str, list[float]] = {"leaderboard": [], "static": [], "unit": []}
    errors: dict[str, list[str]] = {page: [] for page in times}
    end = time.perf_counter() + duration
    limits = httpx.Limits(max_connections=users, max_keepalive_connections=users)

    async def user(i: int, client) -> None:
        rounds = max_rounds
        token, unit = sessions[i % len(sessions)]
        cookies = {"jx_session": token}
        await asyncio.sleep(random.uniform(0, ramp))
        while time.perf_counter() < end:
            for page, path in (("leaderboard", "/"), ("static", "/static/app.css"), ("unit", f"/units/{unit}")):
                start = time.perf_counter()
                try:
                    response = await client.get(path, cookies=cookies)
                    why = None if response.status_code == 200 else f"HTTP {response.status_code}"
                except httpx.HTTPError as exc:
                    why = type(exc).__name__
                if why is None:
                    times[page].append(time.perf_counter() - start)
                else:
                    errors[page].append(why)
            rounds -= 1
            if not rounds:
                return
            await asyncio.sleep(random.uniform(5, 15))

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=60) as client:
        await asyncio.gather(*(user(i, client) for i in range(users)))
    return {"times": times, "errors": errors}


def report(name: str, result: dict) -> None:
    static = np.array(result["times"]["static"]) * 1000
    base50, base95 = (np.percentile(static, 50), np.percentile(static, 95)) if len(static) else (np.nan, np.nan)
    print(f"\n{name}")
    print(f"  {'page':<12} {'requests':>8} {'errors':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
          f"{'p50/static':>10} {'p95/static':>10}")
    for page, values in result["times"].items():
        ms = np.array(values) * 1000
        if not len(ms):
            print(f"  {page:<12} {0:>8} {len(result['errors'][page]):>6}")
            continue
        p50, p95, p99 = np.percentile(ms, [50, 95, 99])
        print(f"  {page:<12} {len(ms):>8} {len(result['errors'][page]):>6} {p50:>8.1f} {p95:>8.1f} {p99:>8.1f} "
              f"{p50 / base50:>10.1f} {p95 / base95:>10.1f}")
    failures = Counter(why for whys in result["errors"].values() for why in whys)
    if failures:
        print("  errors: " + ", ".join(f"{why} × {n}" for why, n in failures.most_common()))


def postgres_url() -> tuple[str, object]:
    import sqlalchemy as sa

    server = sa.make_url(POSTGRES)
    engine = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    name = f"jx_web_bench_{uuid.uuid4().hex[:8]}"
    with engine.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with engine.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return server.set(database=name).render_as_string(hide_password=False), drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--ramp", type=float, help="seconds over which users arrive (default: the duration)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds per user, 5-15 s apart (0: until the end)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=18051)
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    args.ramp = args.duration if args.ramp is None else args.ramp
    print(f"{args.users} users, {args.duration:.0f} s, jx serve --workers {args.workers}, {os.cpu_count()} CPUs")
    for kind in (["sqlite", "postgres"] if args.store == "both" else [args.store]):
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp)
            url, cleanup = (f"sqlite:///{home / 'jx.sqlite'}", lambda: None) if kind == "sqlite" else postgres_url()
            try:
                sessions = prepare(url, home)
                proc = serve(url, home, args.port, args.workers)
                try:
                    result = asyncio.run(load(args.port, sessions, args.users, args.duration, args.ramp, args.rounds))
                finally:
                    os.killpg(proc.pid, signal.SIGTERM)
                    try:
                        proc.wait(10)
                    except subprocess.TimeoutExpired:
                        os.killpg(proc.pid, signal.SIGKILL)
                        proc.wait()
                report(f"{kind} store", result)
            finally:
                cleanup()


if __name__ == "__main__":
    main()
