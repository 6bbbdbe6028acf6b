"""Runs and their results, stored columnar: runs, run_units, run_nodes.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Migrations are frozen: they spell out the types instead of importing jxcore.store.tables.
BLOB = sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("scheme", sa.String(200), nullable=False),
        sa.Column("period", sa.Integer, nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("final", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("jx_version", sa.String(50), nullable=False),
        sa.Column("scheme_digest", sa.String(64), nullable=False),
        sa.Column("unit_count", sa.Integer, nullable=False),
        sa.Column("node_count", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
    )
    op.create_index("ix_runs_scheme_period_as_of", "runs", ["scheme", "period", "as_of"])
    op.create_table(
        "run_units",
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("code", sa.String(100), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("total_milli", sa.BigInteger, nullable=False),
        sa.Column("rank", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("run_id", "position", name="pk_run_units"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_run_units_run_id_runs"),
        sa.UniqueConstraint("run_id", "code", name="uq_run_units_run_id_code"),
    )
    op.create_table(
        "run_nodes",
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("code", sa.String(100), nullable=False),
        sa.Column("parent_code", sa.String(100), nullable=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("points_milli", sa.BigInteger, nullable=False),
        sa.Column("scores", BLOB, nullable=False),
        sa.Column("values", BLOB, nullable=True),
        sa.Column("measure_source", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("run_id", "position", name="pk_run_nodes"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_run_nodes_run_id_runs"),
        sa.UniqueConstraint("run_id", "code", name="uq_run_nodes_run_id_code"),
    )
    if op.get_bind().dialect.name == "postgresql":
        _fast_blobs("run_nodes", ("scores", "values"))


def _fast_blobs(table: str, columns: tuple[str, ...]) -> None:
    """Compress score blobs with lz4, or not at all: pglz (the default) takes 11 s a national run.

    lz4 needs PostgreSQL >= 14 built with it; ``default_toast_compression`` lists it then.
    """
    has_lz4 = op.get_bind().execute(sa.text(
        "SELECT count(*) FROM pg_settings WHERE name = 'default_toast_compression' "
        "AND 'lz4' = ANY(enumvals)")).scalar_one()
    how = "SET COMPRESSION lz4" if has_lz4 else "SET STORAGE EXTERNAL"
    op.execute(f"ALTER TABLE {table} " + ", ".join(f'ALTER COLUMN "{c}" {how}' for c in columns))


def downgrade() -> None:
    op.drop_table("run_nodes")
    op.drop_table("run_units")
    op.drop_index("ix_runs_scheme_period_as_of", table_name="runs")
    op.drop_table("runs")
