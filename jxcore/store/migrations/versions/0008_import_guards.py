"""PostgreSQL: the entries' lock guards query record_locks inline, so a large import is not slowed
down by a planned-per-row SQL function.

Revision ID: 0008
Revises: 0007

``jx_guard_entries`` (before each inserted entry) and ``jx_guard_commit`` (the deferred check at
commit) called the SQL function ``jx_entries_locked``; its body holds an EXISTS subquery, which
PostgreSQL does not inline, so each call planned it again: about a millisecond per entry, twice
(an import of 120,000 entries spent minutes in them). The same conditions are now written inside
the plpgsql bodies, whose plans are cached. What they refuse is unchanged, and so are the trigger
and function names and ``jx_guard_entries``' fixed search_path (jxcore.store.ledger checks them).
SQLite is not concerned (its triggers were inline already).
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

WRITER_LOCK = 7368052  # jxcore.store.ledger's pg_advisory_xact_lock key for chained writers
FIX = "a correction is a new entry that supersedes the old one; a lock is lifted with jx unlock"


def _locked(scheme: str, period: str, day: str) -> str:
    """jx_entries_locked(scheme, period, day), written out."""
    return (f"EXISTS (SELECT 1 FROM record_locks l WHERE l.scheme = {scheme} AND l.period = {period} "
            f"AND l.until >= {day} AND l.action = 'lock' AND NOT EXISTS (SELECT 1 FROM record_locks u "
            f"WHERE u.action = 'unlock' AND u.lock_id = l.id))")


def _new_entry_locked(locked) -> str:
    """The new entry, or the entry it supersedes, is inside a lock."""
    superseded = locked("o.scheme", "o.period", "o.entry_date")
    return (f"{locked('NEW.scheme', 'NEW.period', 'NEW.entry_date')} OR (NEW.supersedes IS NOT NULL AND EXISTS (\n"
            f"      SELECT 1 FROM entries o WHERE o.id = NEW.supersedes AND {superseded}))")


def _guard_entries(locked) -> str:
    return f"""
CREATE OR REPLACE FUNCTION jx_guard_entries() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog, {{schema}}, pg_temp AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF {_new_entry_locked(locked)}
    THEN
      RAISE EXCEPTION 'locked: an entry of % % dated % is inside a lock', NEW.scheme, NEW.period, NEW.entry_date
        USING ERRCODE = 'JXL01';
    END IF;
    RETURN NEW;
  END IF;
  IF {locked('OLD.scheme', 'OLD.period', 'OLD.entry_date')} THEN
    RAISE EXCEPTION 'locked: % of locked entry %', lower(TG_OP), OLD.id USING ERRCODE = 'JXL01';
  END IF;
  RAISE EXCEPTION 'append-only: entries are never changed ({FIX})' USING ERRCODE = 'JXL02';
END $$"""


def _guard_commit(locked) -> str:
    return f"""
CREATE OR REPLACE FUNCTION jx_guard_commit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  locked boolean;
BEGIN
  PERFORM pg_advisory_xact_lock({WRITER_LOCK});
  IF TG_TABLE_NAME = 'entries' THEN
    locked := {_new_entry_locked(locked)};
  ELSIF TG_TABLE_NAME = 'entry_withdrawals' THEN
    locked := EXISTS (SELECT 1 FROM entries o WHERE o.id = NEW.entry_id
                      AND {locked('o.scheme', 'o.period', 'o.entry_date')});
  ELSE
    locked := jx_final_locked(NEW.scheme, NEW.period);
  END IF;
  IF locked THEN
    RAISE EXCEPTION 'locked: a lock of this scheme and period was taken while this % was being written',
      TG_TABLE_NAME USING ERRCODE = 'JXL01';
  END IF;
  RETURN NULL;
END $$"""


def _called(scheme: str, period: str, day: str) -> str:
    """The bodies before this revision: the SQL function called."""
    return f"jx_entries_locked({scheme}, {period}, {day})"


def _apply(locked) -> None:
    connection = op.get_bind()
    if connection.dialect.name != "postgresql":
        return
    schema = connection.execute(sa.text("SELECT current_schema()")).scalar_one()
    quoted = '"' + schema.replace('"', '""') + '"'
    op.execute(_guard_entries(locked).replace("{schema}", quoted))
    op.execute(_guard_commit(locked))


def upgrade() -> None:
    _apply(_locked)


def downgrade() -> None:
    _apply(_called)
