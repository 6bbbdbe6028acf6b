"""Issue 14: the attacks of a motivated clerk, branch head or database user, each refused or detected,
on SQLite and PostgreSQL (MariaDB: refused), through jxcore.services as the CLI and the web call it;
concurrent writers on PostgreSQL never make an honest store look tampered, and nothing commits
behind a lock (both orders of the race, forced with two connections)."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time

import pytest
import sqlalchemy as sa

from jxcore import services
from jxcore.errors import AccessDenied, DataError, LockedError, StoreError, UsageError
from jxcore.records import heads as heads_mod
from jxcore.records import locking
from jxcore.scheme import scheme_from_dict
from jxcore.services.entries import import_entries
from jxcore.store import NewEntry, Store, ledger
from jxcore.store.tables import access_log
from test_services_entries import CHECKLISTS, PLAN, UNITS

D = dt.date
ADMIN, ADMIN2, DJK, JCK = "局长", "副局长", "登记科李", "稽查科陈"
SPOT = {"date": "2010-03-01", "unit": "humen", "file_no": "A1", "defects": "facts_unclear"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'jx.sqlite'}"
    return request.getfixturevalue("make_postgres_url")()


@pytest.fixture(autouse=True)
def signing_key(tmp_path, monkeypatch):
    monkeypatch.setenv("JX_SIGNING_KEY", str(tmp_path / "keys" / "bureau.pem"))
    return heads_mod.init_key()[1]


@pytest.fixture(scope="module")
def registry():
    from jxcore.testing import installed_registry

    return installed_registry()


def plan(**changes):
    """The mini plan (tests/test_services_entries.py); ``changes`` edit one indicator's fields."""
    doc = json.loads(json.dumps(PLAN))
    for node in doc["nodes"][0]["children"]:
        if node["code"] == "AF":  # runs without mystery-shopper visits
            node["rule"]["params"]["missing"] = "zero"
        node.update(changes.get(node["code"], {}))
    return scheme_from_dict(doc, units=UNITS, name="mini",
                            settings={"checklists": CHECKLISTS, "records": {"inspection_kinds": ["inspection"]}})


@pytest.fixture
def store(url):
    with Store.open(url) as opened:
        services.add_user(opened, ADMIN, role="admin")
        services.add_user(opened, ADMIN2, role="admin", by=ADMIN)
        services.add_user(opened, DJK, role="clerk", department="DJK", by=ADMIN)
        services.add_user(opened, JCK, role="clerk", department="JCK", by=ADMIN)
        yield opened


def raw(store: Store, sql: str, **params) -> None:
    with store.transaction() as tx:
        tx.connection.execute(sa.text(sql), params)


def refusals(store: Store, user: str) -> list[str]:
    with store.engine.connect() as connection:
        return list(connection.execute(sa.select(access_log.c.message).where(
            access_log.c.user_name == user, access_log.c.allowed == sa.false())).scalars())


# --- 1. a clerk deletes another department's record through --supersedes


def test_a_clerk_cannot_supersede_another_departments_entry(store, registry):
    scheme = plan()
    case = services.enter(store, registry, scheme, "spot_check", {**SPOT, "archive": "case"}, user=JCK)
    with pytest.raises(AccessDenied, match=f"{DJK} .*may not correct entry #{case.entry_ids[0]}"):
        services.enter(store, registry, scheme, "spot_check", {**SPOT, "archive": "registration", "file_no": "D1"},
                       user=DJK, supersedes=case.entry_ids[0], reason="更正")
    assert any("may not correct entry" in m for m in refusals(store, DJK))  # logged
    with pytest.raises(DataError, match="a spot_check entry of mini 2010, not a mystery_shopper"):
        services.enter(store, registry, scheme, "mystery_shopper", {"round": "1", "date": "2010-05-02",
                       "unit": "humen", "score": "80"}, user=ADMIN, supersedes=case.entry_ids[0], reason="x")
    with pytest.raises(LockedError, match="supersedes only an entry of its own scheme, period and kind"):
        raw(store, "INSERT INTO entries (scheme, period, kind, unit_code, entry_date, payload, entered_by, "
                   "entered_at, batch_id, supersedes) SELECT scheme, period, 'mystery_shopper', unit_code, entry_date, "
                   "payload, entered_by, entered_at, batch_id, id FROM entries WHERE id = :i", i=case.entry_ids[0])
    assert [e.id for e in store.entries("mini", 2010)] == list(case.entry_ids)


# --- 2. the policy and the final run come from the stored plan, not the caller's copy


def test_a_copied_plan_grants_nothing_and_cannot_be_final(store, registry):
    services.run(store, registry, plan(), as_of=D(2010, 6, 30), actor=ADMIN)  # stores the period's plan
    copy = plan(AJCC={"department": "DJK"})  # 案件档案抽查 moved to the clerk's own department
    with pytest.raises(AccessDenied, match="not the plan of mini 2010 in the store"):
        services.enter(store, registry, copy, "spot_check", {**SPOT, "archive": "case"}, user=DJK)
    assert any("not the plan of mini 2010" in m for m in refusals(store, DJK))
    lenient = plan(NWJC={"rule": {"name": "per_event", "params": {"deductions": {"vehicle_misuse": 0.1}}}})
    with pytest.raises(AccessDenied, match="a final run refused"):
        services.run(store, registry, lenient, as_of=D(2010, 12, 31), final=True, actor=ADMIN)
    with pytest.raises(AccessDenied, match="may not lock"):
        services.run(store, registry, plan(), as_of=D(2010, 12, 31), final=True, actor=DJK)
    done = services.run(store, registry, plan(), as_of=D(2010, 12, 31), final=True, actor=ADMIN)
    assert store.load_run(done.run.id).actor == ADMIN
    assert [r.final for r in store.runs("mini", 2010)] == [True, False]
    assert services.signed_heads(store)[-1].event.startswith(f"final run {done.run.id}")


# --- 3. after a final lock, the published result is the locked final one


def test_a_final_lock_freezes_what_is_published(store, registry):
    final = services.run(store, registry, plan(), as_of=D(2010, 12, 30), final=True, actor=ADMIN).run.id
    later = services.run(store, registry, plan(), as_of=D(2010, 12, 31), actor=ADMIN).run.id  # not final, newer
    assert services.stored_view(store, registry, "mini", 2010).run_id == later
    services.lock(store, "mini", 2010, user=ADMIN, final=True)
    assert services.stored_view(store, registry, "mini", 2010).run_id == final
    assert store.latest_run("mini", 2010).id == final  # what reports and the web read
    with pytest.raises(LockedError, match="under lock #1.*no run of the period is stored"):
        services.run(store, registry, plan(), as_of=D(2010, 12, 31), actor=ADMIN)
    with pytest.raises(LockedError, match="locked"):  # the database refuses it too, final or not
        raw(store, "INSERT INTO runs (id, scheme, period, as_of, started_at, status, final, jx_version, "
                   "scheme_digest, unit_count, node_count) VALUES ('x', 'mini', 2010, '2010-12-31', "
                   "'2011-01-01', 'finished', false, '0', 'd', 0, 0)")
    with pytest.raises(LockedError, match="locked"):
        raw(store, "UPDATE run_units SET total_milli = 0 WHERE run_id = :r", r=later)


# --- 4. PostgreSQL: no shadowing temp table, no TRUNCATE


def test_postgres_triggers_ignore_a_temp_table_and_refuse_truncate(make_postgres_url, registry):
    with Store.open(make_postgres_url()) as store:
        services.add_user(store, ADMIN, role="admin")
        final = services.run(store, registry, plan(), as_of=D(2010, 12, 31), final=True, actor=ADMIN).run.id
        services.lock(store, "mini", 2010, user=ADMIN, final=True)
        with store.engine.connect() as connection:
            connection.exec_driver_sql("CREATE TEMP TABLE record_locks (LIKE public.record_locks)")
            with pytest.raises(sa.exc.DatabaseError, match="locked"):
                connection.execute(sa.text("UPDATE run_units SET total_milli = 0 WHERE run_id = :r"), {"r": final})
            connection.rollback()
        for table in ("runs", "run_units", "run_nodes", "access_log", "users", "audit_chain"):
            with pytest.raises(LockedError, match="append-only"):
                raw(store, f"TRUNCATE {table} CASCADE")
        assert services.verify_store(store).ok


# --- 5. REPLACE and UPSERT


def test_replace_and_upsert_are_refused_on_chained_tables(store, registry):
    scheme = plan()
    services.enter(store, registry, scheme, "spot_check", {**SPOT, "archive": "case"}, user=JCK)
    services.run(store, registry, scheme, as_of=D(2010, 12, 31), final=True, actor=ADMIN)
    services.lock(store, "mini", 2010, user=ADMIN, until=D(2010, 6, 30))
    sqlite = store.engine.dialect.name == "sqlite"
    verb = "INSERT OR REPLACE INTO" if sqlite else "INSERT INTO"
    attempts = [
        (f"{verb} entries SELECT id, scheme, period, kind, unit_code, '2010-09-09', payload, source_file, "
         "source_sha256, source_row, entered_by, entered_at, batch_id, supersedes, reason, natural_key "
         "FROM entries WHERE id = 1"),
        (f"{verb} record_locks (id, scheme, period, action, scope, until, by_user, at) "
         "SELECT id, scheme, period, action, scope, '2010-01-01', by_user, at FROM record_locks WHERE id = 1"),
        (f"{verb} runs SELECT id, scheme, period, as_of, started_at, finished_at, status, false, jx_version, "
         "scheme_digest, unit_count, node_count, actor FROM runs WHERE final"),
        "INSERT INTO entries SELECT * FROM entries WHERE id = 1 ON CONFLICT (id) DO UPDATE SET unit_code = 'x'",
    ]
    for sql in attempts:
        with pytest.raises((LockedError, StoreError), match="duplicate key|append-only|locked|refused"):
            raw(store, sql)
    assert services.verify_store(store).ok
    upsert = ("INSERT INTO users (name, role, added_by, added_at, disabled) VALUES (:n, 'admin', 'x', '2010-01-01', "
              "false) ON CONFLICT (name) DO UPDATE SET role = 'admin'")
    if sqlite:
        with pytest.raises(StoreError, match="duplicate key"):
            raw(store, upsert, n=DJK)
    else:  # users rows are updated in place (passwords): the chain tells
        raw(store, upsert, n=DJK)
        assert [(f.kind, f.key) for f in services.verify_store(store).findings] == [("changed", f"{DJK}#1")]


# --- 6. missing or disabled guards stop jx and show in verify


def test_a_missing_or_disabled_guard_stops_every_chained_write(store, registry):
    pg = store.engine.dialect.name == "postgresql"
    guard = "jx_guard_runs" if pg else "jx_runs_insert_locked"
    raw(store, "ALTER TABLE runs DISABLE TRIGGER jx_guard_runs" if pg else f"DROP TRIGGER {guard}")
    with pytest.raises(StoreError, match=f"guards are not in place: trigger {guard} "
                                         f"\\({'disabled' if pg else 'missing'}\\)"):
        services.run(store, registry, plan(), as_of=D(2010, 12, 31), final=True, actor=ADMIN)
    with pytest.raises(StoreError, match=guard):
        services.enter(store, registry, plan(), "spot_check", {**SPOT, "archive": "case"}, user=JCK)
    with pytest.raises(StoreError, match=guard):
        services.lock(store, "mini", 2010, user=ADMIN, final=True)
    found = services.verify_store(store).findings
    assert [(f.kind, f.key) for f in found] == [("unguarded", f"trigger {guard}")]
    assert store.runs("mini", 2010) == [] and store.entries("mini", 2010) == []
    if pg:
        raw(store, "ALTER TABLE runs ENABLE TRIGGER jx_guard_runs")
        raw(store, "ALTER FUNCTION jx_guard_runs() RESET search_path")
        assert [f.key for f in services.verify_store(store).findings] == ["function jx_guard_runs"]


def test_mariadb_refuses_locks_and_final_runs(make_mariadb_url, registry):
    with Store.open(make_mariadb_url()) as store:
        services.add_user(store, ADMIN, role="admin")
        with pytest.raises(UsageError, match="MariaDB/MySQL store cannot enforce a lock in the database"):
            services.lock(store, "mini", 2010, user=ADMIN, final=True)
        with pytest.raises(UsageError, match="cannot enforce a final run"):
            services.run(store, registry, plan(), as_of=D(2010, 12, 31), final=True, actor=ADMIN)
        assert store.runs("mini", 2010) == []


# --- 7. signed heads outside the database; users, departments and the access log chained


def test_a_lock_signs_a_head_that_covers_its_own_record(store, signing_key):
    done = services.lock(store, "mini", 2010, user=ADMIN, until=D(2010, 6, 30))
    with store.engine.connect() as connection:
        seq = connection.execute(sa.text("SELECT seq FROM audit_chain WHERE tbl = 'record_locks' AND row_key = '1'")
                                 ).scalar_one()
    assert done.signed.size >= seq and done.signed.valid(signing_key)
    assert done.signed.head == ledger.merkle_root([x["leaf"] for x in _chain(store)][:done.signed.size])
    assert heads_mod.public_key() == signing_key


def _chain(store):
    with store.engine.connect() as connection:
        return ledger.chain_rows(connection)


def _rewrite_chain(store, *tamper_sql: str) -> None:
    """The insider with the owner's rights: tamper, then rebuild every leaf and head so that the
    chain alone verifies (the rewrite-the-whole-chain attack)."""
    from jxcore.records.chain import _chained_rows, _latest_versions

    with store.engine.begin() as connection:
        triggers = []
        if connection.dialect.name == "sqlite":  # dropped, then put back as they were
            triggers = connection.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").all()
            for name, _ in triggers:
                connection.exec_driver_sql(f"DROP TRIGGER {name}")
        else:
            connection.exec_driver_sql("SET session_replication_role = replica")
        for sql in tamper_sql:
            connection.exec_driver_sql(sql)
        connection.exec_driver_sql("UPDATE record_locks SET head = NULL, size = NULL")  # heads it cannot forge
        chain = ledger.chain_rows(connection)
        rows = _chained_rows(connection, _latest_versions(chain))
        connection.exec_driver_sql("DELETE FROM audit_chain")
        connection.exec_driver_sql("DELETE FROM signed_heads")
        links = [link for link in chain if (link["tbl"], link["row_key"]) in rows]
        hs = ledger.Heads()
        connection.execute(sa.text("INSERT INTO audit_chain (seq, tbl, row_key, leaf, head) "
                                   "VALUES (:seq, :tbl, :row_key, :leaf, :head)"), [
            {"seq": i, "tbl": link["tbl"], "row_key": link["row_key"],
             "leaf": (leaf := ledger.leaf_hash(link["tbl"], rows[(link["tbl"], link["row_key"])])),
             "head": hs.add(leaf)} for i, link in enumerate(links, start=1)])
        for _, sql in triggers:
            connection.exec_driver_sql(sql)
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("SET session_replication_role = origin")


def test_a_rewritten_or_truncated_history_is_caught_by_the_kept_heads(store, registry, tmp_path, signing_key):
    scheme = plan()
    mine = services.enter(store, registry, scheme, "spot_check", {**SPOT, "archive": "case"}, user=JCK)
    services.lock(store, "mini", 2010, user=ADMIN, until=D(2010, 6, 30))
    kept = tmp_path / "heads.jsonl"
    assert len(services.export_heads(store, kept)) == 1
    late = {**SPOT, "date": "2010-08-01", "file_no": "A2", "archive": "case"}
    services.enter(store, registry, scheme, "spot_check", late, user=JCK)
    services.unlock(store, "mini", 2010, user=ADMIN, reason="复核")
    assert len(services.export_heads(store, kept)) == 1 and len(heads_mod.read_heads(kept)) == 2
    assert services.verify_store(store, kept=kept, key=signing_key).ok
    inclusion = services.entry_inclusion(store, mine.entry_ids[0], kept)
    assert inclusion.ok and inclusion.seq <= inclusion.head.size, inclusion.message
    # the whole chain rewritten after moving 虎门's finding to another unit: the chain alone verifies
    _rewrite_chain(store, f"UPDATE entries SET unit_code = 'changan' WHERE id = {mine.entry_ids[0]}")
    assert services.verify_store(store).ok
    findings = services.verify_store(store, kept=kept).findings
    assert [f.kind for f in findings] == ["rewritten"], findings
    assert not services.entry_inclusion(store, mine.entry_ids[0], kept).ok
    with pytest.raises(DataError, match="rewritten"):  # the export refuses to go on from a forged store
        services.export_heads(store, kept)


def test_a_deleted_tail_is_reported_as_truncated(store, registry, tmp_path):
    services.lock(store, "mini", 2010, user=ADMIN, until=D(2010, 3, 31))
    kept = tmp_path / "heads.jsonl"
    services.export_heads(store, kept)
    size = heads_mod.read_heads(kept)[-1].size
    # the lock row and its access-log row, the tail of the chain, with their chain entries
    _rewrite_chain(store, "DELETE FROM record_locks", "DELETE FROM access_log WHERE action = 'lock'")
    assert services.verify_store(store).ok
    findings = services.verify_store(store, kept=kept).findings
    assert [f.kind for f in findings] == ["truncated"] and f"covers {size}" in findings[0].message


def test_a_doctored_heads_file_is_caught(store, tmp_path, signing_key):
    services.lock(store, "mini", 2010, user=ADMIN, until=D(2010, 3, 31))
    services.lock(store, "mini", 2010, user=ADMIN, until=D(2010, 4, 30))
    kept = tmp_path / "heads.jsonl"
    services.export_heads(store, kept)
    lines = kept.read_text(encoding="utf-8").splitlines()
    forged = json.loads(lines[1])
    forged["event"] = "lock #2: nothing to see"
    kept.write_text(lines[0] + "\n" + json.dumps(forged) + "\n", encoding="utf-8")
    assert any("signature" in f.message for f in services.verify_store(store, kept=kept).findings)
    kept.write_text("\n".join(lines) + "\n", encoding="utf-8")
    other = "00" * 32
    assert any("signature" in f.message for f in services.verify_store(store, kept=kept, key=other).findings)


def test_users_departments_and_the_access_log_are_chained(store):
    from jxcore.services import auth

    auth.set_password(store, DJK, "a-long-password-1", by=ADMIN)
    auth.set_disabled(store, JCK, True, by=ADMIN)
    assert services.verify_store(store).ok  # jx's own changes are chained versions
    with pytest.raises(LockedError, match="append-only"):
        raw(store, "DELETE FROM access_log")
    with pytest.raises(LockedError, match="append-only"):
        raw(store, "UPDATE departments SET name = 'x'")
    raw(store, "UPDATE users SET role = 'admin' WHERE name = :n", n=DJK)  # allowed by the database …
    found = services.verify_store(store).findings
    assert [(f.kind, f.table, f.key) for f in found] == [("changed", "users", f"{DJK}#2")]  # … not by the chain


def test_forged_unlock_rows_by_made_up_names_fail(store):
    services.lock(store, "mini", 2010, user=ADMIN, final=True)
    for who in ("mallory", "eve"):
        raw(store, "INSERT INTO users (name, role, added_by, added_at, disabled) VALUES "
                   f"('{who}', 'viewer', 'x', '2010-01-01', false)")
    with pytest.raises(LockedError, match="refused"):
        raw(store, "INSERT INTO record_locks (scheme, period, action, scope, lock_id, by_user, at) "
                   "VALUES ('mini', 2010, 'unlock_request', 'final', 1, 'mallory', '2011-01-01')")
    with pytest.raises(LockedError, match="refused"):
        raw(store, "INSERT INTO record_locks (scheme, period, action, scope, lock_id, by_user, at) "
                   "VALUES ('mini', 2010, 'unlock', 'final', 1, 'nobody', '2011-01-01')")
    assert services.list_locks(store)[0].active


# --- 9. secrets


def test_passwords_are_masked_in_store_and_source_errors(registry):
    import attrs

    from jxcore.engine import SourceOpener
    from jxcore.models import Source

    with pytest.raises(StoreError) as caught:
        Store.open("postgresql+psycopg://jx:s3cret@127.0.0.1:1/jx?password=s3cret&sslmode=disable")
    assert "s3cret" not in caught.value.render() and "***" in caught.value.render()
    scheme = attrs.evolve(plan(), sources={"feed": Source("feed", "nosuchdb://u:s3cret@h/db?token=s3cret", {})})
    with pytest.raises(UsageError) as caught, SourceOpener(scheme, registry) as opener:
        opener.open("feed")
    assert "s3cret" not in caught.value.render() and "cannot open" in caught.value.render()


@pytest.mark.parametrize("backend", ["sqlite", "duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_raw_sql_measure_cannot_change_its_source(backend, tmp_path, make_postgres_url, registry):
    from jxcore.interfaces import CollectContext, CollectRequest
    from jxcore.models import Node, NodeKind, Period, PluginRef

    url = {"sqlite": f"sqlite:///{tmp_path / 'feed.sqlite'}", "duckdb": f"duckdb:///{tmp_path / 'feed.duckdb'}"}
    engine = sa.create_engine(url[backend] if backend in url else make_postgres_url())
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE fines (unit_code VARCHAR(10), amount INTEGER)")
        connection.exec_driver_sql("INSERT INTO fines VALUES ('humen', 100), ('changan', 50)")
    sql = "UPDATE fines SET amount = 0 RETURNING unit_code AS unit, amount AS value"
    params = {"sql": sql}
    node = Node("F", "F", NodeKind.INDICATOR, "YW", 1000, collector=PluginRef("system_feed", params))
    ctx = CollectContext(scheme=None, units=plan().unit_table(), period=Period.for_year(2010), as_of=D(2010, 6, 30),
                         open_source=lambda name: engine)
    if backend == "duckdb":  # no read-only transactions: the statement's work is rolled back
        registry.collector("system_feed").collect(ctx, [CollectRequest(node, params)])
    else:
        with pytest.raises(DataError, match="(?i)read.?only"):
            registry.collector("system_feed").collect(ctx, [CollectRequest(node, params)])
    with engine.connect() as connection:
        assert sorted(connection.exec_driver_sql("SELECT amount FROM fines").scalars()) == [50, 100]
    engine.dispose()


# --- 8. concurrent writers on PostgreSQL: no false alarm, nothing commits behind a lock

ROUNDS, IMPORTERS, ROWS = 50, 3, 3


def _rows(round_: int, who: int) -> list[NewEntry]:
    return [NewEntry(unit, D(2010, 2 + who, 1 + round_ % 28), {"finding": "absent", "note": "暗访发现",
                                                               "inspector": f"r{round_}w{who}"})
            for unit in ("humen", "changan", "hongmei")[:ROWS]]


def _round(store: Store, registry, scheme, r: int, *, lockers: int = 2) -> list[BaseException]:
    """Three imports, two refused locks (access-log rows) and ``lockers`` locks of January 1st
    (lock and log rows, not in the way of the imports) at once; their errors."""
    errors: list[BaseException] = []
    start = threading.Barrier(IMPORTERS + 2 + lockers)

    def importer(who: int) -> None:
        try:
            start.wait()
            import_entries(store, registry, scheme, "inspection", _rows(r, who), source=f"r{r}w{who}.csv",
                           sha256=f"{r:032d}{who:032d}", user=ADMIN)
        except BaseException as exc:  # noqa: BLE001 - returned to the test
            errors.append(exc)

    def refused() -> None:  # access-log rows, chained, written between the imports
        start.wait()
        try:
            services.lock(store, "mini", 2010, user="viewer")
            errors.append(AssertionError("a viewer locked"))
        except AccessDenied:
            pass

    def locker() -> None:
        try:
            start.wait()
            services.lock(store, "mini", 2010, user=ADMIN, until=D(2010, 1, 1), reason=f"round {r}")
        except BaseException as exc:  # noqa: BLE001 - returned to the test
            errors.append(exc)

    threads = [threading.Thread(target=importer, args=(w,)) for w in range(IMPORTERS)]
    threads += [threading.Thread(target=refused) for _ in range(2)]
    threads += [threading.Thread(target=locker) for _ in range(lockers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_fifty_rounds_of_concurrent_writers_give_no_false_alarm(make_postgres_url, registry):
    scheme = plan()
    alarms, rounds_ok = [], 0
    with Store.open(make_postgres_url()) as store:
        services.add_user(store, ADMIN, role="admin")
        services.add_user(store, "viewer", role="viewer", by=ADMIN)
        for r in range(ROUNDS):
            assert _round(store, registry, scheme, r) == []
            found = services.verify_store(store).findings
            alarms += [f"round {r}: {f}" for f in found]
            rounds_ok += not found
        entries = len(store.entries("mini", 2010))
    print(f"\n{ROUNDS} rounds of {IMPORTERS} imports, 2 refusals and 2 locks at once: {rounds_ok} verified ok, "
          f"{len(alarms)} false alarms, {entries} entries")
    assert alarms == [] and entries == ROUNDS * IMPORTERS * ROWS


def _waiting(store: Store, query_start: str) -> bool:
    """Whether another session's statement starting with ``query_start`` waits for a lock."""
    with store.engine.connect() as connection:
        return connection.execute(sa.text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' "
            "AND query ILIKE :q"), {"q": query_start + "%"}).scalar() > 0


def _until(condition, what: str) -> None:
    """Wait for a state of the database (not for time): fail if it never comes."""
    for _ in range(600):
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"never happened: {what}")


def test_a_lock_waits_for_a_write_in_flight_and_covers_it(make_postgres_url, registry):
    with Store.open(make_postgres_url()) as store:
        services.add_user(store, ADMIN, role="admin")
        done: list = []
        locker = threading.Thread(target=lambda: done.append(
            services.lock(store, "mini", 2010, user=ADMIN, until=D(2010, 6, 30))))
        with store.transaction() as tx:  # a writer that inserted before the lock began, not yet committed
            ledger.lock_writers(tx.connection)
            batch = tx.add_entries(scheme="mini", period=2010, kind="inspection", source_file="late.csv",
                                   source_sha256="e" * 64, entered_by=ADMIN, rows=_rows(0, 0))
            locker.start()
            _until(lambda: _waiting(store, "SELECT pg_advisory_xact_lock"), "the lock waits for the writer")
            assert not done  # the lock cannot commit while the write is open
        locker.join()
        lock = done[0]
        with store.engine.connect() as connection:
            seqs = connection.execute(sa.text("SELECT max(seq) FROM audit_chain WHERE tbl = 'entries'")).scalar()
        assert lock.size >= seqs and lock.signed.size > lock.size  # the lock's head covers the write
        assert [e.batch_id for e in store.entries("mini", 2010)] == [batch.id] * ROWS
        assert services.verify_store(store).ok


def _paused_before_commit(monkeypatch) -> tuple[threading.Event, threading.Event]:
    """(inside, release): a lock's transaction sets ``inside`` once it has signed its head, just
    before it commits, and waits there for ``release``."""
    inside, release = threading.Event(), threading.Event()
    real_sign = locking.sign_head

    def held_sign(connection, event, key):
        signed = real_sign(connection, event, key)
        inside.set()
        release.wait()
        return signed

    monkeypatch.setattr(locking, "sign_head", held_sign)
    return inside, release


def test_a_write_that_starts_after_a_lock_began_is_refused_when_the_lock_commits(make_postgres_url, registry,
                                                                                  monkeypatch):
    with Store.open(make_postgres_url()) as store:
        services.add_user(store, ADMIN, role="admin")
        services.enter(store, registry, plan(), "inspection", {"date": "2010-03-01", "unit": "humen",
                       "finding": "absent", "note": "暗访发现", "inspector": "甲"}, user=ADMIN)
        inside, release = _paused_before_commit(monkeypatch)
        locker = threading.Thread(target=lambda: services.lock(store, "mini", 2010, user=ADMIN, until=D(2010, 6, 30)))
        locker.start()
        inside.wait()
        outcome: list = []

        def raw_writer() -> None:  # someone with INSERT rights, around jx
            try:
                with store.transaction() as tx:
                    tx.connection.execute(sa.text(
                        "INSERT INTO entries (scheme, period, kind, unit_code, entry_date, payload, entered_by, "
                        "entered_at, batch_id) SELECT scheme, period, kind, 'changan', '2010-04-01', payload, "
                        "entered_by, entered_at, batch_id FROM entries WHERE id = 1"))
                outcome.append("committed")
            except LockedError as exc:
                outcome.append(str(exc))

        writer = threading.Thread(target=raw_writer)
        writer.start()  # the lock holds entries in SHARE mode (migration 0010): the INSERT waits for it
        _until(lambda: _waiting(store, "INSERT INTO entries"), "the write waits for the lock at its INSERT")
        release.set()
        locker.join()
        writer.join()
        assert len(outcome) == 1 and "locked" in outcome[0]
        assert [e.unit_code for e in store.entries("mini", 2010)] == ["humen"]
        assert services.verify_store(store).ok
        assert heads_mod.check_file(services.signed_heads(store)) == []


# --- the commands


def test_the_commands_lock_sign_export_and_verify(tmp_path, monkeypatch, capsys):
    from jxcore.cli import main
    from jxcore.testing import write_pack

    monkeypatch.setenv("JX_HOME", str(tmp_path / "home"))
    doc = json.loads(json.dumps(PLAN))
    doc["nodes"][0]["children"] = [n for n in doc["nodes"][0]["children"] if n["code"] != "AF"]
    doc["scale"] = doc["nodes"][0]["points"] = 50
    pack = write_pack(tmp_path / "pack", doc, units=UNITS, scheme={
        "name": "mini", "title": "mini", "units": "units.yaml", "outputs": [],
        "settings": {"checklists": CHECKLISTS, "records": {"inspection_kinds": ["inspection"]}}})
    db, kept = f"sqlite:///{tmp_path / 'jx.sqlite'}", tmp_path / "heads.jsonl"

    def jx(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    assert jx("user", "add", "boss", "--role", "admin", "--db", db)[0] == 0
    code, _, err = jx("run", "--scheme", str(pack), "--period", "2010", "--final", "--as", "boss", "--db", db)
    assert code == 0, err
    code, out, _ = jx("lock", "--scheme", str(pack), "--period", "2010", "--final", "--as", "boss", "--db", db)
    assert code == 0 and "signed head" in out
    code, out, _ = jx("heads", "export", str(kept), "--db", db)
    assert code == 0 and out.startswith("2 new signed heads appended")
    code, out, _ = jx("keys", "show")
    public = out.split()[2]
    code, out, err = jx("verify", "--heads", str(kept), "--key", public, "--db", db)
    assert code == 0 and out.splitlines()[-1].startswith("ok: "), err
    code, _, err = jx("run", "--scheme", str(pack), "--period", "2010", "--as", "boss", "--db", db)
    assert code == 2 and "no run of the period is stored" in err
    code, _, err = jx("verify", "--entry", "1", "--db", db)
    assert code == 2 and "--entry needs --heads FILE" in err
    code, _, err = jx("verify", "--heads", str(kept), "--key", "00" * 32, "--db", db)
    assert code == 1 and "signature" in err


def test_concurrent_imports_on_mariadb_take_turns_on_the_chain(make_mariadb_url, registry):
    scheme = plan()
    with Store.open(make_mariadb_url()) as store:
        services.add_user(store, ADMIN, role="admin")
        services.add_user(store, "viewer", role="viewer", by=ADMIN)
        for r in range(5):
            assert _round(store, registry, scheme, r, lockers=0) == []  # MariaDB refuses locks
        verified = services.verify_store(store)
        assert verified.ok and not verified.enforced
        assert len(store.entries("mini", 2010)) == 5 * IMPORTERS * ROWS


def test_a_store_at_0005_with_people_plans_and_a_log_is_chained_on_upgrade(tmp_path, registry):
    from alembic import command

    from jxcore.store.api import alembic_config, create_engine

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = create_engine(url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0005")
        connection.exec_driver_sql("INSERT INTO departments VALUES ('DJK', '登记科')")
        connection.exec_driver_sql("INSERT INTO users (name, department, role, added_by, added_at, disabled) VALUES "
                                   f"('{ADMIN}', NULL, 'admin', '{ADMIN}', '2010-01-01 00:00:00', 0), "
                                   f"('{DJK}', 'DJK', 'clerk', '{ADMIN}', '2010-01-02 00:00:00', 0)")
        connection.exec_driver_sql("INSERT INTO access_log (at, user_name, action, allowed, message) VALUES "
                                   f"('2010-01-02 00:00:00', '{ADMIN}', 'users', 1, 'added clerk')")
    engine.dispose()
    with Store.open(url) as store:
        assert services.verify_store(store).ok
        chained = {link["tbl"] for link in _chain(store)}
        assert {"users", "departments", "access_log"} <= chained
        raw(store, "UPDATE users SET role = 'admin' WHERE name = :n", n=DJK)
        assert [f.kind for f in services.verify_store(store).findings] == ["changed"]


def test_a_heads_file_that_cannot_be_written_or_read_is_a_usage_error(store, tmp_path):
    services.lock(store, "mini", 2010, user=ADMIN, until=D(2010, 3, 31))
    with pytest.raises(UsageError, match="cannot write the heads file"):
        services.export_heads(store, tmp_path / "no" / "such" / "dir" / "heads.jsonl")
    (tmp_path / "bad.jsonl").write_text("not json\n", encoding="utf-8")
    with pytest.raises(DataError, match="bad.jsonl:1: not a signed head"):
        services.verify_store(store, kept=tmp_path / "bad.jsonl")
    with pytest.raises(UsageError, match="holds no signed heads"):
        services.verify_store(store, kept=tmp_path / "missing.jsonl")


def test_the_signing_key_is_kept_and_a_missing_one_stops_a_lock(store, tmp_path, monkeypatch, signing_key):
    with pytest.raises(UsageError, match="a signing key exists already"):
        heads_mod.init_key()
    assert heads_mod.public_key() == signing_key
    monkeypatch.setenv("JX_SIGNING_KEY", str(tmp_path / "elsewhere.pem"))
    with pytest.raises(UsageError, match="elsewhere.pem does not exist"):
        services.lock(store, "mini", 2010, user=ADMIN, final=True)
    assert services.list_locks(store) == []
