"""PostgreSQL, migration 0010: an INSERT into entries is checked once per statement (every refusal
as before, the whole statement refused, the first bad row named), a lock waits for the entry
writers in flight and a writer that inserts after a lock began waits for it and is refused, no
entry (withdrawal) is written in a transaction whose snapshot could miss a lock, and the revision
upgrades and downgrades. The writers here are raw SQL (psycopg, no advisory lock): what anyone
with INSERT rights could do around jx."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa
from alembic import command

from jxcore import services
from jxcore.errors import LockedError, StoreError
from jxcore.records import heads as heads_mod
from jxcore.records import locking
from jxcore.store import NewEntry, Store, ledger
from jxcore.store.api import alembic_config
from test_insider_attacks import _paused_before_commit, _until, _waiting  # states, not time

D = dt.date
ADMIN = "局长"
LOCKED = "locked: an entry of mini 2010 dated {} is inside a lock"
SUPERSEDES = "refused: an entry supersedes only an entry of its own scheme, period and kind"
# A new entry made from a stored one (its batch, payload, who and when), with the given date and
# correction: one row, or ``n`` rows of which the g-th is dated ``odd`` (the others ``day``).
INSERT = ("INSERT INTO entries (scheme, period, kind, unit_code, entry_date, payload, entered_by, entered_at, "
          "batch_id, supersedes) SELECT t.scheme, t.period, t.kind, 'u' || g, "
          "CASE WHEN g = ANY(%(odd_at)s) THEN %(odd)s::date ELSE %(day)s::date END, t.payload, t.entered_by, "
          "t.entered_at, t.batch_id, CASE WHEN g = ANY(%(odd_at)s) THEN %(odd_supersedes)s::integer "
          "ELSE %(supersedes)s::integer END FROM entries t, generate_series(1, %(n)s) g WHERE t.id = %(template)s")


@pytest.fixture(autouse=True)
def signing_key(tmp_path, monkeypatch):
    monkeypatch.setenv("JX_SIGNING_KEY", str(tmp_path / "keys" / "bureau.pem"))
    return heads_mod.init_key()[1]


@pytest.fixture
def store(make_postgres_url) -> Iterator[Store]:
    """A store with an admin and entries: mini 2010 inspections of 1 March and 1 September, a spot
    check of mini 2010, an inspection of mini 2011 and one of another scheme."""
    with Store.open(make_postgres_url()) as opened:
        services.add_user(opened, ADMIN, role="admin")
        with opened.transaction() as tx:
            for scheme, period, kind, days in (("mini", 2010, "inspection", (D(2010, 3, 1), D(2010, 9, 1))),
                                               ("mini", 2010, "spot_check", (D(2010, 9, 2),)),
                                               ("mini", 2011, "inspection", (D(2011, 3, 1),)),
                                               ("other", 2010, "inspection", (D(2010, 3, 1),))):
                tx.add_entries(scheme=scheme, period=period, kind=kind, source_file=f"{scheme}-{kind}.csv",
                               source_sha256=uuid.uuid4().hex * 2, entered_by=ADMIN,
                               rows=[NewEntry("humen", day, {"finding": "absent"}) for day in days])
        yield opened


def ids(store: Store) -> dict[tuple[str, int, str, dt.date], int]:
    with store.engine.connect() as connection:
        return {(s, p, k, d): i for i, s, p, k, d in connection.execute(sa.text(
            "SELECT id, scheme, period, kind, entry_date FROM entries ORDER BY id"))}


def count(store: Store) -> int:
    with store.engine.connect() as connection:
        return connection.execute(sa.text("SELECT count(*) FROM entries")).scalar_one()


def raw(store: Store) -> psycopg.Connection:
    """A connection of the store's database outside jx (autocommit: BEGIN and COMMIT are ours)."""
    return psycopg.connect(store.engine.url.set(drivername="postgresql").render_as_string(hide_password=False),
                           autocommit=True)


def insert(connection: psycopg.Connection, template: int, day: str, *, n: int = 1, supersedes: int | None = None,
           odd_at: tuple[int, ...] = (), odd: str | None = None, odd_supersedes: int | None = None) -> None:
    connection.execute(INSERT, {"template": template, "day": day, "n": n, "supersedes": supersedes,
                                "odd_at": list(odd_at), "odd": odd or day, "odd_supersedes": odd_supersedes})


def refused(store: Store, match: str, template: int, day: str, **kw) -> psycopg.errors.Error:
    """The INSERT, refused with SQLSTATE JXL01 and a message matching ``match``; nothing stored."""
    before = count(store)
    with raw(store) as connection:
        with pytest.raises(psycopg.errors.Error, match=match) as caught:
            insert(connection, template, day, **kw)
    assert caught.value.sqlstate == "JXL01"
    assert count(store) == before
    return caught.value


def lock(store: Store, until: dt.date | None = None) -> locking.Lock:
    """A lock of mini 2010's entries up to ``until`` (30 June)."""
    return services.lock(store, "mini", 2010, user=ADMIN, until=until or D(2010, 6, 30))


# --- every refusal, on raw SQL


def test_each_refusal_of_a_new_entry(store):
    found = ids(store)
    march, sept = found["mini", 2010, "inspection", D(2010, 3, 1)], found["mini", 2010, "inspection", D(2010, 9, 1)]
    lock(store)
    refused(store, LOCKED.format("2010-04-01"), sept, "2010-04-01")  # dated inside the lock
    refused(store, LOCKED.format("2010-06-30"), sept, "2010-06-30")  # its last day
    refused(store, LOCKED.format("2010-10-01"), sept, "2010-10-01", supersedes=march)  # superseding a locked one
    for other in (found["mini", 2010, "spot_check", D(2010, 9, 2)], found["mini", 2011, "inspection", D(2011, 3, 1)],
                  found["other", 2010, "inspection", D(2010, 3, 1)]):  # another kind, period, scheme
        refused(store, SUPERSEDES, sept, "2010-10-01", supersedes=other)
    with raw(store) as connection:  # what stays allowed: after the lock's date, a correction of a live one
        insert(connection, sept, "2010-07-01")
        insert(connection, sept, "2010-10-01", supersedes=sept)
        with pytest.raises(psycopg.errors.Error, match=SUPERSEDES):  # an entry superseding itself
            connection.execute(
                "WITH i AS (SELECT nextval(pg_get_serial_sequence('entries', 'id')) AS id) "
                "INSERT INTO entries (id, scheme, period, kind, unit_code, entry_date, payload, entered_by, "
                "entered_at, batch_id, supersedes) SELECT i.id, scheme, period, kind, unit_code, '2010-10-02', "
                "payload, entered_by, entered_at, batch_id, i.id FROM entries, i WHERE entries.id = %s", (sept,))
        with pytest.raises(psycopg.errors.Error, match=SUPERSEDES):  # two new rows superseding each other
            connection.execute(
                "WITH i AS (SELECT nextval(pg_get_serial_sequence('entries', 'id')) AS a, "
                "nextval(pg_get_serial_sequence('entries', 'id')) AS b) "
                "INSERT INTO entries (id, scheme, period, kind, unit_code, entry_date, payload, entered_by, "
                "entered_at, batch_id, supersedes) SELECT x.id, scheme, period, kind, unit_code, '2010-10-03', "
                "payload, entered_by, entered_at, batch_id, x.other FROM entries, i, "
                "LATERAL (VALUES (i.a, i.b), (i.b, i.a)) AS x(id, other) WHERE entries.id = %s", (sept,))
    assert count(store) == len(found) + 2
    with raw(store) as connection:  # COPY fires the statement check too
        batch = connection.execute("SELECT batch_id FROM entries WHERE id = %s", (sept,)).fetchone()[0]
        with pytest.raises(psycopg.errors.Error, match=LOCKED.format("2010-05-05")):
            with connection.cursor().copy("COPY entries (scheme, period, kind, unit_code, entry_date, payload, "
                                          "entered_by, entered_at, batch_id) FROM STDIN") as copy:
                for day in ("2010-08-08", "2010-05-05"):
                    copy.write_row(("mini", 2010, "inspection", "humen", day, "{}", ADMIN, "2010-12-01", batch))
    assert count(store) == len(found) + 2


def test_a_statement_with_one_bad_row_among_many_is_refused_whole_naming_the_first(store):
    found = ids(store)
    march, sept = found["mini", 2010, "inspection", D(2010, 3, 1)], found["mini", 2010, "inspection", D(2010, 9, 1)]
    lock(store)
    refused(store, LOCKED.format("2010-05-05"), sept, "2010-08-01", n=2_000, odd_at=(700,), odd="2010-05-05")
    refused(store, LOCKED.format("2010-05-05"), sept, "2010-08-01", n=2_000, odd_at=(300, 1_500),
            odd="2010-05-05")
    refused(store, LOCKED.format("2010-08-01"), sept, "2010-08-01", n=2_000, odd_at=(1_999,),
            odd_supersedes=march)
    refused(store, SUPERSEDES, sept, "2010-08-01", n=2_000, odd_at=(5,),
            odd_supersedes=found["other", 2010, "inspection", D(2010, 3, 1)])
    with raw(store) as connection:
        insert(connection, sept, "2010-08-01", n=2_000)
    assert count(store) == len(found) + 2_000


# --- both orders of the race, with a writer that takes no advisory lock


def test_a_lock_waits_for_an_entry_writer_in_flight_and_comes_after_it(store):
    sept = ids(store)["mini", 2010, "inspection", D(2010, 9, 1)]
    done: list = []
    locker = threading.Thread(target=lambda: done.append(lock(store)))
    with raw(store) as writer:
        writer.execute("BEGIN")
        insert(writer, sept, "2010-04-01")  # no lock yet: allowed
        locker.start()
        _until(lambda: _waiting(store, "INSERT INTO record_locks"), "the lock waits for the writer")
        assert not done
        writer.execute("COMMIT")
        locker.join()
    assert done and done[0].active  # taken once the writer committed: the entry is before it
    assert ("mini", 2010, "inspection", D(2010, 4, 1)) in ids(store)
    refused(store, LOCKED.format("2010-04-02"), sept, "2010-04-02")  # and the lock holds from then on


def test_a_session_left_open_after_writing_entries_holds_a_lock_up_only_so_long(store, monkeypatch):
    sept = ids(store)["mini", 2010, "inspection", D(2010, 9, 1)]
    monkeypatch.setattr(locking, "LOCK_WAIT_S", 0.5)
    with raw(store) as writer:
        writer.execute("BEGIN")
        insert(writer, sept, "2010-04-01")  # and then left open
        with pytest.raises(StoreError, match="waited too long for another transaction") as caught:
            lock(store)
        assert "idle in transaction" in caught.value.hint
        with store.engine.connect() as connection:
            assert locking.locks(connection, "mini", 2010) == []  # nothing locked
        writer.execute("COMMIT")
    assert lock(store).active  # once the session ended


def test_a_writer_that_inserts_while_a_lock_is_taken_waits_and_is_refused(store, monkeypatch):
    sept = ids(store)["mini", 2010, "inspection", D(2010, 9, 1)]
    inside, release = _paused_before_commit(monkeypatch)
    locker = threading.Thread(target=lambda: lock(store))
    locker.start()
    assert inside.wait(30)
    outcome: list = []

    def writer() -> None:
        with raw(store) as connection:
            try:
                connection.execute("BEGIN")
                insert(connection, sept, "2010-04-01")
                connection.execute("COMMIT")
                outcome.append("committed")
            except psycopg.errors.Error as exc:
                outcome.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    _until(lambda: _waiting(store, "INSERT INTO entries"), "the writer waits at its INSERT")
    release.set()
    locker.join()
    thread.join()
    assert len(outcome) == 1 and isinstance(outcome[0], psycopg.errors.Error), outcome
    assert outcome[0].sqlstate == "JXL01" and LOCKED.format("2010-04-01") in str(outcome[0])
    assert D(2010, 4, 1) not in {d for (_, _, _, d) in ids(store)}


# --- REPEATABLE READ and SERIALIZABLE: a snapshot older than the lock


@pytest.mark.parametrize("level", ["REPEATABLE READ", "SERIALIZABLE"])
def test_a_writer_whose_snapshot_is_older_than_a_lock_is_refused(store, level):
    found = ids(store)
    sept = found["mini", 2010, "inspection", D(2010, 9, 1)]
    with raw(store) as writer:
        writer.execute(f"BEGIN ISOLATION LEVEL {level}")
        writer.execute("SELECT 1")  # the snapshot: before the lock
        lock(store)
        with pytest.raises(psycopg.errors.Error) as caught:
            insert(writer, sept, "2010-04-01")
            writer.execute("COMMIT")
        writer.execute("ROLLBACK")
    assert caught.value.sqlstate == "JXL01" and "READ COMMITTED" in str(caught.value)
    assert count(store) == len(found)
    with raw(store) as writer:  # a withdrawal of an entry the next lock covers, likewise (at its commit)
        writer.execute(f"BEGIN ISOLATION LEVEL {level}")
        writer.execute("SELECT 1")
        lock(store, until=D(2010, 9, 15))
        with pytest.raises(psycopg.errors.Error) as caught:
            writer.execute("INSERT INTO entry_withdrawals (entry_id, reason, by_user, at) "
                           "VALUES (%s, 'gone', %s, now())", (sept, ADMIN))
            writer.execute("COMMIT")
        writer.execute("ROLLBACK")
    assert caught.value.sqlstate == "JXL01" and "READ COMMITTED" in str(caught.value)
    with store.engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM entry_withdrawals")).scalar_one() == 0


# --- what stays refused, and the guard's own checks


def test_update_delete_and_truncate_of_entries_stay_refused(store):
    found = ids(store)
    march = found["mini", 2010, "inspection", D(2010, 3, 1)]
    lock(store)
    for sql, state, message in (
            (f"UPDATE entries SET unit_code = 'x' WHERE id = {march}", "JXL01", "locked: update of locked entry"),
            (f"DELETE FROM entries WHERE id = {march}", "JXL01", "locked: delete of locked entry"),
            ("UPDATE entries SET unit_code = 'x' WHERE scheme = 'other'", "JXL02", "append-only"),
            ("DELETE FROM entries WHERE scheme = 'other'", "JXL02", "append-only"),
            ("TRUNCATE entries CASCADE", "JXL02", "append-only")):
        with raw(store) as connection:
            with pytest.raises(psycopg.errors.Error, match=message) as caught:
                connection.execute(sql)
        assert caught.value.sqlstate == state
    assert ids(store) == found


def test_missing_guards_names_the_statement_guard(store):
    def missing() -> list[str]:
        with store.engine.connect() as connection:
            return ledger.missing_guards(connection)

    assert missing() == []
    with store.engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE entries DISABLE TRIGGER jx_guard_new_entries")
    assert missing() == ["trigger jx_guard_new_entries (disabled)"]
    with store.engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE entries ENABLE TRIGGER jx_guard_new_entries")
        connection.exec_driver_sql("ALTER FUNCTION jx_guard_new_entries() RESET search_path")
        connection.exec_driver_sql("ALTER FUNCTION jx_guard_commit() RESET search_path")
    assert missing() == ["function jx_guard_new_entries (search_path not fixed)",
                         "function jx_guard_commit (search_path not fixed)"]
    with store.engine.begin() as connection:
        connection.exec_driver_sql("DROP TRIGGER jx_guard_new_entries ON entries")
    assert "trigger jx_guard_new_entries (missing)" in missing()
    with pytest.raises(Exception, match="jx_guard_new_entries"):
        lock(store)


# --- the app role of docs/deploy.md (SELECT and INSERT only) takes a lock


def test_a_lock_by_a_role_with_select_and_insert_only(store):
    role = f"jx_app_{uuid.uuid4().hex[:8]}"
    url = store.engine.url
    with store.engine.begin() as connection:
        for sql in (f'CREATE ROLE "{role}" LOGIN', f'GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA public TO "{role}"',
                    f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{role}"'):
            connection.exec_driver_sql(sql)
    try:
        with Store.open(url.set(username=role).render_as_string(hide_password=False)) as app:
            with app.engine.connect() as connection:  # the table lock needs more than the role has
                with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
                    connection.exec_driver_sql("LOCK TABLE entries IN SHARE MODE")
            done = services.lock(app, "mini", 2010, user=ADMIN, until=D(2010, 6, 30))
            assert done.active
            sept = ids(app)["mini", 2010, "inspection", D(2010, 9, 1)]
            with pytest.raises(LockedError, match=LOCKED.format("2010-04-01")):
                with app.transaction() as tx:
                    tx.connection.exec_driver_sql(INSERT, {
                        "template": sept, "day": "2010-04-01", "n": 1, "supersedes": None, "odd_at": [],
                        "odd": "2010-04-01", "odd_supersedes": None})
            app.engine.dispose()
    finally:
        with store.engine.begin() as connection:
            connection.exec_driver_sql(f'DROP OWNED BY "{role}"')
            connection.exec_driver_sql(f'DROP ROLE "{role}"')


# --- the revision itself


def _triggers(connection: sa.Connection) -> set[str]:
    return set(connection.execute(sa.text(
        "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "WHERE c.relname = 'entries' AND NOT t.tgisinternal")).scalars())


def test_upgrade_from_0009_downgrade_and_upgrade_again(make_postgres_url):
    engine = sa.create_engine(make_postgres_url(), poolclass=sa.NullPool)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0009")
        assert {"jx_guard_supersedes", "jx_commit_entries"} <= _triggers(connection)
        connection.exec_driver_sql("INSERT INTO users (name, role, added_by, added_at, disabled) "
                                   "VALUES ('a', 'admin', 'a', now(), false)")
        connection.exec_driver_sql("INSERT INTO entry_batches (id, scheme, period, kind, source_file, source_sha256, "
                                   "row_count, entered_by, entered_at) VALUES ('b', 'mini', 2010, 'inspection', "
                                   "'f.csv', 's', 2, 'a', now())")
        connection.exec_driver_sql("INSERT INTO entries (scheme, period, kind, unit_code, entry_date, payload, "
                                   "entered_by, entered_at, batch_id) VALUES ('mini', 2010, 'inspection', 'humen', "
                                   "'2010-03-01', '{}', 'a', now(), 'b')")
    with engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO record_locks (scheme, period, action, scope, until, by_user, at) "
                                   "VALUES ('mini', 2010, 'lock', 'entries', '2010-06-30', 'a', now())")
    new_entry = ("INSERT INTO entries (scheme, period, kind, unit_code, entry_date, payload, entered_by, entered_at, "
                 "batch_id) VALUES ('mini', 2010, 'inspection', 'humen', '2010-04-01', '{}', 'a', now(), 'b')")
    for target in ("0010", "0009", "head"):
        with engine.begin() as connection:
            (command.downgrade if target == "0009" else command.upgrade)(alembic_config(connection), target)
        with engine.begin() as connection:
            found = _triggers(connection)
            secure = connection.execute(sa.text(
                "SELECT prosecdef FROM pg_proc WHERE proname = 'jx_guard_unlock'")).scalar_one()
            if target == "0009":
                assert {"jx_guard_entries", "jx_guard_supersedes", "jx_commit_entries"} <= found
                assert "jx_guard_new_entries" not in found and not secure
                assert ledger.missing_guards(connection) == [
                    "trigger jx_guard_new_entries (missing)", "function jx_guard_new_entries (missing)",
                    "function jx_guard_commit (search_path not fixed)"]
            else:
                assert "jx_guard_new_entries" in found and secure
                assert not {"jx_guard_supersedes", "jx_commit_entries"} & found
                assert ledger.missing_guards(connection) == []
        with engine.begin() as connection:  # refused either way, with the message of either revision
            with pytest.raises(sa.exc.DatabaseError, match=r"locked: an entry of mini 2010 dated 2010-04-01"):
                connection.exec_driver_sql(new_entry)
    engine.dispose()


def test_a_temporary_record_locks_hides_no_lock_from_the_commit_check(store):
    """jx_guard_commit (withdrawals and runs) runs with the fixed search_path since 0010."""
    sept = ids(store)["mini", 2010, "inspection", D(2010, 9, 1)]
    with raw(store) as writer:
        writer.execute("CREATE TEMP TABLE record_locks (LIKE public.record_locks)")
        writer.execute("BEGIN")
        writer.execute("INSERT INTO entry_withdrawals (entry_id, reason, by_user, at) VALUES (%s, 'gone', %s, now())",
                       (sept, ADMIN))  # no lock yet
        lock(store, until=D(2010, 9, 15))
        with pytest.raises(psycopg.errors.Error, match="a lock of this scheme and period was taken") as caught:
            writer.execute("COMMIT")
    assert caught.value.sqlstate == "JXL01"
