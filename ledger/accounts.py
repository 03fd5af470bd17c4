"""The money store: accounts, and posting balanced transactions to them under row locks."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from ledger.canonical import canonical_bytes
from ledger.db import insert_missing
from ledger.errors import IdempotencyConflict
from ledger.holdings import apply_moves
from ledger.ids import new_id
from ledger.journal import SYSTEM_OWNER, AppendedEntry
from ledger.models import Account, MoneyTransaction
from ledger.models import Posting as PostingRow
from ledger.postings import Posting, UnitMove, apply_postings
from ledger.unit_of_work import UnitOfWork

# Purposes of a party's accounts, and of IPX's own.
AVAILABLE = "available"  # the party's to spend or withdraw
HELD = "held"  # reserved for open orders and other commitments
PAYOUT = "payout"  # withdrawn, waiting to be paid out
CLEARING = "clearing"  # IPX's side of money entering and leaving: may go negative
FEES = "fees"  # the operator's fee income

SYSTEM_PURPOSES = {CLEARING: True, FEES: False}


def party_account(party_id: str, currency: str, purpose: str) -> str:
    return f"{party_id}:{currency}:{purpose}"


def system_account(currency: str, purpose: str) -> str:
    return f"{SYSTEM_OWNER}:{currency}:{purpose}"


def request_hash(data: Any) -> str:
    return hashlib.sha256(canonical_bytes(data)).hexdigest()


# Codes per statement: a distribution can touch 100,000 accounts, more than one statement may
# bind (PostgreSQL takes at most 65,535 parameters, a stock SQLite 32,766).
LOCK_CHUNK = 5000


def _lock_existing(session: Session, codes: list[str]) -> dict[str, Account]:
    """Lock the existing accounts among `codes` (sorted), in chunks taken in ascending order,
    so that the lock order stays the one global order of codes."""
    found: dict[str, Account] = {}
    for i in range(0, len(codes), LOCK_CHUNK):
        query = (select(Account).where(Account.code.in_(codes[i:i + LOCK_CHUNK]))
                 .order_by(Account.code).with_for_update())
        found.update((a.code, a) for a in session.execute(query).scalars())
    return found


def _ensure_accounts(session: Session, codes: Sequence[str]) -> dict[str, Account]:
    """Lock the accounts (in one stable order, so writers never deadlock), creating any
    that do not exist yet; a concurrent creation of the same account is not an error."""
    wanted = sorted(set(codes))
    found = _lock_existing(session, wanted)
    missing = [code for code in wanted if code not in found]
    if missing:
        rows = []
        for code in missing:
            owner, currency, purpose = code.split(":")
            is_system = owner == SYSTEM_OWNER
            rows.append({"code": code, "party_id": None if is_system else owner,
                         "currency": currency, "purpose": purpose, "balance_minor": 0,
                         "allow_negative": is_system and SYSTEM_PURPOSES.get(purpose, False)})
        insert_missing(session, Account, rows, ["code"])
        found.update(_lock_existing(session, missing))
    return found


def lock_accounts(session: Session, codes: Sequence[str]) -> None:
    """Lock every account a transaction will touch, up front and in one stable order, so
    that two transactions touching the same accounts can never deadlock."""
    _ensure_accounts(session, codes)


@dataclass(frozen=True)
class Posted:
    transaction_id: str
    entry: AppendedEntry | None  # None when an idempotent retry found the first one
    journal_seq: int


def post_transaction(
    uow: UnitOfWork,
    *,
    kind: str,
    postings: Sequence[Posting],
    data: dict[str, Any],
    actor: str | None,
    client_id: str | None = None,
    parties: Sequence[str] = (),
    unit_moves: Sequence[UnitMove] = (),
    request: dict[str, Any] | None = None,
) -> Posted:
    """Post a balanced money transaction and its journal entry inside `uow`'s transaction.

    With a `client_id`, a retry with the same content returns the first posting and changes
    nothing; the same id with different content is refused. The content compared is `data`,
    or `request` when `data` holds something minted afresh on each call (a new id).
    """
    fingerprint = request_hash({"kind": kind, "data": data if request is None else request,
                                "postings": [[p.account, p.currency, p.amount] for p in postings]})
    if client_id is not None:
        previous = uow.session.execute(
            select(MoneyTransaction).where(MoneyTransaction.client_id == client_id)
        ).scalar_one_or_none()
        if previous is not None:
            if previous.request_hash != fingerprint:
                raise IdempotencyConflict(
                    f"client id '{client_id}' was used for a different transaction",
                    field="client_id",
                )
            return Posted(previous.id, None, previous.journal_seq)

    accounts = _ensure_accounts(uow.session, [p.account for p in postings])
    balances = apply_postings(
        {code: a.balance_minor for code, a in accounts.items()},
        postings,
        lambda code: accounts[code].allow_negative,
    )
    for code, balance in balances.items():
        accounts[code].balance_minor = balance
    if unit_moves:
        apply_moves(uow.session, unit_moves)
    entry = uow.journal.append(kind, data, actor=actor, parties=parties, postings=postings,
                               unit_moves=unit_moves)
    tx = MoneyTransaction(
        id=new_id("txn"), client_id=client_id, request_hash=fingerprint, kind=kind,
        journal_seq=entry.seq, created_at=uow.now,
    )
    uow.session.add(tx)
    uow.session.flush()
    uow.session.execute(
        insert(PostingRow),
        [{"transaction_id": tx.id, "account_id": accounts[p.account].id,
          "amount_minor": p.amount} for p in postings],
    )
    return Posted(tx.id, entry, entry.seq)


def balances_of(session: Session, party_id: str) -> list[Account]:
    return list(
        session.execute(
            select(Account).where(Account.party_id == party_id).order_by(Account.code)
        ).scalars()
    )
