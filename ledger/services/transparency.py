"""The public face of the journal: signed checkpoints, proofs, and entries for their parties."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import BigInteger, Select, and_, any_, bindparam, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ledger.actor import Actor
from ledger.checkpoint import key_id, public_key_pem, public_key_raw, sign_checkpoint
from ledger.errors import InvalidInput, NotFound
from ledger.merkle import (
    EMPTY_ROOT,
    consistency_ranges,
    fold_range,
    inclusion_ranges,
    perfect_ranges,
)
from ledger.models import Checkpoint, JournalEntry, JournalEntryParty, JournalHead, MerkleNode
from ledger.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class LogIdentity:
    """The journal's origin line and signing key (kept in IPX_HOME, never in the database)."""

    origin: str
    private_key: Ed25519PrivateKey

    @property
    def key_id(self) -> bytes:
        return key_id(self.origin, public_key_raw(self.private_key.public_key()))

    @property
    def public_key_pem(self) -> str:
        return public_key_pem(self.private_key.public_key())


CHUNK = 2000


def tree_size(session: Session) -> int:
    return session.execute(select(JournalHead.size).where(JournalHead.id == 1)).scalar_one()


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def chunks(session: Session, values: list[int]) -> list[list[int]]:
    """`values` split for `IN` lists: SQLite caps the parameters of one statement, so chunks
    of CHUNK; PostgreSQL binds one array (`= ANY(:array)`), so one chunk, parsed and planned
    once (2,000-placeholder statements cost it more to parse than to run)."""
    if is_postgresql(session):
        return [values] if values else []
    return [values[i:i + CHUNK] for i in range(0, len(values), CHUNK)]


def seq_in(session: Session, column: Any, name: str) -> Any:
    """`column IN :name` (SQLite, expanding) or `column = ANY(:name)` (PostgreSQL, an array)."""
    if is_postgresql(session):
        return column == any_(bindparam(name, type_=ARRAY(BigInteger)))
    return column.in_(bindparam(name, expanding=True))


@cache
def _nodes_on_levels(levels: int, postgresql: bool) -> Select[tuple[int, int, bytes]]:
    """Perfect nodes on `levels` levels: `level = :level{k} AND idx IN :idx{k}` for each k
    (`idx = ANY(:idx{k})` on PostgreSQL).

    Both engines search the primary key with this, where SQLite scans the whole table for a
    row-value `(level, idx) IN (...)`. Built once per number of levels (at most 64): building
    the clauses on every call cost more than running the query.
    """
    def idx_in(k: int) -> Any:
        if postgresql:
            return MerkleNode.idx == any_(bindparam(f"idx{k}", type_=ARRAY(BigInteger)))
        return MerkleNode.idx.in_(bindparam(f"idx{k}", expanding=True))

    return select(MerkleNode.level, MerkleNode.idx, MerkleNode.hash).where(or_(*(
        and_(MerkleNode.level == bindparam(f"level{k}"), idx_in(k)) for k in range(levels))))


def _any_node(
    keys: list[tuple[int, int]], postgresql: bool,
) -> tuple[Select[tuple[int, int, bytes]], dict[str, Any]]:
    """The query for the perfect nodes `keys` (level, idx) and its parameters."""
    by_level: dict[int, list[int]] = {}
    for level, idx in sorted(keys):
        by_level.setdefault(level, []).append(idx)
    params: dict[str, Any] = {}
    for k, (level, indexes) in enumerate(by_level.items()):
        params[f"level{k}"] = level
        params[f"idx{k}"] = indexes
    return _nodes_on_levels(len(by_level), postgresql), params


def _nodes(session: Session, ranges: list[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """Fetch every perfect subtree hash the given leaf ranges are built from: two queries
    (on SQLite, two per CHUNK nodes)."""
    wanted = {node for start, end in ranges for node in perfect_ranges(start, end)}
    leaves = sorted(idx + 1 for level, idx in wanted if level == 0)
    inner = [(level, idx) for level, idx in wanted if level > 0]
    found: dict[tuple[int, int], bytes] = {}
    postgresql = is_postgresql(session)
    leaf_query = select(JournalEntry.seq, JournalEntry.leaf_hash).where(
        seq_in(session, JournalEntry.seq, "seqs"))
    for seqs in chunks(session, leaves):
        for seq, digest in session.execute(leaf_query, {"seqs": seqs}):
            found[(0, seq - 1)] = digest
    step = len(inner) if postgresql else CHUNK
    for i in range(0, len(inner), step or 1):
        for level, idx, digest in session.execute(*_any_node(inner[i:i + step], postgresql)):
            found[(level, idx)] = digest
    return found


def inclusion_paths(session: Session, seqs: list[int], size: int) -> dict[int, list[bytes]]:
    """Audit paths of many entries in the tree of `size`, sharing one fetch of their nodes."""
    ranges = {seq: inclusion_ranges(seq - 1, size) for seq in seqs}
    # Many paths share their upper ranges: decompose, fetch and fold each distinct one once.
    distinct = list({r for rs in ranges.values() for r in rs})
    nodes = _nodes(session, distinct)
    folded = {r: fold_range(r[0], r[1], nodes) for r in distinct}
    return {seq: [folded[r] for r in rs] for seq, rs in ranges.items()}


def _hashes(session: Session, ranges: list[tuple[int, int]]) -> list[bytes]:
    nodes = _nodes(session, ranges)
    return [fold_range(start, end, nodes) for start, end in ranges]


def root_at(session: Session, size: int) -> bytes:
    if size == 0:
        return EMPTY_ROOT
    return _hashes(session, [(0, size)])[0]


def _check_size(session: Session, size: int, field: str) -> None:
    current = tree_size(session)
    if not 1 <= size <= current:
        raise InvalidInput(f"must be between 1 and the tree size {current}", field=field)


def inclusion_proof(uow: UnitOfWork, seq: int, size: int) -> dict[str, Any]:
    """The audit path for entry `seq` (leaf index seq - 1) in the tree of `size` entries."""
    with uow:
        _check_size(uow.session, size, "tree_size")
        if not 1 <= seq <= size:
            raise InvalidInput(f"must be between 1 and tree_size {size}", field="seq")
        path = _hashes(uow.session, inclusion_ranges(seq - 1, size))
        return {"seq": seq, "leaf_index": seq - 1, "tree_size": size,
                "path": [h.hex() for h in path]}


def consistency_proof(uow: UnitOfWork, first: int, second: int) -> dict[str, Any]:
    with uow:
        _check_size(uow.session, second, "second")
        if not 1 <= first <= second:
            raise InvalidInput(f"must be between 1 and second ({second})", field="first")
        path = _hashes(uow.session, consistency_ranges(first, second))
        return {"first": first, "second": second, "path": [h.hex() for h in path]}


def latest_checkpoint(uow: UnitOfWork, identity: LogIdentity) -> Checkpoint:
    """The checkpoint of the current tree, signing and storing a new one if the tree grew."""
    with uow:
        size = tree_size(uow.session)
        latest = uow.session.execute(
            select(Checkpoint).order_by(Checkpoint.tree_size.desc()).limit(1)
        ).scalar_one_or_none()
        if latest is not None and latest.tree_size == size:
            return latest
        signed = sign_checkpoint(identity.private_key, identity.origin, size,
                                 root_at(uow.session, size))
        checkpoint = Checkpoint(
            tree_size=size, origin=signed.origin, root_hash=signed.root_hash,
            key_id=signed.key_id, signature=signed.signature, note=signed.note,
            created_at=uow.now,
        )
        uow.session.add(checkpoint)
        try:
            uow.commit()
        except IntegrityError:
            # Another process signed this very tree size first: serve theirs.
            uow.session.rollback()
            return uow.session.get_one(Checkpoint, size)
        return checkpoint


@dataclass(frozen=True)
class EntryView:
    seq: int
    body: dict[str, Any]
    leaf_hash: str


def read_entry(uow: UnitOfWork, actor: Actor, seq: int) -> EntryView:
    """An entry, for the operator and the parties it names; for anyone else it does not exist."""
    with uow:
        # Out-of-range numbers never reach the database (a huge one overflows its integer type).
        in_range = 1 <= seq <= tree_size(uow.session)
        entry = uow.session.get(JournalEntry, seq) if in_range else None
        allowed = entry is not None and (
            actor.is_operator
            or uow.session.get(JournalEntryParty, (actor.party_id, seq)) is not None
        )
        if entry is None or not allowed:
            raise NotFound(f"no journal entry {seq} that you may read", field="seq")
        return EntryView(entry.seq, json.loads(entry.body), entry.leaf_hash.hex())
