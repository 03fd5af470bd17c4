"""The public face of the journal: signed checkpoints, proofs, and entries for their parties."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import BigInteger, Select, String, and_, any_, bindparam, func, literal, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ledger.actor import Actor
from ledger.checkpoint import key_id, public_key_pem, public_key_raw, sign_checkpoint
from ledger.db import ArrayLiteral, is_postgresql
from ledger.errors import InvalidInput, NotFound
from ledger.merkle import (
    EMPTY_ROOT,
    consistency_ranges,
    fold_range,
    inclusion_node_sets,
    inclusion_ranges,
    node_range,
    parent_level,
    paths_from_levels,
    perfect_ranges,
)
from ledger.models import (
    Account,
    Checkpoint,
    JournalEntry,
    JournalEntryParty,
    JournalHead,
    MerkleNode,
    Posting,
)
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


def chunks(session: Session, values: list[int]) -> list[Any]:
    """`values` as parameters of `seq_in`, split to bound each statement: PostgreSQL binds
    one array (`= ANY(:array)`), so one chunk, parsed and planned once; SQLite one JSON
    array text per CHUNK values (`IN (SELECT value FROM json_each(:text))`), where a list of
    2,000 placeholders cost more to build than to run."""
    if is_postgresql(session):
        return [values] if values else []
    return [_sqlite_array(values[i:i + CHUNK]) for i in range(0, len(values), CHUNK)]


def _sqlite_array(values: list[int]) -> str:
    return json.dumps(values, separators=(",", ":"))


def _in_array(column: Any, name: str, postgresql: bool) -> Any:
    if postgresql:
        return column == any_(bindparam(name, type_=ArrayLiteral(BigInteger)))
    return column.in_(select(func.json_each(bindparam(name, type_=String))
                             .table_valued("value").c.value))


def seq_in(session: Session, column: Any, name: str) -> Any:
    """`column` in the values `chunks` gives: `column = ANY(:name)` on PostgreSQL (an array),
    `column IN (SELECT value FROM json_each(:name))` on SQLite (a JSON array)."""
    return _in_array(column, name, is_postgresql(session))


@cache
def _nodes_on_levels(levels: int, postgresql: bool) -> Select[tuple[int, int, bytes]]:
    """Perfect nodes on `levels` levels: `level = :level{k} AND idx = ANY(:idx{k})` for each
    k (on SQLite `idx IN (SELECT value FROM json_each(:idx{k}))`).

    Both engines search the primary key with this, where SQLite scans the whole table for a
    row-value `(level, idx) IN (...)`. Built once per number of levels (at most 64): building
    the clauses on every call cost more than running the query.
    """
    return select(MerkleNode.level, MerkleNode.idx, MerkleNode.hash).where(or_(*(
        and_(MerkleNode.level == bindparam(f"level{k}"),
             _in_array(MerkleNode.idx, f"idx{k}", postgresql)) for k in range(levels))))


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
        params[f"idx{k}"] = indexes if postgresql else _sqlite_array(indexes)
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


def _sparse_levels(session: Session, wanted: list[set[int]]) -> list[dict[int, bytes]]:
    """The perfect nodes `wanted[level]` of the lowest levels, idx -> hash per level: the
    leaves in one query, the others in another (on SQLite, one per CHUNK of each)."""
    levels: list[dict[int, bytes]] = [{} for _ in wanted]
    if not wanted:
        return levels
    leaf_query = select(JournalEntry.seq, JournalEntry.leaf_hash).where(
        seq_in(session, JournalEntry.seq, "seqs"))
    for part in chunks(session, sorted(idx + 1 for idx in wanted[0])):
        levels[0].update((seq - 1, digest) for seq, digest
                         in session.execute(leaf_query, {"seqs": part}))
    inner = [(level, idx) for level in range(1, len(wanted)) for idx in sorted(wanted[level])]
    postgresql = is_postgresql(session)
    step = (len(inner) if postgresql else CHUNK) or 1
    for i in range(0, len(inner), step):
        for level, idx, digest in session.execute(*_any_node(inner[i:i + step], postgresql)):
            levels[level][idx] = digest
    for level, indexes in enumerate(wanted):
        if len(levels[level]) != len(indexes):
            raise LookupError(f"{len(indexes) - len(levels[level])} Merkle nodes of level "
                              f"{level} missing")
    return levels


# A level whose perfect nodes the paths need at least this share of is read whole, and the
# levels above it are hashed from it: hashing a node costs a fraction of fetching it.
DENSE = 0.5

# Per level, node index -> hash: a dict where only some nodes were fetched, a list where the
# whole level is known.
PathLevels = list[dict[int, bytes] | list[bytes]]


def path_levels(session: Session, seqs: list[int], size: int) -> PathLevels:
    """Every node the audit paths of `seqs` in the tree of `size` use, per level:
    `levels[level][idx]` (see `ledger.merkle.inclusion_node_sets`); the paths themselves
    come from `ledger.merkle.paths_from_levels`. Each node is fetched (or computed) once:
    a few queries (see `_sparse_levels`), and one more for the whole dense level."""
    wanted = inclusion_node_sets([seq - 1 for seq in seqs], size)
    # The partial node at the right edge of a level, if a path needs it, is folded from
    # the perfect nodes below it.
    partial: dict[int, list[tuple[int, int]]] = {}
    for level, indexes in enumerate(wanted):
        last = size >> level
        if size & ((1 << level) - 1) and last in indexes:
            indexes.discard(last)
            partial[level] = perfect_ranges(last << level, size)
    for pieces in partial.values():
        for level, idx in pieces:
            wanted[level].add(idx)
    # The lowest level (above the leaves) dense enough to read whole; all above it computed.
    dense = next((level for level in range(1, len(wanted))
                  if (size >> level) <= len(wanted[level]) / DENSE), len(wanted))
    levels: PathLevels = [*_sparse_levels(session, wanted[:dense])]
    if dense < len(wanted):
        full = [digest for (digest,) in session.execute(
            select(MerkleNode.hash).where(MerkleNode.level == dense,
                                          MerkleNode.idx < size >> dense)
            .order_by(MerkleNode.idx))]
        if len(full) != size >> dense:
            raise LookupError(f"merkle_nodes lacks nodes of level {dense}")
        while len(levels) < len(wanted):
            levels.append(full)
            full = parent_level(full)
    for level, pieces in partial.items():
        nodes = {(lv, idx): levels[lv][idx] for lv, idx in pieces}
        value = fold_range(*node_range(level, size >> level, size), nodes)
        known = levels[level]
        if isinstance(known, dict):
            known[size >> level] = value
        else:
            known.append(value)  # the perfect nodes are 0 .. (size >> level) - 1
    return levels


def inclusion_paths(session: Session, seqs: list[int], size: int) -> dict[int, list[bytes]]:
    """Audit paths of many entries in the tree of `size`, sharing one fetch of their nodes."""
    levels = path_levels(session, seqs, size)
    return dict(zip(seqs, paths_from_levels(levels, [seq - 1 for seq in seqs], size),
                    strict=True))


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


def _of_the_current_tree(session: Session) -> tuple[int, Checkpoint | None]:
    """The tree's size, and the newest checkpoint if it is of that size."""
    size = tree_size(session)
    latest = session.execute(
        select(Checkpoint).order_by(Checkpoint.tree_size.desc()).limit(1)
    ).scalar_one_or_none()
    return size, latest if latest is not None and latest.tree_size == size else None


def latest_checkpoint(uow: UnitOfWork, identity: LogIdentity, *,
                      reader: UnitOfWork | None = None) -> Checkpoint:
    """The checkpoint of the current tree, signing and storing a new one if the tree grew.

    With a `reader` (a unit of work that only reads), `uow` is only opened to sign: on
    SQLite, serving an existing checkpoint then does not wait for the write lock."""
    if reader is not None:
        with reader:
            _, current = _of_the_current_tree(reader.session)
        if current is not None:
            return current
    with uow:
        size, current = _of_the_current_tree(uow.session)
        if current is not None:
            return current
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


def _posts_to(session: Session, seq: int, party_id: str) -> bool:
    """Whether entry `seq` posts to one of the party's accounts (which makes the party one of
    its readers): an index probe per account of the party, however many postings the entry
    has."""
    return session.execute(
        select(literal(1)).where(
            Posting.account_id.in_(select(Account.id).where(Account.party_id == party_id)),
            Posting.journal_seq == seq)
        .limit(1)).first() is not None


def read_entry(uow: UnitOfWork, actor: Actor, seq: int) -> EntryView:
    """An entry, for the operator and the parties it names; for anyone else it does not exist."""
    with uow:
        # Out-of-range numbers never reach the database (a huge one overflows its integer type).
        in_range = 1 <= seq <= tree_size(uow.session)
        entry = uow.session.get(JournalEntry, seq) if in_range else None
        allowed = entry is not None and (
            actor.is_operator
            or uow.session.get(JournalEntryParty, (actor.party_id, seq)) is not None
            or _posts_to(uow.session, seq, actor.party_id)
        )
        if entry is None or not allowed:
            raise NotFound(f"no journal entry {seq} that you may read", field="seq")
        return EntryView(entry.seq, json.loads(entry.body), entry.leaf_hash.hex())
