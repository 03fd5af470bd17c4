"""Bench helper: append many journal entries in bulk, byte for byte as `JournalWriter` would.

The benchmarks need large, *consistent* databases (100,000 holders, a million entries) faster
than one service call per row. `BulkJournal` continues the journal from its stored head: each
`append` builds the body exactly as `ledger.journal.JournalWriter.append` does (same fields,
same canonical encoding, same named parties), extends the hash chain and the Merkle frontier,
and buffers the rows; `flush` bulk-inserts them with SQLAlchemy Core and moves the head. The
projection rows that the service would have written alongside (parties, holdings, accounts,
money transactions) are the caller's job, in the same transaction, so that
`ipx ledger verify` and `ipx ledger replay --check` still pass afterwards.

Not part of the product; nothing here is used by the service.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from ledger.canonical import canonical_bytes, leaf_hash
from ledger.clock import isoformat
from ledger.journal import chain_next, posting_json, unit_move_json
from ledger.merkle import MerkleFrontier
from ledger.models import JournalEntry, JournalEntryParty, JournalHead, MerkleNode
from ledger.postings import Posting, UnitMove

# Rows per executemany: SQLite caps bound parameters per statement (multi-VALUES inserts).
CHUNK = 5000


def insert_chunked(connection: Connection, table: Any, rows: Sequence[dict[str, Any]],
                   chunk: int = CHUNK) -> None:
    """INSERT `rows` (dicts with the same keys) with executemany, `chunk` rows at a time."""
    statement = insert(table)
    for i in range(0, len(rows), chunk):
        connection.execute(statement, list(rows[i:i + chunk]))


class BulkJournal:
    """Appends entries after the journal's current head; `flush` writes them in bulk."""

    def __init__(self, connection: Connection) -> None:
        head = connection.execute(
            select(JournalHead.size, JournalHead.chain_hash, JournalHead.frontier)
            .where(JournalHead.id == 1).with_for_update()).one()
        self.size: int = head.size
        self.chain: bytes = head.chain_hash
        self.frontier = MerkleFrontier.from_bytes(head.size, head.frontier)
        self.entries: list[dict[str, Any]] = []
        self.nodes: list[dict[str, Any]] = []
        self.named: list[dict[str, Any]] = []

    def append(self, kind: str, data: dict[str, Any], *, at: datetime, actor: str | None,
               parties: Iterable[str] = (), postings: Sequence[Posting] = (),
               unit_moves: Sequence[UnitMove] = ()) -> tuple[int, str]:
        """Buffer one entry; returns (seq, canonical body text)."""
        seq = self.size + 1
        body: dict[str, Any] = {"seq": seq, "at": isoformat(at), "kind": kind, "data": data}
        if actor is not None:
            body["actor"] = actor
        if postings:
            body["postings"] = [posting_json(p) for p in postings]
        if unit_moves:
            body["units"] = [unit_move_json(m) for m in unit_moves]
        canonical = canonical_bytes(body)
        leaf = leaf_hash(canonical)
        self.chain = chain_next(self.chain, leaf)
        self.nodes.extend({"level": lv, "idx": ix, "hash": h}
                          for lv, ix, h in self.frontier.append(leaf))
        text = canonical.decode()
        self.entries.append({"seq": seq, "kind": kind, "body": text, "leaf_hash": leaf,
                             "chain_hash": self.chain})
        named = set(parties) | {m.party for m in unit_moves}
        if actor is not None:
            named.add(actor)
        self.named.extend({"seq": seq, "party_id": p} for p in sorted(named))
        self.size = seq
        return seq, text

    def flush(self, connection: Connection) -> None:
        """Insert the buffered entries, nodes and named parties, and move the head."""
        insert_chunked(connection, JournalEntry.__table__, self.entries)
        insert_chunked(connection, MerkleNode.__table__, self.nodes)
        insert_chunked(connection, JournalEntryParty.__table__, self.named)
        connection.execute(update(JournalHead).where(JournalHead.id == 1).values(
            size=self.size, chain_hash=self.chain, frontier=self.frontier.to_bytes()))
        self.entries, self.nodes, self.named = [], [], []
