"""Statements: a party's money in one currency over a period, every line tied to a journal
entry with its inclusion proof against one signed checkpoint, checkable offline."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select

from ledger.actor import Actor
from ledger.clock import isoformat
from ledger.collector import collector_paused
from ledger.currency import exponent, format_minor
from ledger.errors import InvalidInput
from ledger.merkle import paths_from_levels
from ledger.models import Account, JournalEntry, MoneyTransaction, Posting
from ledger.services.transparency import (
    LogIdentity,
    chunks,
    latest_checkpoint,
    path_levels,
    seq_in,
)
from ledger.unit_of_work import UnitOfWork

MAX_PERIOD = timedelta(days=400)


def describe(body: Mapping[str, Any], party_id: str) -> str:
    """A person's reading of an entry, from the party's point of view."""
    kind, data = body["kind"], body.get("data", {})
    if kind == "revenue.distributed":
        mine = [ln for ln in data["lines"] if ln["party_id"] == party_id]
        classes = ", ".join(f"{ln['class']} {ln['units']} units" for ln in mine)
        return (f"Revenue of asset {data['asset_id']} ({data['source']} {data['reference']}): "
                f"{data['gross']} {data['currency']} received" + (f"; your {classes}"
                                                                   if classes else ""))
    if kind == "trade.executed":
        side = "bought" if data["buyer_id"] == party_id else "sold"
        return (f"Trade: {side} {data['quantity']} units of {data['instrument_id']} "
                f"at {data['price']}")
    if kind == "money.deposit":
        return f"Deposit ({data['provider']}, reference {data['reference']})"
    if kind.startswith("money.withdrawal"):
        return f"Withdrawal {data['withdrawal_id']}: {kind.rsplit('_', 1)[-1]}"
    # An order or auction entry carries every trade the command made (exchange/settlement.py).
    fills = [f"{'bought' if t['buyer_id'] == party_id else 'sold'} {t['quantity']} at "
             f"{t['price']}" for t in data.get("trades", ()) if kind in ("order.placed",
             "auction.run") and isinstance(t, dict) and party_id in (t["buyer_id"],
                                                                     t["seller_id"])]
    if fills:
        return f"Trades in {data['instrument_id']}: " + ", ".join(fills)
    if kind == "order.placed":
        return f"Hold for order {data['order_id']} ({data['side']} {data['quantity']})"
    if kind == "order.closed":
        return f"Order {data['order_id']} {data['status']}: hold released"
    return kind.replace(".", " ").replace("_", " ").capitalize()


def build_statement(
    uow: UnitOfWork, identity: LogIdentity, actor: Actor, start: datetime, end: datetime,
    currency: str, *, signer: UnitOfWork | None = None,
) -> dict[str, Any]:
    """The caller's statement for [start, end) in `currency`, proofs included.

    `uow` only reads; `signer` (by default another unit of work like `uow`) signs and
    stores a checkpoint first if the journal has grown since the last one."""
    if end <= start:
        raise InvalidInput("'to' must be after 'from'", field="to")
    if end - start > MAX_PERIOD:
        raise InvalidInput(f"a statement covers at most {MAX_PERIOD.days} days", field="to")
    places = exponent(currency)
    # Sign (or reuse) a checkpoint first; the statement covers only entries inside it, so
    # balances, lines and proofs all describe the same signed tree.
    checkpoint = latest_checkpoint(signer or uow.fresh(), identity, reader=uow.fresh())
    with collector_paused():
        opening, closing, lines = _lines(uow, actor.party_id, start, end, currency,
                                         checkpoint.tree_size)
    return {
        "party_id": actor.party_id, "from": isoformat(start), "to": isoformat(end),
        "currency": currency, "currency_exponent": places,
        "opening_balance": format_minor(opening, currency),
        "closing_balance": format_minor(closing, currency),
        "lines": lines,
        "checkpoint": {"origin": checkpoint.origin, "tree_size": checkpoint.tree_size,
                       "root_hash": checkpoint.root_hash.hex(),
                       "timestamp": isoformat(checkpoint.created_at), "note": checkpoint.note},
        "public_key": {"key_id": identity.key_id.hex(), "algorithm": "Ed25519",
                       "public_key_pem": identity.public_key_pem},
    }


def _lines(uow: UnitOfWork, party_id: str, start: datetime, end: datetime, currency: str,
           size: int) -> tuple[int, int, list[dict[str, Any]]]:
    """Opening and closing balances (minor units) and the lines, proofs in the tree of
    `size`."""
    with uow:
        session = uow.session
        accounts = list(session.execute(select(Account.id).where(
            Account.party_id == party_id, Account.currency == currency)).scalars())
        in_tree = (Posting.account_id.in_(accounts), Posting.journal_seq <= size)
        # One pass over the party's postings up to `end`: those of the period summed per
        # entry, those before it into one group (seq NULL), the opening balance.
        line_seq = case((MoneyTransaction.created_at >= start, MoneyTransaction.journal_seq),
                        else_=None).label("line_seq")
        sums = {seq: int(amount) for seq, amount in session.execute(
            select(line_seq, func.sum(Posting.amount_minor))
            .join(MoneyTransaction, MoneyTransaction.journal_seq == Posting.journal_seq)
            .where(*in_tree, MoneyTransaction.created_at < end).group_by(line_seq))}
        opening = sums.pop(None, 0)
        amounts = sorted(sums.items())
        seqs = [seq for seq, _ in amounts]
        # Plain rows, not ORM objects: 10,000 entries load several times faster.
        entries: dict[int, tuple[str, bytes]] = {}
        query = select(JournalEntry.seq, JournalEntry.body, JournalEntry.leaf_hash).where(
            seq_in(session, JournalEntry.seq, "seqs"))
        for part in chunks(session, seqs):
            entries.update((seq, (body, leaf)) for seq, body, leaf
                           in session.execute(query, {"seqs": part}))
        levels = path_levels(session, seqs, size) if seqs else []
    # Every node in hex once (paths share them), then the paths a level at a time.
    hexed = [{idx: digest.hex() for idx, digest in level.items()} if isinstance(level, dict)
             else [digest.hex() for digest in level] for level in levels]
    paths = paths_from_levels(hexed, [seq - 1 for seq in seqs], size)
    lines = []
    for (seq, amount), path in zip(amounts, paths, strict=True):
        text, leaf = entries[seq]
        body = json.loads(text)
        lines.append({
            "seq": seq, "at": body["at"], "kind": body["kind"],
            "amount": format_minor(amount, currency),
            "description": describe(body, party_id),
            "entry": body, "leaf_hash": leaf.hex(),
            "inclusion_proof": {"leaf_index": seq - 1, "tree_size": size, "path": path},
        })
    # Every posting of the period is in a line: the closing balance follows exactly.
    return opening, opening + sum(amount for _, amount in amounts), lines
