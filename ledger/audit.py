"""`ipx ledger verify`: recompute the whole journal from its rows, streaming, and find tampering.

Checks, entry by entry in sequence order: no sequence number is missing or out of place; the
body is canonical JSON and names its own sequence number; the leaf hash and the hash-chain
link recompute; the stored Merkle nodes match the tree rebuilt from the leaves; every stored
checkpoint's root matches the rebuilt tree at its size and its signature verifies; and the head
row agrees with the end of the journal. Memory stays bounded by one batch of rows.
"""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from ledger.canonical import leaf_hash
from ledger.checkpoint import (
    CheckpointError,
    checkpoint_text,
    key_id,
    open_checkpoint,
    public_key_raw,
)
from ledger.journal import GENESIS_CHAIN, chain_next
from ledger.merkle import MerkleFrontier
from ledger.models import Checkpoint, JournalEntry, JournalHead, MerkleNode

BATCH = 20_000
PARALLEL_FROM = 100_000


@dataclass(frozen=True)
class VerifyReport:
    entries: int
    checkpoints: int
    first_bad_seq: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.first_bad_seq is None and self.reason is None


def _is_canonical(text: str, value: Any) -> bool:
    """Whether `text`, which parses to `value`, is the RFC 8785 encoding of `value`."""
    # Bodies hold no floats, so sorted-key compact JSON equals RFC 8785 except where
    # UTF-16 and code-point key order differ; fall back to the real JCS when they disagree.
    if json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False) == text:
        return True
    return bool(rfc8785.dumps(value).decode() == text)


def _stored_nodes(
    session: Session, start: int, end: int, depth: int
) -> dict[tuple[int, int], bytes]:
    """Stored perfect nodes completed by leaves [start, end)."""
    clauses = [
        and_(MerkleNode.level == level, MerkleNode.idx >= (start >> level),
             MerkleNode.idx < (end >> level))
        for level in range(1, depth + 1)
        if (end >> level) > (start >> level)
    ]
    if not clauses:
        return {}
    # On the connection: plain rows, without the ORM's per-row result processing.
    rows = session.connection().execute(select(MerkleNode.level, MerkleNode.idx, MerkleNode.hash)
                                        .where(or_(*clauses)))
    return {(lv, ix): h for lv, ix, h in rows}


def _batches(session: Session) -> Iterator[list[Any]]:
    """Rows (seq, body, leaf_hash, chain_hash) in sequence order, BATCH at a time."""
    last = 0
    while True:
        rows = session.connection().execute(
            select(JournalEntry.seq, JournalEntry.body, JournalEntry.leaf_hash,
                   JournalEntry.chain_hash)
            .where(JournalEntry.seq > last).order_by(JournalEntry.seq).limit(BATCH)
        ).all()
        if not rows:
            return
        yield list(rows)
        last = rows[-1][0]


def _checkpoint_problem(
    row: Any, public_key: Ed25519PublicKey, origin: str, root: bytes
) -> str | None:
    """What is wrong with a stored checkpoint of the tree whose root is `root`, if anything."""
    size, stored_root, note, cp_origin, stored_key_id, signature = row
    try:
        _, signed_size, signed_root = open_checkpoint(note, public_key, origin)
    except CheckpointError as error:
        return f"checkpoint at size {size}: {error}"
    if cp_origin != origin or signed_size != size or not (signed_root == stored_root == root):
        return f"checkpoint at size {size} does not match the journal"
    # The API serves the key id and signature columns, not the note: they must verify too.
    try:
        public_key.verify(signature, checkpoint_text(origin, size, stored_root).encode())
    except InvalidSignature:
        return f"checkpoint at size {size}: its stored signature does not verify"
    if stored_key_id != key_id(origin, public_key_raw(public_key)):
        return f"checkpoint at size {size}: its stored key id is not the signing key's"
    return None


def _body_problems(
    seqs: list[int], bodies: list[str],
) -> tuple[list[bytes], int | None, str | None]:
    """The order-independent checks of a run of entries (parse, own sequence number, canonical
    form, leaf hash): their leaf hashes, or the first bad sequence number and why. Pure, so
    that it can run in a worker process beside the sequential chain and tree checks."""
    leaves: list[bytes] = []
    for seq, body in zip(seqs, bodies, strict=True):
        try:
            value = json.loads(body)  # once per entry: parsing is verify's hottest step
            if value.get("seq") != seq or not _is_canonical(body, value):
                return leaves, seq, "body is not canonical or names another sequence number"
        except (ValueError, AttributeError):
            return leaves, seq, "body is not JSON"
        leaves.append(leaf_hash(body.encode()))
    return leaves, None, None


CheckedBatch = tuple[list[Any], list[bytes], int | None, str | None]


def _checked_batches(session: Session, workers: int) -> Iterator[CheckedBatch]:
    """Batches of rows with their body checks done, in order; with several workers the body
    checks of the next batches run in other processes while the caller checks this one."""
    batches = _batches(session)
    if workers == 0:
        for rows in batches:
            yield (rows, *_body_problems([r[0] for r in rows], [r[1] for r in rows]))
        return
    with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
        in_flight: deque[tuple[list[Any], Future[tuple[list[bytes], int | None,
                                                       str | None]]]] = deque()
        for rows in batches:
            in_flight.append((rows, pool.submit(_body_problems, [r[0] for r in rows],
                                                [r[1] for r in rows])))
            if len(in_flight) > workers + 1:
                done, future = in_flight.popleft()
                yield (done, *future.result())
        while in_flight:
            done, future = in_flight.popleft()
            yield (done, *future.result())


def verify_journal(
    session: Session,
    public_key: Ed25519PublicKey,
    origin: str,
    progress: Callable[[int], None] = lambda n: None,
    workers: int | None = None,
) -> VerifyReport:
    """Recompute everything; the report names the first bad sequence number, if any.

    `workers` processes check bodies while this one checks the chain and the tree (default:
    one, beside this process, on a machine with more than one core and a journal of
    PARALLEL_FROM entries or more; 0 checks everything here).
    """
    total = session.execute(select(JournalHead.size).where(JournalHead.id == 1)).scalar_one()
    checkpoints = iter(session.execute(
        select(Checkpoint.tree_size, Checkpoint.root_hash, Checkpoint.note, Checkpoint.origin,
               Checkpoint.key_id, Checkpoint.signature)
        .order_by(Checkpoint.tree_size)).all())
    pending = next(checkpoints, None)
    frontier = MerkleFrontier()
    chain = GENESIS_CHAIN
    seen_checkpoints = 0
    if pending is not None and pending[0] == 0:
        # A checkpoint of the empty journal (signed before the first entry): seq 0 stands for it.
        problem = _checkpoint_problem(pending, public_key, origin, frontier.root())
        if problem is not None:
            return VerifyReport(0, 0, 0, problem)
        seen_checkpoints += 1
        pending = next(checkpoints, None)
    expected = 1
    nodes: dict[tuple[int, int], bytes] = {}
    if workers is None:
        workers = 1 if (os.cpu_count() or 1) > 1 and total >= PARALLEL_FROM else 0
    with closing(_checked_batches(session, workers)) as checked:
        for rows, leaves, bad_seq, reason in checked:
            for (seq, _, stored_leaf, stored_chain), leaf in zip(rows, leaves + [b""] * (
                    len(rows) - len(leaves)), strict=True):
                if seq != expected:
                    return VerifyReport(expected - 1, seen_checkpoints, expected,
                                        f"entry {expected} is missing (next stored entry is "
                                        f"{seq})")
                if seq == bad_seq:
                    return VerifyReport(seq - 1, seen_checkpoints, seq, reason)
                if (seq - 1) % BATCH == 0:
                    nodes = _stored_nodes(session, seq - 1, seq - 1 + BATCH,
                                          max(total, 1).bit_length())
                if leaf != stored_leaf:
                    return VerifyReport(seq - 1, seen_checkpoints, seq,
                                        "leaf hash does not match body")
                chain = chain_next(chain, leaf)
                if chain != stored_chain:
                    return VerifyReport(seq - 1, seen_checkpoints, seq, "hash chain is broken")
                for level, idx, digest in frontier.append(leaf):
                    if nodes.get((level, idx)) != digest:
                        return VerifyReport(
                            seq - 1, seen_checkpoints, seq,
                            f"stored Merkle node ({level}, {idx}) is wrong or missing")
                while pending is not None and pending[0] == seq:
                    problem = _checkpoint_problem(pending, public_key, origin, frontier.root())
                    if problem is not None:
                        return VerifyReport(seq, seen_checkpoints, seq, problem)
                    seen_checkpoints += 1
                    pending = next(checkpoints, None)
                progress(seq)
                expected = seq + 1
    size = expected - 1
    if pending is not None:
        return VerifyReport(size, seen_checkpoints, size + 1,
                            f"a checkpoint claims size {pending[0]}, beyond the journal")
    head = session.execute(select(JournalHead).where(JournalHead.id == 1)).scalar_one()
    if head.size != size or head.chain_hash != chain or head.frontier != frontier.to_bytes():
        return VerifyReport(size, seen_checkpoints, min(head.size, size) + 1,
                            f"journal head (size {head.size}) disagrees with the entries ({size})")
    return VerifyReport(size, seen_checkpoints)
