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
from jxcore.records import Action, add_user, enter, lock, unlock, verify
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
PLAN = {"scale": 30, "departments": {"DJK": "登记", "JCK": "检查", "BGS": "办公室"}, "nodes": [
    {"code": "YW", "name": "业务", "points": 30, "children": [
        {"code": "DJ", "name": "抽查", "points": 10, "department": "DJK", "rule": {"name": "per_event", "params": {
            "deductions": {"beyond_authority": 1}}}, "collector": {"name": "manual", "params": {"kind": "spot_check"}}},
        {"code": "JC", "name": "督察", "points": 10, "department": "JCK", "rule": {"name": "per_event", "params": {
            "deductions": {"absent": 1}}}, "collector": {"name": "manual", "params": {"kind": "inspection"}}},
        {"code": "AF", "name": "暗访", "points": 10, "department": "BGS", "rule": {
            "name": "mystery_stars", "params": {"points_by_star": [2, 4, 6, 8, 10]}},
         "collector": {"name": "manual", "params": {"kind": "mystery_shopper"}}}]}]}
KIND = {"DJ": "spot_check", "JC": "inspection", "AF": "mystery_shopper"}
# Hand-written expectations: role -> department -> indicators the user may enter and correct.
MAY_ENTER = {
    "admin": {"DJK": {"DJ", "JC", "AF"}, "JCK": {"DJ", "JC", "AF"}, "QYK": {"DJ", "JC", "AF"}},
    "clerk": {"DJK": {"DJ"}, "JCK": {"JC"}, "QYK": set()},
    "inspector": {"DJK": {"DJ", "JC"}, "JCK": {"JC"}, "QYK": {"JC"}},
    "viewer": {"DJK": set(), "JCK": set(), "QYK": set()},
}


def test_every_role_department_indicator_action_gets_the_expected_answer(tmp_path):
    scheme = build_scheme(PLAN, units=[{"code": "humen", "name": "虎门"}], name="gd",
                          settings={"checklists": {"inspection": {"absent": "无故缺岗"}}})
    checks = wrong_allows = wrong_denials = 0
    with Store.open(f"sqlite:///{tmp_path / 'm.sqlite'}") as store:
        add_user(store, "root", role="admin")
        for role in MAY_ENTER:
            for dept in MAY_ENTER[role]:
                add_user(store, f"{role}-{dept}", role=role, department=dept, by="root")
        base = enter(store, scheme, "inspection", [NewEntry("humen", D(2010, 9, 1), {"finding": "absent"})],
                     user="root", source_file="seed", source_sha256="0" * 64).id
        seed = {k: store.entries("gd", 2010, kinds=[k]) for k in KIND.values()}
        for kind in KIND.values():
            if not seed[kind]:
                enter(store, scheme, kind, [NewEntry("humen", D(2010, 9, 1), {"n": 0})], user="root",
                      source_file="seed", source_sha256=kind[0] * 64)
        assert base
        n = 0
        for role, depts in MAY_ENTER.items():
            for dept, allowed in depts.items():
                for code, kind in KIND.items():
                    for action in ("enter", "correct", "lock", "unlock", "read"):
                        n += 1
                        expected = {"enter": code in allowed, "correct": code in allowed,
                                    "lock": role == "admin", "unlock": role == "admin", "read": True}[action]
                        got = _attempt(store, scheme, f"{role}-{dept}", kind, action, n)
                        checks += 1
                        wrong_allows += got and not expected
                        wrong_denials += expected and not got
        with store.engine.connect() as connection:
            refusals = connection.execute(sa.select(sa.func.count()).select_from(access_log)
                                          .where(access_log.c.allowed == sa.false())).scalar_one()
    print(f"\naccess checks={checks} wrong_allows={wrong_allows} wrong_denials={wrong_denials} "
          f"refusals_logged={refusals}")
    assert checks == 4 * 3 * 3 * 5 and wrong_allows == 0 and wrong_denials == 0
    assert refusals > 0


def _attempt(store, scheme, user, kind, action, n) -> bool:
    """Do the action for real through the service layer; True if it was allowed."""
    try:
        if action in ("enter", "correct"):
            old = store.entries("gd", 2010, kinds=[kind])[0].id if action == "correct" else None
            enter(store, scheme, kind, [NewEntry("humen", D(2010, 12, 1), {"n": n}, supersedes=old,
                                                 reason="更正" if old else None)],
                  user=user, source_file=f"m{n}", source_sha256=f"{n:064d}")
        elif action == "lock":
            lk = lock(store, "gd", 2010, user=user, until=D(2010, 1, 1))
            unlock(store, "gd", 2010, user="root", reason="matrix", lock_id=lk.id)  # leave it requested
        elif action == "unlock":
            lk = lock(store, "gd", 2010, user="root", until=D(2010, 1, 1))
            unlock(store, "gd", 2010, user=user, reason="matrix", lock_id=lk.id)
        else:
            from jxcore.records.access import get_user, may
            return may(get_user(store, user), Action.READ)
        return True
    except AccessDenied:
        return False


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
                    enter(store, scheme, "inspection",
                          [NewEntry(f"u{u}", D(2010, 3, 1 + b % 28), {"finding": "absent", "b": b}) for u in range(per_batch)],
                          user="clerk", source_file=f"b{b}", source_sha256=f"{b:064d}")
            except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread
                errors.append(exc)

        def runner():
            try:
                for _ in range(runs_each):
                    run_scheme(scheme, registry, as_of=D(2010, 12, 31), store=store)
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=importer), threading.Thread(target=runner), threading.Thread(target=runner)]
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
