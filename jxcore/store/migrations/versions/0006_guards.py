"""Guards against an insider: fixed search_path, TRUNCATE, REPLACE/UPSERT, forged unlocks, signed heads.

Revision ID: 0006
Revises: 0005

- PostgreSQL trigger functions run with ``search_path = pg_catalog, <schema>, pg_temp`` (pg_temp
  last: a ``TEMP TABLE record_locks`` can no longer shadow the real one; the SQL helpers they call
  are inlined into them and resolve names with that path); TRUNCATE is refused on
  every chained table, including ``runs``, ``run_units`` and ``run_nodes``.
- SQLite refuses an INSERT whose key (or any unique key) exists already: ``INSERT OR REPLACE`` and
  UPSERT deleted the old row without firing a delete trigger.
- A final lock refuses every new run of its period (final or not): what is published is the
  locked final result. On PostgreSQL a deferred check at commit refuses an entry, withdrawal or run
  that began before a lock and commits after it. Rows of ``record_locks`` need an admin of the ``users`` table (forged
  unlocks by made-up names fail), an unlock a request by another, current admin.
- ``access_log``, ``departments``, ``run_plans`` and ``signed_heads`` are append-only; ``users``
  rows are never deleted or renamed. ``users``, ``departments``, ``access_log`` and ``run_plans``
  join the audit chain (their existing rows are chained here); ``signed_heads`` keeps the signed
  tree heads (jxcore.records.heads).

MariaDB/MySQL get none of this: jx refuses locks and final runs there (docs/records.md).
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

LOCKED = "locked: the final results of this scheme and period are locked"
WRITER_LOCK = 7368052  # jxcore.store.ledger's pg_advisory_xact_lock key for chained writers
# --- SQLite


def _final_locked(scheme: str, period: str) -> str:
    return (f"EXISTS (SELECT 1 FROM record_locks l WHERE l.scheme = {scheme} AND l.period = {period} "
            "AND l.scope = 'final' AND l.action = 'lock' AND NOT EXISTS (SELECT 1 FROM record_locks u "
            "WHERE u.action = 'unlock' AND u.lock_id = l.id))")


def _period_locked(run_id: str) -> str:
    return f"EXISTS (SELECT 1 FROM runs r WHERE r.id = {run_id} AND {_final_locked('r.scheme', 'r.period')})"


def _trigger(name: str, when: str, table: str, condition: str | None, message: str) -> str:
    guard = f"WHEN {condition} " if condition else ""
    return (f"CREATE TRIGGER {name} BEFORE {when} ON {table} FOR EACH ROW {guard}"
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END")


# A correction replaces an entry of its own scheme, period and kind: readers hide every superseded id.
_OTHER_ENTRY = ("NOT EXISTS (SELECT 1 FROM entries o WHERE o.id = NEW.supersedes AND o.scheme = NEW.scheme "
                "AND o.period = NEW.period AND o.kind = NEW.kind)")
SUPERSEDES = "refused: an entry supersedes only an entry of its own scheme, period and kind"
_ADMIN = "EXISTS (SELECT 1 FROM users a WHERE a.name = {who} AND a.role = 'admin' AND NOT a.disabled)"
# Every unique key of each chained table: REPLACE deletes a row that clashes on any of them.
UNIQUE_KEYS = {
    "entry_batches": (("id",), ("scheme", "period", "kind", "source_sha256")),
    "entries": (("id",),),
    "entry_withdrawals": (("id",), ("entry_id",)),
    "record_locks": (("id",),),
    "runs": (("id",),),
    "run_units": (("run_id", "position"), ("run_id", "code")),
    "run_nodes": (("run_id", "position"), ("run_id", "code")),
    "run_plans": (("digest",),),
    "audit_chain": (("seq",), ("tbl", "row_key")),
    "users": (("name",),),
    "departments": (("code",),),
    "access_log": (("id",),),
    "signed_heads": (("id",),),
}
REPLACED_SQLITE = ("jx_runs_insert_locked", "jx_runs_update_locked", "jx_run_units_insert_locked",
                   "jx_run_units_update_locked", "jx_run_nodes_insert_locked", "jx_run_nodes_update_locked",
                   "jx_record_locks_unlock_two_admins")


def _sqlite() -> list[str]:
    sql = [f"DROP TRIGGER {name}" for name in REPLACED_SQLITE]
    sql += [
        _trigger("jx_runs_insert_locked", "INSERT", "runs", _final_locked("NEW.scheme", "NEW.period"),
                 f"{LOCKED}: no new run of the period"),
        _trigger("jx_runs_update_locked", "UPDATE", "runs",
                 f"{_final_locked('OLD.scheme', 'OLD.period')} OR {_final_locked('NEW.scheme', 'NEW.period')}", LOCKED),
    ]
    for table in ("run_units", "run_nodes"):  # new rows: of a final run (a new run of the period is refused)
        sql += [_trigger(f"jx_{table}_insert_locked", "INSERT", table,
                         f"EXISTS (SELECT 1 FROM runs r WHERE r.id = NEW.run_id AND r.final AND "
                         f"{_final_locked('r.scheme', 'r.period')})", LOCKED),
                _trigger(f"jx_{table}_update_locked", "UPDATE", table,
                         f"{_period_locked('OLD.run_id')} OR {_period_locked('NEW.run_id')}", LOCKED)]
    sql += [
        _trigger("jx_record_locks_insert_admin", "INSERT", "record_locks",
                 f"NOT {_ADMIN.format(who='NEW.by_user')} OR NEW.action NOT IN ('lock', 'unlock_request', 'unlock') "
                 "OR (NEW.action <> 'lock' AND NOT EXISTS (SELECT 1 FROM record_locks k WHERE k.id = NEW.lock_id "
                 "AND k.action = 'lock'))",
                 "refused: locks and unlocks are rows by an admin of this store naming an existing lock"),
        _trigger("jx_record_locks_unlock_two_admins", "INSERT", "record_locks",
                 "NEW.action = 'unlock' AND NOT EXISTS (SELECT 1 FROM record_locks q WHERE q.action = "
                 f"'unlock_request' AND q.lock_id = NEW.lock_id AND q.by_user <> NEW.by_user AND "
                 f"{_ADMIN.format(who='q.by_user')})",
                 "refused: an unlock needs a request by another admin"),
        _trigger("jx_entries_insert_supersedes", "INSERT", "entries", f"NEW.supersedes IS NOT NULL AND {_OTHER_ENTRY}",
                 SUPERSEDES),
        _trigger("jx_run_plans_delete_append_only", "DELETE", "run_plans", None,
                 "append-only: run_plans rows are never changed"),
        _trigger("jx_users_delete_append_only", "DELETE", "users", None,
                 "append-only: users are never deleted (disable them)"),
        _trigger("jx_users_update_key", "UPDATE OF name", "users", None, "append-only: a user is never renamed"),
    ]
    for table in ("access_log", "signed_heads", "departments"):
        for when in ("UPDATE", "DELETE"):
            sql.append(_trigger(f"jx_{table}_{when.lower()}_append_only", when, table, None,
                                f"append-only: {table} rows are never changed"))
    for table, keys in UNIQUE_KEYS.items():
        clash = " OR ".join(f"EXISTS (SELECT 1 FROM {table} o WHERE "
                            + " AND ".join(f"o.{c} = NEW.{c}" for c in key) + ")" for key in keys)
        sql.append(_trigger(f"jx_{table}_insert_no_replace", "INSERT", table, clash,
                            f"duplicate key: an insert over an existing {table} row is refused "
                            "(REPLACE and UPSERT too)"))
    return sql


# --- PostgreSQL

_PG_FUNCTIONS = f"""
CREATE FUNCTION jx_run_period_locked(rid text) RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT EXISTS (SELECT 1 FROM runs r WHERE r.id = rid AND jx_final_locked(r.scheme, r.period)) $$;

CREATE OR REPLACE FUNCTION jx_guard_runs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (TG_OP = 'INSERT' AND jx_final_locked(NEW.scheme, NEW.period))
     OR (TG_OP = 'UPDATE' AND (jx_final_locked(OLD.scheme, OLD.period) OR jx_final_locked(NEW.scheme, NEW.period)))
     OR (TG_OP = 'DELETE' AND OLD.final AND jx_final_locked(OLD.scheme, OLD.period)) THEN
    RAISE EXCEPTION '{LOCKED}' USING ERRCODE = 'JXL01';
  END IF;
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  RETURN NEW;
END $$;

-- New rows of a final run under a final lock are refused (as in 0003, cheap for the rows of the
-- usual non-final runs); a new run of the period is refused on runs itself.
CREATE OR REPLACE FUNCTION jx_guard_run_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (TG_OP = 'DELETE' AND jx_run_locked(OLD.run_id)) OR (TG_OP = 'INSERT' AND jx_run_locked(NEW.run_id))
     OR (TG_OP = 'UPDATE' AND (jx_run_period_locked(OLD.run_id) OR jx_run_period_locked(NEW.run_id))) THEN
    RAISE EXCEPTION '{LOCKED}' USING ERRCODE = 'JXL01';
  END IF;
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  RETURN NEW;
END $$;

CREATE FUNCTION jx_guard_supersedes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.supersedes IS NOT NULL AND {_OTHER_ENTRY} THEN
    RAISE EXCEPTION '{SUPERSEDES}' USING ERRCODE = 'JXL01';
  END IF;
  RETURN NEW;
END $$;

-- At commit (a deferred constraint trigger): wait for a lock being taken (it holds the chain's writer
-- lock, as every jx writer does), then look again: a write that began before a lock and commits
-- after it is refused, so nothing commits behind a lock, whatever wrote it and with no privilege
-- beyond INSERT.
CREATE FUNCTION jx_guard_commit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  locked boolean;
BEGIN
  PERFORM pg_advisory_xact_lock({WRITER_LOCK});
  IF TG_TABLE_NAME = 'entries' THEN
    locked := jx_entries_locked(NEW.scheme, NEW.period, NEW.entry_date) OR (NEW.supersedes IS NOT NULL AND EXISTS (
      SELECT 1 FROM entries o WHERE o.id = NEW.supersedes AND jx_entries_locked(o.scheme, o.period, o.entry_date)));
  ELSIF TG_TABLE_NAME = 'entry_withdrawals' THEN
    locked := EXISTS (SELECT 1 FROM entries o WHERE o.id = NEW.entry_id
                      AND jx_entries_locked(o.scheme, o.period, o.entry_date));
  ELSE
    locked := jx_final_locked(NEW.scheme, NEW.period);
  END IF;
  IF locked THEN
    RAISE EXCEPTION 'locked: a lock of this scheme and period was taken while this % was being written',
      TG_TABLE_NAME USING ERRCODE = 'JXL01';
  END IF;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION jx_guard_unlock() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
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
  END IF;
  RETURN NEW;
END $$;
"""
# The trigger functions, the entry points: each runs with a fixed search_path. The SQL helpers they
# call (jx_entries_locked, jx_final_locked, jx_run_locked, jx_run_period_locked) get none on purpose:
# they are inlined into the trigger functions' queries and resolve names with their fixed path (a
# SET clause would stop the inlining and cost a GUC change per row: a national run took 2× longer).
PG_SIGNATURES = ("jx_guard_entries()", "jx_guard_append_only()", "jx_guard_runs()", "jx_guard_run_rows()",
                 "jx_guard_unlock()", "jx_guard_withdrawals()", "jx_guard_supersedes()")
COMMIT_CHECKED = ("entries", "entry_withdrawals", "runs")
NEW_TRUNCATE = ("runs", "run_units", "run_nodes", "run_plans", "users", "departments", "access_log", "signed_heads")


def _pg(schema: str) -> list[str]:
    quoted = '"' + schema.replace('"', '""') + '"'
    sql = [_PG_FUNCTIONS, "DROP TRIGGER jx_append_only_run_plans ON run_plans"]
    sql += [f"ALTER FUNCTION {f} SET search_path = pg_catalog, {quoted}, pg_temp" for f in PG_SIGNATURES]
    for table, when in (("run_plans", "UPDATE OR DELETE"), ("access_log", "UPDATE OR DELETE"),
                        ("departments", "UPDATE OR DELETE"), ("signed_heads", "UPDATE OR DELETE"),
                        ("users", "DELETE OR UPDATE OF name")):
        sql.append(f"CREATE TRIGGER jx_append_only_{table} BEFORE {when} ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION jx_guard_append_only()")
    sql.append("CREATE TRIGGER jx_guard_supersedes BEFORE INSERT ON entries "
               "FOR EACH ROW EXECUTE FUNCTION jx_guard_supersedes()")
    sql += [f"CREATE CONSTRAINT TRIGGER jx_commit_{table} AFTER INSERT ON {table} DEFERRABLE INITIALLY DEFERRED "
            "FOR EACH ROW EXECUTE FUNCTION jx_guard_commit()" for table in COMMIT_CHECKED]
    sql += [f"CREATE TRIGGER jx_no_truncate_{table} BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION jx_guard_append_only()" for table in NEW_TRUNCATE]
    return sql


def upgrade() -> None:
    op.create_table(
        "signed_heads",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("head", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event", sa.Text, nullable=False),
        sa.Column("public_key", sa.String(64), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_signed_heads"),
    )
    connection = op.get_bind()
    _chain_existing_rows(connection)
    dialect = connection.dialect.name
    if dialect == "sqlite":
        statements = _sqlite()
    elif dialect == "postgresql":
        statements = _pg(connection.execute(sa.text("SELECT current_schema()")).scalar_one())
    else:
        statements = []
    for statement in statements:
        op.execute(statement)


def _chain_existing_rows(connection: sa.Connection) -> None:
    """Chain what earlier revisions stored unchained: plans by time, departments, users (their
    first version), then the access log by id."""
    from jxcore.store import ledger

    plans = sa.table("run_plans", sa.column("digest"), sa.column("stored_at"))
    for (digest,) in connection.execute(sa.select(plans.c.digest).order_by(plans.c.stored_at, plans.c.digest)):
        ledger.append_where(connection, "run_plans", sa.column("digest") == digest)
    ledger.append(connection, "departments", ledger.raw_rows(connection, "departments"))
    users = sa.table("users", sa.column("name"), sa.column("added_at"))
    for (name,) in connection.execute(sa.select(users.c.name).order_by(users.c.added_at, users.c.name)):
        ledger.append_version(connection, "users", name)
    ledger.append(connection, "access_log", ledger.raw_rows(connection, "access_log"))


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in _sqlite():
            if statement.startswith("CREATE TRIGGER"):
                name = statement.split()[2]
                if name not in REPLACED_SQLITE:
                    op.execute(f"DROP TRIGGER {name}")
    elif dialect == "postgresql":
        for table in ("access_log", "departments", "signed_heads", "users"):
            op.execute(f"DROP TRIGGER jx_append_only_{table} ON {table}")
        op.execute("DROP FUNCTION jx_guard_supersedes CASCADE")
        op.execute("DROP FUNCTION jx_guard_commit CASCADE")
        for table in NEW_TRUNCATE:
            op.execute(f"DROP TRIGGER jx_no_truncate_{table} ON {table}")
        for f in PG_SIGNATURES:
            if f not in ("jx_guard_supersedes()", "jx_guard_commit()"):
                op.execute(f"ALTER FUNCTION {f} RESET search_path")
    op.drop_table("signed_heads")
