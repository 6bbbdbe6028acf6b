"""Nothing lost under load: clerks entering data on the web while branch heads read the leaderboard.

    .venv/bin/python bench/web_entry_load.py                          # 20 clerks, 300 readers, 60 s, both stores
    .venv/bin/python bench/web_entry_load.py --duration 20 --readers 50 --store sqlite

``jx serve --workers N`` runs on 127.0.0.1 in a subprocess, on a guangdong store with a 2010 run.
Half the clerks are inspectors saving single findings through the entry form (``POST
/entry/new/inspection``); the other half are DJK clerks uploading spot-check CSV files of 5 rows,
each previewed (``POST …/upload``) and then confirmed (``POST /entry/uploads/TOKEN/confirm``). The
readers open the leaderboard (``/``) again and again, 1-3 s apart. Every request carries a real
session cookie and CSRF token.

Afterwards, from the store: every accepted entry (a 303 from the form or the confirmation) is in
the store exactly once and in the audit chain exactly once, no entry the server did not accept is
there, and ``verify`` passes. Printed: requests, refusals, p50/p95/p99 in milliseconds per kind
of request, and entries per second. Not a test: the figures depend on the machine (2 shared cores).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from web_load import BIN, postgres_url, serve

SPOT_HEADER = "日期,单位,档案类别,档案号,瑕疵\n"
DEFECTS = ["", "超越职权", "程序错误", "超过时限"]


def prepare(url: str, home: Path, clerks: int, readers: int) -> tuple[list, list, list[str]]:
    """A 2010 run, the clerks (half inspectors, half DJK clerks) and branch readers with sessions:
    (clerk sessions, reader tokens, unit names)."""
    subprocess.run([str(BIN / "jx"), "run", "--scheme", "guangdong", "--period", "2010", "--as-of", "2010-09-30",
                    "--db", url, "--json"], env={**os.environ, "JX_HOME": str(home)}, check=True,
                   stdout=subprocess.DEVNULL)
    from jxcore.records.access import add_user
    from jxcore.scheme import load_scheme
    from jxcore.services import auth
    from jxcore.store import Store
    from jxcore.testing import installed_registry

    scheme = load_scheme(installed_registry().scheme_pack("guangdong").path, 2010)
    with Store.open(url) as store:
        add_user(store, "admin", role="admin")
        for i in range(clerks):
            inspector = i % 2 == 0
            add_user(store, f"bench-{i}", role="inspector" if inspector else "clerk",
                     department="DCS" if inspector else "DJK", by="admin")
        for unit in scheme.units:
            add_user(store, f"branch-{unit.code}", role="viewer", by="admin")
            auth.set_unit(store, f"branch-{unit.code}", unit.code, by="admin")
        made = {a.name: a for a in auth.accounts(store)}
        writers = [(auth.create_session(store, made[f"bench-{i}"]), i % 2 == 0) for i in range(clerks)]
        branches = [a for a in made.values() if a.unit_code]
        reading = [auth.create_session(store, branches[i % len(branches)]).token for i in range(readers)]
    return ([(s.token, s.csrf, inspector) for s, inspector in writers], reading, [u.name for u in scheme.units])


async def load(port: int, writers: list, readers: list[str], units: list[str], duration: float) -> dict:
    import httpx

    times: dict[str, list[float]] = {"form save": [], "upload preview": [], "upload confirm": [], "leaderboard": []}
    refused: Counter[str] = Counter()
    accepted = {"entries": [], "batches": []}
    end = time.perf_counter() + duration
    limits = httpx.Limits(max_connections=len(writers) + len(readers))

    async def timed(kind: str, call):
        start = time.perf_counter()
        try:
            response = await call
        except httpx.HTTPError as exc:
            refused[f"{kind}: {type(exc).__name__}"] += 1
            return None
        times[kind].append(time.perf_counter() - start)
        return response

    async def inspector(n: int, token: str, csrf: str, client) -> None:
        count = 0
        while time.perf_counter() < end:
            count += 1
            day = f"2010-{random.randint(1, 9):02d}-{random.randint(1, 28):02d}"
            data = {"csrf": csrf, "action": "save", "date": day,
                    "unit": random.choice(units), "finding": "dress", "note": f"bench-{n}-{count}", "inspector": "压测"}
            response = await timed("form save", client.post("/entry/new/inspection", data=data,
                                                             cookies={"jx_session": token}))
            if response is not None and response.status_code == 303:
                accepted["entries"].append(int(response.headers["location"].split("/")[-1].split("?")[0]))
            elif response is not None:
                refused[f"form save: HTTP {response.status_code}"] += 1

    async def uploader(n: int, token: str, csrf: str, client) -> None:
        count = 0
        while time.perf_counter() < end:
            count += 1
            rows = "".join(f"2010-{random.randint(1, 9):02d}-{random.randint(1, 28):02d},{random.choice(units)},登记,"
                           f"B-{n}-{count}-{k},{random.choice(DEFECTS)}\n" for k in range(5))
            files = {"file": (f"bench-{n}-{count}.csv", (SPOT_HEADER + rows).encode("utf-8"), "text/csv")}
            preview = await timed("upload preview", client.post("/entry/new/spot_check/upload", data={"csrf": csrf},
                                                                 files=files, cookies={"jx_session": token}))
            if preview is None or preview.status_code != 200:
                refused[f"upload preview: HTTP {getattr(preview, 'status_code', '-')}"] += 1
                continue
            upload = re.search(r"/entry/uploads/([^/]+)/confirm", preview.text).group(1)
            done = await timed("upload confirm", client.post(f"/entry/uploads/{upload}/confirm", data={"csrf": csrf},
                                                             cookies={"jx_session": token}))
            if done is not None and done.status_code == 303:
                accepted["batches"].append(done.headers["location"].split("/")[-1].split("?")[0])
            elif done is not None:
                refused[f"upload confirm: HTTP {done.status_code}"] += 1

    async def reader(token: str, client) -> None:
        await asyncio.sleep(random.uniform(0, 3))
        while time.perf_counter() < end:
            response = await timed("leaderboard", client.get("/", cookies={"jx_session": token}))
            if response is not None and response.status_code != 200:
                refused[f"leaderboard: HTTP {response.status_code}"] += 1
            await asyncio.sleep(random.uniform(1, 3))

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=120) as client:
        tasks = [(inspector if is_inspector else uploader)(n, token, csrf, client)
                 for n, (token, csrf, is_inspector) in enumerate(writers)]
        tasks += [reader(token, client) for token in readers]
        started = time.perf_counter()
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
    return {"times": times, "refused": refused, "accepted": accepted, "elapsed": elapsed}


def check(url: str):
    """(the bench's entries in the store, chain records per entry key, the verification)."""
    from jxcore import services
    from jxcore.services.audit import audit_links
    from jxcore.store import Store

    with Store.open(url) as store:
        entries = store.entries("guangdong", 2010, include_superseded=True)
        mine = [e for e in entries if str(e.payload.get("note") or "").startswith("bench-")
                or str(e.payload.get("file_no") or "").startswith("B-")]
        chained: Counter[str] = Counter()
        before = None
        while True:
            links = audit_links(store, table="entries", before=before, limit=1000)
            chained.update(key for link in links for key in link.keys())
            if len(links) < 1000:
                break
            before = links[-1].seq
        verification = services.verify_store(store)
    return mine, chained, verification


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clerks", type=int, default=20)
    parser.add_argument("--readers", type=int, default=300)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=19051)
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    print(f"{args.clerks} clerks, {args.readers} readers, {args.duration:.0f} s, jx serve --workers {args.workers}, "
          f"{os.cpu_count()} CPUs")
    failed = False
    for kind in (["sqlite", "postgres"] if args.store == "both" else [args.store]):
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp)
            url, cleanup = (f"sqlite:///{home / 'jx.sqlite'}", lambda: None) if kind == "sqlite" else postgres_url()
            try:
                writers, readers, units = prepare(url, home, args.clerks, args.readers)
                proc = serve(url, home, args.port, args.workers)
                try:
                    result = asyncio.run(load(args.port, writers, readers, units, args.duration))
                finally:
                    os.killpg(proc.pid, signal.SIGTERM)
                    try:
                        proc.wait(10)
                    except subprocess.TimeoutExpired:
                        os.killpg(proc.pid, signal.SIGKILL)
                        proc.wait()
                failed |= not report(kind, url, result)
            finally:
                cleanup()
    raise SystemExit(1 if failed else 0)


def report(kind: str, url: str, result: dict) -> bool:
    """Print the figures and the store's check; whether nothing was lost or doubled."""
    print(f"\n{kind} store")
    print(f"  {'request':<16} {'count':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for name, values in result["times"].items():
        ms = np.array(values) * 1000
        if len(ms):
            p50, p95, p99 = np.percentile(ms, [50, 95, 99])
            print(f"  {name:<16} {len(ms):>7} {p50:>8.1f} {p95:>8.1f} {p99:>8.1f}")
    if result["refused"]:
        print("  not accepted: " + ", ".join(f"{why} × {n}" for why, n in result["refused"].most_common()))
    mine, chained, verification = check(url)
    accepted = result["accepted"]
    expected = set(accepted["entries"])
    batches = set(accepted["batches"])
    stored = Counter(e.id for e in mine)
    from_batches = {e.id for e in mine if e.batch_id in batches}
    wanted = expected | from_batches
    lost = sorted(expected - set(stored))
    doubled = sorted(i for i, n in stored.items() if n > 1)
    unasked = sorted(set(stored) - wanted)
    short_batches = len(from_batches) != 5 * len(batches)
    unchained = sorted(i for i in wanted if chained[str(i)] != 1)
    print(f"  accepted: {len(expected)} form entries, {len(batches)} files ({5 * len(batches)} entries); "
          f"{len(wanted) / result['elapsed']:.1f} entries/s")
    print(f"  in the store: {len(stored)} bench entries; lost {len(lost)}, doubled {len(doubled)}, not accepted "
          f"{len(unasked)}, files short {int(short_batches)}; chained other than once {len(unchained)}")
    print(f"  verify: {'ok' if verification.ok else 'FAILED'} ({verification.size} records)")
    for finding in verification.findings[:5]:
        print(f"    {finding}")
    return not (lost or doubled or unasked or short_batches or unchained or not verification.ok)


if __name__ == "__main__":
    main()
