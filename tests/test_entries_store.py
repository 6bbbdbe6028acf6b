"""Manual entries in the store: provenance round trip, supersedes, as-of, duplicates, one transaction."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from jxcore.errors import DataError, StoreError
from jxcore.store import NewEntry, Store
from jxcore.store.tables import entry_batches

UTC = dt.timezone.utc
WHEN = dt.datetime(2010, 7, 1, 9, 15, 30, 250000, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request, tmp_path):
    url = (f"sqlite:///{tmp_path / 'jx.sqlite'}" if request.param == "sqlite"
           else request.getfixturevalue("make_postgres_url")())
    with Store.open(url) as store:
        yield store


def add(store, rows, *, sha="a" * 64, kind="inspection", period=2010, user="张三"):
    with store.transaction() as tx:
        return tx.add_entries(scheme="gd", period=period, kind=kind, source_file="f.xlsx", source_sha256=sha,
                              entered_by=user, rows=rows, entered_at=WHEN)


ROWS = [NewEntry("humen", dt.date(2010, 3, 1), {"finding": "absent", "note": "窗口"}, source_row=2),
        NewEntry("hongmei", dt.date(2010, 8, 1), {"finding": "late", "note": None}, source_row=3)]


def test_entries_keep_their_provenance(store):
    batch = add(store, ROWS)
    got = store.entries("gd", 2010)
    assert [(e.kind, e.unit_code, e.entry_date, dict(e.payload), e.source_row) for e in got] == [
        ("inspection", "humen", dt.date(2010, 3, 1), {"finding": "absent", "note": "窗口"}, 2),
        ("inspection", "hongmei", dt.date(2010, 8, 1), {"finding": "late", "note": None}, 3)]
    assert {(e.source_file, e.source_sha256, e.entered_by, e.entered_at, e.batch_id, e.supersedes)
            for e in got} == {("f.xlsx", "a" * 64, "张三", WHEN, batch.id, None)}
    assert (batch.row_count, batch.kind, batch.entered_at) == (2, "inspection", WHEN)


def test_reading_filters_by_kind_period_and_as_of_date(store):
    add(store, ROWS)
    add(store, [NewEntry("humen", dt.date(2010, 1, 5), {"level": "city"})], kind="honour", sha="b" * 64)
    add(store, [NewEntry("humen", dt.date(2009, 1, 5), {"finding": "late"})], period=2009)
    assert [e.unit_code for e in store.entries("gd", 2010, as_of=dt.date(2010, 6, 30))] == ["humen", "humen"]
    assert [e.kind for e in store.entries("gd", 2010, kinds=["honour"])] == ["honour"]
    assert [e.entry_date.year for e in store.entries("gd", 2009)] == [2009]


def test_has_entries_per_scheme_and_period(store):
    assert not store.has_entries("gd", 2010)
    add(store, ROWS)
    assert store.has_entries("gd", 2010)
    assert not store.has_entries("gd", 2009) and not store.has_entries("other", 2010)


def test_a_correction_supersedes_the_old_entry_which_stays_stored(store):
    add(store, ROWS)
    old = store.entries("gd", 2010)[0]
    add(store, [NewEntry("humen", dt.date(2010, 3, 1), {"finding": "late"}, supersedes=old.id)], sha="c" * 64)
    current = store.entries("gd", 2010)
    assert [(e.unit_code, e.payload["finding"]) for e in current] == [("humen", "late"), ("hongmei", "late")]
    assert len(store.entries("gd", 2010, include_superseded=True)) == 3


def test_entry_columns_give_the_asked_fields_as_stored_and_each_file_once(store):
    add(store, [NewEntry("humen", dt.date(2010, 2, 1), {"codes": ["d1", "d2"], "ok": True, "n": 2, "x": 1.5}),
                NewEntry("humen", dt.date(2010, 4, 1), {"codes": [], "ok": False, "n": 7, "x": 0.25})], kind="spot")
    add(store, [NewEntry("hongmei", dt.date(2010, 1, 9), {"codes": ["d3"], "n": 1})], kind="spot", sha="b" * 64)
    old = store.entries("gd", 2010, kinds=["spot"])[1]
    add(store, [NewEntry("humen", dt.date(2010, 2, 1), {"codes": ["d1"], "ok": True, "n": 3, "x": 1.5},
                         supersedes=old.id)], kind="spot", sha="c" * 64)
    add(store, ROWS)  # another kind: not read
    cols = store.entry_columns("gd", 2010, {"spot": ["codes", "ok", "n"]}, as_of=dt.date(2010, 3, 31))["spot"]
    assert cols.unit_code.tolist() == ["hongmei", "humen"]  # April is after the as-of date; the fixed one left out
    assert cols.entry_date.tolist() == [dt.date(2010, 1, 9), dt.date(2010, 2, 1)]
    assert cols.fields == {"codes": [["d3"], ["d1"]], "ok": [None, True], "n": [1, 3]}
    assert [type(v) for v in cols.fields["ok"]] == [type(None), bool]  # JSON true stays a boolean
    assert cols.sources == (("f.xlsx", "b" * 64), ("f.xlsx", "c" * 64))  # the superseded entry's file is not one


def test_the_same_file_twice_is_refused_by_the_store(store):
    add(store, ROWS)
    with pytest.raises(DataError, match="already imported as inspection for gd 2010: 2 rows from f.xlsx by 张三"):
        add(store, ROWS[:1])
    with pytest.raises(StoreError):  # the unique key holds even when the check is bypassed (a race)
        with store.transaction() as tx:
            tx.connection.execute(entry_batches.insert(), {
                "id": "x" * 32, "scheme": "gd", "period": 2010, "kind": "inspection", "source_file": "g",
                "source_sha256": "a" * 64, "row_count": 0, "entered_by": "b", "entered_at": WHEN})
    assert len(store.entries("gd", 2010)) == 2


def test_an_import_is_one_transaction(store):
    with pytest.raises(RuntimeError):
        with store.transaction() as tx:
            tx.add_entries(scheme="gd", period=2010, kind="inspection", source_file="f", source_sha256="d" * 64,
                           entered_by="u", rows=ROWS)
            raise RuntimeError("crash after the insert")
    assert store.entries("gd", 2010) == []
    with store.engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(entry_batches)).scalar_one() == 0
