"""Reading the records for people: the audit chain page by page, its head now, the departments.

Small read-only services for front ends (the web app's records and administration pages); the
chain's verification is :func:`jxcore.services.verify_store`.
"""

from __future__ import annotations

import attrs
import sqlalchemy as sa

from jxcore.store import Store, ledger
from jxcore.store.tables import audit_chain
from jxcore.store.tables import departments as departments_table


@attrs.frozen
class Link:
    """One record of the audit chain: its place, table, row key, leaf hash and the head after it;
    a bundle (``rows`` > 1) covers the rows of ``first..last`` (see jxcore.store.ledger.BUNDLED)."""

    seq: int
    table: str
    row_key: str
    leaf: str
    head: str
    rows: int = 1

    def keys(self) -> list[str]:
        """The keys of the rows the record covers: its own, or each of a bundle's."""
        ids = ledger.bundle_ids(self.row_key) if self.rows > 1 else None
        return [self.row_key] if ids is None else [str(i) for i in ids]


def chain_head(store: Store) -> tuple[int, str]:
    """(how many records, head) of the audit chain as it is now (cheap: its last link)."""
    with store.engine.connect() as connection:
        return ledger.last_link(connection)


def audit_links(store: Store, *, table: str | None = None, before: int | None = None,
                limit: int = 100) -> list[Link]:
    """The chain's records newest first: of one ``table`` if given, below sequence ``before``."""
    c = audit_chain.c
    rows = sa.func.coalesce(sa.func.length(c.leaves) / ledger.LEAF_BYTES, 1)  # not the leaves themselves
    query = (sa.select(c.seq, c.tbl, c.row_key, c.leaf, c.head, rows.label("rows"))
             .order_by(c.seq.desc()).limit(max(1, min(limit, 1000))))
    if table:
        query = query.where(c.tbl == table)
    if before is not None:
        query = query.where(c.seq < before)
    with store.engine.connect() as connection:
        return [Link(r.seq, r.tbl, r.row_key, r.leaf, r.head, int(r.rows)) for r in connection.execute(query)]


def chained_tables(store: Store) -> list[str]:
    """The tables that have records in the chain."""
    with store.engine.connect() as connection:
        return sorted(connection.execute(sa.select(audit_chain.c.tbl).distinct()).scalars())


def departments(store: Store) -> dict[str, str]:
    """code → name of every department (added with its first user: ``jx user add --dept``)."""
    with store.engine.connect() as connection:
        rows = connection.execute(sa.select(departments_table).order_by(departments_table.c.code)).all()
    return {r.code: r.name for r in rows}
