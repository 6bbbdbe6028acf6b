"""Bundles in the audit chain (migration 0009): entries written together are chained as one record
per page, and verify still names each changed, deleted, inserted or reordered entry."""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import shutil

import pytest
import sqlalchemy as sa

from jxcore.records import add_user, lock, verify
from jxcore.records.heads import check_inclusion, export_heads, init_key, read_heads
from jxcore.services.audit import audit_links
from jxcore.store import NewEntry, Store, ledger
from test_records_chain import tampers

UNITS = ("U1", "U2", "U3")


def _import(store: Store, n: int, tag: str) -> None:
    with store.transaction() as tx:
        tx.add_entries(scheme="gd", period=2010, kind="inspection", source_file=f"{tag}.csv",
                       source_sha256=hashlib.sha256(tag.encode()).hexdigest(), entered_by="张三",
                       rows=[NewEntry(UNITS[i % 3], dt.date(2010, 5, 1 + i % 28), {"finding": "absent", "n": i},
                                      source_row=i + 2) for i in range(n)])


@pytest.fixture
def url(tmp_path, monkeypatch):
    """A store with a user and three imports (10, 1 and 7 entries) chained in pages of 4."""
    monkeypatch.setattr(ledger, "PAGE_ROWS", 4)
    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    with Store.open(url) as store:
        add_user(store, "root", role="admin")
        for n, tag in ((10, "a"), (1, "b"), (7, "c")):
            _import(store, n, tag)
    return url


def _entry_records(connection: sa.Connection) -> list[tuple[str, int]]:
    return [(r.row_key, len(r.leaves or b"") // 32) for r in connection.execute(
        sa.text("SELECT row_key, leaves FROM audit_chain WHERE tbl = 'entries' ORDER BY seq"))]


def _raw(url: str, tmp_path):
    """A copy of the store without its triggers (the owner's raw access): tamper freely, roll back."""
    copy = tmp_path / "raw.sqlite"
    shutil.copy(sa.make_url(url).database, copy)
    engine = sa.create_engine(f"sqlite:///{copy}")
    connection = engine.connect()
    for (name,) in connection.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'").all():
        connection.exec_driver_sql(f"DROP TRIGGER {name}")
    connection.commit()
    return connection


def test_the_root_of_a_bundle_is_the_rfc6962_tree_hash():
    rng = random.Random(9162)
    for n in range(1, 40):
        leaves = [rng.randbytes(32) for _ in range(n)]
        assert ledger.tree_root(leaves).hex() == ledger.merkle_root([x.hex() for x in leaves])
    assert ledger.tree_root([]).hex() == ledger.EMPTY_HEAD


def test_an_import_is_chained_a_page_at_a_time_and_verifies(url):
    with Store.open(url) as store, store.engine.connect() as connection:
        # pages of 4: 1..4, 5..8, then 9..10; the one-entry import is a record of its own
        assert _entry_records(connection) == [("1..4", 4), ("5..8", 4), ("9..10", 2), ("11", 0),
                                               ("12..15", 4), ("16..18", 3)]
        result = verify(connection)
        assert result.ok and result.size == 2 + 3 + 3 + 1 + 2  # the user and its log row, 3 batches, 6 records
        chain = ledger.chain_rows(connection)
        assert result.head == chain[-1]["head"] == ledger.merkle_root([link["leaf"] for link in chain])
        assert ledger.chain_leaves(connection) == [link["leaf"] for link in chain]  # what heads are checked on


@pytest.mark.parametrize(("sql", "expected"), [
    ("UPDATE entries SET payload = '{\"finding\": \"late\"}' WHERE id = 6", {("changed", "6")}),
    ("DELETE FROM entries WHERE id = 9", {("deleted", "9")}),
    ("INSERT INTO entries SELECT 99, scheme, period, kind, unit_code, entry_date, payload, source_file, "
     "source_sha256, source_row, entered_by, entered_at, batch_id, supersedes, reason, natural_key "
     "FROM entries WHERE id = 3", {("inserted", "99")}),
    # two entries of one bundle swap ids: each holds the other's chained row
    ("UPDATE entries SET id = -1 WHERE id = 13; UPDATE entries SET id = 13 WHERE id = 14; "
     "UPDATE entries SET id = 14 WHERE id = -1", {("reordered", "13"), ("reordered", "14")}),
])
def test_a_tampered_entry_inside_a_bundle_is_named(url, tmp_path, sql, expected):
    connection = _raw(url, tmp_path)
    seq = {key: s for s, key in connection.exec_driver_sql("SELECT seq, row_key FROM audit_chain").all()}
    for statement in sql.split("; "):
        connection.exec_driver_sql(statement)
    found = tampers(connection)
    assert {(f.kind, f.key) for f in found} == expected
    bundle = {"6": "5..8", "9": "9..10", "13": "12..15", "14": "12..15"}
    assert all(f.seq == seq[bundle[f.key]] for f in found if f.kind != "inserted")


def test_a_bundle_whose_leaves_or_key_were_changed_is_named(url, tmp_path):
    connection = _raw(url, tmp_path)
    seq = connection.exec_driver_sql("SELECT seq FROM audit_chain WHERE row_key = '5..8'").scalar_one()
    leaves = connection.exec_driver_sql("SELECT leaves FROM audit_chain WHERE seq = ?", (seq,)).scalar_one()
    # an edited entry with its leaf rewritten in the bundle: the bundle's leaf no longer fits them
    connection.exec_driver_sql("UPDATE entries SET unit_code = 'U3' WHERE id = 5")
    forged = ledger.leaf_hash("entries", next(ledger.raw_rows(connection, "entries", sa.column("id") == 5)))
    connection.exec_driver_sql("UPDATE audit_chain SET leaves = ? WHERE seq = ?",
                               (bytes.fromhex(forged) + leaves[32:], seq))
    found = tampers(connection)
    assert [(f.seq, f.kind, f.key) for f in found] == [(seq, "changed", "5..8")]
    assert "not those its leaf was computed from" in found[0].message
    connection.rollback()
    # the key moved by one: its leaves no longer match the rows (their ids are hashed)
    connection.exec_driver_sql("UPDATE audit_chain SET row_key = '6..9' WHERE seq = ?", (seq,))
    assert {f.kind for f in tampers(connection)} >= {"changed", "inserted"}
    connection.rollback()
    connection.exec_driver_sql("UPDATE audit_chain SET row_key = '5..9' WHERE seq = ?", (seq,))
    assert "does not match the number of leaves" in tampers(connection)[0].message
    connection.rollback()


def test_ids_with_gaps_are_bundled_run_by_run(url):
    """Another backend's sequence may leave gaps: each run of consecutive ids is one record."""
    with Store.open(url) as store, store.transaction() as tx:
        connection = tx.connection
        batch = connection.exec_driver_sql("SELECT batch_id FROM entries WHERE id = 1").scalar_one()
        columns = [c for c in ledger.columns("entries") if c != "id"]
        for new_id in (30, 31, 35, 40, 41, 42):
            connection.exec_driver_sql(f"INSERT INTO entries (id, {', '.join(columns)}) "
                                       f"SELECT {new_id}, {', '.join(columns)} FROM entries WHERE id = 1")
        ledger.append_where(connection, "entries", sa.and_(sa.column("batch_id") == batch, sa.column("id") >= 30),
                            page=100)
        assert _entry_records(connection)[-3:] == [("30..31", 2), ("35", 0), ("40..42", 3)]
        assert verify(connection).ok


def test_a_bundled_entry_proves_its_inclusion_in_a_kept_head(url, tmp_path, monkeypatch):
    monkeypatch.setenv("JX_SIGNING_KEY", str(tmp_path / "keys" / "bureau.pem"))
    init_key()
    kept = tmp_path / "heads.jsonl"
    with Store.open(url) as store:
        lock(store, "gd", 2010, user="root", until=dt.date(2010, 12, 31))
        with store.engine.begin() as connection:
            export_heads(connection, kept)
        heads = read_heads(kept)
        with store.engine.connect() as connection:
            inclusion = check_inclusion(connection, "entries", "7", heads)
            assert inclusion.ok and inclusion.within == (2, 4), inclusion.message
            assert "row 3 of 4 in its bundle" in inclusion.message
            alone = check_inclusion(connection, "entries", "11", heads)
            assert alone.ok and alone.within is None
    connection = _raw(url, tmp_path)
    connection.exec_driver_sql("UPDATE entries SET unit_code = 'U2' WHERE id = 7")
    changed = check_inclusion(connection, "entries", "7", heads)
    assert not changed.ok and "as stored now is not the record" in changed.message
    connection.rollback()


def test_a_store_chained_one_by_one_at_0008_verifies_after_the_upgrade(tmp_path, monkeypatch):
    """A store whose entries were chained a record each (0008) takes bundles after them (0009)."""
    from alembic import command

    from jxcore.store.api import alembic_config, create_engine
    from jxcore.store.entries import add_batch

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = create_engine(url)
    with engine.begin() as connection, monkeypatch.context() as before_0009:
        command.upgrade(alembic_config(connection), "0008")
        before_0009.setattr(ledger, "BUNDLED", frozenset())  # chained as 0008's jx did: no leaves column yet
        add_batch(connection, scheme="gd", period=2010, kind="inspection", source_file="old.csv",
                  source_sha256="0" * 64, entered_by="张三",
                  rows=[NewEntry(u, dt.date(2010, 5, 1), {"finding": "absent"}, source_row=2) for u in UNITS])
    engine.dispose()
    with Store.open(url) as store:
        _import(store, 3, "new")
        with store.engine.connect() as connection:
            assert _entry_records(connection) == [("1", 0), ("2", 0), ("3", 0), ("4..6", 3)]
            assert verify(connection).ok
    connection = _raw(url, tmp_path)
    connection.exec_driver_sql("UPDATE entries SET source_row = 9 WHERE id IN (2, 5)")
    assert {(f.kind, f.key) for f in tampers(connection)} == {("changed", "2"), ("changed", "5")}
    connection.rollback()


def test_audit_links_count_a_bundles_rows_without_reading_its_leaves(url):
    with Store.open(url) as store:
        links = audit_links(store, table="entries")
    assert [(link.row_key, link.rows) for link in links] == [
        ("16..18", 3), ("12..15", 4), ("11", 1), ("9..10", 2), ("5..8", 4), ("1..4", 4)]
    assert links[0].keys() == ["16", "17", "18"] and links[2].keys() == ["11"]
