"""The journal store: appends entries, keeping the hash chain and the Merkle tree current.

Every writer appends inside its own business transaction: it locks the single head row,
takes the next sequence number, and writes the entry, the perfect Merkle nodes the new leaf
completes, and the new head, so the entry commits (or rolls back) with the change it records.
Sequence numbers start at 1; an entry's Merkle leaf index is `seq - 1`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, TextClause, insert, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ledger.canonical import canonical_bytes, canonical_value, leaf_hash
from ledger.clock import isoformat
from ledger.currency import format_minor
from ledger.merkle import MerkleFrontier
from ledger.models import JournalEntry, JournalEntryParty, JournalHead, MerkleNode
from ledger.postings import Posting, UnitMove

GENESIS_CHAIN = bytes(32)
SYSTEM_OWNER = "ipx"


# Built once and run on the session's connection: building a statement per append and sending
# it through the ORM's bulk-DML path cost several times what the database does (bench/README.md).
_LOCK_HEAD = (select(JournalHead.size, JournalHead.chain_hash, JournalHead.frontier)
              .where(JournalHead.id == 1).with_for_update())
_INSERT_ENTRY = insert(JournalEntry)
_INSERT_NODES = insert(MerkleNode)
_INSERT_PARTIES = insert(JournalEntryParty)
_UPDATE_HEAD = update(JournalHead).where(JournalHead.id == 1)
# On PostgreSQL the entry, its Merkle nodes, its parties, its riders' rows (see `Rider`) and the
# new head go in one statement: one round trip instead of four or more while the head is locked,
# the one lock every writer takes (empty arrays insert nothing; foreign keys to the entry are
# checked at the statement's end).
_APPEND_PG = (
    "WITH entry AS (INSERT INTO journal_entries (seq, kind, body, leaf_hash, chain_hash) "
    "VALUES (:seq, :kind, :body, :leaf_hash, :chain_hash)), "
    "nodes AS (INSERT INTO merkle_nodes (level, idx, hash) SELECT * FROM unnest("
    "CAST(:levels AS integer[]), CAST(:idxs AS bigint[]), CAST(:hashes AS bytea[]))), "
    "parties AS (INSERT INTO journal_entry_parties (seq, party_id) "
    "SELECT :seq, unnest(CAST(:ids AS text[]))){riders} "
    "UPDATE journal_head SET size = :seq, chain_hash = :chain_hash, frontier = :frontier "
    "WHERE id = 1")
_APPEND_PG_STATEMENTS: dict[tuple[str, ...], TextClause] = {}


def chain_next(previous: bytes, leaf: bytes) -> bytes:
    """The hash chain: each link commits to the one before it and to the new leaf."""
    return hashlib.sha256(previous + leaf).digest()


@dataclass(frozen=True)
class AppendedEntry:
    seq: int
    canonical: bytes
    leaf_hash: bytes

    @property
    def body(self) -> dict[str, Any]:
        # Parsed on demand: a distribution's entry can be 16 MiB, and most callers need only seq.
        parsed: dict[str, Any] = json.loads(self.canonical)
        return parsed


@dataclass(frozen=True)
class Rider:
    """Rows that carry an entry's seq, written with the entry by `JournalWriter.append`.

    On PostgreSQL `statements`, data-modifying statements that may use the append's `:seq`
    and `:leaf_hash` and the parameters `params(entry)` gives (named apart from the append's
    and other riders'), join the append's one statement: fewer round trips while the journal
    head, the one lock every writer takes, is held. Elsewhere `write` runs after the entry is
    written. `follow`, if given, runs on PostgreSQL after that statement, for rows better
    written another way (a big batch's postings, copied)."""

    statements: tuple[str, ...]
    params: Callable[[AppendedEntry], dict[str, Any]]
    write: Callable[[Connection, AppendedEntry], None]
    binds: tuple[BindParameter[Any], ...] = ()
    follow: Callable[[Connection], None] | None = None


def _append_pg(riders: Sequence[Rider]) -> TextClause:
    key = tuple(sql for r in riders for sql in r.statements)
    statement = _APPEND_PG_STATEMENTS.get(key)
    if statement is None:
        ctes = "".join(f", rider{i} AS ({sql})" for i, sql in enumerate(key))
        statement = text(_APPEND_PG.format(riders=ctes)).bindparams(
            *(b for r in riders for b in r.binds))
        _APPEND_PG_STATEMENTS[key] = statement
    return statement


def posting_json(posting: Posting) -> dict[str, str]:
    return {
        "account": posting.account,
        "amount": format_minor(posting.amount, posting.currency),
        "currency": posting.currency,
    }


def postings_json(postings: Sequence[Posting]) -> list[dict[str, str]]:
    """An entry's "postings" member."""
    return [posting_json(p) for p in postings]


def unit_move_json(move: UnitMove) -> dict[str, Any]:
    return {"party": move.party, "instrument": move.instrument, "units": move.units,
            "held": move.held}


class JournalWriter:
    """Appends entries within one session's transaction."""

    def __init__(self, session: Session, at: datetime) -> None:
        self.session = session
        self.at = at

    def append(
        self,
        kind: str,
        data: dict[str, Any],
        *,
        actor: str | None,
        parties: Iterable[str] = (),
        postings: Sequence[Posting] = (),
        unit_moves: Sequence[UnitMove] = (),
        encoded: Mapping[str, bytes] | None = None,
        riders: Sequence[Rider] = (),
    ) -> AppendedEntry:
        """Append one entry; `parties` are the parties it concerns (who may read it, with its
        actor, the parties of its unit moves and the owners of the accounts it posts to).
        `riders` write the rows that carry the entry's seq (see `Rider`).

        `encoded`, if given, holds members of the body that the caller has already encoded
        with `canonical_value`: "data" (`data`), and possibly "postings" (`postings_json`).
        A large entry (a distribution to 100,000 holders) is then encoded once, and all of it
        but its seq is encoded before the head (the one global lock) is taken."""
        body: dict[str, Any] = {"at": isoformat(self.at), "kind": kind}
        if actor is not None:
            body["actor"] = actor
        members: dict[str, Callable[[], Any]] = {"data": lambda: data}
        if postings:
            members["postings"] = lambda: postings_json(postings)
        if unit_moves:
            members["units"] = lambda: [unit_move_json(m) for m in unit_moves]
        spliced: dict[str, bytes] | None = None
        if encoded is None:
            body.update((key, member()) for key, member in members.items())
        else:
            spliced = {key: encoded[key] if key in encoded else canonical_value(member())
                       for key, member in members.items()}
        # Flush what the caller added first (as before: those rows are written before the
        # head is locked), then lock the head with a Core statement on the same connection.
        self.session.flush()
        connection = self.session.connection()
        head = connection.execute(_LOCK_HEAD).one()
        seq = body["seq"] = head.size + 1
        canonical = canonical_bytes(body, encoded=spliced)
        leaf = leaf_hash(canonical)
        chain = chain_next(head.chain_hash, leaf)
        frontier = MerkleFrontier.from_bytes(head.size, head.frontier)
        completed = frontier.append(leaf)

        # The owners of the accounts posted to are readers through the postings themselves.
        named = set(parties) | {m.party for m in unit_moves}
        if actor is not None:
            named.add(actor)
        entry = AppendedEntry(seq=seq, canonical=canonical, leaf_hash=leaf)
        if connection.dialect.name == "postgresql":
            connection.execute(_append_pg(riders), {
                "seq": seq, "kind": kind, "body": canonical.decode(), "leaf_hash": leaf,
                "chain_hash": chain, "frontier": frontier.to_bytes(),
                "levels": [lv for lv, _, _ in completed], "idxs": [ix for _, ix, _ in completed],
                "hashes": [h for _, _, h in completed], "ids": sorted(named),
                **{k: v for r in riders for k, v in r.params(entry).items()}})
            for rider in riders:
                if rider.follow is not None:
                    rider.follow(connection)
            return entry
        connection.execute(
            _INSERT_ENTRY,
            {"seq": seq, "kind": kind, "body": canonical.decode(), "leaf_hash": leaf,
             "chain_hash": chain},
        )
        if completed:
            connection.execute(
                _INSERT_NODES, [{"level": lv, "idx": ix, "hash": h} for lv, ix, h in completed]
            )
        if named:
            connection.execute(
                _INSERT_PARTIES, [{"seq": seq, "party_id": p} for p in sorted(named)]
            )
        connection.execute(
            _UPDATE_HEAD, {"size": seq, "chain_hash": chain, "frontier": frontier.to_bytes()}
        )
        for rider in riders:
            rider.write(connection, entry)
        return entry
