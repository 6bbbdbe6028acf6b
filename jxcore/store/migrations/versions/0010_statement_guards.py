"""PostgreSQL: an INSERT into entries is checked once per statement; a lock waits for the entry
writers in flight instead of every entry looking again at commit.

Revision ID: 0010
Revises: 0009

Until this revision every inserted entry fired two BEFORE INSERT row triggers (``jx_guard_entries``:
inside a lock?, ``jx_guard_supersedes``: a correction of an entry of its own scheme, period and
kind?) and, at commit, the deferred row trigger ``jx_commit_entries`` (``jx_guard_commit``), which
took the chain's writer lock and looked again, so that a write begun before a lock and committed
after it was refused (0006, 0008). An import of 120,000 entries spent about 10 s of server time in
the first two and 9 s at commit in the third; one of 1.15M entries (50 MiB) took 4-5 minutes.

Now:

- ``jx_guard_new_entries`` (``AFTER INSERT ON entries REFERENCING NEW TABLE AS new_rows FOR EACH
  STATEMENT``) checks the statement's rows together, each rule one set-based query: a new entry
  dated inside an active lock of its scheme/period, one superseding an entry inside a lock (both
  ``locked: an entry of <scheme> <period> dated <date> is inside a lock``, naming the first such
  row by id), one superseding an entry that is not of its own scheme, period and kind, or not
  older than itself (0006's message; a smaller id: as a row trigger saw only the rows written
  before, no statement makes two entries supersede each other). SQLSTATE JXL01; the whole
  statement is refused, nothing of it is stored.
  ``jx_guard_entries`` stays, for UPDATE and DELETE only (same trigger name, same function);
  ``jx_guard_supersedes`` and ``jx_commit_entries`` are dropped.
- Nothing commits behind a lock: ``jx_guard_unlock`` (before each ``record_locks`` row) takes
  ``LOCK TABLE entries IN SHARE MODE`` for a ``lock`` row, once the row passed its checks. SHARE
  conflicts with the ROW EXCLUSIVE lock every INSERT into ``entries`` takes when it starts and
  keeps to the end of its transaction (readers' ACCESS SHARE is not blocked). So the lock waits
  for every transaction that inserted entries and has not ended: they commit before it, which is
  what they are (the lock's row is not there yet). A transaction that inserts after the lock took
  the table lock waits at its INSERT until the lock commits; its statement check then reads
  ``record_locks`` with a snapshot of its own (READ COMMITTED: each query of a volatile plpgsql
  function takes a fresh one) and meets the lock's row. This holds for any writer, made by jx or
  not, with no privilege beyond INSERT. (SHARE also waits for a VACUUM or ANALYZE of ``entries``
  run by hand; autovacuum gives way to it.)
- REPEATABLE READ and SERIALIZABLE keep the transaction's first snapshot: a writer that took it
  before a lock committed would not see the lock, in this check or in the commit-time check of
  earlier revisions (which had that hole). Entries are refused in such a transaction
  (``refused: entries are written in READ COMMITTED transactions only …``); the commit-time check
  of withdrawals and runs (``jx_guard_commit``, kept for those few rows) refuses them likewise, and
  now runs with the fixed search_path of the other guards (a temporary ``record_locks`` could
  shadow the real one at commit). jx writes in READ COMMITTED.
- Privileges: ``LOCK TABLE … IN SHARE MODE`` needs UPDATE, DELETE or TRUNCATE on ``entries``,
  which the app role of docs/deploy.md has not (SELECT, INSERT). ``jx_guard_unlock`` therefore
  runs as its owner (SECURITY DEFINER; the role that migrated, the tables' owner). A trigger
  function cannot be called but by its trigger, so nobody gets the table lock but by inserting a
  lock row, which the function's own checks allow only an admin of ``users``; its search_path is
  fixed (0006) and it runs only its fixed queries.
- No deadlock among jx's writers: each takes the chain's writer lock
  (``jxcore.store.ledger.lock_writers``, an advisory lock) before it inserts entries, and a lock
  takes it before it inserts its row: advisory lock, then table lock, on every jx path. (A raw
  writer that holds ROW EXCLUSIVE on ``entries`` and then needs the writer lock, at the commit of
  a withdrawal or run, can deadlock with a lock being taken; PostgreSQL then aborts one of them,
  SQLSTATE 40P01, which jx's ``Store.write`` retries.)

MariaDB/MySQL and SQLite are not concerned (SQLite's write transactions are exclusive already).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

WRITER_LOCK = 7368052  # jxcore.store.ledger's pg_advisory_xact_lock key for chained writers
SUPERSEDES = "refused: an entry supersedes only an entry of its own scheme, period and kind"  # 0006
ISOLATION = ("refused: entries are written in READ COMMITTED transactions only (this one is %): an older "
             "snapshot would not see a lock taken since")
COMMIT_ISOLATION = ("refused: % rows are written in READ COMMITTED transactions only (this one is %): an older "
                    "snapshot would not see a lock taken since")

# The active locks of entries, by scheme and period: how far they reach (a handful of rows).
_ACTIVE = """(SELECT l.scheme, l.period, max(l.until) AS until FROM record_locks l
       WHERE l.action = 'lock' AND NOT EXISTS (SELECT 1 FROM record_locks u WHERE u.action = 'unlock'
                                               AND u.lock_id = l.id)
       GROUP BY l.scheme, l.period)"""

# The superseded entries are looked up by id, one index probe per correction: a lateral subquery
# behind OFFSET 0 is not flattened into a join, which the planner (with no statistics on new_rows)
# could make a scan of all entries.
_NEW_ENTRIES = f"""
CREATE FUNCTION jx_guard_new_entries() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog, {{schema}}, pg_temp AS $$
DECLARE
  bad record;
BEGIN
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION '{ISOLATION}', current_setting('transaction_isolation') USING ERRCODE = 'JXL01';
  END IF;
  SELECT n.scheme, n.period, n.entry_date INTO bad
    FROM new_rows n JOIN {_ACTIVE} a
      ON a.scheme = n.scheme AND a.period = n.period AND n.entry_date <= a.until
   ORDER BY n.id LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'locked: an entry of % % dated % is inside a lock', bad.scheme, bad.period, bad.entry_date
      USING ERRCODE = 'JXL01';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM new_rows n WHERE n.supersedes IS NOT NULL) THEN
    RETURN NULL;
  END IF;
  SELECT n.scheme, n.period, n.entry_date INTO bad
    FROM new_rows n
    CROSS JOIN LATERAL (SELECT o.scheme, o.period, o.entry_date FROM entries o WHERE o.id = n.supersedes
                        OFFSET 0) o
    JOIN {_ACTIVE} a ON a.scheme = o.scheme AND a.period = o.period AND o.entry_date <= a.until
   WHERE n.supersedes IS NOT NULL
   ORDER BY n.id LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'locked: an entry of % % dated % is inside a lock', bad.scheme, bad.period, bad.entry_date
      USING ERRCODE = 'JXL01';
  END IF;
  PERFORM 1 FROM new_rows n
    LEFT JOIN LATERAL (SELECT o.scheme, o.period, o.kind FROM entries o WHERE o.id = n.supersedes
                       AND o.id < n.id OFFSET 0) o ON true
   WHERE n.supersedes IS NOT NULL
     AND (o.scheme IS DISTINCT FROM n.scheme OR o.period IS DISTINCT FROM n.period OR o.kind IS DISTINCT FROM n.kind);
  IF FOUND THEN
    RAISE EXCEPTION '{SUPERSEDES}' USING ERRCODE = 'JXL01';
  END IF;
  RETURN NULL;
END $$"""

# 0006's body, then the table lock for a lock row (after its checks), as the function's owner.
_UNLOCK_CHECKS = """
  IF NOT EXISTS (SELECT 1 FROM users a WHERE a.name = NEW.by_user AND a.role = 'admin' AND NOT a.disabled)
     OR NEW.action NOT IN ('lock', 'unlock_request', 'unlock')
     OR (NEW.action <> 'lock' AND NOT EXISTS (SELECT 1 FROM record_locks k WHERE k.id = NEW.lock_id
                                              AND k.action = 'lock')) THEN
    RAISE EXCEPTION 'refused: locks and unlocks are rows by an admin of this store naming an existing lock (%)',
      NEW.by_user USING ERRCODE = 'JXL01';
  END IF;
  IF NEW.action = 'unlock' AND NOT EXISTS (SELECT 1 FROM record_locks q JOIN users a ON a.name = q.by_user
       WHERE q.action = 'unlock_request' AND q.lock_id = NEW.lock_id AND q.by_user <> NEW.by_user
       AND a.role = 'admin' AND NOT a.disabled) THEN
    RAISE EXCEPTION 'refused: an unlock needs a request by another admin' USING ERRCODE = 'JXL01';
  END IF;"""


def _guard_unlock(lock_table: bool) -> str:
    taken = ("""
  IF NEW.action = 'lock' THEN  -- waits for the entry writers in flight; new ones wait for this commit
    LOCK TABLE entries IN SHARE MODE;
  END IF;""" if lock_table else "")
    return f"""
CREATE OR REPLACE FUNCTION jx_guard_unlock() RETURNS trigger LANGUAGE plpgsql
{'SECURITY DEFINER ' if lock_table else ''}SET search_path = pg_catalog, {{schema}}, pg_temp AS $$
BEGIN{_UNLOCK_CHECKS}{taken}
  RETURN NEW;
END $$"""


# Withdrawals and runs (few rows) keep their check at commit; entries no longer have one.
_GUARD_COMMIT = f"""
CREATE OR REPLACE FUNCTION jx_guard_commit() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog, {{schema}}, pg_temp AS $$
DECLARE
  locked boolean;
BEGIN
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION '{COMMIT_ISOLATION}', TG_TABLE_NAME, current_setting('transaction_isolation')
      USING ERRCODE = 'JXL01';
  END IF;
  PERFORM pg_advisory_xact_lock({WRITER_LOCK});
  IF TG_TABLE_NAME = 'entry_withdrawals' THEN
    locked := EXISTS (SELECT 1 FROM entries o JOIN record_locks l ON l.scheme = o.scheme AND l.period = o.period
                      WHERE o.id = NEW.entry_id AND l.until >= o.entry_date AND l.action = 'lock'
                      AND NOT EXISTS (SELECT 1 FROM record_locks u WHERE u.action = 'unlock' AND u.lock_id = l.id));
  ELSE
    locked := jx_final_locked(NEW.scheme, NEW.period);
  END IF;
  IF locked THEN
    RAISE EXCEPTION 'locked: a lock of this scheme and period was taken while this % was being written',
      TG_TABLE_NAME USING ERRCODE = 'JXL01';
  END IF;
  RETURN NULL;
END $$"""


def _revision(name: str) -> ModuleType:
    """An earlier revision's module (for the bodies a downgrade puts back)."""
    path = Path(__file__).with_name(name)
    spec = importlib.util.spec_from_file_location(f"jx_migration_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _schema(connection: sa.Connection) -> str:
    schema = connection.execute(sa.text("SELECT current_schema()")).scalar_one()
    return '"' + schema.replace('"', '""') + '"'


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name != "postgresql":
        return
    schema = _schema(connection)
    for statement in (
        _NEW_ENTRIES.replace("{schema}", schema),
        "CREATE TRIGGER jx_guard_new_entries AFTER INSERT ON entries REFERENCING NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION jx_guard_new_entries()",
        "DROP TRIGGER jx_guard_entries ON entries",
        "CREATE TRIGGER jx_guard_entries BEFORE UPDATE OR DELETE ON entries "
        "FOR EACH ROW EXECUTE FUNCTION jx_guard_entries()",
        "DROP TRIGGER jx_commit_entries ON entries",
        "DROP FUNCTION jx_guard_supersedes() CASCADE",  # and its trigger
        _guard_unlock(lock_table=True).replace("{schema}", schema),
        _GUARD_COMMIT.replace("{schema}", schema),
    ):
        op.execute(statement)


def downgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name != "postgresql":
        return
    schema = _schema(connection)
    r0006, r0008 = _revision("0006_guards.py"), _revision("0008_import_guards.py")
    for statement in (
        "DROP FUNCTION jx_guard_new_entries() CASCADE",  # and its trigger
        "DROP TRIGGER jx_guard_entries ON entries",
        "CREATE TRIGGER jx_guard_entries BEFORE INSERT OR UPDATE OR DELETE ON entries "
        "FOR EACH ROW EXECUTE FUNCTION jx_guard_entries()",
        # 0006's function, with its fixed search_path
        f"CREATE FUNCTION jx_guard_supersedes() RETURNS trigger LANGUAGE plpgsql "
        f"SET search_path = pg_catalog, {schema}, pg_temp AS $$ BEGIN "
        f"IF NEW.supersedes IS NOT NULL AND {r0006._OTHER_ENTRY} THEN "
        f"RAISE EXCEPTION '{r0006.SUPERSEDES}' USING ERRCODE = 'JXL01'; END IF; RETURN NEW; END $$",
        "CREATE TRIGGER jx_guard_supersedes BEFORE INSERT ON entries "
        "FOR EACH ROW EXECUTE FUNCTION jx_guard_supersedes()",
        _guard_unlock(lock_table=False).replace("{schema}", schema),
        r0008._guard_commit(r0008._locked),  # without a search_path of its own, as before
        "CREATE CONSTRAINT TRIGGER jx_commit_entries AFTER INSERT ON entries DEFERRABLE INITIALLY DEFERRED "
        "FOR EACH ROW EXECUTE FUNCTION jx_guard_commit()",
    ):
        op.execute(statement)
