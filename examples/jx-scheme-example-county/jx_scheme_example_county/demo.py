"""The demo business database: a SQLite file written from the yearly figures below, on first use.

A real county points the scheme's ``business`` source at its own database (``EXAMPLE_COUNTY_SOURCE_URL``)
and never runs this. The figures are per unit and year, so expected scores can be worked out by
hand: ``(rows, rows flagged good)``; the good rows' flags and the dates are spread evenly over the
year, so a run as of 31 December sees them all.

Tables (dates as ISO text, flags 0/1): ``registrations(unit_code, filed_on, within_limit)``,
``cases(unit_code, opened_on, closed_in_time)``, ``complaints(unit_code, received_on, on_time)``,
``patrols(unit_code, patrol_on)``, and ``demo_meta(version)``.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import tempfile
from pathlib import Path

#: Bump when the figures or tables change: an older file is then written again.
VERSION = 1

#: year -> unit -> (registrations, within limit), (cases, closed in time), (complaints, on time), patrols
FIGURES: dict[int, dict[str, tuple[tuple[int, int], tuple[int, int], tuple[int, int], int]]] = {
    2011: {
        "dipu": ((36, 33), (56, 50), (30, 28), 240),
        "xiaofeng": ((18, 16), (24, 22), (15, 14), 120),
        "meixi": ((18, 16), (28, 25), (15, 12), 120),
        "xilong": ((9, 9), (8, 8), (8, 8), 35),
        "tianhuangping": ((9, 8), (15, 12), (8, 7), 36),
        "hanggai": ((6, 5), (6, 5), (4, 4), 18),
        "baofu": ((5, 4), (10, 9), (5, 5), 25),
        "zhangcun": ((4, 4), (6, 6), (3, 3), 20),
    },
    2012: {
        "dipu": ((40, 38), (70, 63), (40, 38), 270),
        "xiaofeng": ((20, 19), (32, 30), (20, 20), 144),
        "meixi": ((20, 17), (42, 42), (20, 18), 150),
        "xilong": ((10, 10), (12, 9), (10, 10), 42),
        "tianhuangping": ((10, 9), (20, 17), (10, 9), 36),
        "hanggai": ((8, 7), (8, 8), (5, 5), 12),
        "baofu": ((5, 5), (14, 13), (6, 6), 30),
        "zhangcun": ((4, 3), (12, 11), (4, 4), 24),
    },
}

TABLES = {
    "registrations": ("filed_on", "within_limit"),
    "cases": ("opened_on", "closed_in_time"),
    "complaints": ("received_on", "on_time"),
}


def spread(year: int, n: int, good: int) -> list[tuple[str, int]]:
    """``n`` (date, flag) rows evenly over the year, ``n - good`` of them flagged 0, also evenly."""
    days = (dt.date(year, 12, 31) - dt.date(year, 1, 1)).days + 1
    bad = n - good
    return [((dt.date(year, 1, 1) + dt.timedelta(days=(2 * i + 1) * days // (2 * n))).isoformat(),
             0 if (i + 1) * bad // n > i * bad // n else 1) for i in range(n)]


def rows() -> dict[str, list[tuple]]:
    """Every table's rows, from FIGURES."""
    out: dict[str, list[tuple]] = {name: [] for name in (*TABLES, "patrols")}
    for year, units in FIGURES.items():
        for unit, (*flagged, patrols) in units.items():
            for table, (n, good) in zip(TABLES, flagged):
                out[table] += [(unit, day, flag) for day, flag in spread(year, n, good)]
            out["patrols"] += [(unit, day) for day, _ in spread(year, patrols, patrols)]
    return out


def current(path: Path) -> bool:
    """Whether ``path`` is a demo database of this VERSION."""
    if not path.exists():
        return False
    try:
        with sqlite3.connect(path) as con:
            return con.execute("SELECT version FROM demo_meta").fetchone() == (VERSION,)
    except sqlite3.Error:
        return False


def ensure(path: Path) -> Path:
    """Write the demo database at ``path`` unless it is already there; atomic, safe to race."""
    if current(path):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        con = sqlite3.connect(tmp)
        with con:
            for table, (date_col, flag_col) in TABLES.items():
                con.execute(f"CREATE TABLE {table} (unit_code TEXT NOT NULL, {date_col} DATE NOT NULL, "
                            f"{flag_col} BOOLEAN NOT NULL)")
            con.execute("CREATE TABLE patrols (unit_code TEXT NOT NULL, patrol_on DATE NOT NULL)")
            for table, data in rows().items():
                marks = ", ".join("?" * len(data[0]))
                con.executemany(f"INSERT INTO {table} VALUES ({marks})", data)
            con.execute("CREATE TABLE demo_meta (version INTEGER NOT NULL)")
            con.execute("INSERT INTO demo_meta VALUES (?)", (VERSION,))
        con.close()
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
