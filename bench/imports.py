"""Import benchmark: large valid CSVs of spot checks through jx's import, against reading them.

    .venv/bin/python bench/imports.py [--mib 5,20,50] [--work DIR] [--cases baseline,check,import]
                                      [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test]
                                      [--pg-database jx_imports_bench]

Writes (once, cached in --work) a valid spot-check CSV of about each ``--mib`` MiB for the installed
guangdong pack's 2010 plan (about 44 bytes a row: 50 MiB is 1.15M rows), then runs each case in a
fresh process and prints wall and CPU seconds, peak memory (the process's VmHWM: interpreter and
imports included) and each case's ratio to the baseline measured in the same run, for each size:

- ``baseline``: the floor: ``csv.reader`` over the decoded file, every row touched, nothing checked;
- ``check``: ``FileCheck(...).chunks()``: every cell checked, entries made and dropped chunk by
  chunk (no store);
- ``check_file``: ``check_file``: the same, all entries kept in one list;
- ``import``: ``jxcore.services.entries.import_file`` into a fresh SQLite store: read, check, stage,
  write and chain in one transaction (what ``jx import`` does);
- ``import_pg``: the same into a fresh PostgreSQL database ``jx_imports_bench`` (or
  ``--pg-database``: two benches on one server need two names) made on the server of ``--pg``
  (added to the cases when ``--pg`` is given). The server's own CPU (triggers, indexes)
  is not in the CPU seconds; the wall seconds include it.

Peak memory that stays flat from 5 to 50 MiB is the point: an import holds one chunk. No timing
here is asserted by a test; the figures are for docs/imports.md and the issue.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import subprocess
import sys
from pathlib import Path

from scale import (  # the clocks and memory figure of the scale bench
    _clock,
    _since,
    peak_mib,
)

CASES = ("baseline", "check", "check_file", "import")
KIND = "spot_check"


def write_csv(path: Path, mib: int, seed: int = 2010) -> int:
    """A valid spot-check CSV of about ``mib`` MiB with unique (archive, file_no) keys; its row count."""
    from jx_scheme_guangdong import PACK_DIR
    from jxcore.scheme import load_scheme

    scheme = load_scheme(PACK_DIR, 2010)
    names = [u.name for u in scheme.units]
    rnd = random.Random(seed)
    days = [dt.date(2010, 1, 1) + dt.timedelta(days=d) for d in range(365)]
    defects = ["", "", "", "超越职权", "程序错误", "超过时限、程序错误"]
    rows = 0
    target = mib << 20
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("日期,单位,档案类别,档案号,瑕疵\n")
        while out.tell() < target:
            lines = [f"{rnd.choice(days)},{rnd.choice(names)},{'登记' if i % 3 else '案件'},"
                     f"DJ{rows + i:08d},{rnd.choice(defects)}\n" for i in range(10_000)]
            out.write("".join(lines))
            rows += len(lines)
    return rows


def _scheme():
    from jx_scheme_guangdong import PACK_DIR
    from jxcore.scheme import load_scheme

    return load_scheme(PACK_DIR, 2010)


def case_baseline(path: Path, work: Path) -> dict:
    import csv

    started = _clock()
    rows = 0
    with open(path, encoding="utf-8", newline="") as text:
        for record in csv.reader(text):
            rows += len(record) > 0
    return {**_since(started), "rows": rows - 1}


def case_check(path: Path, work: Path) -> dict:
    from jx_collectors.manual.importer import FileCheck
    from jx_collectors.manual.kinds import KINDS
    from jx_collectors.manual.reading import read_bounded

    scheme = _scheme()
    started = _clock()
    check = FileCheck(scheme, KINDS[KIND], path.name, read_bounded(path))
    for _chunk in check.chunks():
        pass
    return {**_since(started), "rows": check.rows}


def case_check_file(path: Path, work: Path) -> dict:
    from jx_collectors.manual.importer import check_file
    from jx_collectors.manual.kinds import KINDS
    from jx_collectors.manual.reading import read_bounded

    scheme = _scheme()
    started = _clock()
    rows, _ = check_file(scheme, KINDS[KIND], path.name, read_bounded(path))
    return {**_since(started), "rows": len(rows)}


def case_import(path: Path, work: Path) -> dict:
    from jxcore.plugins import Registry, get_plugin_manager
    from jxcore.services.entries import import_file
    from jxcore.store import Store

    registry = Registry.from_plugin_manager(get_plugin_manager())
    scheme = _scheme()
    db = work / "bench-import.sqlite"
    for old in work.glob("bench-import.sqlite*"):
        old.unlink()
    with Store.open(f"sqlite:///{db}") as store:
        started = _clock()
        report = import_file(store, registry, scheme, KIND, path, user="bench")
        got = _since(started)
    return {**got, "rows": report.rows}


PG_DATABASE = "jx_imports_bench"


def _pg_database(server: str, name: str = PG_DATABASE) -> str:
    """A fresh, empty database ``name`` on the server of ``server`` (dropped first); its URL."""
    import sqlalchemy as sa

    url = sa.make_url(server)
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with engine.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def case_import_pg(path: Path, work: Path, pg: str | None = None, database: str = PG_DATABASE) -> dict:
    from jxcore.plugins import Registry, get_plugin_manager
    from jxcore.services.entries import import_file
    from jxcore.store import Store

    registry = Registry.from_plugin_manager(get_plugin_manager())
    scheme = _scheme()
    with Store.open(_pg_database(pg, database)) as store:
        started = _clock()
        report = import_file(store, registry, scheme, KIND, path, user="bench")
        got = _since(started)
    return {**got, "rows": report.rows}


def run_case(case: str, path: Path, work: Path, pg: str | None = None, database: str = PG_DATABASE) -> dict:
    out = subprocess.run([sys.executable, __file__, "--case", case, "--file", str(path), "--work", str(work),
                          *(["--pg", pg, "--pg-database", database] if pg else [])],
                         capture_output=True, text=True, check=False)
    if out.returncode:
        return {"error": (out.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", default="5,20,50", help="file sizes in MiB, comma-separated")
    parser.add_argument("--work", type=Path, default=Path("/tmp/jx-bench-imports"))
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--pg", help="a PostgreSQL URL: its server gets a fresh database jx_imports_bench")
    parser.add_argument("--pg-database", default=PG_DATABASE,
                        help="the name of that database (dropped and made again for each import_pg)")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        case = globals()[f"case_{args.case}"]
        got = (case(args.file, args.work, args.pg, args.pg_database) if args.case == "import_pg"
               else case(args.file, args.work))
        got["peak_mib"] = peak_mib()
        print(json.dumps(got))
        return
    args.work.mkdir(parents=True, exist_ok=True)
    cases = args.cases.split(",") + (["import_pg"] if args.pg and "import_pg" not in args.cases else [])
    for mib in (int(m) for m in args.mib.split(",")):
        path = args.work / f"spot-checks-{mib}mib.csv"
        if not path.exists():
            rows = write_csv(path, mib)
            print(f"wrote {path} ({path.stat().st_size / (1 << 20):.1f} MiB, {rows:,} rows)", flush=True)
        got = {case: run_case(case, path, args.work, args.pg, args.pg_database) for case in cases}
        base = got.get("baseline", {})
        print(f"\n== {path.name}: {path.stat().st_size / (1 << 20):.1f} MiB")
        print(f"  {'case':11} {'rows':>10} {'wall s':>8} {'cpu s':>8} {'peak MiB':>9} {'× baseline':>11} {'(cpu)':>6}")
        for case, r in got.items():
            if "error" in r:
                print(f"  {case:11} failed: {r['error']}")
                continue
            wall, cpu = (f"{r[k] / base[k]:.1f}" if base.get(k) else "–" for k in ("seconds", "cpu_seconds"))
            print(f"  {case:11} {r['rows']:>10,} {r['seconds']:8.2f} {r['cpu_seconds']:8.2f} {r['peak_mib']:9.0f} "
                  f"{wall:>11} {cpu:>6}", flush=True)
    print("  (CPU seconds stay comparable when other work shares the cores; wall seconds do not)")


if __name__ == "__main__":
    main()
