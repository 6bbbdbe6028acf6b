"""Plan versions: every version of a year's plan, its transitions and the branches' comments.

Revision ID: 0007
Revises: 0006

- ``plan_versions``: a plan as a JSON document (jxcore.scheme.document) with its digest (what
  ``runs.scheme_digest`` holds for a run it scored), number, parent version, who made it and from
  what. Never changed: a revision is a new version naming its parent.
- ``plan_transitions``: draft → consultation → approved → published → superseded, who, when,
  why; an approval names the bureau meeting and its minutes (a CHECK constraint), and a version
  is published only after an approval (a trigger), except a pack's plan imported as the record.
- ``plan_comments``: the branches' comments on nodes during consultation, and the answers.

All three are append-only (triggers refuse UPDATE and DELETE) and chained (jxcore.store.ledger).
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TABLES = ("plan_versions", "plan_transitions", "plan_comments")
_UNAPPROVED = ("NEW.to_state = 'published' AND NEW.from_state IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "
               "plan_transitions a WHERE a.version_id = NEW.version_id AND a.to_state = 'approved')")
_REFUSED = "refused: a plan is published only after the bureau meeting approved it"
# Every unique key: SQLite's INSERT OR REPLACE would delete a clashing row without a DELETE trigger.
UNIQUE_KEYS = {"plan_versions": (("id",), ("scheme", "period", "number")), "plan_transitions": (("id",),),
               "plan_comments": (("id",),)}


def _sqlite() -> list[str]:
    sql = [f"CREATE TRIGGER jx_{table}_{op_name.lower()}_append_only BEFORE {op_name} ON {table} FOR EACH ROW "
           f"BEGIN SELECT RAISE(ABORT, 'append-only: {table} rows are never changed'); END"
           for table in TABLES for op_name in ("UPDATE", "DELETE")]
    for table, keys in UNIQUE_KEYS.items():
        clash = " OR ".join("(" + " AND ".join(f"o.{c} = NEW.{c}" for c in key) + ")" for key in keys)
        sql.append(f"CREATE TRIGGER jx_{table}_insert_no_replace BEFORE INSERT ON {table} FOR EACH ROW "
                   f"WHEN EXISTS (SELECT 1 FROM {table} o WHERE {clash}) "
                   f"BEGIN SELECT RAISE(ABORT, 'append-only: {table} rows are never replaced'); END")
    sql.append(f"CREATE TRIGGER jx_plan_transitions_publish_approved BEFORE INSERT ON plan_transitions FOR EACH ROW "
               f"WHEN {_UNAPPROVED} BEGIN SELECT RAISE(ABORT, '{_REFUSED}'); END")
    return sql


def _postgres(schema: str) -> list[str]:
    sql = []
    for table in TABLES:
        sql += [(f"CREATE TRIGGER jx_append_only_{table} BEFORE UPDATE OR DELETE ON {table} "
                 "FOR EACH ROW EXECUTE FUNCTION jx_guard_append_only()"),
                (f"CREATE TRIGGER jx_no_truncate_{table} BEFORE TRUNCATE ON {table} "
                 "FOR EACH STATEMENT EXECUTE FUNCTION jx_guard_append_only()")]
    quoted = '"' + schema.replace('"', '""') + '"'
    sql += [f"""CREATE FUNCTION jx_guard_plan_publish() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog, {quoted}, pg_temp AS $$
BEGIN
  IF {_UNAPPROVED} THEN
    RAISE EXCEPTION '{_REFUSED} (version %)', NEW.version_id USING ERRCODE = 'JXL02';
  END IF;
  RETURN NEW;
END $$""",
            ("CREATE TRIGGER jx_guard_plan_publish BEFORE INSERT ON plan_transitions "
             "FOR EACH ROW EXECUTE FUNCTION jx_guard_plan_publish()")]
    return sql


def upgrade() -> None:
    op.create_table(
        "plan_versions",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("scheme", sa.String(200), nullable=False),
        sa.Column("period", sa.Integer, nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("departments", sa.Text, nullable=True),
        sa.Column("parent_id", sa.Integer, nullable=True),
        sa.Column("origin", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_plan_versions"),
        sa.ForeignKeyConstraint(["parent_id"], ["plan_versions.id"], name="fk_plan_versions_parent_id_plan_versions"),
        sa.UniqueConstraint("scheme", "period", "number", name="uq_plan_versions_scheme_period_number"),
    )
    op.create_index("ix_plan_versions_digest", "plan_versions", ["digest"])
    op.create_table(
        "plan_transitions",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("version_id", sa.Integer, nullable=False),
        sa.Column("from_state", sa.String(20), nullable=True),
        sa.Column("to_state", sa.String(20), nullable=False),
        sa.Column("by_user", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("meeting", sa.Text, nullable=True),
        sa.Column("minutes_ref", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_plan_transitions"),
        sa.ForeignKeyConstraint(["version_id"], ["plan_versions.id"],
                                name="fk_plan_transitions_version_id_plan_versions"),
        sa.CheckConstraint("to_state IN ('draft', 'consultation', 'approved', 'published', 'superseded')",
                           name="ck_plan_transitions_state"),
        sa.CheckConstraint("to_state <> 'approved' OR (meeting IS NOT NULL AND minutes_ref IS NOT NULL)",
                           name="ck_plan_transitions_approval_minuted"),
    )
    op.create_index("ix_plan_transitions_version_id", "plan_transitions", ["version_id"])
    op.create_table(
        "plan_comments",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("version_id", sa.Integer, nullable=False),
        sa.Column("node_code", sa.String(100), nullable=False),
        sa.Column("unit_code", sa.String(100), nullable=True),
        sa.Column("answers", sa.Integer, nullable=True),
        sa.Column("by_user", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_plan_comments"),
        sa.ForeignKeyConstraint(["version_id"], ["plan_versions.id"], name="fk_plan_comments_version_id_plan_versions"),
        sa.ForeignKeyConstraint(["answers"], ["plan_comments.id"], name="fk_plan_comments_answers_plan_comments"),
    )
    op.create_index("ix_plan_comments_version_id", "plan_comments", ["version_id"])
    connection = op.get_bind()
    dialect = connection.dialect.name
    if dialect == "sqlite":
        statements = _sqlite()
    elif dialect == "postgresql":
        statements = _postgres(connection.execute(sa.text("SELECT current_schema()")).scalar_one())
    else:
        statements = []
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for table in TABLES:
            for op_name in ("update", "delete"):
                op.execute(f"DROP TRIGGER jx_{table}_{op_name}_append_only")
            op.execute(f"DROP TRIGGER jx_{table}_insert_no_replace")
        op.execute("DROP TRIGGER jx_plan_transitions_publish_approved")
    elif dialect == "postgresql":
        op.execute("DROP FUNCTION jx_guard_plan_publish CASCADE")
        for table in TABLES:
            op.execute(f"DROP TRIGGER jx_append_only_{table} ON {table}")
            op.execute(f"DROP TRIGGER jx_no_truncate_{table} ON {table}")
    for table in reversed(TABLES):
        op.drop_index(f"ix_{table}_{'digest' if table == 'plan_versions' else 'version_id'}", table_name=table)
        op.drop_table(table)
