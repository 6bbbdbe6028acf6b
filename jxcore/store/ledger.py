"""The audit chain's primitives: canonical row bytes, RFC 6962 leaf and node hashes, appending.

A chained row's leaf is ``sha256(0x00 || canonical bytes)``; a node is ``sha256(0x01 || left ||
right)``; the head of the first n leaves is the RFC 6962 Merkle tree hash over them. Each
``audit_chain`` row keeps its leaf and the head after it, so ``jx verify`` can name the first
sequence number where the chain and the rows part ways (see jxcore.records.chain).

Rows are read back untyped (no result processing), so a row tampered into an unparseable value
still hashes, and the bytes hashed are those the database holds, whatever wrote them.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from jxcore.store import tables

EMPTY_HEAD = hashlib.sha256(b"").hexdigest()

# Chained tables and the columns of their key. Runs and their rows are chained when final.
CHAINED: dict[str, tuple[str, ...]] = {
    "entry_batches": ("id",),
    "entries": ("id",),
    "entry_withdrawals": ("id",),
    "record_locks": ("id",),
    "runs": ("id",),
    "run_units": ("run_id", "position"),
    "run_nodes": ("run_id", "position"),
}
# Columns added after a table was first chained, hashed only when not NULL: rows chained before
# the column existed keep their leaves (a store upgraded from 0003 still verifies).
LATE_COLUMNS: dict[str, tuple[str, ...]] = {"entries": ("natural_key",), "runs": ("actor",)}
_PG_LEDGER_LOCK = 7368052  # pg_advisory_xact_lock key: one appender at a time


def columns(tbl: str) -> list[str]:
    return [c.name for c in tables.metadata.tables[tbl].columns]


def normal(value: Any) -> Any:
    """A JSON-able, backend-independent form of one raw column value."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "sha256:" + hashlib.sha256(bytes(value)).hexdigest()  # blobs by digest: 240 kB each
    if isinstance(value, (float, decimal.Decimal)):
        return repr(value) if isinstance(value, float) else str(value)
    return value


def row_key(tbl: str, row: Mapping[str, Any]) -> str:
    return "|".join(str(normal(row[c])) for c in CHAINED[tbl])


def leaf_hash(tbl: str, row: Mapping[str, Any]) -> str:
    """sha256(0x00 || canonical bytes) of one row, hex; the bytes name the table and every column."""
    late = LATE_COLUMNS.get(tbl, ())
    canon = json.dumps([tbl, [[c, normal(row.get(c))] for c in columns(tbl)
                              if c not in late or row.get(c) is not None]],
                       ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(b"\x00" + canon.encode("utf-8")).hexdigest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


class Heads:
    """The RFC 6962 tree head after each leaf, in O(log n) per leaf (a stack of perfect subtrees)."""

    def __init__(self) -> None:
        self._stack: list[tuple[int, bytes]] = []
        self.size = 0

    def add(self, leaf_hex: str) -> str:
        """Add a leaf; return the head of all leaves so far (hex)."""
        try:
            leaf = bytes.fromhex(leaf_hex)
        except (TypeError, ValueError):  # a tampered chain entry: hash what is there
            leaf = hashlib.sha256(str(leaf_hex).encode("utf-8")).digest()
        self._stack.append((1, leaf))
        while len(self._stack) > 1 and self._stack[-1][0] == self._stack[-2][0]:
            (size, right), (_, left) = self._stack.pop(), self._stack.pop()
            self._stack.append((2 * size, node_hash(left, right)))
        self.size += 1
        return self.head()

    def state(self) -> tuple[int, tuple[tuple[int, bytes], ...]]:
        """Everything needed to go on adding leaves later (see :meth:`resume`)."""
        return self.size, tuple(self._stack)

    @classmethod
    def resume(cls, state: tuple[int, tuple[tuple[int, bytes], ...]]) -> "Heads":
        heads = cls()
        heads.size, heads._stack = state[0], list(state[1])
        return heads

    def head(self) -> str:
        if not self._stack:
            return EMPTY_HEAD
        root = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            root = node_hash(left, root)
        return root.hex()


def merkle_root(leaves: Sequence[str]) -> str:
    """RFC 6962 MTH over hex leaves, by its recursive definition (the tests check Heads with it)."""
    if not leaves:
        return EMPTY_HEAD
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(bytes.fromhex(merkle_root(leaves[:k])), bytes.fromhex(merkle_root(leaves[k:]))).hex()


def raw_rows(connection: sa.Connection, tbl: str, where: sa.ColumnElement | None = None) -> Iterator[dict]:
    """The rows of a chained table as the database holds them (untyped), in key order."""
    names = columns(tbl)
    if tbl in LATE_COLUMNS:  # a migration chaining rows before a later migration added the column
        present = {c["name"] for c in sa.inspect(connection).get_columns(tbl)}
        names = [c for c in names if c in present]
    query = sa.select(*[sa.column(c) for c in names]).select_from(sa.table(tbl))
    if where is not None:
        query = query.where(where)
    query = query.order_by(*[sa.column(c) for c in CHAINED[tbl]])
    for row in connection.execute(query).mappings():
        yield dict(row)


def chain_rows(connection: sa.Connection) -> list[dict]:
    """The audit chain in sequence order."""
    c = tables.audit_chain.c
    return [dict(r) for r in connection.execute(
        sa.select(c.seq, c.tbl, c.row_key, c.leaf, c.head).order_by(c.seq)).mappings()]


def lock_writers(connection: sa.Connection) -> None:
    """Make concurrent chained writers wait for this transaction (PostgreSQL's advisory lock; a
    SQLite write transaction is exclusive already): checks made after it (a natural key still
    free, an entry still live) hold until commit."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text(f"SELECT pg_advisory_xact_lock({_PG_LEDGER_LOCK})"))


def append(connection: sa.Connection, tbl: str, rows: Iterable[Mapping[str, Any]]) -> str:
    """Append the leaves of ``rows`` of ``tbl`` to the chain, in the given order; return the new head.

    Call it inside the transaction that wrote the rows: the chain and the rows commit together.
    On PostgreSQL an advisory lock makes concurrent appenders wait for each other (no gap, no
    duplicate sequence number); a SQLite write transaction is exclusive already.
    """
    rows = list(rows)
    lock_writers(connection)
    heads = _current_heads(connection)
    new = []
    for row in rows:
        leaf = leaf_hash(tbl, row)
        new.append({"seq": heads.size + 1, "tbl": tbl, "row_key": row_key(tbl, row), "leaf": leaf,
                    "head": heads.add(leaf)})
    if new:
        connection.execute(tables.audit_chain.insert(), new)
    head = heads.head()
    if len(_STATES) >= 64:
        _STATES.clear()
    _STATES[(heads.size, head)] = heads.state()
    return head


#: (size, head) → Heads state after an append in this process. A chain whose last row has that
#: seq and head holds the same leaves (sha256), so appending resumes there instead of re-reading
#: every leaf: O(batch) per append, not O(chain) (a live leaderboard appends one entry at a time).
_STATES: dict[tuple[int, str], tuple[int, tuple[tuple[int, bytes], ...]]] = {}


def _current_heads(connection: sa.Connection) -> Heads:
    c = tables.audit_chain.c
    last = connection.execute(sa.select(c.seq, c.head).order_by(c.seq.desc()).limit(1)).first()
    if last is None:
        return Heads()
    known = _STATES.get((last.seq, last.head))
    if known is not None:
        return Heads.resume(known)
    heads = Heads()
    for link in connection.execute(sa.select(c.leaf).order_by(c.seq)):
        heads.add(link.leaf)
    return heads


def append_where(connection: sa.Connection, tbl: str, where: sa.ColumnElement) -> str:
    """Append the rows of ``tbl`` matching ``where`` (read back as stored), in key order."""
    return append(connection, tbl, raw_rows(connection, tbl, where))


def append_final_run(connection: sa.Connection, run_id: str) -> str:
    """Chain a final run: its header, then its unit rows, then its node rows."""
    append_where(connection, "runs", sa.column("id") == run_id)
    append_where(connection, "run_units", sa.column("run_id") == run_id)
    return append_where(connection, "run_nodes", sa.column("run_id") == run_id)
