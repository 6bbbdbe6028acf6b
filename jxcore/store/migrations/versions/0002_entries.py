"""Manual entries, append-only: entry_batches (one per imported file) and entries.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "entry_batches",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("scheme", sa.String(200), nullable=False),
        sa.Column("period", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("source_file", sa.Text, nullable=False),
        sa.Column("source_sha256", sa.String(64), nullable=False),
        sa.Column("row_count", sa.Integer, nullable=False),
        sa.Column("entered_by", sa.String(200), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_entry_batches"),
        sa.UniqueConstraint("scheme", "period", "kind", "source_sha256",
                            name="uq_entry_batches_scheme_period_kind_source_sha256"),
    )
    op.create_table(
        "entries",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("scheme", sa.String(200), nullable=False),
        sa.Column("period", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("unit_code", sa.String(100), nullable=False),
        sa.Column("entry_date", sa.Date, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("source_file", sa.Text, nullable=True),
        sa.Column("source_sha256", sa.String(64), nullable=True),
        sa.Column("source_row", sa.Integer, nullable=True),
        sa.Column("entered_by", sa.String(200), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("batch_id", sa.String(32), nullable=False),
        sa.Column("supersedes", sa.Integer, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_entries"),
        sa.ForeignKeyConstraint(["batch_id"], ["entry_batches.id"], name="fk_entries_batch_id_entry_batches"),
        sa.ForeignKeyConstraint(["supersedes"], ["entries.id"], name="fk_entries_supersedes_entries"),
    )
    op.create_index("ix_entries_scheme_period_kind_entry_date", "entries",
                    ["scheme", "period", "kind", "entry_date"])
    op.create_index("ix_entries_supersedes", "entries", ["supersedes"])


def downgrade() -> None:
    op.drop_index("ix_entries_supersedes", table_name="entries")
    op.drop_index("ix_entries_scheme_period_kind_entry_date", table_name="entries")
    op.drop_table("entries")
    op.drop_table("entry_batches")
