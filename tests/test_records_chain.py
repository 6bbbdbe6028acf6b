"""The audit chain (issue 7): RFC 6962 heads, and 2,000+ random tamper cases all caught by verify."""

from __future__ import annotations

import datetime as dt
import random
import shutil

import numpy as np
import sqlalchemy as sa

from jxcore.models import Node, NodeKind, Period, Run, RunResult, Scheme, Unit
from jxcore.records import add_user, lock, verify
from jxcore.store import NewEntry, Store, ledger

UTC = dt.timezone.utc
NODES = (Node("R", "总分", NodeKind.ROOT, None, 100_000, children=("A",)),
         Node("A", "业务", NodeKind.INDICATOR, "R", 100_000))
SCHEME = Scheme(name="gd", title="东莞", period=Period.for_year(2010), root="R", nodes={n.code: n for n in NODES},
                units=(Unit("U1", "虎门"), Unit("U2", "长安"), Unit("U3", "洪梅")))


def populate(url: str) -> None:
    with Store.open(url) as store:
        add_user(store, "root", role="admin")
        for b in range(4):
            with store.transaction() as tx:
                tx.add_entries(scheme="gd", period=2010, kind="inspection", source_file=f"f{b}.csv",
                               source_sha256=f"{b}" * 64, entered_by="张三",
                               rows=[NewEntry(f"U{u}", dt.date(2010, 2 + b, u), {"finding": "absent", "n": b * u},
                                              source_row=u + 1) for u in (1, 2, 3)])
        lock(store, "gd", 2010, user="root", until=dt.date(2010, 3, 31))
        result = RunResult(run=Run("gd", 2010, dt.date(2010, 12, 31), dt.datetime(2011, 1, 5, tzinfo=UTC)),
                           scheme=SCHEME, units=SCHEME.unit_table(), node_codes=("R", "A"),
                           scores=np.array([[90_000, 80_500, 70_000]] * 2, dtype=np.int64),
                           ranks=np.array([1, 2, 3]))
        with store.transaction() as tx:
            tx.save_run(result, final=True)
        lock(store, "gd", 2010, user="root", final=True)


def tampers(connection: sa.Connection) -> list:
    """verify's findings but the missing guards (the tests drop the triggers, as an attacker would)."""
    return [f for f in verify(connection).findings if f.kind != "unguarded"]


def test_heads_are_rfc6962_tree_hashes():
    leaves = [ledger.leaf_hash("audit_chain", {"seq": i, "tbl": "t", "row_key": str(i), "leaf": "", "head": ""})
              for i in range(13)]
    heads = ledger.Heads()
    assert [heads.add(leaf) for leaf in leaves] == [ledger.merkle_root(leaves[:n]) for n in range(1, 14)]
    # by hand: MTH of 3 leaves = H(0x01 || H(0x01 || l0 || l1) || l2)
    pair = ledger.node_hash(bytes.fromhex(leaves[0]), bytes.fromhex(leaves[1]))
    assert ledger.merkle_root(leaves[:3]) == ledger.node_hash(pair, bytes.fromhex(leaves[2])).hex()


def test_an_untouched_store_verifies_and_the_lock_head_is_a_head_of_the_chain(tmp_path):
    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    populate(url)
    with Store.open(url) as store, store.engine.connect() as connection:
        result = verify(connection)
        first = connection.execute(sa.text("SELECT head FROM record_locks WHERE id = 1")).scalar_one()
        # the admin, its access-log row, 4 batches with their 3 entries in one bundle each, lock and its log row,
        # run, units, nodes, lock and log row
        assert result.ok and result.size == 1 + 1 + 4 * 2 + 2 + 1 + 3 + 2 + 2
        assert verify(connection, [first]).ok
        assert not verify(connection, ["ab" * 32]).ok


def _tamper(connection: sa.Connection, rng: random.Random, tables: list[str]) -> str:
    """One random change made directly in the database; returns what was done."""
    tbl = rng.choice(tables)
    rows = connection.exec_driver_sql(f"SELECT rowid AS _rid, * FROM {tbl}").mappings().all()
    if tbl in ("run_units", "run_nodes", "runs"):
        final = {r[0] for r in connection.exec_driver_sql("SELECT id FROM runs WHERE final")}
        rows = [r for r in rows if r.get("run_id", r.get("id")) in final]
    cols = [c for c in rows[0].keys() if c != "_rid"]
    how = rng.choice(("edit", "delete", "insert", "swap"))
    row = rng.choice(rows)
    if how == "edit":
        col = rng.choice(cols)
        value = row[col]
        if isinstance(value, int):
            new = value + rng.choice((-100_000, 100_000))  # far enough not to hit another key
        elif isinstance(value, bytes):
            new = bytes([value[0] ^ 1]) + value[1:]
        elif isinstance(value, str):
            new = value[:-1] + ("x" if value[-1:] != "x" else "y") if value else "x"
        else:
            new = "x"
        connection.exec_driver_sql(f'UPDATE {tbl} SET "{col}" = ? WHERE rowid = ?', (new, row["_rid"]))
        return f"edit {tbl}.{col}"
    if how == "delete":
        connection.exec_driver_sql(f"DELETE FROM {tbl} WHERE rowid = ?", (row["_rid"],))
        return f"delete {tbl}"
    if how == "insert":
        key = ledger.CHAINED.get(tbl, ("seq",))[-1]
        copy = {c: row[c] + "~" if isinstance(row[c], str) and c not in ("id", "run_id", "payload") else row[c]
                for c in cols}  # a new row beside the copied one (unique keys differ)
        copy[key] = (max(r[key] for r in rows) + 1) if isinstance(row[key], int) else "f" * 32
        if tbl == "runs":
            return _insert_run(connection, copy)
        connection.exec_driver_sql(f"INSERT INTO {tbl} ({', '.join(map(repr, cols))}) VALUES "
                                   f"({', '.join('?' * len(cols))})".replace("'", '"'), tuple(copy.values()))
        return f"insert {tbl}"
    key = ledger.CHAINED.get(tbl, ("seq",))[-1]  # two rows swap keys: each now sits where the other was
    same = [c for c in ledger.CHAINED.get(tbl, ("seq",))[:-1]]
    candidates = [r for r in rows if r[key] != row[key] and all(r[c] == row[c] for c in same)
                  and any(r[c] != row[c] for c in cols if c != key)]
    if not candidates:  # a table of one row (the final run's header): nothing to swap with
        connection.exec_driver_sql(f"DELETE FROM {tbl} WHERE rowid = ?", (row["_rid"],))
        return f"delete {tbl}"
    other = rng.choice(candidates)
    temp = -7 if isinstance(row[key], int) else "swap"
    where = " AND ".join(f'"{c}" = ?' for c in (key, *same))
    for old, value in ((row[key], temp), (other[key], row[key]), (temp, other[key])):
        connection.exec_driver_sql(f'UPDATE {tbl} SET "{key}" = ? WHERE {where}',
                                   (value, old, *(row[c] for c in same)))
    return f"swap {tbl}"


def _insert_run(connection: sa.Connection, copy: dict) -> str:
    cols = list(copy)
    connection.exec_driver_sql(f"INSERT INTO runs ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                               tuple(copy.values()))
    return "insert runs"


def test_two_thousand_random_tampers_are_all_detected_and_nothing_else_is(tmp_path):
    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    populate(url)
    snapshot = tmp_path / "tamper.sqlite"
    shutil.copy(tmp_path / "s.sqlite", snapshot)
    engine = sa.create_engine(f"sqlite:///{snapshot}")  # no foreign keys: an attacker's raw access
    rng = random.Random(2010)
    cases, missed, kinds, by_what = 2_000, [], {}, {}
    with engine.connect() as connection:
        tables = [t for t in (*ledger.CHAINED, "audit_chain")  # those with rows to tamper with
                  if connection.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar()]
        for (name,) in connection.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'").all():
            connection.exec_driver_sql(f"DROP TRIGGER {name}")  # a DBA can; the chain still tells
        connection.commit()
        assert {f.kind for f in verify(connection).findings} == {"unguarded"}  # the dropped triggers are named

        false_alarms = len(tuple(tampers(connection)))
        for _ in range(cases):
            what = _tamper(connection, rng, tables)
            found = tuple(tampers(connection))
            if not found:
                missed.append(what)
            for f in found[:1]:
                kinds[f.kind] = kinds.get(f.kind, 0) + 1
            by_what[what.split()[0]] = by_what.get(what.split()[0], 0) + 1
            connection.rollback()
        untouched = tuple(tampers(connection))
    engine.dispose()
    print(f"\ntamper cases={cases} detected={cases - len(missed)} ({100 * (cases - len(missed)) / cases:.1f} %) "
          f"false_alarms={false_alarms + len(untouched)} by_tamper={by_what} first_finding_kinds={kinds}")
    assert missed == [] and false_alarms == 0 and untouched == ()
    assert set(by_what) == {"edit", "delete", "insert", "swap"}
    assert {"changed", "deleted", "inserted", "reordered"} <= set(kinds)


def test_verify_names_the_kind_and_sequence_number(tmp_path):
    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    populate(url)
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        for (name,) in connection.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'").all():
            connection.exec_driver_sql(f"DROP TRIGGER {name}")
        seq_of = {str(i): r.seq for r in connection.exec_driver_sql(  # each entry's record: its bundle's
            "SELECT seq, row_key FROM audit_chain WHERE tbl = 'entries'") for i in ledger.bundle_ids(r.row_key)}
        connection.exec_driver_sql("UPDATE entries SET payload = '{\"finding\": \"late\"}' WHERE id = 5")
        assert [(f.seq, f.kind, f.table, f.key) for f in tampers(connection)] == [
            (seq_of["5"], "changed", "entries", "5")]
        connection.rollback()
        connection.exec_driver_sql("DELETE FROM entries WHERE id = 7")
        assert [(f.seq, f.kind) for f in tampers(connection)] == [(seq_of["7"], "deleted")]
        connection.rollback()
        connection.exec_driver_sql("UPDATE entries SET id = -1 WHERE id = 2")
        connection.exec_driver_sql("UPDATE entries SET id = 2 WHERE id = 3")
        connection.exec_driver_sql("UPDATE entries SET id = 3 WHERE id = -1")
        assert {(f.seq, f.kind) for f in tampers(connection)} == {(seq_of["2"], "reordered"),
                                                                          (seq_of["3"], "reordered")}
        connection.rollback()
    engine.dispose()
