"""The audit chain's primitives: canonical row bytes, RFC 6962 leaf and node hashes, appending.

A chained row's leaf is ``sha256(0x00 || canonical bytes)``; a node is ``sha256(0x01 || left ||
right)``; the head of the first n leaves is the RFC 6962 Merkle tree hash over them. Each
``audit_chain`` row keeps its leaf and the head after it, so ``jx verify`` can name the first
sequence number where the chain and the rows part ways (see jxcore.records.chain).

Rows are read back untyped (no result processing), so a row tampered into an unparseable value
still hashes, and the bytes hashed are those the database holds, whatever wrote them.

Rows of a :data:`BUNDLED` table written together with consecutive ids (an import's entries) are
chained as *bundles*: one ``audit_chain`` row per run of up to a page of them, keyed
``first..last``, whose leaf is the RFC 6962 root of the rows' own leaves and which keeps those
leaves (``leaves``: 32 bytes a row, in id order). ``jx verify`` still names the single row that
was changed; an import of a million entries writes fifty chain rows instead of a million.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import repeat
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
    "run_plans": ("digest",),  # 0006: the reference plan of a period is the first chained one
    "departments": ("code",),
    "access_log": ("id",),
    "plan_versions": ("id",),  # 0007: plan versions, their transitions and comments
    "plan_transitions": ("id",),
    "plan_comments": ("id",),
}
# Chained by version (0006): a row that jx changes in place (a password, a disabled flag) gets a
# new chain entry keyed ``name#n`` after each change, so verify compares the row with its newest
# version and a change made outside jx (``UPDATE users SET role = 'admin'``) shows as changed.
VERSIONED: dict[str, str] = {"users": "name"}
# Columns added after a table was first chained, hashed only when not NULL: rows chained before
# the column existed keep their leaves (a store upgraded from 0003 still verifies).
LATE_COLUMNS: dict[str, tuple[str, ...]] = {"entries": ("natural_key",), "runs": ("actor",)}
_PG_LEDGER_LOCK = 7368052  # pg_advisory_xact_lock key: one appender at a time
#: Tables whose writes of several rows with consecutive ids are chained as bundles (0009; see the
#: module's docstring): written a million rows at a time, each row's own chain record cost more
#: than a third of an import. A bundle covers at most one page of :func:`append_where`.
BUNDLED = frozenset({"entries"})
LEAF_BYTES = 32  #: a leaf's length in a bundle's ``leaves``
PAGE_ROWS = 20_000  #: rows :func:`append_where` reads and chains at a time: at most a bundle's rows


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


_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode  # leaf_hash's json.dumps
_encode_text = json.encoder.encode_basestring  # json.dumps(text, ensure_ascii=False), in C


def _encoded(value: Any) -> str:
    """One value as :func:`leaf_hash` writes it inside the canonical JSON."""
    if value.__class__ is str:
        return _encode_text(value)
    if value is None:
        return "null"
    if value.__class__ is int:
        return int.__repr__(value)
    return _JSON(normal(value))


def _column_texts(values: Sequence[Any]) -> str | Iterable[str]:
    """The canonical JSON of each value of one column (a page of rows): one text when every value is
    the same value of one type (a batch's file name or time: written into the page's template), else
    one text per value, with C-level maps where the column is all text or all integers, and each
    distinct value encoded once where it repeats."""
    kinds = set(map(type, values))
    exact = not kinds & {float, decimal.Decimal}  # equal values encode alike (not 0.0 and -0.0, 1.0 and 1.00)
    if len(kinds) == 1 and exact and values.count(values[0]) == len(values):  # one type: 1, 1.0, True never mix
        return _encoded(values[0])
    if kinds == {str}:
        return map(_encode_text, values)
    if kinds == {int}:
        return map(int.__repr__, values)
    if len(kinds - {type(None)}) <= 1 and exact:  # one type: 1 == 1.0 == True do not encode alike
        try:
            known = {v: _encoded(v) for v in set(values)}
        except TypeError:  # an unhashable raw value (a memoryview)
            return map(_encoded, values)
        return map(known.__getitem__, values)
    return map(_encoded, values)


def leaf_digests(tbl: str, names: Sequence[str], rows: Sequence[Sequence[Any]],
                 fixed: Mapping[str, Any] | None = None) -> list[bytes]:
    """:func:`leaf_hash` of many rows given as tuples of the columns ``names`` (in the table's
    column order), as raw digests: the same leaves, several times faster for a page of thousands.
    ``fixed`` gives the other columns' values, the same in every row (an import's batch columns).

    The canonical JSON is assembled column by column instead of row by row: a column holding one
    value down the page (a batch's id, file name, time) is encoded once, into the text between the
    varying columns; the others are encoded with one C-level ``map`` each (a value repeated down
    the column encoded once); then each row's pieces are joined, encoded and hashed in C-level
    maps. A test checks it against :func:`leaf_hash`.
    """
    if not rows:
        return []
    late = LATE_COLUMNS.get(tbl, ())
    given = dict(zip(names, zip(*rows)))
    fixed = fixed or {}
    order = [c for c in columns(tbl) if c in given or c in fixed]
    assert not order or order[0] not in late, "a late column is never a table's first"
    pieces: list[Iterable[str]] = []  # constant texts (repeated) and varying columns, alternately
    text = "\x00[" + _JSON(tbl) + ",["  # sha256(0x00 || canonical bytes)
    for i, name in enumerate(order):
        if name in given:
            values, texts = given[name], _column_texts(given[name])
        else:
            values, texts = (fixed[name],), _encoded(fixed[name])
        lead = ("," if i else "") + _JSON([name])[:-1] + ","
        if isinstance(texts, str):  # the same value in every row
            text += "" if name in late and values[0] is None else lead + texts + "]"
        elif name in late:  # hashed only when not NULL
            pieces += [repeat(text), [("" if v is None else lead + t + "]") for v, t in zip(values, texts)]]
            text = ""
        else:
            pieces += [repeat(text + lead), texts]
            text = "]"
    text += "]]"
    whole = map("".join, zip(*pieces, repeat(text))) if pieces else [text] * len(rows)
    return list(map(_DIGEST, map(hashlib.sha256, map(str.encode, whole))))


_DIGEST = type(hashlib.sha256()).digest


def leaf_hashes(tbl: str, names: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """:func:`leaf_digests` as hex: the leaves :func:`leaf_hash` gives."""
    return list(map(bytes.hex, leaf_digests(tbl, names, rows)))


def _leaf_bytes(leaf_hex: str) -> bytes:
    """A chain entry's leaf as bytes; a tampered one (not hex) hashed as it is."""
    try:
        return bytes.fromhex(leaf_hex)
    except (TypeError, ValueError):
        return hashlib.sha256(str(leaf_hex).encode("utf-8")).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


class Heads:
    """The RFC 6962 tree head after each leaf, in O(log n) per leaf (a stack of perfect subtrees)."""

    def __init__(self) -> None:
        self._stack: list[tuple[int, bytes]] = []
        self.size = 0

    def add(self, leaf_hex: str) -> str:
        """Add a leaf; return the head of all leaves so far (hex)."""
        self._stack.append((1, _leaf_bytes(leaf_hex)))
        while len(self._stack) > 1 and self._stack[-1][0] == self._stack[-2][0]:
            (size, right), (_, left) = self._stack.pop(), self._stack.pop()
            self._stack.append((2 * size, node_hash(left, right)))
        self.size += 1
        return self.head()

    def extend(self, leaves_hex: Iterable[str]) -> list[str]:
        """Add many leaves; the head after each (hex), as :meth:`add` gives them."""
        return self.extend_digests([_leaf_bytes(leaf) for leaf in leaves_hex])

    def extend_digests(self, leaves: Iterable[bytes]) -> list[str]:
        """:meth:`extend` for leaves given as raw digests, in a tight loop: the stack's nodes are
        kept with their 0x01 prefix, so each head costs one concatenation and one sha256 per
        perfect subtree."""
        size, sha256, heads = self.size, hashlib.sha256, []
        prefixed = [b"\x01" + node for _, node in self._stack]  # 0x01 || node, left operands of node_hash
        for node in leaves:
            merges = size
            while merges & 1:  # the trailing ones of the size: perfect subtrees to merge with
                node = sha256(prefixed.pop() + node).digest()
                merges >>= 1
            prefixed.append(b"\x01" + node)
            size += 1
            root = node
            for left in prefixed[-2::-1]:
                root = sha256(left + root).digest()
            heads.append(root.hex())
        self.size = size
        self._stack = [(1 << bit, node[1:]) for bit, node in zip(_subtree_bits(size), prefixed)]
        return heads

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


def _subtree_bits(size: int) -> list[int]:
    """The set bits of ``size``, highest first: the heights of the stack's perfect subtrees."""
    return [bit for bit in range(size.bit_length() - 1, -1, -1) if size >> bit & 1]


def merkle_root(leaves: Sequence[str]) -> str:
    """RFC 6962 MTH over hex leaves, by its recursive definition (the tests check Heads with it)."""
    if not leaves:
        return EMPTY_HEAD
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(bytes.fromhex(merkle_root(leaves[:k])), bytes.fromhex(merkle_root(leaves[k:]))).hex()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1): RFC 6962's k."""
    return 1 << ((n - 1).bit_length() - 1)


def tree_root(leaves: Sequence[bytes]) -> bytes:
    """RFC 6962 MTH over raw leaf hashes, level by level: pairing neighbours and carrying an odd
    last node up unchanged builds the same tree as the recursive split at the largest power of two
    (a test checks it against :func:`merkle_root`), at one sha256 per node."""
    if not leaves:
        return bytes.fromhex(EMPTY_HEAD)
    level, sha256 = list(leaves), hashlib.sha256
    while len(level) > 1:
        paired = [sha256(b"\x01" + left + right).digest() for left, right in zip(level[0::2], level[1::2])]
        if len(level) & 1:
            paired.append(level[-1])
        level = paired
    return level[0]



def consistency_proof(leaves: Sequence[str], m: int, n: int) -> list[str]:
    """RFC 6962 §2.1.2 PROOF(m, D[n]) over the chain's hex leaves: the nodes that show the tree of
    the first ``m`` leaves is a prefix of the tree of the first ``n``."""
    raw = [bytes.fromhex(x) for x in leaves[:n]]

    def sub(m: int, d: Sequence[bytes], complete: bool) -> list[bytes]:
        if m == len(d):
            return [] if complete else [tree_root(d)]
        k = _split(len(d))
        if m <= k:
            return sub(m, d[:k], complete) + [tree_root(d[k:])]
        return sub(m - k, d[k:], False) + [tree_root(d[:k])]

    return [x.hex() for x in sub(m, raw, True)] if 0 < m <= n else []


def inclusion_proof(leaves: Sequence[str], index: int, n: int) -> list[str]:
    """RFC 6962 §2.1.1 PATH(index, D[n]): the audit path of leaf ``index`` (0-based) in the tree of
    the first ``n`` leaves."""
    raw = [bytes.fromhex(x) for x in leaves[:n]]

    def path(m: int, d: Sequence[bytes]) -> list[bytes]:
        if len(d) <= 1:
            return []
        k = _split(len(d))
        return path(m, d[:k]) + [tree_root(d[k:])] if m < k else path(m - k, d[k:]) + [tree_root(d[:k])]

    return [x.hex() for x in path(index, raw)]


def verify_consistency(m: int, head_m: str, n: int, head_n: str, proof: Sequence[str]) -> bool:
    """RFC 9162 §2.1.4.2: does ``proof`` show the tree (m, head_m) is a prefix of (n, head_n)?"""
    try:
        first, second, nodes = bytes.fromhex(head_m), bytes.fromhex(head_n), [bytes.fromhex(p) for p in proof]
    except ValueError:
        return False
    if m == 0:
        return head_m == EMPTY_HEAD and not nodes
    if m > n:
        return False
    if m == n:
        return not nodes and first == second
    if m & (m - 1) == 0:
        nodes = [first, *nodes]
    if not nodes:
        return False
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = nodes[0]
    for c in nodes[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first and sr == second and sn == 0


def verify_inclusion(leaf: str, index: int, n: int, head: str, proof: Sequence[str]) -> bool:
    """RFC 9162 §2.1.3.2: is ``leaf`` (hex) the leaf ``index`` (0-based) of the tree (n, head)?"""
    if not 0 <= index < n:
        return False
    try:
        r, nodes = bytes.fromhex(leaf), [bytes.fromhex(p) for p in proof]
    except ValueError:
        return False
    fn, sn = index, n - 1
    for p in nodes:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r.hex() == head


def raw_rows(connection: sa.Connection, tbl: str, where: sa.ColumnElement | None = None) -> Iterator[dict]:
    """The rows of a chained table as the database holds them (untyped), in key order."""
    names = columns(tbl)
    if tbl in LATE_COLUMNS:  # a migration chaining rows before a later migration added the column
        present = {c["name"] for c in sa.inspect(connection).get_columns(tbl)}
        names = [c for c in names if c in present]
    query: sa.Select = sa.select(*[sa.column(c) for c in names]).select_from(sa.table(tbl))
    if where is not None:
        query = query.where(where)
    query = query.order_by(*[sa.column(c) for c in CHAINED.get(tbl) or (VERSIONED[tbl],)])
    for row in connection.execute(query).mappings():
        yield dict(row)


def chain_leaves(connection: sa.Connection) -> list[str]:
    """The chain records' leaves (hex) in sequence order: what heads and proofs are computed from,
    without reading the bundles' kept leaves."""
    c = tables.audit_chain.c
    return list(connection.execute(sa.select(c.leaf).order_by(c.seq)).scalars())


def chain_rows(connection: sa.Connection) -> list[dict]:
    """The audit chain in sequence order (a bundle's ``leaves`` as bytes, else None)."""
    c = tables.audit_chain.c
    return [{**r, "leaves": leaves_bytes(r["leaves"])} for r in connection.execute(
        sa.select(c.seq, c.tbl, c.row_key, c.leaf, c.head, c.leaves).order_by(c.seq)).mappings()]


def leaves_bytes(value: Any) -> bytes | None:
    """A ``leaves`` value as bytes whatever the driver returns (memoryview, bytearray, text)."""
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    return bytes(value)


def bundle_key(first: int, last: int) -> str:
    return f"{first}..{last}"


def bundle_ids(key: str) -> range | None:
    """The ids a bundle's key ``first..last`` covers; None for a key that is not one."""
    first, dots, last = str(key).partition("..")
    if not dots or not first.isdigit() or not last.isdigit() or int(last) < int(first):
        return None
    return range(int(first), int(last) + 1)


def bundle_leaves(leaves: bytes) -> list[bytes]:
    """A bundle's ``leaves`` split into its rows' leaves."""
    return [leaves[i:i + LEAF_BYTES] for i in range(0, len(leaves), LEAF_BYTES)]


def bundle_problem(link: Mapping[str, Any]) -> str | None:
    """What is wrong with a bundle's own record (its key, its leaves and its leaf disagree), or None."""
    ids, leaves = bundle_ids(link["row_key"]), link["leaves"]
    if ids is None or len(leaves) != LEAF_BYTES * len(ids):
        return "the bundle's key does not match the number of leaves it keeps"
    if tree_root(bundle_leaves(leaves)).hex() != link["leaf"]:
        return "the leaves the bundle keeps are not those its leaf was computed from"
    return None


def lock_writers(connection: sa.Connection) -> None:
    """Make concurrent chained writers wait for this transaction (PostgreSQL's advisory lock,
    MariaDB's lock on the chain's last row; a SQLite write transaction is exclusive already):
    checks made after it (a natural key still free, an entry still live) hold until commit.

    Every chained writer calls it *before* inserting its rows, so ids (assigned at INSERT) grow in
    chain order and concurrent writers never look "reordered" to ``jx verify``.
    """
    name = connection.dialect.name
    if name == "postgresql":
        connection.execute(sa.text(f"SELECT pg_advisory_xact_lock({_PG_LEDGER_LOCK})"))
    elif name in ("mysql", "mariadb"):  # a next-key lock on the last chain row (or the empty table)
        connection.execute(sa.text("SELECT seq FROM audit_chain ORDER BY seq DESC LIMIT 1 FOR UPDATE"))


def last_link(connection: sa.Connection) -> tuple[int, str]:
    """(size, head) of the chain now."""
    c = tables.audit_chain.c
    last = connection.execute(sa.select(c.seq, c.head).order_by(c.seq.desc()).limit(1)).first()
    return (last.seq, last.head) if last else (0, EMPTY_HEAD)


def final_locked(connection: sa.Connection, scheme: str, period: int) -> bool:
    """Whether scheme/period has an active final lock (what is published is then its final run)."""
    locks = tables.record_locks.c
    unlocked = sa.select(locks.lock_id).where(locks.action == "unlock", locks.lock_id.is_not(None))
    query = sa.select(locks.id).where(locks.scheme == scheme, locks.period == period, locks.scope == "final",
                                      locks.action == "lock", locks.id.not_in(unlocked)).limit(1)
    return connection.execute(query).first() is not None


def append(connection: sa.Connection, tbl: str, rows: Iterable[Mapping[str, Any]],
           keys: Sequence[str] | None = None) -> str:
    """Append the leaves of ``rows`` of ``tbl`` to the chain, in the given order; return the new head.

    Call it inside the transaction that wrote the rows: the chain and the rows commit together.
    On PostgreSQL an advisory lock makes concurrent appenders wait for each other (no gap, no
    duplicate sequence number); a SQLite write transaction is exclusive already.
    """
    names = columns(tbl)
    page = [tuple(row.get(c) for c in names) for row in rows]
    return append_pages(connection, tbl, names, [page], keys=keys)


def append_pages(connection: sa.Connection, tbl: str, names: Sequence[str],
                 pages: Iterable[Sequence[Sequence[Any]]], keys: Sequence[str] | None = None,
                 bundle: bool = False, fixed: Mapping[str, Any] | None = None) -> str:
    """:func:`append` for rows given as tuples of the columns ``names``, a page at a time: the
    leaves and heads of a page are computed (:func:`leaf_digests`, :meth:`Heads.extend_digests`) and its
    chain rows written (:func:`jxcore.store.bulk.insert_rows`) before the next page is read, so
    chaining a million rows holds one page in memory. ``keys`` (one page only) overrides the
    rows' keys (a versioned row's ``name#n``). With ``bundle`` (a :data:`BUNDLED` table keyed by
    an integer id), each run of two or more consecutive ids in a page is chained as one bundle.
    ``fixed``: the values of the table's other columns, the same in every row (see :func:`leaf_digests`)."""
    from jxcore.store.bulk import insert_rows

    require_guards(connection)
    lock_writers(connection)
    heads = _current_heads(connection)
    where = [list(names).index(c) for c in CHAINED.get(tbl) or (VERSIONED[tbl],)]
    for page in pages:
        if not page:
            continue
        digests = leaf_digests(tbl, names, page, fixed)
        if bundle:
            _append_bundles(connection, tbl, [row[where[0]] for row in page], digests, heads)
            continue
        if keys is not None:
            page_keys = list(keys)
        elif len(where) == 1:
            column = [row[where[0]] for row in page]
            page_keys = (list(map(str, column)) if set(map(type, column)) == {int}  # ids: normal() keeps them
                         else [str(normal(v)) for v in column])
        else:
            page_keys = ["|".join(str(normal(row[i])) for i in where) for row in page]
        start = heads.size + 1
        insert_rows(connection, "audit_chain", _LINK, zip(
            range(start, start + len(page)), [tbl] * len(page), page_keys, map(bytes.hex, digests),
            heads.extend_digests(digests)))
    head = heads.head()
    if len(_STATES) >= 64:
        _STATES.clear()
    _STATES[(heads.size, head)] = heads.state()
    return head


_LINK = ("seq", "tbl", "row_key", "leaf", "head")


def _append_bundles(connection: sa.Connection, tbl: str, ids: Sequence[int], digests: Sequence[bytes],
                    heads: Heads) -> None:
    """Chain a page of rows by ascending ``ids``: each run of consecutive ids as one bundle, a
    run of one as an ordinary record."""
    from jxcore.store.bulk import insert_rows

    gaps = ([] if ids[-1] - ids[0] + 1 == len(ids)  # consecutive: always on SQLite
            else [i for i in range(1, len(ids)) if ids[i] != ids[i - 1] + 1])
    bounds = [0, *gaps, len(ids)]
    for first, end in zip(bounds, bounds[1:]):
        start = heads.size + 1
        if end - first == 1:
            key, leaf, leaves = str(ids[first]), digests[first], None
        else:
            key, leaf = bundle_key(ids[first], ids[end - 1]), tree_root(digests[first:end])
            leaves = b"".join(digests[first:end])
        insert_rows(connection, "audit_chain", (*_LINK, "leaves"),
                    [(start, tbl, key, leaf.hex(), heads.extend_digests([leaf])[0], leaves)])


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


def append_where(connection: sa.Connection, tbl: str, where: sa.ColumnElement, page: int | None = None,
                 after: int | None = None, constant: Sequence[str] = ()) -> str:
    """Append the rows of ``tbl`` matching ``where`` (read back as stored), in key order.

    A table keyed by an integer ``id`` is read a page at a time (keyset: ``id`` above the page's
    last), so chaining a whole import holds one page of rows, not the import; ``after`` (an id
    below every row wanted, such as the largest before an import) is where the first page starts.
    A :data:`BUNDLED` table's pages are chained as bundles. With ``after``, the ``constant``
    columns (one value in every row wanted: an import's batch columns, written as literals) are
    read once, from the first row, and the pages hold the other columns only.
    """
    names = present_columns(connection, tbl)
    if CHAINED.get(tbl) != ("id",) or not isinstance(tables.metadata.tables[tbl].c.id.type, sa.Integer):
        rows = [tuple(row[c] for c in names) for row in raw_rows(connection, tbl, where)]
        return append_pages(connection, tbl, names, [rows])
    span: tuple[int, int] | None = None  # the new rows' ids: above ``after``, up to the largest now
    if after is not None:
        span = (after, connection.execute(sa.select(sa.func.max(sa.column("id"))).select_from(sa.table(tbl)))
                .scalar() or 0)
    fixed: dict[str, Any] = {}
    if constant and span is not None:
        first = connection.execute(
            sa.select(*[sa.column(c) for c in constant]).select_from(sa.table(tbl))
            .where(where, sa.column("id") > span[0], sa.column("id") <= span[1])
            .order_by(sa.column("id")).limit(1)).cursor.fetchone()
        fixed = dict(zip(constant, first)) if first is not None else {}
    varying = [c for c in names if c not in fixed]
    pages = _keyset_pages(connection, tbl, varying, where, page or PAGE_ROWS, span)
    return append_pages(connection, tbl, varying, pages, bundle=tbl in BUNDLED, fixed=fixed)


def present_columns(connection: sa.Connection, tbl: str) -> list[str]:
    """The table's columns that the database has (a late column may not be there yet, mid-migration)."""
    names = columns(tbl)
    if tbl in LATE_COLUMNS:
        present = {c["name"] for c in sa.inspect(connection).get_columns(tbl)}
        names = [c for c in names if c in present]
    return names


def _keyset_pages(connection: sa.Connection, tbl: str, names: Sequence[str], where: sa.ColumnElement,
                  page: int, span: tuple[int, int] | None) -> Iterator[Sequence[Sequence[Any]]]:
    """The rows of ``tbl`` matching ``where`` as the database holds them (untyped tuples), by id,
    ``page`` at a time; each page is fetched whole before the caller writes anything. ``id`` has
    one lower bound in each query: SQLite seeks to the first of several and scans from there,
    which would make a million rows' pages quadratic.

    Given ``span`` (after, top): the rows just written, ids above ``after`` up to the largest now;
    each page is a range of ``page`` ids, bounded on both sides: PostgreSQL, whose statistics know
    nothing of the rows this transaction wrote, planned ``id > last ORDER BY id LIMIT page`` as a
    scan and sort of the whole table for every page."""
    position = list(names).index("id")
    select: sa.Select = sa.select(*[sa.column(c) for c in names]).select_from(sa.table(tbl)).where(where)
    if span is not None:
        for low in range(*span, page):
            query = select.where(sa.column("id") > low, sa.column("id") <= low + page).order_by(sa.column("id"))
            rows = connection.execute(query).cursor.fetchall()
            if rows:
                yield rows
        return
    last = None
    while True:
        query = select if last is None else select.where(sa.column("id") > last)
        rows = connection.execute(query.order_by(sa.column("id")).limit(page)).cursor.fetchall()
        if not rows:
            return
        yield rows
        last = rows[-1][position]
        if len(rows) < page:
            return


def append_final_run(connection: sa.Connection, run_id: str) -> str:
    """Chain a final run: its header, then its unit rows, then its node rows."""
    append_where(connection, "runs", sa.column("id") == run_id)
    append_where(connection, "run_units", sa.column("run_id") == run_id)
    return append_where(connection, "run_nodes", sa.column("run_id") == run_id)


def append_version(connection: sa.Connection, tbl: str, key: str) -> str:
    """Chain the current state of a row of a :data:`VERSIONED` table (after jx wrote it) as its
    next version ``key#n``; return the new head."""
    lock_writers(connection)
    column = VERSIONED[tbl]
    row = next(raw_rows(connection, tbl, sa.column(column) == key))
    c = tables.audit_chain.c
    done = connection.execute(sa.select(sa.func.count()).where(
        c.tbl == tbl, c.row_key.like(_like_prefix(key) + "#%", escape="\\"))).scalar_one()
    return append(connection, tbl, [row], keys=[f"{key}#{done + 1}"])


def update_version(connection: sa.Connection, tbl: str, key: str, **values: Any) -> str:
    """UPDATE one row of a :data:`VERSIONED` table and chain its new state (the only way jx
    changes such a row); return the new head."""
    lock_writers(connection)
    table = tables.metadata.tables[tbl]
    connection.execute(table.update().where(table.c[VERSIONED[tbl]] == key).values(**values))
    return append_version(connection, tbl, key)


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def version_key(row_key: str) -> tuple[str, int]:
    """``("name", n)`` from a versioned chain key ``name#n``."""
    key, _, n = row_key.rpartition("#")
    return key, int(n) if n.isdigit() else 0


# --- The database's guards (migrations 0003, 0004, 0006, 0010): jx refuses to write without them.

SQLITE_GUARDS: tuple[str, ...] = (
    "jx_entries_insert_locked", "jx_entries_update_locked", "jx_entries_delete_locked",
    "jx_entries_update_append_only", "jx_entries_delete_append_only",
    *(f"jx_{t}_{op}_append_only" for t in ("entry_batches", "record_locks", "audit_chain", "entry_withdrawals",
                                          "access_log", "signed_heads", "departments")
      for op in ("update", "delete")),
    "jx_run_plans_update_append_only", "jx_run_plans_delete_append_only", "jx_users_delete_append_only",
    "jx_users_update_key", "jx_entries_insert_supersedes",
    *(f"jx_{t}_{op}_locked" for t in ("runs", "run_units", "run_nodes") for op in ("insert", "update", "delete")),
    "jx_entry_withdrawals_insert_locked", "jx_record_locks_unlock_two_admins", "jx_record_locks_insert_admin",
    *(f"jx_{t}_insert_no_replace" for t in ("entry_batches", "entries", "entry_withdrawals", "record_locks", "runs",
                                           "run_units", "run_nodes", "run_plans", "audit_chain", "users",
                                           "departments", "access_log", "signed_heads")),
)
PG_GUARDS: tuple[str, ...] = (
    "jx_guard_entries", "jx_guard_runs", "jx_guard_unlock", "jx_guard_run_units", "jx_guard_run_nodes",
    "jx_guard_withdrawals", "jx_guard_new_entries", "jx_commit_entry_withdrawals", "jx_commit_runs",
    *(f"jx_append_only_{t}" for t in ("entry_batches", "record_locks", "audit_chain", "entry_withdrawals",
                                     "run_plans", "access_log", "departments", "users", "signed_heads")),
    *(f"jx_no_truncate_{t}" for t in ("entry_batches", "record_locks", "audit_chain", "entries", "entry_withdrawals",
                                     "runs", "run_units", "run_nodes", "run_plans", "users", "departments",
                                     "access_log", "signed_heads")),
)
#: PostgreSQL trigger functions; each must run with a fixed search_path (0006). The SQL helpers
#: they call are inlined into them, so they resolve names with that path too. Since 0010 entries
#: are checked once per INSERT statement (jx_guard_new_entries) and a lock row takes a table lock
#: that waits for the entry writers in flight (jx_guard_unlock): no per-entry check at commit.
PG_FUNCTIONS: tuple[str, ...] = (
    "jx_guard_entries", "jx_guard_append_only", "jx_guard_runs", "jx_guard_run_rows", "jx_guard_unlock",
    "jx_guard_withdrawals", "jx_guard_new_entries", "jx_guard_commit",
)
# Plan versions (0007): append-only, never replaced, published only after an approval.
_PLAN_TABLES = ("plan_versions", "plan_transitions", "plan_comments")
SQLITE_GUARDS += (*(f"jx_{t}_{op}" for t in _PLAN_TABLES
                    for op in ("update_append_only", "delete_append_only", "insert_no_replace")),
                  "jx_plan_transitions_publish_approved")
PG_GUARDS += (*(f"jx_{kind}_{t}" for t in _PLAN_TABLES for kind in ("append_only", "no_truncate")),
              "jx_guard_plan_publish")
PG_FUNCTIONS += ("jx_guard_plan_publish",)
GUARDED_DIALECTS = ("sqlite", "postgresql")


def missing_guards(connection: sa.Connection) -> list[str]:
    """The database guards that are missing or disabled, by name (one catalog query); [] when all
    are in place. Backends without triggers (MariaDB) have none to check: see :func:`guarded`."""
    name = connection.dialect.name
    if name == "sqlite":
        present = set(connection.execute(sa.text(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'jx\\_%' ESCAPE '\\'")).scalars())
        return [f"trigger {g} (missing)" for g in SQLITE_GUARDS if g not in present]
    if name != "postgresql":
        return []
    rows = connection.execute(sa.text(
        "SELECT t.tgname, t.tgenabled FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "WHERE c.relnamespace = current_schema()::regnamespace AND NOT t.tgisinternal")).all()
    enabled = {n: e for n, e in rows}
    missing = [f"trigger {g} ({'disabled' if g in enabled else 'missing'})" for g in PG_GUARDS
               if enabled.get(g) not in ("O", "A")]
    fixed: dict[str, str | None] = dict(connection.execute(sa.text(
        "SELECT p.proname, array_to_string(p.proconfig, ',') FROM pg_proc p "
        "WHERE p.pronamespace = current_schema()::regnamespace AND p.proname LIKE 'jx\\_%'")).all())
    missing += [f"function {f} ({'missing' if f not in fixed else 'search_path not fixed'})" for f in PG_FUNCTIONS
                if "search_path=pg_catalog" not in (fixed.get(f) or "").replace(" ", "")]
    role = connection.execute(sa.text("SELECT current_setting('session_replication_role')")).scalar()
    if role != "origin":
        missing.append(f"session_replication_role is {role} (triggers do not fire)")
    return missing


def guarded(connection: sa.Connection) -> bool:
    """Whether the backend enforces locks and append-only tables in the database itself."""
    return connection.dialect.name in GUARDED_DIALECTS


def require_guards(connection: sa.Connection) -> None:
    """StoreError naming every missing or disabled guard: jx writes no chained record without them.

    Skipped while migrating (the guards are being made) and on backends without triggers.
    """
    if connection.info.get("jx_migrating"):
        return
    missing = missing_guards(connection)
    if missing:
        from jxcore.errors import StoreError

        raise StoreError(f"the store's guards are not in place: {'; '.join(missing)}; nothing was written",
                         hint="someone with the database owner's rights dropped or disabled them: treat the store "
                              "as tampered, check it with jx verify --heads FILE and restore it from a backup")
