"""Records: departments, users, access log, locks, the audit chain, and the lock triggers.

Revision ID: 0003
Revises: 0002

Rows written before this revision (entry batches, entries, final runs) are chained here, in the
order they were written, so a store upgraded from 0002 verifies. The triggers refuse changes to
locked rows (and any UPDATE/DELETE of append-only tables) in the database itself, on SQLite and
PostgreSQL; other backends get no triggers (docs/records.md).
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

APPEND_ONLY = ("entry_batches", "record_locks", "audit_chain")
FIX = "a correction is a new entry that supersedes the old one; a lock is lifted with jx unlock"

# --- SQLite: conditions over a row's scheme/period/date, pasted into each trigger's WHEN.


def _active(lock: str) -> str:
    return (f"{lock}.action = 'lock' AND NOT EXISTS (SELECT 1 FROM record_locks u "
            f"WHERE u.action = 'unlock' AND u.lock_id = {lock}.id)")


def _entries_locked(scheme: str, period: str, day: str) -> str:
    return (f"EXISTS (SELECT 1 FROM record_locks l WHERE l.scheme = {scheme} AND l.period = {period} "
            f"AND l.until >= {day} AND {_active('l')})")


def _final_locked(scheme: str, period: str) -> str:
    return (f"EXISTS (SELECT 1 FROM record_locks l WHERE l.scheme = {scheme} AND l.period = {period} "
            f"AND l.scope = 'final' AND {_active('l')})")


def _run_locked(run_id: str) -> str:
    return (f"EXISTS (SELECT 1 FROM runs r WHERE r.id = {run_id} AND r.final "
            f"AND {_final_locked('r.scheme', 'r.period')})")


def _sqlite_trigger(name: str, when_op: str, table: str, condition: str | None, message: str) -> str:
    when = f"WHEN {condition} " if condition else ""
    return (f"CREATE TRIGGER {name} BEFORE {when_op} ON {table} FOR EACH ROW {when}"
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END")


def _sqlite_triggers() -> list[str]:
    locked_new = _entries_locked("NEW.scheme", "NEW.period", "NEW.entry_date")
    locked_old = _entries_locked("OLD.scheme", "OLD.period", "OLD.entry_date")
    supersedes_locked = ("(NEW.supersedes IS NOT NULL AND EXISTS (SELECT 1 FROM entries o WHERE o.id = "
                         f"NEW.supersedes AND {_entries_locked('o.scheme', 'o.period', 'o.entry_date')}))")
    sql = [
        _sqlite_trigger("jx_entries_insert_locked", "INSERT", "entries", f"{locked_new} OR {supersedes_locked}",
                        "locked: the entries of this scheme and period are locked up to this date"),
    ]
    for op_name in ("UPDATE", "DELETE"):
        low = op_name.lower()
        sql += [
            _sqlite_trigger(f"jx_entries_{low}_locked", op_name, "entries", locked_old,
                            f"locked: {low} of a locked entry"),
            _sqlite_trigger(f"jx_entries_{low}_append_only", op_name, "entries", f"NOT {locked_old}",
                            f"append-only: entries are never changed ({FIX})"),
        ]
        sql += [_sqlite_trigger(f"jx_{table}_{low}_append_only", op_name, table, None,
                                f"append-only: {table} rows are never changed")
                for table in APPEND_ONLY]
        sql.append(_sqlite_trigger(f"jx_runs_{low}_locked", op_name, "runs",
                                   f"(OLD.final AND {_final_locked('OLD.scheme', 'OLD.period')})"
                                   + (f" OR (NEW.final AND {_final_locked('NEW.scheme', 'NEW.period')})"
                                      if op_name == "UPDATE" else ""),
                                   "locked: the final results of this scheme and period are locked"))
        for table in ("run_units", "run_nodes"):
            condition = _run_locked("OLD.run_id") + (f" OR {_run_locked('NEW.run_id')}" if op_name == "UPDATE" else "")
            sql.append(_sqlite_trigger(f"jx_{table}_{low}_locked", op_name, table, condition,
                                       "locked: the final results of this scheme and period are locked"))
    sql.append(_sqlite_trigger("jx_runs_insert_locked", "INSERT", "runs",
                               f"NEW.final AND {_final_locked('NEW.scheme', 'NEW.period')}",
                               "locked: the final results of this scheme and period are locked"))
    for table in ("run_units", "run_nodes"):
        sql.append(_sqlite_trigger(f"jx_{table}_insert_locked", "INSERT", table, _run_locked("NEW.run_id"),
                                   "locked: the final results of this scheme and period are locked"))
    sql.append(_sqlite_trigger("jx_record_locks_unlock_two_admins", "INSERT", "record_locks",
                               "NEW.action = 'unlock' AND NOT EXISTS (SELECT 1 FROM record_locks q WHERE "
                               "q.action = 'unlock_request' AND q.lock_id = NEW.lock_id AND q.by_user <> NEW.by_user)",
                               "refused: an unlock needs a request by another admin"))
    return sql


# --- PostgreSQL: plpgsql trigger functions raising SQLSTATE JXL01 (locked) / JXL02 (append-only).

_PG_FUNCTIONS = f"""
CREATE FUNCTION jx_entries_locked(s text, p integer, d date) RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT EXISTS (SELECT 1 FROM record_locks l WHERE l.scheme = s AND l.period = p AND l.until >= d
                 AND {_active('l')}) $$;
CREATE FUNCTION jx_final_locked(s text, p integer) RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT EXISTS (SELECT 1 FROM record_locks l WHERE l.scheme = s AND l.period = p AND l.scope = 'final'
                 AND {_active('l')}) $$;
CREATE FUNCTION jx_run_locked(rid text) RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT EXISTS (SELECT 1 FROM runs r WHERE r.id = rid AND r.final AND jx_final_locked(r.scheme, r.period)) $$;

CREATE FUNCTION jx_guard_entries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF jx_entries_locked(NEW.scheme, NEW.period, NEW.entry_date) OR (NEW.supersedes IS NOT NULL AND EXISTS (
         SELECT 1 FROM entries o WHERE o.id = NEW.supersedes AND jx_entries_locked(o.scheme, o.period, o.entry_date)))
    THEN
      RAISE EXCEPTION 'locked: an entry of % % dated % is inside a lock', NEW.scheme, NEW.period, NEW.entry_date
        USING ERRCODE = 'JXL01';
    END IF;
    RETURN NEW;
  END IF;
  IF jx_entries_locked(OLD.scheme, OLD.period, OLD.entry_date) THEN
    RAISE EXCEPTION 'locked: % of locked entry %', lower(TG_OP), OLD.id USING ERRCODE = 'JXL01';
  END IF;
  RAISE EXCEPTION 'append-only: entries are never changed ({FIX})' USING ERRCODE = 'JXL02';
END $$;

CREATE FUNCTION jx_guard_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'append-only: % rows are never changed', TG_TABLE_NAME USING ERRCODE = 'JXL02';
END $$;

CREATE FUNCTION jx_guard_runs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (TG_OP <> 'INSERT' AND OLD.final AND jx_final_locked(OLD.scheme, OLD.period))
     OR (TG_OP <> 'DELETE' AND NEW.final AND jx_final_locked(NEW.scheme, NEW.period)) THEN
    RAISE EXCEPTION 'locked: the final results of this scheme and period are locked' USING ERRCODE = 'JXL01';
  END IF;
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  RETURN NEW;
END $$;

CREATE FUNCTION jx_guard_run_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (TG_OP <> 'INSERT' AND jx_run_locked(OLD.run_id)) OR (TG_OP <> 'DELETE' AND jx_run_locked(NEW.run_id)) THEN
    RAISE EXCEPTION 'locked: the final results of this scheme and period are locked' USING ERRCODE = 'JXL01';
  END IF;
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  RETURN NEW;
END $$;

CREATE FUNCTION jx_guard_unlock() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.action = 'unlock' AND NOT EXISTS (SELECT 1 FROM record_locks q WHERE q.action = 'unlock_request'
       AND q.lock_id = NEW.lock_id AND q.by_user <> NEW.by_user) THEN
    RAISE EXCEPTION 'refused: an unlock needs a request by another admin' USING ERRCODE = 'JXL01';
  END IF;
  RETURN NEW;
END $$;
"""


def _pg_triggers() -> list[str]:
    sql = [_PG_FUNCTIONS,
           "CREATE TRIGGER jx_guard_entries BEFORE INSERT OR UPDATE OR DELETE ON entries "
           "FOR EACH ROW EXECUTE FUNCTION jx_guard_entries()",
           "CREATE TRIGGER jx_guard_runs BEFORE INSERT OR UPDATE OR DELETE ON runs "
           "FOR EACH ROW EXECUTE FUNCTION jx_guard_runs()",
           "CREATE TRIGGER jx_guard_unlock BEFORE INSERT ON record_locks "
           "FOR EACH ROW EXECUTE FUNCTION jx_guard_unlock()"]
    for table in ("run_units", "run_nodes"):
        sql.append(f"CREATE TRIGGER jx_guard_{table} BEFORE INSERT OR UPDATE OR DELETE ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION jx_guard_run_rows()")
    for table in (*APPEND_ONLY, "entries"):
        if table != "entries":
            sql.append(f"CREATE TRIGGER jx_append_only_{table} BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION jx_guard_append_only()")
        sql.append(f"CREATE TRIGGER jx_no_truncate_{table} BEFORE TRUNCATE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION jx_guard_append_only()")
    return sql


def upgrade() -> None:
    with op.batch_alter_table("entries") as batch:
        batch.add_column(sa.Column("reason", sa.Text, nullable=True))
    op.create_table(
        "departments",
        sa.Column("code", sa.String(50), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("code", name="pk_departments"),
    )
    op.create_table(
        "users",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("department", sa.String(50), nullable=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("added_by", sa.String(200), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_users"),
        sa.ForeignKeyConstraint(["department"], ["departments.code"], name="fk_users_department_departments"),
    )
    op.create_table(
        "access_log",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_name", sa.String(200), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("scheme", sa.String(200), nullable=True),
        sa.Column("period", sa.Integer, nullable=True),
        sa.Column("target", sa.Text, nullable=True),
        sa.Column("allowed", sa.Boolean, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_access_log"),
    )
    op.create_table(
        "record_locks",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("scheme", sa.String(200), nullable=False),
        sa.Column("period", sa.Integer, nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("scope", sa.String(20), nullable=False),
        sa.Column("until", sa.Date, nullable=True),
        sa.Column("lock_id", sa.Integer, nullable=True),
        sa.Column("by_user", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("head", sa.String(64), nullable=True),
        sa.Column("size", sa.Integer, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_record_locks"),
        sa.ForeignKeyConstraint(["lock_id"], ["record_locks.id"], name="fk_record_locks_lock_id_record_locks"),
    )
    op.create_index("ix_record_locks_scheme_period", "record_locks", ["scheme", "period"])
    op.create_table(
        "audit_chain",
        sa.Column("seq", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("tbl", sa.String(50), nullable=False),
        sa.Column("row_key", sa.String(200), nullable=False),
        sa.Column("leaf", sa.String(64), nullable=False),
        sa.Column("head", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_chain"),
        sa.UniqueConstraint("tbl", "row_key", name="uq_audit_chain_tbl_row_key"),
    )
    _chain_existing_rows(op.get_bind())
    dialect = op.get_bind().dialect.name
    for statement in _sqlite_triggers() if dialect == "sqlite" else _pg_triggers() if dialect == "postgresql" else []:
        op.execute(statement)


def _chain_existing_rows(connection: sa.Connection) -> None:
    """Chain what 0002 stored: batches by time, entries by id, then final runs by start time."""
    from jxcore.store import ledger

    batches = sa.table("entry_batches", sa.column("id"), sa.column("entered_at"))
    for (batch_id,) in connection.execute(sa.select(batches.c.id).order_by(batches.c.entered_at, batches.c.id)):
        ledger.append_where(connection, "entry_batches", sa.column("id") == batch_id)
    ledger.append(connection, "entries", ledger.raw_rows(connection, "entries"))
    runs = sa.table("runs", sa.column("id"), sa.column("final"), sa.column("started_at"))
    for (run_id,) in connection.execute(sa.select(runs.c.id).where(runs.c.final == sa.true())
                                        .order_by(runs.c.started_at, runs.c.id)):
        ledger.append_final_run(connection, run_id)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for (name,) in op.get_bind().execute(sa.text(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'jx_%'")).all():
            op.execute(f"DROP TRIGGER {name}")
    elif dialect == "postgresql":
        for name in ("jx_guard_entries", "jx_guard_append_only", "jx_guard_runs", "jx_guard_run_rows",
                     "jx_guard_unlock", "jx_run_locked", "jx_final_locked", "jx_entries_locked"):
            op.execute(f"DROP FUNCTION {name} CASCADE")
    op.drop_table("audit_chain")
    op.drop_index("ix_record_locks_scheme_period", table_name="record_locks")
    op.drop_table("record_locks")
    op.drop_table("access_log")
    op.drop_table("users")
    op.drop_table("departments")
    with op.batch_alter_table("entries") as batch:
        batch.drop_column("reason")
