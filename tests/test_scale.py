"""National scale: the synthetic generator, `jx demo generate`, units.csv, live updates, Trino SQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import pytest
import sqlalchemy as sa

from jx_collectors.system_feed import SystemFeed
from jx_scheme_guangdong import PACK_DIR, demo, scale
from jxcore.cli import main
from jxcore.engine import indicators_fed_by, run_scheme, update_run
from jxcore.errors import SchemeError
from jxcore.interfaces import CollectRequest
from jxcore.models import Measure
from jxcore.plugins import Registry, get_plugin_manager
from jxcore.scheme import load_scheme, scheme_from_dict
from jxcore.store import Store
from jxcore.store.entries import NewEntry


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("JX_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("JX_DATABASE_URL", raising=False)


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.from_plugin_manager(get_plugin_manager())


def _checksums(path: Path) -> dict[str, tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {t: con.execute(f"SELECT count(*), sum(hash(t)) FROM {t} t").fetchone() for t in demo.TABLES}


def test_synthetic_units_sum_exactly_and_every_unit_has_a_quarter_of_the_mean():
    units = scale.synthetic_units(1000, 3_000_000, seed=5)
    sizes = np.array([u.entities for u in units])
    assert sizes.sum() == 3_000_000
    assert sizes.min() >= 750  # a quarter of the mean of 3,000
    assert sizes.max() > 3 * 3000  # still spread like real branches
    assert len({u.code for u in units}) == 1000
    assert units[0].code == "u000001" and units[-1].code == "u001000"
    assert min(u.staff for u in units) >= scale.MIN_STAFF
    assert scale.synthetic_units(1000, 3_000_000, seed=5) == units
    assert scale.synthetic_units(1000, 3_000_000, seed=6) != units


def test_too_few_entities_is_a_usage_error():
    with pytest.raises(Exception, match="cannot spread 5 market entities over 10 units"):
        scale.synthetic_units(10, 5)


def test_generation_in_chunks_is_deterministic_with_unique_ids(tmp_path, monkeypatch):
    monkeypatch.setattr(scale, "CHUNK_ENTITIES", 15_000)  # several chunks at a small size
    units = scale.synthetic_units(40, 60_000, seed=3)
    assert len(scale.chunks(units)) >= 4
    counts = scale.generate(tmp_path / "a.duckdb", units, seed=3)
    scale.generate(tmp_path / "b.duckdb", units, seed=3)
    scale.generate(tmp_path / "c.duckdb", units, seed=4)
    assert _checksums(tmp_path / "a.duckdb") == _checksums(tmp_path / "b.duckdb")
    assert _checksums(tmp_path / "a.duckdb") != _checksums(tmp_path / "c.duckdb")
    assert counts["market_entities"] == 60_000  # one row per entity in the one year generated
    with duckdb.connect(str(tmp_path / "a.duckdb"), read_only=True) as con:
        ids = con.execute("SELECT min(entity_id), max(entity_id), count(DISTINCT entity_id) FROM market_entities")
        assert ids.fetchone() == (1, 60_000, 60_000)
        regs = con.execute("SELECT count(*), count(DISTINCT reg_id) FROM registrations").fetchone()
        assert regs[0] == regs[1] == counts["registrations"] > 10_000
        per_unit = dict(con.execute("SELECT unit_code, count(*) FROM market_entities GROUP BY 1").fetchall())
        assert per_unit == {u.code: u.entities for u in units}
        assert con.execute("SELECT DISTINCT year FROM market_entities").fetchall() == [(2010,)]


def test_demo_generate_writes_data_and_a_pack_that_runs(tmp_path, capsys):
    out, pack = tmp_path / "scale.duckdb", tmp_path / "pack"
    code = main(["demo", "generate", "--units", "60", "--entities", "90000", "--seed", "7",
                 "--out", str(out), "--pack", str(pack)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "for 60 units" in printed and "market_entities 90,000" in printed
    assert (pack / "units.csv").read_text(encoding="utf-8").splitlines()[1].startswith("u000001,单位000001,")
    assert main(["validate", "--scheme", str(pack)]) == 0
    capsys.readouterr()
    code = main(["collect", "--scheme", str(pack), "--db", f"sqlite:///{tmp_path / 's.sqlite'}"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    # The annual-inspection rates read market_entities, where every synthetic unit has rows.
    rates = [line for line in printed.splitlines() if "system_feed" in line and "QYJG.NJYZ." in line]
    assert rates and all("60 of 60" in line for line in rates)


def test_demo_generate_into_postgres(tmp_path, make_postgres_url, capsys):
    url = make_postgres_url()
    code = main(["demo", "generate", "--units", "5", "--entities", "2000", "--out", url, "--schema", "biz",
                 "--pack", str(tmp_path / "pack")])
    assert code == 0, capsys.readouterr()
    engine = sa.create_engine(scale.postgres_source_url(url, "biz"))
    try:
        with engine.connect() as conn:  # unqualified names: the pack's URL sets the search_path
            assert conn.execute(sa.text("SELECT count(*) FROM market_entities")).scalar() == 2000
            assert conn.execute(sa.text("SELECT count(DISTINCT unit_code) FROM cases")).scalar() == 5
    finally:
        engine.dispose()
    scheme = load_scheme(tmp_path / "pack")
    assert scheme.sources["business"].url.startswith("postgresql+psycopg://")
    assert len(scheme.units) == 5


def test_units_csv_problems_name_their_lines(tmp_path):
    pack = scale.write_pack(tmp_path / "pack", scale.synthetic_units(3, 300), "duckdb:///x.duckdb")
    (pack / "units.csv").write_text("code,name,staff,entities\nu1,一,3,100\nu2,二,three,100\nu1,三,2,5\n",
                                    encoding="utf-8")
    with pytest.raises(SchemeError) as err:
        load_scheme(pack)
    text = str(err.value.render())
    assert "units.csv:3: unit u2: 'staff' must be an integer, not 'three'" in text
    assert "units.csv:4: unit u1: duplicate unit code u1: also at units.csv:2" in text


def _live_scheme(registry):
    plan = {"nodes": [
        {"code": "A", "name": "A", "points": 100, "children": [
            {"code": "A.RATE", "name": "rate", "points": 60,
             "rule": {"name": "base_score", "params": {"target": 0.9, "step": 0.1, "per_step_above": 10,
                                                        "per_step_below": 10, "cap": 0}},
             "collector": {"name": "system_feed", "params": {"table": "t"}}},
            {"code": "A.DC", "name": "督察", "points": 40,
             "rule": {"name": "per_event", "params": {"deductions": {"F1": 15}}},
             "collector": {"name": "manual", "params": {"kind": "inspection"}}}]}]}
    units = [{"code": c, "name": c.upper()} for c in ("a", "b", "c")]
    return scheme_from_dict(plan, units=units, registry=registry, name="live",
                            settings={"checklists": {"inspection": {"F1": "问题一"}}})


def test_one_new_inspection_entry_updates_the_ranking_like_a_full_run(tmp_path, registry):
    scheme = _live_scheme(registry)
    rate = {"A.RATE": Measure("A.RATE", np.array([0.9, 0.8, 0.7]))}
    as_of = dt.date(2010, 6, 30)
    with Store.open(f"sqlite:///{tmp_path / 's.sqlite'}") as store:
        first = run_scheme(scheme, registry, as_of=as_of, store=store, measures=rate)
        assert first.totals.tolist() == [100_000, 90_000, 80_000]
        with store.transaction() as tx:
            tx.add_entries(scheme="live", period=2010, kind="inspection", source_file="web", source_sha256="1" * 64,
                           entered_by="inspector", rows=[NewEntry("a", as_of, {"finding": "F1", "inspector": "x"})])
        fed = indicators_fed_by(scheme, "manual", kind="inspection")
        assert fed == ["A.DC"]
        live = update_run(first, registry, fed, store=store)
        full = run_scheme(scheme, registry, as_of=as_of, store=store, measures=rate)
    assert live.totals.tolist() == [85_000, 90_000, 80_000]  # a lost 15 points on 督察
    assert live.ranks.tolist() == [2, 1, 3]
    assert np.array_equal(live.scores, full.scores) and np.array_equal(live.ranks, full.ranks)
    assert first.ranks.tolist() == [1, 2, 3]  # the previous result is left as it was


def test_the_guangdong_plan_sql_compiles_for_trino(tmp_path, registry):
    from trino.sqlalchemy.dialect import TrinoDialect

    scheme = load_scheme(PACK_DIR, None, registry)
    path = tmp_path / "biz.duckdb"
    scale.generate(path, scale.synthetic_units(3, 300), years=[scheme.period.year])
    with duckdb.connect(str(path), read_only=True) as con:
        columns = {t: [c[0] for c in con.execute(f"DESCRIBE {t}").fetchall()] for t in demo.TABLES}
    feed = SystemFeed()
    requests = [CollectRequest(n, n.collector.params) for n in scheme.indicators()
                if n.collector.name == feed.name and not n.collector.params.get("sql")]
    tables = {r.params["table"] for r in requests}
    texts = feed.compile(requests, columns, scheme.period, dt.date(scheme.period.year, 6, 30), TrinoDialect())
    assert len(texts) == len(tables) >= 5  # one scan per table, whatever the number of indicators
    for text in texts:
        assert "FILTER" not in text and "::" not in text  # portable: no PostgreSQL-only syntax
        assert text.rstrip().endswith(".unit_code")
        assert "GROUP BY" in text
    entities = next(t for t in texts if "FROM market_entities" in t)
    assert f"DATE '{scheme.period.year}-01-01'" in entities
    assert f"< DATE '{scheme.period.year}-07-01'" in entities  # as-of 30 June, whole day included


def test_synthetic_entries_feed_every_manual_indicator_of_the_plan(tmp_path, registry):
    units = scale.synthetic_units(40, 60_000, seed=3)
    data = tmp_path / "biz.duckdb"
    scheme = load_scheme(scale.write_pack(tmp_path / "pack", units, f"duckdb:///{data}", outputs=["ranking"]),
                         None, registry)
    scale.generate(data, units, years=[scheme.period.year])
    manual = [n for n in scheme.indicators() if n.collector.name == "manual"]
    assert len(manual) > 20  # the full plan: spot checks, inspections, mystery shopper, acceptance …
    with Store.open(f"sqlite:///{tmp_path / 's.sqlite'}") as store:
        made = scale.add_synthetic_entries(store, scheme, seed=3)
        assert made["mystery_shopper"] == 2 * 40 * sum(n.collector.params["kind"] == "mystery_shopper"
                                                       for n in manual)  # two rounds, every unit
        result = run_scheme(scheme, registry, as_of=scheme.period.end, store=store)
    for node in manual:
        measure = result.measures[node.code]
        if node.collector.params["kind"] in scale.ROUNDS:  # scored by a mean: every unit has data
            assert not np.isnan(measure.value).any(), node.code
        else:
            assert measure.value.sum() > 0, node.code  # some events match the indicator's where
    assert len(set(result.totals.tolist())) > 20  # units are told apart


def test_entry_columns_are_the_entries_without_the_superseded(tmp_path):
    with Store.open(f"sqlite:///{tmp_path / 's.sqlite'}") as store:
        with store.transaction() as tx:
            batch = tx.add_entries(scheme="s", period=2010, kind="honour", source_file="h.csv", source_sha256="1" * 64,
                                   entered_by="me", rows=[
                                       NewEntry("b", dt.date(2010, 5, 1), {"level": "city", "title": "x"}),
                                       NewEntry("a", dt.date(2010, 3, 1), {"level": "town", "title": "y"}),
                                       NewEntry("a", dt.date(2010, 9, 1), {"level": "national", "title": "z"})])
        first = store.entries("s", 2010)
        with store.transaction() as tx:
            tx.add_entries(scheme="s", period=2010, kind="honour", source_file="fix.csv", source_sha256="2" * 64,
                           entered_by="me", rows=[NewEntry("b", dt.date(2010, 5, 1), {"level": "province",
                                                  "title": "x"}, supersedes=first[1].id, reason="wrong level")])
        cols = store.entry_columns("s", 2010, {"honour": ["level", "rank"]}, as_of=dt.date(2010, 8, 31))["honour"]
    assert batch.row_count == 3
    assert cols.unit_code.tolist() == ["a", "b"]  # by date; the September one is after the as-of date
    assert cols.entry_date.tolist() == [dt.date(2010, 3, 1), dt.date(2010, 5, 1)]
    assert cols.fields == {"level": ["town", "province"], "rank": [None, None]}  # the correction, not what it fixed
    assert cols.sources == (("fix.csv", "2" * 64), ("h.csv", "1" * 64))


def test_appending_to_the_chain_resumes_from_the_last_head_and_verifies(tmp_path):
    from jxcore.records.chain import verify
    from jxcore.store import ledger

    url = f"sqlite:///{tmp_path / 's.sqlite'}"

    def add(store, i):
        with store.transaction() as tx:
            tx.add_entries(scheme="s", period=2010, kind="honour", source_file=f"{i}.csv", source_sha256=f"{i:064d}",
                           entered_by="me", rows=[NewEntry("a", dt.date(2010, 1, 1 + i), {"level": "town"})] * (i + 1))

    with Store.open(url) as store:
        for i in range(5):
            add(store, i)
        with pytest.raises(RuntimeError), store.transaction() as tx:  # appended, then rolled back
            tx.add_entries(scheme="s", period=2010, kind="honour", source_file="x.csv", source_sha256="9" * 64,
                           entered_by="me", rows=[NewEntry("b", dt.date(2010, 2, 1), {"level": "city"})])
            raise RuntimeError("crash")
        add(store, 5)
        with store.engine.connect() as connection:
            chain = ledger.chain_rows(connection)
    assert [r["seq"] for r in chain] == list(range(1, 6 + 6 + 1))  # 6 batches, their entries in a record each, no gap
    assert chain[-1]["head"] == ledger.merkle_root([r["leaf"] for r in chain])
    ledger._STATES.clear()  # a fresh process re-reads the chain and agrees
    with Store.open(url) as store:
        add(store, 6)
        with store.engine.connect() as connection:
            chain = ledger.chain_rows(connection)
        assert chain[-1]["head"] == ledger.merkle_root([r["leaf"] for r in chain])
        with store.engine.connect() as connection:
            assert verify(connection).ok
