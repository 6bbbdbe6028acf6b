"""The demo business database: deterministic, the right sizes, every unit, plausible rates."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pytest
import sqlalchemy as sa
import yaml

from jx_collectors.system_feed import SystemFeed
from jx_scheme_guangdong import demo
from jxcore.interfaces import CollectContext, CollectRequest
from jxcore.models import Node, NodeKind, Period, Unit, UnitTable

UNITS_FILE = Path(demo.__file__).parent / "scheme" / "units.yaml"


def _units() -> list[Unit]:
    raw = yaml.safe_load(UNITS_FILE.read_text(encoding="utf-8"))["units"]
    return [Unit(u["code"], u["name"], u["staff"], u["entities"]) for u in raw]


UNITS = _units()
SMALL = [u for u in UNITS if u.code in ("hongmei", "shatian", "qishi")]


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "guangdong-demo.duckdb"
    demo.generate(path, UNITS)
    return path


def _checksums(path: Path) -> dict[str, tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {t: con.execute(f"SELECT count(*), sum(hash(t)) FROM {t} t").fetchone() for t in demo.TABLES}


def _collect(path: Path, as_of: dt.date, **requests: dict) -> dict[str, np.ndarray]:
    engine = sa.create_engine(f"duckdb:///{path}", connect_args={"read_only": True})
    ctx = CollectContext(scheme=None, units=UnitTable.from_units(UNITS), period=Period.for_year(as_of.year),
                         as_of=as_of, open_source=lambda name: engine)
    reqs = [CollectRequest(Node(code, code, NodeKind.INDICATOR, "x", 1000), params)
            for code, params in requests.items()]
    try:
        return {code: m.value for code, m in SystemFeed().collect(ctx, reqs).items()}
    finally:
        engine.dispose()


INSPECTION_RATE = {"table": "market_entities", "aggregate": "rate", "where": {"year": 2010, "inspection_due": True},
                   "numerator": {"inspected_on": {"is null": False}}, "window": "inspected_on"}


def test_same_seed_same_tables_other_seed_other_tables(tmp_path):
    demo.generate(tmp_path / "a.duckdb", SMALL, seed=7)
    demo.generate(tmp_path / "b.duckdb", SMALL, seed=7)
    demo.generate(tmp_path / "c.duckdb", SMALL, seed=8)
    first = _checksums(tmp_path / "a.duckdb")
    assert first == _checksums(tmp_path / "b.duckdb")
    assert all(first[t] != other for t, other in _checksums(tmp_path / "c.duckdb").items() if t != "patrol_plans")


def test_entity_counts_follow_units_yaml_and_grow_toward_it(city):
    with duckdb.connect(str(city), read_only=True) as con:
        counts = dict(con.execute("SELECT unit_code || ':' || year, count(*) FROM market_entities "
                                  "GROUP BY ALL").fetchall())
    assert counts["humen:2010"] == 50_000
    assert counts["hongmei:2010"] == 2_300
    assert counts["humen:2007"] == 43_192  # 50,000 / 1.05³
    assert all(counts[f"{u.code}:2010"] == u.entities for u in UNITS)


def test_every_unit_is_in_every_table(city):
    codes = {u.code for u in UNITS}
    with duckdb.connect(str(city), read_only=True) as con:
        for table in demo.TABLES:
            found = {r[0] for r in con.execute(f"SELECT DISTINCT unit_code FROM {table}").fetchall()}
            assert found == codes, table


def test_inspection_rate_2010_is_plausible_for_every_unit(city):
    rate = _collect(city, dt.date(2010, 12, 31), njl=INSPECTION_RATE)["njl"]
    assert np.all((rate >= 0.8) & (rate <= 1.0)), rate
    # the season is March–June: by the end of February few are inspected yet
    early = _collect(city, dt.date(2010, 2, 28), njl=INSPECTION_RATE)["njl"]
    assert np.all(early < 0.1), early


def test_planted_patterns_and_size_do_not_decide(city):
    values = _collect(
        city, dt.date(2010, 12, 31), njl=INSPECTION_RATE,
        reg={"table": "registrations", "aggregate": "rate", "where": {"year": 2010},
             "numerator": {"within_limit": True}, "window": "filed_on", "denominator_window": True},
        complaints={"table": "complaints", "aggregate": "rate", "numerator": {"on_time": True},
                    "window": "received_on", "denominator_window": True},
    )
    at = {u.code: i for i, u in enumerate(UNITS)}
    rank = {k: (-v).argsort().argsort() for k, v in values.items()}  # 0 = best
    assert rank["njl"][at["changping"]] < 5 and rank["reg"][at["changping"]] >= len(UNITS) - 3
    assert rank["njl"][at["humen"]] >= len(UNITS) - 5
    # the smallest branch handles complaints better than the largest
    assert values["complaints"][at["hongmei"]] > values["complaints"][at["humen"]] + 0.05
    size_rank = np.array([-u.entities for u in UNITS]).argsort().argsort()
    assert abs(np.corrcoef(size_rank, rank["njl"])[0, 1]) < 0.5
    first_half = _collect(city, dt.date(2010, 6, 30), r={"table": "research_reports", "window": "submitted_on"})["r"]
    assert first_half[at["qishi"]] == 0 and np.count_nonzero(first_half) >= len(UNITS) - 3


def test_ensure_generates_once_and_again_for_an_older_schema(tmp_path):
    path = tmp_path / "d.duckdb"
    assert demo.ensure(path, SMALL) is True
    assert demo.ensure(path, SMALL) is False
    with duckdb.connect(str(path)) as con:
        con.execute("UPDATE demo_meta SET value = '0' WHERE key = 'schema_version'")
    assert demo.ensure(path, SMALL) is True
    assert demo.ensure(path, SMALL) is False


def test_ensure_never_replaces_a_file_open_elsewhere(tmp_path):
    """A web server's live refresh collects from the file (read-write, through the source engine)
    while a request's run asks ensure() about it: that used to read as 'no version' and regenerate
    the file under its reader."""
    path = tmp_path / "d.duckdb"
    demo.generate(path, SMALL)
    before = path.stat().st_ino
    engine = sa.create_engine(f"duckdb:///{path}")  # as jxcore's SourceOpener opens a source
    with engine.connect() as reading:
        reading.exec_driver_sql("SELECT count(*) FROM cases").fetchone()
        assert demo.ensure(path, SMALL) is False
        assert demo.ensure(path, SMALL) is False  # seen current: not opened again
    engine.dispose()
    assert path.stat().st_ino == before
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
                               "print('open', flush=True); sys.stdin.read()", str(path)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "open\n"
        demo._CURRENT.clear()
        assert demo.ensure(path, SMALL) is False  # another process holds it: left alone
    finally:
        holder.communicate("")
    assert path.stat().st_ino == before


def test_a_failed_generation_leaves_no_file(tmp_path, monkeypatch):
    path = tmp_path / "d.duckdb"
    real_write = demo._write

    def write_then_die(con, name, *args):
        if name == "cases":
            raise KeyboardInterrupt
        real_write(con, name, *args)

    monkeypatch.setattr(demo, "_write", write_then_die)
    with pytest.raises(KeyboardInterrupt):
        demo.generate(path, SMALL)
    assert list(tmp_path.iterdir()) == []


def test_manual_files_are_deterministic_and_sent_as_a_bureau_would(tmp_path):
    from jx_scheme_guangdong import manual

    manual.generate(tmp_path / "a", UNITS, years=[2009])
    manual.generate(tmp_path / "b", UNITS, years=[2009])
    a, b = tmp_path / "a" / "2009", tmp_path / "b" / "2009"
    for name in ("业务抽查登记表.csv", "中介暗访结果.csv", "荣誉.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    visits = (a / "中介暗访结果.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        visits.decode("utf-8")
    assert visits.decode("gbk").startswith("轮次,日期,单位,得分")
    assert (a / "督察通报.xlsx").read_bytes()[:2] == b"PK"  # a real XLSX (zip)
    assert (a / "业务抽查登记表.csv").read_bytes().startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM
