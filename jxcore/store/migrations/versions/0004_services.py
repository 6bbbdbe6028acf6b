"""Runs keep their plan and their actor; entries get natural keys and withdrawals.

Revision ID: 0004
Revises: 0003

- ``run_plans``: the plan a run was scored with, content-addressed by ``runs.scheme_digest`` (a
  year's daily runs share one row), so explain/report/the web read the plan that produced a run.
- ``runs.actor``: who ran it (final runs need a role; see jxcore.services.runs).
- ``entries.natural_key``: sha256 hex of the entry kind's key (e.g. round + unit of a mystery-shopper visit),
  declared by the collector that reads the kind; a live entry's key is unique (checked by the
  entry services under the chain's writer lock).
- ``entry_withdrawals``: append-only, chained; a withdrawn entry no longer counts. A withdrawal of an
  entry inside an active lock is refused by a trigger, like any write.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ENTRY_LOCKED = ("EXISTS (SELECT 1 FROM entries o JOIN record_locks l ON l.scheme = o.scheme AND l.period = o.period "
                 "WHERE o.id = NEW.entry_id AND l.until >= o.entry_date AND l.action = 'lock' AND NOT EXISTS "
                 "(SELECT 1 FROM record_locks u WHERE u.action = 'unlock' AND u.lock_id = l.id))")

_SQLITE = [
    "CREATE TRIGGER jx_entry_withdrawals_insert_locked BEFORE INSERT ON entry_withdrawals FOR EACH ROW "
    f"WHEN {_ENTRY_LOCKED} BEGIN SELECT RAISE(ABORT, 'locked: the withdrawn entry is inside a lock'); END",
    "CREATE TRIGGER jx_entry_withdrawals_update_append_only BEFORE UPDATE ON entry_withdrawals FOR EACH ROW "
    "BEGIN SELECT RAISE(ABORT, 'append-only: entry_withdrawals rows are never changed'); END",
    "CREATE TRIGGER jx_entry_withdrawals_delete_append_only BEFORE DELETE ON entry_withdrawals FOR EACH ROW "
    "BEGIN SELECT RAISE(ABORT, 'append-only: entry_withdrawals rows are never changed'); END",
    "CREATE TRIGGER jx_run_plans_update_append_only BEFORE UPDATE ON run_plans FOR EACH ROW "
    "BEGIN SELECT RAISE(ABORT, 'append-only: run_plans rows are never changed'); END",
]

_PG = [
    f"""CREATE FUNCTION jx_guard_withdrawals() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF {_ENTRY_LOCKED} THEN
    RAISE EXCEPTION 'locked: the withdrawn entry % is inside a lock', NEW.entry_id USING ERRCODE = 'JXL01';
  END IF;
  RETURN NEW;
END $$""",
    "CREATE TRIGGER jx_guard_withdrawals BEFORE INSERT ON entry_withdrawals "
    "FOR EACH ROW EXECUTE FUNCTION jx_guard_withdrawals()",
    "CREATE TRIGGER jx_append_only_entry_withdrawals BEFORE UPDATE OR DELETE ON entry_withdrawals "
    "FOR EACH ROW EXECUTE FUNCTION jx_guard_append_only()",
    "CREATE TRIGGER jx_no_truncate_entry_withdrawals BEFORE TRUNCATE ON entry_withdrawals "
    "FOR EACH STATEMENT EXECUTE FUNCTION jx_guard_append_only()",
    "CREATE TRIGGER jx_append_only_run_plans BEFORE UPDATE ON run_plans "
    "FOR EACH ROW EXECUTE FUNCTION jx_guard_append_only()",
]


def upgrade() -> None:
    op.create_table(
        "run_plans",
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("scheme", sa.String(200), nullable=False),
        sa.Column("period", sa.Integer, nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest", name="pk_run_plans"),
    )
    # Plain ADD COLUMN (SQLite has it natively): a batch copy would drop 0003's triggers.
    op.add_column("runs", sa.Column("actor", sa.String(200), nullable=True))
    op.add_column("entries", sa.Column("natural_key", sa.String(64), nullable=True))
    op.create_index("ix_entries_scheme_period_kind_natural_key", "entries", ["scheme", "period", "kind", "natural_key"])
    op.create_table(
        "entry_withdrawals",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("entry_id", sa.Integer, nullable=False),
        sa.Column("batch_id", sa.String(32), nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("by_user", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_entry_withdrawals"),
        sa.ForeignKeyConstraint(["entry_id"], ["entries.id"], name="fk_entry_withdrawals_entry_id_entries"),
        sa.UniqueConstraint("entry_id", name="uq_entry_withdrawals_entry_id"),
    )
    dialect = op.get_bind().dialect.name
    for statement in _SQLITE if dialect == "sqlite" else _PG if dialect == "postgresql" else []:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("jx_entry_withdrawals_insert_locked", "jx_entry_withdrawals_update_append_only",
                     "jx_entry_withdrawals_delete_append_only", "jx_run_plans_update_append_only"):
            op.execute(f"DROP TRIGGER {name}")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER jx_append_only_run_plans ON run_plans")
        op.execute("DROP FUNCTION jx_guard_withdrawals CASCADE")
    op.drop_table("entry_withdrawals")
    op.drop_index("ix_entries_scheme_period_kind_natural_key", table_name="entries")
    with op.batch_alter_table("entries") as batch:
        batch.drop_column("natural_key")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("actor")
    op.drop_table("run_plans")
