"""The store's tables as SQLAlchemy Core metadata: what the code reads and writes.

The migrations in ``migrations/versions`` create these tables; a test compares the migrated
database with this metadata, so the two cannot drift apart.

A run is stored columnar: one ``run_nodes`` row per node holds that node's scores over all units
as one little-endian int64 blob (in ``run_units`` order). A national run (30,000 units × 230 nodes)
is then ~230 node rows + 30,000 unit rows instead of 6.9M score rows.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

# Named constraints, so later migrations (also SQLite's batch mode) can find and change them.
metadata = sa.MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})


class Blob(sa.TypeDecorator):
    """Bytes; on MySQL/MariaDB, whose BLOB stops at 64 kB, the larger type ``mysql`` names
    (LONGBLOB: a node's blob is 8 bytes per unit, 240 kB nationally). Chosen when a connection's
    dialect asks, so that opening the store does not import the MySQL dialect."""

    impl = sa.LargeBinary
    cache_ok = True

    def __init__(self, mysql: str = "LONGBLOB"):
        super().__init__()
        self.mysql = mysql

    def load_dialect_impl(self, dialect):
        if dialect.name in ("mysql", "mariadb"):
            from sqlalchemy.dialects import mysql

            return dialect.type_descriptor(getattr(mysql, self.mysql)())
        return dialect.type_descriptor(sa.LargeBinary())


class UTCDateTime(sa.TypeDecorator):
    """A timestamp that is always aware and in UTC when read, on SQLite as on PostgreSQL.

    Naive datetimes given to it are taken to be UTC already.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        value = value.astimezone(dt.timezone.utc)
        # SQLite keeps text without an offset; PostgreSQL's timestamptz keeps the instant.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


runs = sa.Table(
    "runs", metadata,
    sa.Column("id", sa.String(32), primary_key=True),  # uuid4 hex
    sa.Column("scheme", sa.String(200), nullable=False),
    sa.Column("period", sa.Integer, nullable=False),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime, nullable=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("final", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("jx_version", sa.String(50), nullable=False),
    sa.Column("scheme_digest", sa.String(64), nullable=False),  # sha256 hex of the plan's content
    sa.Column("unit_count", sa.Integer, nullable=False),
    sa.Column("node_count", sa.Integer, nullable=False),
    sa.Column("actor", sa.String(200), nullable=True),  # who ran it (0004)
    sa.Index(None, "scheme", "period", "as_of"),
)

# The plan each run was scored with, content-addressed by ``runs.scheme_digest`` (0004): a JSON
# document (jxcore.scheme.document), so a stored run is read with its own plan, not today's.
run_plans = sa.Table(
    "run_plans", metadata,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("scheme", sa.String(200), nullable=False),
    sa.Column("period", sa.Integer, nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("stored_at", UTCDateTime, nullable=False),
)

run_units = sa.Table(
    "run_units", metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),  # index in the run's unit order
    sa.Column("code", sa.String(100), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("total_milli", sa.BigInteger, nullable=False),
    sa.Column("rank", sa.Integer, nullable=False),
    sa.UniqueConstraint("run_id", "code"),
)

run_nodes = sa.Table(
    "run_nodes", metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),  # index in the run's tree order
    sa.Column("code", sa.String(100), nullable=False),
    sa.Column("parent_code", sa.String(100), nullable=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("points_milli", sa.BigInteger, nullable=False),
    sa.Column("scores", Blob, nullable=False),  # int64 '<i8' over units
    sa.Column("values", Blob, nullable=True),  # float64 '<f8' measure values, NaN = none
    sa.Column("measure_source", sa.Text, nullable=True),
    sa.UniqueConstraint("run_id", "code"),
)

# Manual entries (spot checks, inspection findings, mystery-shopper visits …), append-only: a
# correction is a new entry naming the one it ``supersedes``. One ``entry_batches`` row per
# imported file; its unique key refuses the same file twice for a scheme, period and kind.
entry_batches = sa.Table(
    "entry_batches", metadata,
    sa.Column("id", sa.String(32), primary_key=True),  # uuid4 hex
    sa.Column("scheme", sa.String(200), nullable=False),
    sa.Column("period", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(50), nullable=False),
    sa.Column("source_file", sa.Text, nullable=False),
    sa.Column("source_sha256", sa.String(64), nullable=False),
    sa.Column("row_count", sa.Integer, nullable=False),
    sa.Column("entered_by", sa.String(200), nullable=False),
    sa.Column("entered_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("scheme", "period", "kind", "source_sha256"),
)

entries = sa.Table(
    "entries", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("scheme", sa.String(200), nullable=False),
    sa.Column("period", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(50), nullable=False),
    sa.Column("unit_code", sa.String(100), nullable=False),
    sa.Column("entry_date", sa.Date, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),  # JSON object: the row's other fields
    sa.Column("source_file", sa.Text, nullable=True),
    sa.Column("source_sha256", sa.String(64), nullable=True),
    sa.Column("source_row", sa.Integer, nullable=True),
    sa.Column("entered_by", sa.String(200), nullable=False),
    sa.Column("entered_at", UTCDateTime, nullable=False),
    sa.Column("batch_id", sa.String(32), sa.ForeignKey("entry_batches.id"), nullable=False),
    sa.Column("supersedes", sa.Integer, sa.ForeignKey("entries.id"), nullable=True),
    sa.Column("reason", sa.Text, nullable=True),  # why a correction supersedes (0003)
    # sha256 hex of the kind's natural key (0004): a live entry's key is unique per scheme/period/kind
    sa.Column("natural_key", sa.String(64), nullable=True),
    sa.Index(None, "scheme", "period", "kind", "entry_date"),
    sa.Index(None, "supersedes"),
    # 0011: looked up by digest (equality) only, so a hash index on PostgreSQL. Migration 0011 makes
    # it so; it is not said here, as ``postgresql_using`` would import the PostgreSQL dialect at
    # every store open, and autogenerate does not compare index methods (a test checks the method).
    sa.Index(None, "natural_key"),
)

# Withdrawn entries (0004), append-only and chained: a withdrawn entry no longer counts. A whole
# batch withdrawn is one row per entry with the batch's id.
entry_withdrawals = sa.Table(
    "entry_withdrawals", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("entry_id", sa.Integer, sa.ForeignKey("entries.id"), nullable=False, unique=True),
    sa.Column("batch_id", sa.String(32), nullable=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("by_user", sa.String(200), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
)

# Records (migration 0003, issue 7): who may enter what, locks, and the audit chain. See
# docs/records.md.

departments = sa.Table(
    "departments", metadata,
    sa.Column("code", sa.String(50), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
)

users = sa.Table(
    "users", metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("department", sa.String(50), sa.ForeignKey("departments.code"), nullable=True),
    sa.Column("role", sa.String(20), nullable=False),  # clerk, inspector, admin, viewer
    sa.Column("added_by", sa.String(200), nullable=False),
    sa.Column("added_at", UTCDateTime, nullable=False),
)

# Every refusal (and every lock/unlock) with who, what and why: the trace the bureau audits.
access_log = sa.Table(
    "access_log", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("user_name", sa.String(200), nullable=False),
    sa.Column("action", sa.String(20), nullable=False),
    sa.Column("scheme", sa.String(200), nullable=True),
    sa.Column("period", sa.Integer, nullable=True),
    sa.Column("target", sa.Text, nullable=True),
    sa.Column("allowed", sa.Boolean, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
)

# Append-only: a lock, a request to lift it, and the second admin's unlock are three rows.
record_locks = sa.Table(
    "record_locks", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("scheme", sa.String(200), nullable=False),
    sa.Column("period", sa.Integer, nullable=False),
    sa.Column("action", sa.String(20), nullable=False),  # lock, unlock_request, unlock
    sa.Column("scope", sa.String(20), nullable=False),  # entries (up to `until`) or final
    sa.Column("until", sa.Date, nullable=True),
    sa.Column("lock_id", sa.Integer, sa.ForeignKey("record_locks.id"), nullable=True),
    sa.Column("by_user", sa.String(200), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("head", sa.String(64), nullable=True),  # the chain head when locked (hex)
    sa.Column("size", sa.Integer, nullable=True),  # how many leaves that head covers
    sa.Index(None, "scheme", "period"),
)

# The audit chain: one leaf per chained row, in the order written (RFC 6962 leaves).
audit_chain = sa.Table(
    "audit_chain", metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),  # 1, 2, 3 …
    sa.Column("tbl", sa.String(50), nullable=False),
    sa.Column("row_key", sa.String(200), nullable=False),
    sa.Column("leaf", sa.String(64), nullable=False),  # sha256(0x00 || canonical row) hex
    sa.Column("head", sa.String(64), nullable=False),  # RFC 6962 tree head of leaves 1..seq, hex
    sa.UniqueConstraint("tbl", "row_key"),
)
# 0009: a bundle's rows' own leaves, 32 bytes each in id order (its leaf is their RFC 6962 root);
# NULL on the record of one row. See jxcore.store.ledger.BUNDLED. MEDIUMBLOB (16 MiB) on MariaDB,
# what 0009's LargeBinary(length=16_777_215) created there.
audit_chain.append_column(sa.Column("leaves", Blob("MEDIUMBLOB"), nullable=True))

# Authentication (migration 0005, issue 13): users get a password hash, a disabled flag and, for a
# branch's accounts, their unit; sessions are server-side (revocable), login attempts are kept so
# throttling holds across worker processes. See jxcore/services/auth.py and docs/web.md.
users.append_column(sa.Column("password_hash", sa.Text, nullable=True))  # argon2id, PHC string
users.append_column(sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()))
users.append_column(sa.Column("unit_code", sa.String(100), nullable=True))  # a branch account's unit

sessions = sa.Table(
    "sessions", metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # sha256 hex of the cookie's token, never the token
    sa.Column("user_name", sa.String(200), sa.ForeignKey("users.name"), nullable=False),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_seen_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
    sa.Column("address", sa.String(64), nullable=True),
    sa.Column("user_agent", sa.Text, nullable=True),
    sa.Index(None, "user_name"),
)

login_attempts = sa.Table(
    "login_attempts", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("user_name", sa.String(200), nullable=False),  # as typed: may name no user
    sa.Column("address", sa.String(64), nullable=False),
    sa.Column("success", sa.Boolean, nullable=False),
    sa.Index(None, "user_name", "at"),
    sa.Index(None, "address", "at"),
)

# Signed tree heads (migration 0006, issue 14): every lock, unlock and final run signs the audit
# chain's head with the bureau's Ed25519 key (kept outside the store); append-only. `jx heads
# export` copies them to a file anyone can keep; see docs/records.md.
signed_heads = sa.Table(
    "signed_heads", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("size", sa.Integer, nullable=False),  # chain entries the head covers
    sa.Column("head", sa.String(64), nullable=False),  # RFC 6962 tree head, hex
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("event", sa.Text, nullable=False),  # what was signed: "lock #3 …", "final run …"
    sa.Column("public_key", sa.String(64), nullable=False),  # Ed25519 raw public key, hex
    sa.Column("signature", sa.String(128), nullable=False),  # Ed25519 over jxcore.records.heads.message()
)

# Plan versions (migration 0007, issue 16): every version of a year's plan, its transitions
# (draft → consultation → approved → published → superseded) and the branches' comments. All three
# are append-only and chained: a version is never changed (a revision is a new version naming its
# parent), and its state is the last transition's. See jxcore/services/plans.py and docs/plans.md.
PLAN_STATES = ("draft", "consultation", "approved", "published", "superseded")

plan_versions = sa.Table(
    "plan_versions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("scheme", sa.String(200), nullable=False),
    sa.Column("period", sa.Integer, nullable=False),
    sa.Column("number", sa.Integer, nullable=False),  # 1, 2, 3 … within scheme and period
    sa.Column("document", sa.Text, nullable=False),  # jxcore.scheme.document JSON
    sa.Column("digest", sa.String(64), nullable=False),  # sha256 of document = runs.scheme_digest
    sa.Column("departments", sa.Text, nullable=True),  # JSON {code: name} as the plan wrote them
    sa.Column("parent_id", sa.Integer, sa.ForeignKey("plan_versions.id"), nullable=True),
    sa.Column("origin", sa.Text, nullable=False),  # where it came from: a pack file, a file, a year
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("scheme", "period", "number"),
    sa.Index(None, "digest"),
)

plan_transitions = sa.Table(
    "plan_transitions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("version_id", sa.Integer, sa.ForeignKey("plan_versions.id"), nullable=False),
    sa.Column("from_state", sa.String(20), nullable=True),  # NULL: the version's first state
    sa.Column("to_state", sa.String(20), nullable=False),
    sa.Column("by_user", sa.String(200), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("meeting", sa.Text, nullable=True),  # approval: the bureau meeting (局务会议) that decided
    sa.Column("minutes_ref", sa.Text, nullable=True),  # approval: the minutes' reference
    sa.CheckConstraint("to_state IN ('draft', 'consultation', 'approved', 'published', 'superseded')",
                       name="state"),
    sa.CheckConstraint("to_state <> 'approved' OR (meeting IS NOT NULL AND minutes_ref IS NOT NULL)",
                       name="approval_minuted"),
    sa.Index(None, "version_id"),
)

plan_comments = sa.Table(
    "plan_comments", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("version_id", sa.Integer, sa.ForeignKey("plan_versions.id"), nullable=False),
    sa.Column("node_code", sa.String(100), nullable=False),  # the plan's root code: the whole plan
    sa.Column("unit_code", sa.String(100), nullable=True),  # the commenting branch (answers: NULL)
    sa.Column("answers", sa.Integer, sa.ForeignKey("plan_comments.id"), nullable=True),
    sa.Column("by_user", sa.String(200), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Index(None, "version_id"),
)
