"""The audit chain keeps bundles: one record for many entries written together.

Revision ID: 0009
Revises: 0008

``audit_chain.leaves`` (nullable): on a bundle's record, the leaves of the rows it covers (32
bytes each, in id order; the record's ``row_key`` is ``first..last`` and its ``leaf`` the RFC 6962
root of those leaves). Records chained before keep NULL and verify as they did; see
jxcore.store.ledger.BUNDLED and docs/records.md. ``audit_chain`` stays append-only: its guards
refuse an UPDATE of the new column like any other.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

LEAVES_BYTES = 16_777_215  # jxcore.store.tables.LEAVES_BYTES: MEDIUMBLOB on MariaDB


def upgrade() -> None:
    op.add_column("audit_chain", sa.Column("leaves", sa.LargeBinary(length=LEAVES_BYTES), nullable=True))


def downgrade() -> None:
    op.drop_column("audit_chain", "leaves")
