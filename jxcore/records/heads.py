"""Signed tree heads: the audit chain's head, signed outside the database, kept by anyone.

Every lock, unlock and final run signs the chain's head *after* its own record with the bureau's
Ed25519 key (a PEM file outside the store: ``JX_SIGNING_KEY``, else ``$JX_HOME/signing-key.pem``,
made on first use or by ``jx keys init``) and stores it in ``signed_heads``. ``jx heads export
FILE`` appends the heads to a text file, one JSON line each with the RFC 6962 consistency proof
from the line before; whoever keeps a copy can later show that the store's history was truncated
or rewritten (:func:`check_heads`), and a branch can check that its own entry is in the
published log (:func:`check_inclusion`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Sequence
from pathlib import Path

import attrs
import sqlalchemy as sa

from jxcore.errors import DataError, UsageError
from jxcore.store import ledger
from jxcore.store.tables import audit_chain, signed_heads

MAGIC = b"jx signed tree head v1\n"


def key_path() -> Path:
    """Where the private key lives: ``JX_SIGNING_KEY``, else ``$JX_HOME/signing-key.pem``."""
    from jxcore.config import jx_home

    explicit = os.environ.get("JX_SIGNING_KEY")
    return Path(explicit) if explicit else jx_home() / "signing-key.pem"


def init_key(path: Path | None = None, *, force: bool = False) -> tuple[Path, str]:
    """Make a new Ed25519 key (file mode 0600); (its path, its public key hex). UsageError if one
    exists (unless ``force``): a new key makes earlier heads unverifiable by the old public key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = path or key_path()
    if path.exists() and not force:
        raise UsageError(f"a signing key exists already at {path}",
                         hint="keep it; give --force only to replace a lost or leaked key (publish the new public key)")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".jx-key-")  # mode 0600; whole or absent
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        if force:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # never over a key another process made meanwhile
            except FileExistsError:
                return path, public_key(path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path, _public_hex(key)


def _public_hex(key) -> str:
    from cryptography.hazmat.primitives import serialization

    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def load_key(path: Path | None = None, *, create: bool = True):
    """The private key; made at the default path on first use when ``create`` and no
    ``JX_SIGNING_KEY`` is set. UsageError naming the file when it is missing or not an Ed25519 key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = path or key_path()
    if not path.exists():
        if create and "JX_SIGNING_KEY" not in os.environ:
            init_key(path)
        else:
            raise UsageError(f"the signing key {path} does not exist",
                             hint="make one with jx keys init, or point JX_SIGNING_KEY at the bureau's key file")
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError, OSError) as exc:
        raise UsageError(f"cannot read the signing key {path}: {exc}",
                         hint="give an unencrypted PEM Ed25519 key (jx keys init makes one)") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise UsageError(f"the signing key {path} is not an Ed25519 key", hint="make one with jx keys init")
    return key


def public_key(path: Path | None = None) -> str:
    """The public key (hex, 32 bytes) of the signing key: publish it with the plan."""
    return _public_hex(load_key(path, create=False))


@attrs.frozen
class SignedHead:
    size: int
    head: str
    at: dt.datetime
    event: str
    public_key: str
    signature: str
    consistency: tuple[str, ...] = ()  #: RFC 6962 proof from the previous head of an export

    def message(self) -> bytes:
        return message(self.size, self.head, self.at, self.event)

    def valid(self, key: str | None = None) -> bool:
        """Whether the signature is good (and by ``key``, when given)."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        if key is not None and key.lower() != self.public_key.lower():
            return False
        try:
            Ed25519PublicKey.from_public_bytes(bytes.fromhex(self.public_key)).verify(
                bytes.fromhex(self.signature), self.message())
        except (InvalidSignature, ValueError):
            return False
        return True

    def line(self) -> str:
        return json.dumps({"size": self.size, "head": self.head, "at": self.at.isoformat(), "event": self.event,
                           "public_key": self.public_key, "signature": self.signature,
                           "consistency": list(self.consistency)}, ensure_ascii=False)


def message(size: int, head: str, at: dt.datetime, event: str) -> bytes:
    """The bytes signed: a fixed prefix, then size, head, UTC time and event, one per line."""
    when = at.astimezone(dt.UTC).isoformat()
    return MAGIC + f"{size}\n{head}\n{when}\n{event}".encode()


def sign_head(connection: sa.Connection, event: str, key=None) -> SignedHead:
    """Sign the chain's current head (after the caller's own records) and store it; inside the
    caller's transaction, after :func:`jxcore.store.ledger.lock_writers`."""
    key = key if key is not None else load_key()
    size, head = ledger.last_link(connection)
    at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    signature = key.sign(message(size, head, at, event)).hex()
    signed = SignedHead(size, head, at, event, _public_hex(key), signature)
    connection.execute(signed_heads.insert(), {"size": size, "head": head, "at": at, "event": event,
                                               "public_key": signed.public_key, "signature": signature})
    return signed


def stored_heads(connection: sa.Connection) -> list[SignedHead]:
    """The store's signed heads, oldest first."""
    rows = connection.execute(sa.select(signed_heads).order_by(signed_heads.c.id)).mappings().all()
    return [SignedHead(r["size"], r["head"], r["at"], r["event"], r["public_key"], r["signature"]) for r in rows]


def read_heads(path: Path) -> list[SignedHead]:
    """The heads of an export file; DataError naming the line that is not a head."""
    if not path.exists():
        return []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the heads file {path}: {exc}",
                         hint="give the file jx heads export wrote") from exc
    found = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            d = json.loads(text)
            found.append(SignedHead(int(d["size"]), str(d["head"]), dt.datetime.fromisoformat(d["at"]), str(d["event"]),
                                    str(d["public_key"]), str(d["signature"]), tuple(d.get("consistency", ()))))
        except (ValueError, KeyError, TypeError) as exc:
            raise DataError(f"{path}:{number}: not a signed head ({exc})",
                            hint="the file holds one JSON head per line, as jx heads export writes them") from exc
    return found


def export_heads(connection: sa.Connection, path: Path) -> list[SignedHead]:
    """Append the store's signed heads that ``path`` lacks, each with its consistency proof from
    the head before it; return those appended. The file is only ever appended to; DataError if
    its last head is not a head of this store's chain (nothing is written then)."""
    kept = read_heads(path)
    leaves = ledger.chain_leaves(connection)
    if kept:
        problems = check_against(kept[-1:], leaves)
        if problems:
            raise DataError(f"{path}: {problems[0]}", hint="nothing was appended; keep the file as evidence")
    have = {(h.size, h.head, h.signature) for h in kept}
    new, previous = [], kept[-1] if kept else None
    for h in stored_heads(connection):
        if (h.size, h.head, h.signature) in have or (previous is not None and h.size < previous.size):
            continue
        proof = ledger.consistency_proof(leaves, previous.size, h.size) if previous is not None else []
        h = attrs.evolve(h, consistency=tuple(proof))
        new.append(h)
        previous = h
    if new:
        try:
            with path.open("a", encoding="utf-8") as out:
                out.writelines(h.line() + "\n" for h in new)
        except OSError as exc:
            raise UsageError(f"cannot write the heads file {path}: {exc}",
                             hint="give a file in a directory that exists and you may write to") from exc
    return new


def check_file(heads: Sequence[SignedHead], key: str | None = None) -> list[str]:
    """Problems of an export on its own: bad signatures, another key, a head that does not extend
    the one before (its consistency proof fails)."""
    problems = []
    key = key or (heads[0].public_key if heads else None)
    for i, h in enumerate(heads, start=1):
        if not h.valid(key):
            signer = (key or "?")[:16]
            problems.append(f"head {i} (size {h.size}, {h.event}): the signature is not the key {signer}…'s")
        if i > 1:
            before = heads[i - 2]
            if not ledger.verify_consistency(before.size, before.head, h.size, h.head, h.consistency):
                problems.append(f"head {i} (size {h.size}) does not extend head {i - 1} (size {before.size}): "
                                "the history between them was rewritten")
    return problems


def check_against(heads: Sequence[SignedHead], leaves: Sequence[str]) -> list[str]:
    """Problems of the store's chain (its hex ``leaves``) against kept heads: truncated (a kept
    head is longer than the chain) or rewritten (the RFC 6962 consistency proof from a kept head to
    the chain's head fails)."""
    n = len(leaves)
    head_n = ledger.merkle_root(list(leaves)) if leaves else ledger.EMPTY_HEAD
    problems = []
    for h in heads:
        if h.size > n:
            problems.append(f"truncated: the store's chain has {n} records, but the kept head of {h.at:%Y-%m-%d %H:%M} "
                            f"({h.event}) covers {h.size}")
        elif not ledger.verify_consistency(h.size, h.head, n, head_n, ledger.consistency_proof(leaves, h.size, n)):
            problems.append(f"rewritten: the store's first {h.size} records are not those the kept head of "
                            f"{h.at:%Y-%m-%d %H:%M} ({h.event}) covers")
    return problems


def check_heads(connection: sa.Connection, heads: Sequence[SignedHead], key: str | None = None) -> list[str]:
    """Every problem of kept ``heads``: the file on its own, then the newest head against the store
    (the file's proofs chain the older ones to it)."""
    leaves = ledger.chain_leaves(connection)
    return check_file(heads, key) + check_against(heads[-1:], leaves)


@attrs.frozen
class Inclusion:
    seq: int
    leaf: str
    head: SignedHead
    #: the audit path: inside the bundle (when ``within``), then from the record to the head
    proof: tuple[str, ...]
    ok: bool
    message: str
    #: (position, rows) of the row in its bundle (0-based), or None for a record of its own
    within: tuple[int, int] | None = None


def _record_of(connection: sa.Connection, tbl: str, key: str) -> sa.Row | None:
    """The chain record of ``tbl``/``key``: its own, or the bundle that covers it."""
    c = audit_chain.c
    columns = (c.seq, c.row_key, c.leaf, c.leaves)
    link = connection.execute(sa.select(*columns).where(c.tbl == tbl, c.row_key == key)).first()
    if link is not None or tbl not in ledger.BUNDLED or not key.isdigit():
        return link
    bundles = connection.execute(sa.select(c.seq, c.row_key).where(c.tbl == tbl, c.leaves.is_not(None)))
    seq = next((b.seq for b in bundles if int(key) in (ledger.bundle_ids(b.row_key) or ())), None)
    return None if seq is None else connection.execute(sa.select(*columns).where(c.seq == seq)).first()


def check_inclusion(connection: sa.Connection, tbl: str, key: str, heads: Sequence[SignedHead]) -> Inclusion:
    """Is the row ``tbl``/``key`` (as stored now) in the log a kept head covers? Its leaf is
    recomputed from the row and its RFC 6962 audit path checked against the first kept head
    that covers it; a row chained in a bundle first up to the bundle's leaf, then that leaf up
    to the head."""
    link = _record_of(connection, tbl, key)
    if link is None:
        raise UsageError(f"{tbl} {key} is not in the audit chain", hint="check the id (jx entry show ID)")
    covering = [h for h in heads if h.size >= link.seq]
    if not covering:
        raise UsageError(f"no kept head covers {tbl} {key} (record {link.seq}) yet",
                         hint="it is covered by the next lock, unlock or final run; export the heads after it")
    head = covering[0]
    where = sa.and_(*[sa.column(col) == (int(v) if v.isdigit() else v)
                      for col, v in zip(ledger.CHAINED[tbl], key.split("|"))])
    row = next(ledger.raw_rows(connection, tbl, where), None)
    leaf = ledger.leaf_hash(tbl, row) if row is not None else ""
    within, inside, path = None, True, []
    if link.leaves is not None:  # a bundle: the row's leaf up to the bundle's leaf
        members = [m.hex() for m in ledger.bundle_leaves(ledger.leaves_bytes(link.leaves) or b"")]
        ids = ledger.bundle_ids(link.row_key) or range(0)
        within = (int(key) - ids.start, len(members))
        path = ledger.inclusion_proof(members, within[0], len(members))
        inside = ledger.verify_inclusion(leaf, within[0], len(members), link.leaf, path)
    leaves = ledger.chain_leaves(connection)
    proof = ledger.inclusion_proof(leaves, link.seq - 1, head.size)
    ok = (row is not None and inside
          and ledger.verify_inclusion(leaf if within is None else link.leaf, link.seq - 1, head.size, head.head, proof))
    record = f"record {link.seq}" + (f", row {within[0] + 1} of {within[1]} in its bundle" if within else "")
    if ok:
        text = (f"{tbl} {key} is {record}, included in the head of {head.at:%Y-%m-%d %H:%M} "
                f"({head.size} records, {head.event}); audit path of {len(path) + len(proof)} hashes")
    elif row is None:
        text = f"{tbl} {key} is gone from the store ({record})"
    else:
        text = (f"{tbl} {key} ({record}) as stored now is not the record the head of "
                f"{head.at:%Y-%m-%d %H:%M} ({head.event}) covers: it was changed or the log rewritten")
    return Inclusion(link.seq, leaf, head, tuple(path + proof), ok, text, within)
