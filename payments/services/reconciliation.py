"""`ipx payments reconcile`: the ledger's provider clearing account against the provider's
balance transactions over a period."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from ledger.actor import Actor
from ledger.errors import InvalidInput, NotFound
from ledger.models import Account, JournalEntry, MoneyTransaction, Party
from ledger.models import Posting as PostingRow
from ledger.unit_of_work import UnitOfWork
from payments.amounts import stripe_to_ledger
from payments.provider import PaymentProvider
from payments.reconcile import MIRRORED_TYPES, Difference, Movement, compare
from payments.services.accounts import PROVIDER_CLEARING


@dataclass(frozen=True)
class Reconciliation:
    start: datetime
    end: datetime
    ledger_movements: int
    provider_movements: int
    not_mirrored: int  # provider movements of other types (the platform's payouts, fees)
    fees: dict[str, int]  # per currency, in minor units: the provider's fees, for the record
    differences: list[Difference]


# The ledger entry kinds that move the clearing account, and the data field naming the
# provider object each belongs to, with its key suffix.
_KEYS = {"payments.received": ("charge", ""), "payments.refunded": ("charge", ":refund"),
         "payments.transferred": ("transfer", ""),
         "payments.transfer_reversed": ("transfer", ":reversal")}


def _ledger_movements(uow: UnitOfWork, start: datetime, end: datetime) -> Iterator[Movement]:
    rows = uow.session.execute(
        select(PostingRow.amount_minor, Account.currency, JournalEntry.seq, JournalEntry.body)
        .join(Account, Account.id == PostingRow.account_id)
        .join(MoneyTransaction, MoneyTransaction.journal_seq == PostingRow.journal_seq)
        .join(JournalEntry, JournalEntry.seq == MoneyTransaction.journal_seq)
        .where(Account.purpose == PROVIDER_CLEARING, Account.party_id.is_(None),
               MoneyTransaction.created_at >= start, MoneyTransaction.created_at < end)
        .order_by(JournalEntry.seq))
    for amount, currency, seq, body in rows:
        entry = json.loads(body)
        field, suffix = _KEYS.get(entry["kind"], ("", ""))
        key = entry["data"].get(field) if field else None
        # The clearing account's sign is the ledger's: money in is a debit (negative).
        yield Movement(f"{key}{suffix}" if key else f"journal:{seq}", currency, -amount,
                       f"journal {seq}")


def reconcile(uow: UnitOfWork, provider: PaymentProvider, actor: Actor, start: datetime,
              end: datetime) -> Reconciliation:
    """Every difference between the ledger and the provider for [start, end)."""
    actor.require_operator("reconcile payments")
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput("give times with a UTC offset", field="from")
    if end <= start:
        raise InvalidInput("the period must end after it starts", field="to")
    at_provider = provider.balance_movements(start, end)
    with uow:
        ledger = list(_ledger_movements(uow, start, end))
    mirrored = []
    fees: dict[str, int] = {}
    for bt in at_provider:
        suffix = MIRRORED_TYPES.get(bt.type)
        if suffix is None:
            continue
        fees[bt.currency] = fees.get(bt.currency, 0) + stripe_to_ledger(bt.fee, bt.currency)
        mirrored.append(Movement(f"{bt.origin or bt.id}{suffix}", bt.currency,
                                 stripe_to_ledger(bt.amount, bt.currency), bt.id))
    return Reconciliation(start, end, len(ledger), len(mirrored),
                          len(at_provider) - len(mirrored), fees, compare(ledger, mirrored))


def reconcile_as_operator(uow: UnitOfWork, provider: PaymentProvider, start: datetime,
                          end: datetime) -> Reconciliation:
    """For the command line, which runs as the operator (the first one registered)."""
    with uow:
        operator = uow.session.execute(
            select(Party.id).where(Party.kind == "operator").order_by(Party.created_at)
            .limit(1)).scalar_one_or_none()
    if operator is None:
        raise NotFound("no operator: run `ipx init` first")
    return reconcile(uow, provider, Actor(operator, "operator"), start, end)
