"""Locks enforced by the database (ORM, raw SQL, bulk; SQLite and PostgreSQL), the access matrix,
two-admin unlocks, migration from 0002, and a run and imports at once on PostgreSQL (issue 7)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import orm

from jxcore.errors import AccessDenied, LockedError
from jxcore.records import add_user, lock, unlock, verify
from jxcore.store import NewEntry, Store
from jxcore.store.api import alembic_config, create_engine
from jxcore.store.tables import access_log, entries
from jxcore.testing import build_scheme

D = dt.date


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request, tmp_path):
    return f"sqlite:///{tmp_path / 'jx.sqlite'}" if request.param == "sqlite" else \
        request.getfixturevalue("make_postgres_url")()


def add(store, rows, sha, kind="inspection"):
    with store.transaction() as tx:
        return tx.add_entries(scheme="gd", period=2010, kind=kind, source_file="f", source_sha256=sha,
                              entered_by="u", rows=rows)


class OrmEntry:
    pass


orm.registry().map_imperatively(OrmEntry, entries)


def test_locked_entries_are_refused_by_the_database_on_every_path(url):
    with Store.open(url) as store:
        add(store, [NewEntry("U1", D(2010, 3, 1), {"n": 1}), NewEntry("U2", D(2010, 9, 1), {"n": 2})], "a" * 64)
        add_user(store, "root", role="admin")
        lock(store, "gd", 2010, user="root", until=D(2010, 6, 30))
        refused = []
        attempts = {
            "raw update": "UPDATE entries SET payload = '{}' WHERE id = 1",
            "raw delete": "DELETE FROM entries WHERE id = 1",
            "raw insert": "INSERT INTO entries (scheme, period, kind, unit_code, entry_date, payload, entered_by, "
                          "entered_at, batch_id) SELECT scheme, period, kind, unit_code, entry_date, payload, "
                          "entered_by, entered_at, batch_id FROM entries WHERE id = 1",
            "bulk update": "UPDATE entries SET unit_code = 'U9'",
            "bulk delete": "DELETE FROM entries",
        }
        for name, sql in attempts.items():
            with pytest.raises(LockedError, match="locked|append-only"):
                with store.transaction() as tx:
                    tx.connection.exec_driver_sql(sql)
            refused.append(name)
        with pytest.raises(LockedError, match="locked"):  # Core executemany insert (the bulk path)
            add(store, [NewEntry("U3", D(2010, 7, 1), {}), NewEntry("U3", D(2010, 5, 1), {})], "b" * 64)
        with orm.Session(store.engine) as session:
            for name, change in (("orm update", lambda e: setattr(e, "payload", "{}")),
                                 ("orm delete", session.delete)):
                change(session.get(OrmEntry, 1))
                with pytest.raises(sa.exc.DatabaseError, match="locked"):
                    session.commit()
                session.rollback()
                refused.append(name)
            batch_id = store.entries("gd", 2010)[0].batch_id
            with pytest.raises(sa.exc.DatabaseError, match="locked"):
                session.execute(sa.insert(OrmEntry), [{
                    "scheme": "gd", "period": 2010, "kind": "inspection", "unit_code": "U1",
                    "entry_date": D(2010, 1, 2), "payload": "{}", "entered_by": "x",
                    "entered_at": dt.datetime.now(dt.timezone.utc), "batch_id": batch_id}])
            session.rollback()
            refused.append("orm bulk insert")
        add(store, [NewEntry("U3", D(2010, 7, 1), {"n": 3})], "c" * 64)  # after the lock's date: accepted
        print(f"\n{store.engine.dialect.name}: refused {len(refused) + 1} of {len(refused) + 1} paths: {refused}")
        assert [e.payload["n"] for e in store.entries("gd", 2010)] == [1, 3, 2]
        with store.engine.connect() as connection:
            assert verify(connection).ok


def test_final_results_lock_and_two_admins_unlock(url):
    from test_records_chain import SCHEME, populate  # a final run and two locks

    populate(url)
    with Store.open(url) as store:
        for sql in ("UPDATE run_units SET total_milli = 100000", "DELETE FROM run_nodes",
                    "UPDATE runs SET final = false", "DELETE FROM runs"):
            with pytest.raises(LockedError, match="locked"):
                with store.transaction() as tx:
                    tx.connection.exec_driver_sql(sql)
        add_user(store, "root2", role="admin", by="root")
        assert unlock(store, "gd", 2010, user="root", reason="复核更正").active  # requested only
        with pytest.raises(AccessDenied, match="second admin"):
            unlock(store, "gd", 2010, user="root", reason="again")
        with pytest.raises(LockedError, match="refused"):  # the database wants another admin's request
            with store.transaction() as tx:
                tx.connection.exec_driver_sql(
                    "INSERT INTO record_locks (scheme, period, action, scope, lock_id, by_user, at) "
                    "VALUES ('gd', 2010, 'unlock', 'final', 1, 'mallory', '2011-01-01')")
        lifted = unlock(store, "gd", 2010, user="root2", reason="同意")
        assert lifted.unlocked_by == ("root", "root2")
        with store.transaction() as tx:
            tx.connection.exec_driver_sql("UPDATE runs SET final = false")  # the final lock is gone
        with store.engine.connect() as connection:
            trace = connection.execute(sa.select(access_log.c.user_name, access_log.c.action, access_log.c.allowed)
                                       .where(access_log.c.action == "unlock")).all()
        assert [tuple(t) for t in trace] == [("root", "unlock", True), ("root", "unlock", False),
                                             ("root2", "unlock", True)]
        assert SCHEME.name == "gd"


# A small plan: three indicators of three departments, each fed by its own kind.

# The access matrix is decided per entry by the indicators it feeds: tests/test_services_entries.py.


def test_a_store_at_0002_is_upgraded_and_its_rows_are_chained(url):
    engine = create_engine(url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0002")
        connection.execute(sa.text("INSERT INTO entry_batches VALUES ('b1', 'gd', 2010, 'inspection', 'f', "
                                   "'aa', 1, 'u', '2010-05-01 00:00:00')"))
        connection.execute(sa.text("INSERT INTO entries (scheme, period, kind, unit_code, entry_date, payload, "
                                   "entered_by, entered_at, batch_id) VALUES ('gd', 2010, 'inspection', 'U1', "
                                   "'2010-03-01', '{}', 'u', '2010-05-01 00:00:00', 'b1')"))
    engine.dispose()
    with Store.open(url) as store:
        with store.engine.connect() as connection:
            result = verify(connection)
        assert result.ok and result.size == 2
        assert [e.unit_code for e in store.entries("gd", 2010)] == ["U1"]
        with pytest.raises(LockedError, match="append-only"):
            with store.transaction() as tx:
                tx.connection.exec_driver_sql("DELETE FROM entries")


def test_a_run_and_imports_at_once_on_postgres_lose_nothing_and_mix_nothing(make_postgres_url):
    from jxcore.engine import run_scheme
    from jxcore.services.entries import import_entries
    from jxcore.testing import installed_registry

    registry = installed_registry()
    scheme = build_scheme({"scale": 10, "nodes": [{"code": "JC", "name": "督察", "points": 10, "rule": {
        "name": "per_event", "params": {"deductions": {"absent": 0.5}}},
        "collector": {"name": "manual", "params": {"kind": "inspection"}}}]},
        units=[{"code": f"u{i}", "name": f"u{i}"} for i in range(5)], name="gd",
        settings={"checklists": {"inspection": {"absent": "缺岗"}}}, registry=registry)
    batches, per_batch, runs_each = 30, 5, 6
    with Store.open(make_postgres_url()) as store:
        errors: list[BaseException] = []

        def importer():
            try:
                for b in range(batches):
                    rows = [NewEntry(f"u{u}", D(2010, 3, 1 + b % 28), {"finding": "absent", "note": None,
                                                                       "inspector": f"i{b}"}) for u in range(per_batch)]
                    import_entries(store, registry, scheme, "inspection", rows, source=f"b{b}",
                                   sha256=f"{b:064d}", user="clerk")
            except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread
                errors.append(exc)

        def runner(month: int):
            try:  # one run a day: a second run of the same as-of date would replace the first
                for day in range(runs_each):
                    run_scheme(scheme, registry, as_of=D(2010, month, 1 + day), store=store)
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=importer), threading.Thread(target=runner, args=(6,)),
                   threading.Thread(target=runner, args=(7,))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        stored = store.entries("gd", 2010)
        runs = store.runs("gd", 2010)
        counts = [r.values["JC"].sum() for r in runs]
        with store.engine.connect() as connection:
            chain_ok = verify(connection).ok
    print(f"\nentries={len(stored)} of {batches * per_batch} runs={len(runs)} "
          f"entries_seen_by_runs={sorted(int(c) for c in counts)} chain_ok={chain_ok}")
    assert len(stored) == batches * per_batch and chain_ok
    assert len(runs) == 2 * runs_each
    for run in runs:  # each run saw whole batches: a consistent snapshot, never a half-written import
        assert run.values["JC"].sum() % per_batch == 0 and len(set(run.values["JC"].tolist())) == 1
        assert run.unit_codes == tuple(f"u{i}" for i in range(5))
