"""``jx verify``: recompute the audit chain from the rows and name every difference.

Each chained row's leaf is recomputed from the row as stored and compared with its chain entry;
each chain entry's head (the RFC 6962 tree head of leaves 1..seq) is recomputed from the leaves;
each lock's recorded head is compared with the recomputed head at its size, and so can a head
written down outside the database (``--head``). A difference is named by the first sequence
number it touches and what it looks like: changed, deleted, inserted or reordered.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import attrs
import sqlalchemy as sa

from jxcore.records.heads import SignedHead, check_against, check_file, stored_heads
from jxcore.store import ledger

KINDS = ("changed", "deleted", "inserted", "reordered", "truncated", "rewritten", "unguarded")
_ORDERED_KEYS = {"entries", "record_locks", "run_units", "run_nodes", "access_log"}  # keys grow as rows are written


@attrs.frozen
class Finding:
    """One difference: ``seq`` (None for a row with no chain entry), ``kind``, where, and what."""

    seq: int | None
    kind: str
    table: str
    key: str
    message: str

    def __str__(self) -> str:
        where = f"seq {self.seq}" if self.seq is not None else "no seq"
        return f"{where}: {self.kind}: {self.table} {self.key}: {self.message}"


@attrs.frozen
class Verification:
    size: int
    head: str
    findings: tuple[Finding, ...]
    #: whether the database enforces locks itself (False on MariaDB/MySQL: locks are refused there)
    enforced: bool = True

    @property
    def ok(self) -> bool:
        return not self.findings


def _chained_rows(connection: sa.Connection, latest: dict[tuple[str, str], int]) -> dict[tuple[str, str], dict]:
    """Every row that must be chained: all of the append-only tables, final runs with their rows,
    and each row of a versioned table under the key of its newest chained version (``latest``)."""
    rows = {}
    final = {r["id"] for r in ledger.raw_rows(connection, "runs") if r["final"] in (1, True)}
    for tbl in ledger.CHAINED:
        for row in ledger.raw_rows(connection, tbl):
            unfinal = (tbl == "runs" and row["id"] not in final
                       or tbl in ("run_units", "run_nodes") and row["run_id"] not in final)
            if unfinal:
                continue
            rows[(tbl, ledger.row_key(tbl, row))] = row
    for tbl, column in ledger.VERSIONED.items():
        for row in ledger.raw_rows(connection, tbl):
            name = str(row[column])
            n = latest.get((tbl, name))
            rows[(tbl, f"{name}#{n}" if n else name)] = row
    return rows


def _latest_versions(chain: list[dict]) -> dict[tuple[str, str], int]:
    latest: dict[tuple[str, str], int] = {}
    for link in chain:
        if link["tbl"] in ledger.VERSIONED:
            name, n = ledger.version_key(link["row_key"])
            latest[(link["tbl"], name)] = max(n, latest.get((link["tbl"], name), 0))
    return latest


def _superseded_version(link: dict, latest: dict[tuple[str, str], int]) -> bool:
    if link["tbl"] not in ledger.VERSIONED:
        return False
    name, n = ledger.version_key(link["row_key"])
    return n < latest.get((link["tbl"], name), 0)


def verify(connection: sa.Connection, expected_heads: Iterable[str] = (),
           kept: Sequence[SignedHead] = (), key: str | None = None) -> Verification:
    """Check the chain against the rows, the lock heads, the stored signed heads, ``expected_heads``
    (hex, from outside) and ``kept`` signed heads (an export kept outside, signed by ``key``), and
    that the database's guards are in place."""
    chain = ledger.chain_rows(connection)
    latest = _latest_versions(chain)
    rows = _chained_rows(connection, latest)
    findings: list[Finding] = []
    heads = ledger.Heads()
    recomputed: dict[int, str] = {}
    records: list[dict] = []  # the chain's records, each bundle as the records of its rows
    for expected_seq, link in enumerate(chain, start=1):
        if link["seq"] != expected_seq:
            findings.append(Finding(expected_seq, "deleted", link["tbl"], link["row_key"],
                                    f"the chain jumps from seq {expected_seq - 1} to {link['seq']}"))
            break
        recomputed[link["seq"]] = heads.add(link["leaf"])
        if recomputed[link["seq"]] != link["head"]:
            findings.append(Finding(link["seq"], "changed", link["tbl"], link["row_key"],
                                    "the chain entry's head differs from the head recomputed from the leaves"))
        if link.get("leaves") is None:
            records.append(link)
            continue
        problem = ledger.bundle_problem(link)
        if problem is not None:
            findings.append(Finding(link["seq"], "changed", link["tbl"], link["row_key"], problem))
        records += _members(link)
    by_key = {(link["tbl"], link["row_key"]): link for link in records}
    leaves = {link["leaf"]: link for link in records}
    mismatched: list[tuple[dict, dict]] = []
    for where, link in by_key.items():
        if _superseded_version(link, latest):
            continue  # an older state of a row jx changed since: covered by the heads only
        row = rows.get(where)
        if row is None:
            findings.append(Finding(link["seq"], "deleted", *where, "the row is gone"))
        elif ledger.leaf_hash(where[0], row) != link["leaf"]:
            mismatched.append((link, row))
    for link, row in mismatched:
        moved = _moved_from(link, row, [m for m, _ in mismatched if m is not link], leaves)
        if moved is not None:
            findings.append(Finding(link["seq"], "reordered", link["tbl"], link["row_key"],
                                    f"holds the row chained as {moved['tbl']} {moved['row_key']} (seq {moved['seq']})"))
        else:
            findings.append(Finding(link["seq"], "changed", link["tbl"], link["row_key"],
                                    "the row differs from what was chained"))
    for where in rows.keys() - by_key.keys():
        findings.append(Finding(None, "inserted", *where, "the row is not in the chain"))
    findings += _order_findings(records)
    findings += _head_findings(connection, recomputed, expected_heads)
    findings += [Finding(None, "unguarded", "guards", g.split(" (")[0], f"{g}: jx refuses to write until it is back")
                 for g in ledger.missing_guards(connection)]
    if kept:
        for problem in check_file(kept, key) + check_against(kept[-1:], [link["leaf"] for link in chain]):
            kind = problem.split(":")[0] if problem.startswith(("truncated", "rewritten")) else "rewritten"
            findings.append(Finding(None, kind, "signed_heads", "kept", problem))
    findings.sort(key=lambda f: (f.seq is None, f.seq or 0, f.kind))
    return Verification(len(chain), recomputed.get(len(chain), ledger.EMPTY_HEAD) if chain else ledger.EMPTY_HEAD,
                        tuple(findings), ledger.guarded(connection))


def _members(bundle: dict) -> list[dict]:
    """A bundle as the records of its rows: each row's key and leaf, at the bundle's seq."""
    ids = ledger.bundle_ids(bundle["row_key"]) or ()
    return [{**bundle, "row_key": str(i), "leaf": leaf.hex(), "leaves": None}
            for i, leaf in zip(ids, ledger.bundle_leaves(bundle["leaves"]))]


def _moved_from(link: dict, row: dict, others: list[dict], leaves: dict[str, dict]) -> dict | None:
    """The chain entry whose row this one now holds (two rows swapped keys), or None."""
    tbl = link["tbl"]
    if tbl not in ledger.CHAINED:
        return None
    for other in others:
        if other["tbl"] != tbl:
            continue
        keyed = dict(row)
        key_values = other["row_key"].split("|")
        for col, value in zip(ledger.CHAINED[tbl], key_values):
            keyed[col] = int(value) if isinstance(row[col], int) else value
        if leaves.get(ledger.leaf_hash(tbl, keyed)) is other:
            return other
    return None


def _order_findings(chain: list[dict]) -> list[Finding]:
    """Rows of one table must be chained in the order of their growing keys."""
    found = []
    last: dict[tuple, tuple] = {}  # (table, key prefix) → the last key chained
    for link in chain:
        if link["tbl"] not in _ORDERED_KEYS:
            continue
        parts = str(link["row_key"]).split("|")
        key = tuple((0, int(p), "") if p.lstrip("-").isdigit() else (1, 0, p) for p in parts)
        group = (link["tbl"], key[:-1])
        if group in last and key <= last[group]:
            found.append(Finding(link["seq"], "reordered", link["tbl"], link["row_key"],
                                 "chained after a row with a larger key"))
        last[group] = key
    return found


def _head_findings(connection: sa.Connection, recomputed: dict[int, str], expected: Iterable[str]) -> list[Finding]:
    found = []
    locks = sa.table("record_locks", sa.column("id"), sa.column("head"), sa.column("size"), sa.column("action"))
    for lock_id, head, size in connection.execute(
            sa.select(locks.c.id, locks.c.head, locks.c.size).where(locks.c.action == "lock")):
        if head is None or size is None:
            continue
        if recomputed.get(size, ledger.EMPTY_HEAD if size == 0 else None) != head:
            found.append(Finding(size or None, "changed", "record_locks", str(lock_id),
                                 f"the head recorded by lock #{lock_id} ({size} records) no longer matches the "
                                 f"chain: a record up to seq {size} was changed"))
    for h in stored_heads(connection):
        if recomputed.get(h.size, ledger.EMPTY_HEAD if h.size == 0 else None) != h.head or not h.valid():
            found.append(Finding(h.size or None, "changed", "signed_heads", str(h.size),
                                 f"the signed head of {h.at:%Y-%m-%d %H:%M} ({h.event}) is no longer a head of the "
                                 f"chain, or its signature is bad: a record up to seq {h.size} was changed"))
    known = set(recomputed.values()) | {ledger.EMPTY_HEAD}
    for head in expected:
        if head.lower() not in known:
            found.append(Finding(None, "changed", "audit_chain", head[:16],
                                 f"the head {head} recorded outside the store is not a head of this chain: "
                                 "records before it were changed, deleted or reordered"))
    return found
