"""The demo business database of the Dongguan bureau: deterministic from a seed, written to DuckDB.

Every table is drawn at once with numpy (one array per column over all units and years, never a
loop per row or unit) and handed to DuckDB by registering the arrays, so the whole city 2007–2010
(about 2 million entity rows) takes a few seconds.

Volumes follow size (market entities, staff); quality does not. Each unit has a quality in [0, 1]
per work area, drawn from the seed, and these patterns are planted on purpose so that size does
not decide the ranking (units missing from the list given are skipped):

=============  ===============================================================================
unit           planted pattern
=============  ===============================================================================
changping 常平  strong in enterprise supervision (inspection, licence checks), weak in registration
humen 虎门      the largest branch, weak in inspection and complaint handling
hongmei 洪梅    the smallest branch, strong in cases, complaints and research
shatian 沙田    small, strong in inspection, registration and patrols
qishi 企石      submits no research report in the first half-year (stage warning)
=============  ===============================================================================
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path

import duckdb
import numpy as np

from jxcore.models import Unit

#: Bump when a table or column changes: ensure() then regenerates files made by older versions.
SCHEMA_VERSION = 1

AREAS = ("inspection", "licence", "registration", "cases", "patrols", "complaints", "trademarks",
         "ads", "research")
PLANTED = {
    "changping": {"inspection": 0.97, "licence": 0.95, "registration": 0.05},
    "humen": {"inspection": 0.15, "complaints": 0.2},
    "hongmei": {"cases": 0.9, "complaints": 0.95, "research": 0.9},
    "shatian": {"inspection": 0.9, "registration": 0.9, "patrols": 0.9},
    "qishi": {"research": 0.0},
}
GROWTH = 1.05  # market entities grow ~5 % a year toward the units' figure in the last year
ENTITY_KINDS = np.array(["企业", "个体工商户", "农民专业合作社"], dtype=object)
REG_KINDS = np.array(["设立", "变更", "注销"], dtype=object)
CASE_KINDS = np.array(["无照经营", "商标侵权", "虚假广告", "合同欺诈", "不正当竞争"], dtype=object)
AREAS_PATROLLED = np.array(["农贸市场", "商业街", "工业区", "学校周边", "城中村"], dtype=object)
GUIDANCE_KINDS = np.array(["商标注册", "驰名商标培育", "地理标志"], dtype=object)
TABLES = ("market_entities", "registrations", "cases", "patrols", "patrol_plans", "complaints",
          "trademark_guidance", "ad_checks", "research_reports")
NULLABLE_BOOLEANS = ("inspection_passed",)
EPOCH = dt.date(1970, 1, 1)


def _day(year: int, month: int = 1, day: int = 1) -> int:
    return (dt.date(year, month, day) - EPOCH).days


class _Draw:
    """Random draws for rows that each belong to a unit and a year (arrays ``unit``, ``year``)."""

    def __init__(self, rng: np.random.Generator, unit: np.ndarray, year: np.ndarray):
        self.rng, self.unit, self.year = rng, unit, year
        self.n = len(unit)
        self.year_start = _year_start(year)

    def chance(self, p: np.ndarray | float) -> np.ndarray:
        return self.rng.random(self.n) < p

    def day_in_year(self, first: int = 0, last: int = 364) -> np.ndarray:
        """Epoch days uniformly between day-of-year ``first`` and ``last`` of each row's year."""
        return self.year_start + self.rng.integers(first, last + 1, self.n)

    def pick(self, choices: np.ndarray, p: Sequence[float] | None = None) -> np.ndarray:
        return choices[self.rng.choice(len(choices), self.n, p=p)]


def _rows(counts: np.ndarray, years: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Unit index and year of each row, given counts[unit, year index]."""
    unit = np.repeat(np.repeat(np.arange(counts.shape[0]), counts.shape[1]), counts.ravel())
    year = np.repeat(np.tile(np.asarray(years), counts.shape[0]), counts.ravel())
    return unit, year


def _qualities(rng: np.random.Generator, units: Sequence[Unit]) -> np.ndarray:
    """quality[unit, area] in [0, 1]: drawn, then the planted patterns."""
    q = rng.beta(4.0, 2.5, size=(len(units), len(AREAS)))
    for i, unit in enumerate(units):
        for area, value in PLANTED.get(unit.code, {}).items():
            q[i, AREAS.index(area)] = value
    return q


def _entities(rng, units, years, q) -> dict[str, np.ndarray]:
    """One row per entity per year; counts grow ~5 %/year up to units' ``entities`` in the last year."""
    last = max(years)
    target = np.array([u.entities for u in units])
    alive = np.rint(target[:, None] / GROWTH ** (last - np.asarray(years))[None, :]).astype(np.int64)
    total = alive.max(axis=1)
    unit = np.repeat(np.arange(len(units)), total)
    rank = np.arange(len(unit)) - np.repeat(np.cumsum(total) - total, total)  # k-th entity of its unit
    first = min(years)
    # The entities alive in the first year were set up 1990…first-1; later ones in the year they appear.
    est_year = first + (rank[:, None] >= alive[unit]).sum(axis=1)
    est_day = np.where(est_year == first, rng.integers(_day(1990), _day(first), len(unit)),
                       _year_start(est_year) + rng.integers(0, 365, len(unit)))
    kind = ENTITY_KINDS[rng.choice(3, len(unit), p=[0.3, 0.68, 0.02])]
    entity_id = np.arange(1, len(unit) + 1)

    parts = []
    for yi, year in enumerate(years):
        rows = np.flatnonzero(rank < alive[unit, yi])
        parts.append((rows, np.full(len(rows), year)))
    rows = np.concatenate([r for r, _ in parts])
    year = np.concatenate([y for _, y in parts])
    u = unit[rows]
    d = _Draw(rng, u, year)
    quality = q[:, AREAS.index("inspection")]
    # A unit's rate moves a little from year to year around its quality: 85 … 99 %.
    drift = rng.normal(0, 0.01, size=(len(units), len(years)))
    p_inspect = np.clip(0.85 + 0.14 * quality[u] + drift[u, year - first], 0.8, 0.995)
    due = est_day[rows] < d.year_start
    inspected = due & d.chance(p_inspect)
    inspected_on = _in_season(d)
    passed = d.chance(0.9 + 0.09 * quality[u])
    licence_q = q[:, AREAS.index("licence")]
    licence_due = d.chance(0.55)
    checked = licence_due & d.chance(np.clip(0.82 + 0.16 * licence_q[u] + drift[u, year - first], 0.75, 0.995))
    return {
        "entity_id": entity_id[rows], "unit": u, "year": year, "kind": kind[rows],
        "established_on": est_day[rows].astype(np.float64),
        "status": np.where(d.chance(0.97), "存续", "吊销").astype(object),
        "inspection_due": due,
        "inspected_on": np.where(inspected, inspected_on, np.nan),
        "inspection_passed": np.where(inspected, passed, np.nan),
        "licence_check_due": licence_due,
        "licence_checked_on": np.where(checked, _in_season(d), np.nan),
    }


def _in_season(d: _Draw) -> np.ndarray:
    """Inspection and licence-check days: the March–June season, mostly."""
    return np.where(d.chance(0.9), d.day_in_year(59, 180), d.day_in_year(0, 364))


def _year_start(years: np.ndarray) -> np.ndarray:
    lookup = np.array([_day(y) for y in range(1900, 2101)])
    return lookup[np.asarray(years) - 1900]


def _counts(rng, per_unit: np.ndarray, n_years: int) -> np.ndarray:
    """Poisson counts per unit and year around ``per_unit`` (expected rows per year)."""
    return rng.poisson(np.repeat(np.maximum(per_unit, 0.0)[:, None], n_years, axis=1))


def _tables(rng: np.random.Generator, units: Sequence[Unit], years: Sequence[int]) -> dict[str, dict]:
    q = _qualities(rng, units)
    area = {name: q[:, i] for i, name in enumerate(AREAS)}
    entities = np.array([u.entities for u in units], dtype=np.float64)
    staff = np.array([max(u.staff, 1) for u in units], dtype=np.float64)
    ny = len(years)
    tables: dict[str, dict] = {"market_entities": _entities(rng, units, years, q)}

    unit, year = _rows(_counts(rng, 0.25 * entities, ny), years)
    d = _Draw(rng, unit, year)
    limit = d.pick(np.array([5, 10, 15, 20]))
    took = np.ceil(rng.exponential(limit * (0.35 + 0.6 * (1 - area["registration"][unit])))).astype(np.int64)
    filed = d.day_in_year()
    tables["registrations"] = {
        "reg_id": np.arange(1, d.n + 1), "unit": unit, "year": year, "kind": d.pick(REG_KINDS, [0.5, 0.4, 0.1]),
        "filed_on": filed.astype(np.float64), "completed_on": (filed + took).astype(np.float64),
        "time_limit_days": limit, "within_limit": took <= limit,
        "defective": d.chance(0.005 + 0.06 * (1 - area["registration"][unit])),
    }

    unit, year = _rows(_counts(rng, staff * 7 * (0.7 + 0.6 * area["cases"]), ny), years)
    d = _Draw(rng, unit, year)
    opened = d.day_in_year()
    duration = rng.integers(5, 120, d.n)
    closed = opened + duration
    still_open = closed > d.year_start + 364 + d.chance(0.5) * 60
    tables["cases"] = {
        "case_id": np.arange(1, d.n + 1), "unit": unit, "opened_on": opened.astype(np.float64),
        "closed_on": np.where(still_open, np.nan, closed), "kind": d.pick(CASE_KINDS),
        "major": d.chance(0.03),
        "fine_amount": np.round(rng.lognormal(8.5, 1.2, d.n), 2),
        "closed_in_time": ~still_open & d.chance(0.78 + 0.2 * area["cases"][unit]),
    }

    planned = np.rint(staff * 100).astype(np.int64)
    done = np.rint(planned * (0.85 + 0.3 * area["patrols"]))
    unit, year = _rows(_counts(rng, done, ny), years)
    d = _Draw(rng, unit, year)
    tables["patrols"] = {"patrol_id": np.arange(1, d.n + 1), "unit": unit, "patrol_on": d.day_in_year().astype(np.float64),
                         "area": d.pick(AREAS_PATROLLED)}
    tables["patrol_plans"] = {"unit": np.repeat(np.arange(len(units)), ny), "year": np.tile(np.asarray(years), len(units)),
                              "planned": np.repeat(planned, ny)}

    unit, year = _rows(_counts(rng, 0.02 * entities, ny), years)
    d = _Draw(rng, unit, year)
    received = d.day_in_year()
    handled = received + rng.integers(1, 30, d.n)
    unhandled = handled > d.year_start + 364
    tables["complaints"] = {
        "complaint_id": np.arange(1, d.n + 1), "unit": unit, "received_on": received.astype(np.float64),
        "handled_on": np.where(unhandled, np.nan, handled),
        "on_time": ~unhandled & d.chance(0.72 + 0.27 * area["complaints"][unit]),
    }

    unit, year = _rows(_counts(rng, staff * 2 * (0.4 + area["trademarks"]), ny), years)
    d = _Draw(rng, unit, year)
    tables["trademark_guidance"] = {"guidance_id": np.arange(1, d.n + 1), "unit": unit,
                                    "guided_on": d.day_in_year().astype(np.float64), "kind": d.pick(GUIDANCE_KINDS)}

    unit, year = _rows(_counts(rng, 0.01 * entities, ny), years)
    d = _Draw(rng, unit, year)
    tables["ad_checks"] = {"check_id": np.arange(1, d.n + 1), "unit": unit,
                           "checked_on": d.day_in_year().astype(np.float64),
                           "violation": d.chance(0.03 + 0.12 * (1 - area["ads"][unit]))}

    # One report in each half-year (the stage target), more from the better units; "late" units
    # (research quality < 0.15) write their first one in the second half.
    counts = 2 + _counts(rng, 0.5 + 3 * area["research"], ny)
    unit, year = _rows(counts, years)
    d = _Draw(rng, unit, year)
    nth = np.arange(d.n) - np.repeat(np.cumsum(counts.ravel()) - counts.ravel(), counts.ravel())
    late = area["research"][unit] < 0.15
    submitted = np.select([(nth == 0) & ~late, nth <= 1], [d.day_in_year(10, 175), d.day_in_year(185, 360)],
                          d.day_in_year(10, 360))
    names = np.array([u.name for u in units], dtype=object)
    titles = np.char.add(np.char.add(names[unit].astype(str), year.astype(str)), "年调研报告")
    tables["research_reports"] = {"report_id": np.arange(1, d.n + 1), "unit": unit,
                                  "submitted_on": submitted.astype(np.float64), "title": titles.astype(object)}
    return tables


def _write(con: duckdb.DuckDBPyConnection, name: str, columns: dict[str, np.ndarray], codes: np.ndarray) -> None:
    """CREATE TABLE name AS SELECT … from the registered arrays; *_on columns are epoch days (NaN = NULL)."""
    arrays = {("unit_code" if k == "unit" else k): (codes[v] if k == "unit" else v) for k, v in columns.items()}
    select = []
    for col, values in arrays.items():
        if col.endswith("_on"):
            select.append(f"DATE '1970-01-01' + CAST({col} AS INTEGER) AS {col}")
        elif col in NULLABLE_BOOLEANS:  # float 1/0 with NaN for NULL
            select.append(f"CAST({col} AS BOOLEAN) AS {col}")
        else:
            select.append(col)
    con.register("_src", arrays)
    con.execute(f"CREATE TABLE {name} AS SELECT {', '.join(select)} FROM _src")
    con.unregister("_src")


def generate(path: Path, units: Sequence[Unit], *, years: Sequence[int] = range(2007, 2011), seed: int = 2010) -> None:
    """Write the demo database to ``path`` atomically (a killed generation leaves no half file)."""
    path = Path(path)
    years = list(years)
    tables = _tables(np.random.default_rng(seed), list(units), years)
    codes = np.array([u.code for u in units], dtype=object)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with duckdb.connect(str(tmp)) as con:
            for name in TABLES:
                _write(con, name, tables[name], codes)
            con.execute("CREATE TABLE demo_meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
            con.executemany("INSERT INTO demo_meta VALUES (?, ?)",
                            [("schema_version", str(SCHEMA_VERSION)), ("seed", str(seed)),
                             ("years", f"{years[0]}-{years[-1]}")])
            con.execute("CHECKPOINT")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
        Path(str(tmp) + ".wal").unlink(missing_ok=True)


def _version(path: Path) -> int | None:
    """The schema version stored in a demo file, or None if it has none or cannot be read."""
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            row = con.execute("SELECT value FROM demo_meta WHERE key = 'schema_version'").fetchone()
    except duckdb.Error:
        return None
    return int(row[0]) if row else None


def ensure(path: Path, units: Sequence[Unit], *, seed: int = 2010) -> bool:
    """Generate the demo database if it is missing or older than SCHEMA_VERSION; True if it did."""
    path = Path(path)
    if path.exists() and _version(path) == SCHEMA_VERSION:
        return False
    generate(path, units, seed=seed)
    return True
