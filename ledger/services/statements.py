"""Statements: a party's money in one currency over a period, every line tied to a journal
entry with its inclusion proof against one signed checkpoint, checkable offline."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from ledger.actor import Actor
from ledger.clock import isoformat
from ledger.currency import exponent, format_minor
from ledger.errors import InvalidInput
from ledger.models import Account, JournalEntry, MoneyTransaction, Posting
from ledger.services.transparency import (
    LogIdentity,
    chunks,
    inclusion_paths,
    latest_checkpoint,
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
    currency: str,
) -> dict[str, Any]:
    """The caller's statement for [start, end) in `currency`, proofs included."""
    if end <= start:
        raise InvalidInput("'to' must be after 'from'", field="to")
    if end - start > MAX_PERIOD:
        raise InvalidInput(f"a statement covers at most {MAX_PERIOD.days} days", field="to")
    places = exponent(currency)
    # Sign (or reuse) a checkpoint first; the statement covers only entries inside it, so
    # balances, lines and proofs all describe the same signed tree.
    checkpoint = latest_checkpoint(uow.fresh(), identity)
    size = checkpoint.tree_size
    with uow:
        session = uow.session
        accounts = list(session.execute(select(Account.id).where(
            Account.party_id == actor.party_id, Account.currency == currency)).scalars())
        in_tree = (Posting.account_id.in_(accounts), MoneyTransaction.journal_seq <= size)

        def balance_before(at: datetime) -> int:
            return int(session.execute(
                select(func.coalesce(func.sum(Posting.amount_minor), 0))
                .join(MoneyTransaction, MoneyTransaction.id == Posting.transaction_id)
                .where(*in_tree, MoneyTransaction.created_at < at)).scalar_one())

        opening, closing = balance_before(start), balance_before(end)
        amounts = session.execute(
            select(MoneyTransaction.journal_seq, func.sum(Posting.amount_minor))
            .join(MoneyTransaction, MoneyTransaction.id == Posting.transaction_id)
            .where(*in_tree, MoneyTransaction.created_at >= start,
                   MoneyTransaction.created_at < end)
            .group_by(MoneyTransaction.journal_seq).order_by(MoneyTransaction.journal_seq)
        ).all()
        seqs = [seq for seq, _ in amounts]
        # Plain rows, not ORM objects: 10,000 entries load several times faster.
        entries: dict[int, Any] = {}
        query = select(JournalEntry.seq, JournalEntry.body, JournalEntry.leaf_hash).where(
            seq_in(session, JournalEntry.seq, "seqs"))
        for part in chunks(session, seqs):
            entries.update((e.seq, e) for e in session.execute(query, {"seqs": part}))
        paths = inclusion_paths(session, seqs, size) if seqs else {}
        lines = []
        for seq, amount in amounts:
            entry = entries[seq]
            body = json.loads(entry.body)
            lines.append({
                "seq": seq, "at": body["at"], "kind": body["kind"],
                "amount": format_minor(int(amount), currency),
                "description": describe(body, actor.party_id),
                "entry": body, "leaf_hash": entry.leaf_hash.hex(),
                "inclusion_proof": {"leaf_index": seq - 1, "tree_size": size,
                                    "path": [h.hex() for h in paths[seq]]},
            })
    return {
        "party_id": actor.party_id, "from": isoformat(start), "to": isoformat(end),
        "currency": currency, "currency_exponent": places,
        "opening_balance": format_minor(opening, currency),
        "closing_balance": format_minor(closing, currency),
        "lines": lines,
        "checkpoint": {"origin": checkpoint.origin, "tree_size": size,
                       "root_hash": checkpoint.root_hash.hex(),
                       "timestamp": isoformat(checkpoint.created_at), "note": checkpoint.note},
        "public_key": {"key_id": identity.key_id.hex(), "algorithm": "Ed25519",
                       "public_key_pem": identity.public_key_pem},
    }
