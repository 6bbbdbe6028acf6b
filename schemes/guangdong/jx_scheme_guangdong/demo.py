"""The demo business database of the Dongguan bureau: deterministic from a seed, written to DuckDB.

Every table is drawn at once with numpy (one array per column over all units and years, never a
loop per row or unit) and handed to DuckDB by registering the arrays, so the whole city 2007–2010
(about 2 million entity rows) takes a few seconds. The manual sources (spot-check sheets,
inspection findings, mystery-shopper visits, acceptances, honours, discipline) are written by
:mod:`jx_scheme_guangdong.manual` from the same qualities.

Volumes follow size (market entities, staff); quality does not. Each unit has a quality in [0, 1]
per work area and year (a drawn level plus a yearly wobble), and these patterns are planted on
purpose so that size does not decide the ranking:

==============  ==============================================================================
unit            planted pattern
==============  ==============================================================================
changping 常平   strong in enterprise supervision (inspection, licence checks), weak in registration
humen 虎门       the largest branch, weak in inspection and complaint handling
hongmei 洪梅     the smallest branch, strong in cases, complaints and research
shatian 沙田     small, strong in inspection, registration and patrols
qishi 企石       submits no research report in the first half-year (stage warning)
qiaotou 桥头     weak in every area 2008–2010: bottom three three years running, below the pass line
fenggang 凤岗    weak in every area 2009–2010: bottom three two years running
==============  ==============================================================================
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import duckdb
import numpy as np

from jxcore.models import Unit

#: Bump when a table or column changes: ensure() then regenerates files made by older versions.
SCHEMA_VERSION = 2

AREAS = ("inspection", "licence", "registration", "cases", "patrols", "complaints", "trademarks",
         "ads", "research", "market", "enterprise", "office", "service", "conduct")
PLANTED = {
    "changping": {"inspection": 0.97, "licence": 0.95, "registration": 0.15},
    "humen": {"inspection": 0.15, "complaints": 0.2, "cases": 0.95, "market": 0.9, "patrols": 0.9},
    "hongmei": {"cases": 0.9, "complaints": 0.95, "research": 0.9},
    "shatian": {"inspection": 0.9, "registration": 0.9, "patrols": 0.9},
    "qishi": {"research": 0.0},
}
#: Units weak in every area in the given years: their qualities are scaled by the factor.
PLANTED_WEAK_YEARS = {"qiaotou": (0.2, (2008, 2009, 2010)), "fenggang": (0.5, (2009, 2010))}
GROWTH = 1.05  # market entities grow ~5 % a year toward the units' figure in the last year
ENTITY_KINDS = np.array(["企业", "个体工商户", "农民专业合作社"], dtype=object)
#: Sectors of market entities; the first five are the key and supervised sectors (重点及主管行业).
SECTORS = np.array(["食品", "建材", "网吧", "废旧回收", "娱乐场所", "制造业", "批发零售", "服务业"], dtype=object)
REG_KINDS = np.array(["设立", "变更", "注销"], dtype=object)
CASE_KINDS = np.array(["无照经营", "商标侵权", "虚假广告", "合同欺诈", "不正当竞争", "食品安全", "传销",
                       "消费侵权"], dtype=object)
CASE_SOURCES = np.array(["巡查发现", "投诉举报", "上级交办", "部门移送"], dtype=object)
AREAS_PATROLLED = np.array(["农贸市场", "商业街", "工业区", "学校周边", "城中村"], dtype=object)
COMPLAINT_KINDS = np.array(["消费投诉", "举报", "申诉"], dtype=object)
GUIDANCE_KINDS = np.array(["商标注册", "驰名商标培育", "著名商标培育", "地理标志", "商标专用权保护"], dtype=object)
AD_MEDIA = np.array(["报纸", "电视", "户外", "网络", "印刷品"], dtype=object)
#: Field checks (现场检查) by kind: (kind, work area, checks per 1,000 entities a year, problem rate).
CHECK_KINDS = (
    ("农贸市场检查", "market", 3.0, 0.12), ("食品抽检", "market", 2.0, 0.06), ("商品质量抽检", "market", 1.5, 0.08),
    ("合同格式条款", "market", 0.8, 0.15), ("网络交易监测", "market", 0.6, 0.10), ("拍卖监管", "market", 0.2, 0.05),
    ("经纪人检查", "market", 0.4, 0.07), ("红盾护农", "market", 0.7, 0.09),
    ("企业日常巡查", "enterprise", 12.0, 0.08), ("重点行业检查", "enterprise", 4.0, 0.14),
    ("户籍核查", "enterprise", 6.0, 0.05), ("信用分类监管", "enterprise", 2.5, 0.06),
    ("广告经营者检查", "ads", 0.8, 0.10),
)
#: Office work (办公室): kind → work area; each is a task with a due date.
OFFICE_KINDS = np.array(["信息报送", "统计报表", "信访件", "督办件", "档案归档", "政务公开"], dtype=object)
TABLES = ("market_entities", "registrations", "cases", "patrols", "patrol_plans", "complaints",
          "trademark_guidance", "ad_checks", "research_reports", "checks", "unlicensed", "office_tasks")
NULLABLE_BOOLEANS = ("inspection_passed",)
EPOCH = dt.date(1970, 1, 1)


def _day(year: int, month: int = 1, day: int = 1) -> int:
    return (dt.date(year, month, day) - EPOCH).days


class _Draw:
    """Random draws for rows that each belong to a unit and a year (arrays ``unit``, ``year``)."""

    def __init__(self, rng: np.random.Generator, unit: np.ndarray, year: np.ndarray, q: np.ndarray, first: int):
        self.rng, self.unit, self.year = rng, unit, year
        self.n = len(unit)
        self.year_start = _year_start(year)
        self._q, self._yi = q, np.asarray(year) - first

    def q(self, area: str) -> np.ndarray:
        """Each row's unit quality in ``area`` in the row's year."""
        return self._q[self.unit, self._yi, AREAS.index(area)]

    def chance(self, p: np.ndarray | float) -> np.ndarray:
        return self.rng.random(self.n) < p

    def good(self, area: str, worst: float, best: float) -> np.ndarray:
        """True with a probability from ``worst`` (quality 0) to ``best`` (quality 1)."""
        return self.chance(worst + (best - worst) * self.q(area))

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


def qualities(units: Sequence[Unit], years: Sequence[int], seed: int = 2010) -> np.ndarray:
    """quality[unit, year index, area] in [0, 1]: a drawn level, a yearly wobble, the planted patterns."""
    rng = np.random.default_rng([seed, 1])
    level = rng.beta(4.0, 2.5, size=(len(units), 1, len(AREAS)))
    q = np.clip(level + rng.normal(0, 0.12, size=(len(units), len(years), len(AREAS))), 0.02, 0.98)
    years = list(years)
    for i, unit in enumerate(units):
        for area, value in PLANTED.get(unit.code, {}).items():
            q[i, :, AREAS.index(area)] = value
        factor, weak_years = PLANTED_WEAK_YEARS.get(unit.code, (1.0, ()))
        for year in weak_years:
            if year in years:
                q[i, years.index(year)] *= factor
    return q


def _entities(rng, units, years, q) -> dict[str, np.ndarray]:
    """One row per entity per year; counts grow ~5 %/year up to units' ``entities`` in the last year."""
    last, first = max(years), min(years)
    target = np.array([u.entities for u in units])
    alive = np.rint(target[:, None] / GROWTH ** (last - np.asarray(years))[None, :]).astype(np.int64)
    total = alive.max(axis=1)
    unit = np.repeat(np.arange(len(units)), total)
    rank = np.arange(len(unit)) - np.repeat(np.cumsum(total) - total, total)  # k-th entity of its unit
    # The entities alive in the first year were set up 1990…first-1; later ones in the year they appear.
    est_year = first + (rank[:, None] >= alive[unit]).sum(axis=1)
    est_day = np.where(est_year == first, rng.integers(_day(1990), _day(first), len(unit)),
                       _year_start(est_year) + rng.integers(0, 365, len(unit)))
    kind = ENTITY_KINDS[rng.choice(3, len(unit), p=[0.3, 0.68, 0.02])]
    sector = SECTORS[rng.choice(len(SECTORS), len(unit), p=[0.12, 0.05, 0.02, 0.03, 0.03, 0.25, 0.3, 0.2])]
    entity_id = np.arange(1, len(unit) + 1)

    rows = np.concatenate([np.flatnonzero(rank < alive[unit, yi]) for yi in range(len(years))])
    year = np.concatenate([np.full(int((rank < alive[unit, yi]).sum()), y) for yi, y in enumerate(years)])
    d = _Draw(rng, unit[rows], year, q, first)
    due = est_day[rows] < d.year_start
    inspected = due & d.chance(np.clip(0.85 + 0.14 * d.q("inspection"), 0.8, 0.995))
    passed = d.good("inspection", 0.9, 0.99)
    checked = d.chance(0.55)
    licence_due = checked.copy()
    checked &= d.chance(np.clip(0.82 + 0.16 * d.q("licence"), 0.75, 0.995))
    return {
        "entity_id": entity_id[rows], "unit": d.unit, "year": year, "kind": kind[rows], "sector": sector[rows],
        "established_on": est_day[rows].astype(np.float64),
        "status": np.where(d.chance(0.97), "存续", "吊销").astype(object),
        "inspection_due": due,
        "inspected_on": np.where(inspected, _in_season(d), np.nan),
        "inspection_passed": np.where(inspected, passed, np.nan),
        "licence_check_due": licence_due,
        "licence_checked_on": np.where(checked, _in_season(d), np.nan),
        "info_complete": d.good("enterprise", 0.88, 0.995),
        "credit_rated": d.good("enterprise", 0.75, 0.98),
        "fee_paid": d.good("office", 0.9, 0.995),
    }


def _in_season(d: _Draw) -> np.ndarray:
    """Inspection and licence-check days: the March–June season, mostly."""
    return np.where(d.chance(0.9), d.day_in_year(59, 180), d.day_in_year(0, 364))


def _year_start(years: np.ndarray) -> np.ndarray:
    lookup = np.array([_day(y) for y in range(1900, 2101)])
    return lookup[np.asarray(years) - 1900]


def _counts(rng, per_unit: np.ndarray, n_years: int) -> np.ndarray:
    """Poisson counts per unit and year around ``per_unit`` (expected rows per year)."""
    per_unit = np.asarray(per_unit, dtype=np.float64)
    if per_unit.ndim == 1:
        per_unit = np.repeat(per_unit[:, None], n_years, axis=1)
    return rng.poisson(np.maximum(per_unit, 0.0))


def _tables(rng: np.random.Generator, units: Sequence[Unit], years: Sequence[int], q: np.ndarray) -> dict[str, dict]:
    first, ny = min(years), len(years)
    area = {name: q[:, :, i] for i, name in enumerate(AREAS)}  # [unit, year index]
    entities = np.array([u.entities for u in units], dtype=np.float64)
    staff = np.array([max(u.staff, 1) for u in units], dtype=np.float64)
    tables: dict[str, dict] = {"market_entities": _entities(rng, units, years, q)}

    def draw(per_unit) -> _Draw:
        unit, year = _rows(_counts(rng, per_unit, ny), years)
        return _Draw(rng, unit, year, q, first)

    d = draw(0.25 * entities)
    limit = d.pick(np.array([5, 10, 15, 20]))
    took = np.ceil(rng.exponential(limit * (0.15 + 0.35 * (1 - d.q("registration"))))).astype(np.int64)
    filed = d.day_in_year()
    tables["registrations"] = {
        "reg_id": np.arange(1, d.n + 1), "unit": d.unit, "year": d.year, "kind": d.pick(REG_KINDS, [0.5, 0.4, 0.1]),
        "entity_kind": d.pick(ENTITY_KINDS, [0.3, 0.68, 0.02]),
        "filed_on": filed.astype(np.float64), "completed_on": (filed + took).astype(np.float64),
        "time_limit_days": limit, "days_taken": took, "within_limit": took <= limit,
        "defective": ~d.good("registration", 0.935, 0.995),
        "online": d.good("service", 0.2, 0.6), "one_visit": d.good("registration", 0.7, 0.97),
    }

    d = draw(staff[:, None] * 7 * (0.7 + 0.6 * area["cases"]))
    opened = d.day_in_year()
    closed = opened + rng.integers(5, 120, d.n)
    still_open = closed > d.year_start + 364 + d.chance(0.5) * 60
    tables["cases"] = {
        "case_id": np.arange(1, d.n + 1), "unit": d.unit, "opened_on": opened.astype(np.float64),
        "closed_on": np.where(still_open, np.nan, closed),
        "kind": d.pick(CASE_KINDS, [0.3, 0.1, 0.08, 0.1, 0.08, 0.14, 0.05, 0.15]), "source": d.pick(CASE_SOURCES),
        "major": d.chance(0.002 + 0.01 * d.q("cases")),
        "fine_amount": np.round(rng.lognormal(8.5, 1.2, d.n), 2),
        "closed_in_time": ~still_open & d.good("cases", 0.78, 0.98),
        "review_passed": d.good("cases", 0.8, 0.99), "overturned": ~d.good("cases", 0.96, 0.999),
    }

    planned = np.rint(staff * 100).astype(np.int64)
    d = draw(planned[:, None] * (0.85 + 0.3 * area["patrols"]))
    tables["patrols"] = {"patrol_id": np.arange(1, d.n + 1), "unit": d.unit,
                         "patrol_on": d.day_in_year().astype(np.float64), "area": d.pick(AREAS_PATROLLED),
                         "problems": rng.poisson(0.3, d.n), "rectified": d.good("patrols", 0.8, 0.99)}
    tables["patrol_plans"] = {"unit": np.repeat(np.arange(len(units)), ny),
                              "year": np.tile(np.asarray(years), len(units)), "planned": np.repeat(planned, ny)}

    d = draw(0.02 * entities)
    received = d.day_in_year()
    handled = received + rng.integers(1, 30, d.n)
    unhandled = handled > d.year_start + 364
    tables["complaints"] = {
        "complaint_id": np.arange(1, d.n + 1), "unit": d.unit, "received_on": received.astype(np.float64),
        "handled_on": np.where(unhandled, np.nan, handled), "kind": d.pick(COMPLAINT_KINDS, [0.7, 0.2, 0.1]),
        "on_time": ~unhandled & d.good("complaints", 0.72, 0.99),
        "satisfied": d.good("service", 0.75, 0.98),
        "recovered": np.round(rng.lognormal(6.5, 1.0, d.n) * (0.5 + d.q("complaints")), 2),
    }

    d = draw(staff[:, None] * 2 * (0.4 + area["trademarks"]))
    tables["trademark_guidance"] = {"guidance_id": np.arange(1, d.n + 1), "unit": d.unit,
                                    "guided_on": d.day_in_year().astype(np.float64),
                                    "kind": d.pick(GUIDANCE_KINDS, [0.5, 0.1, 0.15, 0.05, 0.2]),
                                    "registered": d.good("trademarks", 0.2, 0.6)}

    d = draw(0.01 * entities[:, None] * (0.7 + 0.6 * area["ads"]))
    violation = ~d.good("ads", 0.85, 0.97)
    tables["ad_checks"] = {"check_id": np.arange(1, d.n + 1), "unit": d.unit,
                           "checked_on": d.day_in_year().astype(np.float64), "medium": d.pick(AD_MEDIA),
                           "violation": violation, "corrected": violation & d.good("ads", 0.6, 0.98)}

    # One report in each half-year (the stage target), more from the better units; "late" units
    # (research quality < 0.15) write their first one in the second half.
    counts = 2 + _counts(rng, 0.5 + 3 * area["research"], ny)
    unit, year = _rows(counts, years)
    d = _Draw(rng, unit, year, q, first)
    nth = np.arange(d.n) - np.repeat(np.cumsum(counts.ravel()) - counts.ravel(), counts.ravel())
    late = d.q("research") < 0.15
    submitted = np.select([(nth == 0) & ~late, nth <= 1], [d.day_in_year(10, 175), d.day_in_year(185, 360)],
                          d.day_in_year(10, 360))
    names = np.array([u.name for u in units], dtype=object)
    titles = np.char.add(np.char.add(names[unit].astype(str), year.astype(str)), "年调研报告")
    tables["research_reports"] = {"report_id": np.arange(1, d.n + 1), "unit": unit,
                                  "submitted_on": submitted.astype(np.float64), "title": titles.astype(object),
                                  "adopted": d.good("research", 0.1, 0.6)}

    parts = []
    for kind, work, per_thousand, problem_rate in CHECK_KINDS:
        d = draw(entities[:, None] / 1000 * per_thousand * (0.75 + 0.5 * area[work]))
        problem = d.chance(problem_rate)
        parts.append({"unit": d.unit, "checked_on": d.day_in_year().astype(np.float64),
                      "kind": np.full(d.n, kind, dtype=object), "problem": problem,
                      "handled": problem & d.good(work, 0.7, 0.99), "on_time": d.good(work, 0.8, 0.99)})
    tables["checks"] = {"check_id": np.arange(1, sum(len(p["unit"]) for p in parts) + 1),
                        **{k: np.concatenate([p[k] for p in parts]) for k in parts[0]}}

    d = draw(0.004 * entities)
    found = d.day_in_year(0, 300)
    cleared = d.good("enterprise", 0.75, 0.98)
    tables["unlicensed"] = {"case_id": np.arange(1, d.n + 1), "unit": d.unit, "found_on": found.astype(np.float64),
                            "sector": d.pick(SECTORS[:5]), "cleared": cleared,
                            "cleared_on": np.where(cleared, found + rng.integers(3, 60, d.n), np.nan),
                            "licensed_after": cleared & d.chance(0.4)}

    d = draw(np.repeat((20 + staff * 1.5)[:, None], ny, axis=1))
    kind = d.pick(OFFICE_KINDS, [0.25, 0.2, 0.15, 0.15, 0.15, 0.1])
    assigned = d.day_in_year(0, 340)
    tables["office_tasks"] = {"task_id": np.arange(1, d.n + 1), "unit": d.unit, "kind": kind,
                              "assigned_on": assigned.astype(np.float64),
                              "on_time": d.good("office", 0.75, 0.99), "accurate": d.good("office", 0.85, 0.995),
                              "adopted": d.good("research", 0.15, 0.6)}
    return tables


def _write(con: duckdb.DuckDBPyConnection, name: str, columns: dict[str, np.ndarray], codes: np.ndarray) -> None:
    """CREATE TABLE name AS SELECT … from the registered arrays; *_on columns are epoch days (NaN = NULL)."""
    arrays = {("unit_code" if k == "unit" else k): (codes[v] if k == "unit" else v) for k, v in columns.items()}
    select = []
    for col in arrays:
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
    units = list(units)
    tables = _tables(np.random.default_rng([seed, 2]), units, years, qualities(units, years, seed))
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


class _InUse(Exception):
    """The demo file is open elsewhere (this process with another configuration, or another process)."""


def _version(path: Path) -> int | None:
    """The schema version stored in a demo file, or None if it has none or cannot be read."""
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            row = con.execute("SELECT value FROM demo_meta WHERE key = 'schema_version'").fetchone()
    except duckdb.ConnectionException as exc:  # open in this process read-write (a run collecting from it)
        raise _InUse(str(exc)) from exc
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():  # another process holds it read-write
            raise _InUse(str(exc)) from exc
        return None
    except duckdb.Error:
        return None
    return int(row[0]) if row else None


_ENSURE_LOCK = threading.Lock()
_CURRENT: dict[str, tuple[int, int]] = {}  # path -> (mtime_ns, size) of a file already seen current


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_mtime_ns, stat.st_size


def ensure(path: Path, units: Sequence[Unit], *, seed: int = 2010) -> bool:
    """Generate the demo database if it is missing or older than SCHEMA_VERSION; True if it did.

    Runs in the same process (a web server's live refresh beside a request's run) and in other
    processes may ask at once: the threads and processes take turns (a lock file beside the data),
    a file seen current is not opened again while unchanged, and a file that is open elsewhere is
    never replaced under its reader (it was written whole, by ``generate``'s atomic rename).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _ENSURE_LOCK, open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = _stamp(path)
        if stamp is not None:
            if _CURRENT.get(str(path)) == stamp:
                return False
            try:
                current = _version(path) == SCHEMA_VERSION
            except _InUse:
                current = True
            if current:
                _CURRENT[str(path)] = stamp
                return False
        generate(path, units, seed=seed)
        _CURRENT[str(path)] = _stamp(path)
        return True
