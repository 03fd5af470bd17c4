"""Money in and out of IPX through the `manual` provider: deposits, withdrawals, balances."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from ledger.account_codes import AVAILABLE, CLEARING, HELD, PAYOUT, party_account, system_account
from ledger.accounts import balances_of, post_transaction
from ledger.actor import Actor
from ledger.currency import format_minor, positive_minor
from ledger.errors import Conflict, IdempotencyConflict, NotFound
from ledger.ids import new_id
from ledger.models import JournalEntry, Party, Withdrawal
from ledger.postings import Posting
from ledger.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Balance:
    currency: str
    available: str
    held: str
    payout_pending: str


@dataclass(frozen=True)
class DepositReceipt:
    id: str
    party_id: str
    amount: str
    currency: str
    reference: str
    journal_seq: int


class PayoutRoute(Protocol):
    """How withdrawals are paid when a payment provider pays out (the payments package makes
    one; the caller passes it in); with none, the operator settles them by hand."""

    def check(self, uow: UnitOfWork, party_id: str, currency: str, minor: int) -> None: ...

    def dispatch(self, uow: UnitOfWork, withdrawal_id: str) -> Withdrawal: ...


def deposit(
    uow: UnitOfWork, actor: Actor, party_id: str, amount: Decimal | str, currency: str,
    reference: str, client_id: str | None = None,
) -> DepositReceipt:
    """The operator records money received for a party (manual provider)."""
    actor.require_operator("record deposits")
    minor = positive_minor(amount, currency)
    with uow:
        if uow.session.get(Party, party_id) is None:
            raise NotFound(f"no party '{party_id}'", field="party_id")
        try:
            posted = post_transaction(
                uow,
                kind="money.deposit",
                postings=[
                    Posting(system_account(currency, CLEARING), currency, -minor),
                    Posting(party_account(party_id, currency, AVAILABLE), currency, minor),
                ],
                data={"party_id": party_id, "provider": "manual", "reference": reference,
                      "amount": format_minor(minor, currency), "currency": currency},
                actor=actor.party_id,
                client_id=client_id,
                parties=[party_id],
            )
        except IdempotencyConflict:
            raise IdempotencyConflict(f"reference '{reference}' was already used for another "
                                      "deposit", field="reference") from None
        uow.commit()
        return DepositReceipt(posted.transaction_id, party_id, format_minor(minor, currency),
                              currency, reference, posted.journal_seq)


def request_withdrawal(
    uow: UnitOfWork, actor: Actor, amount: Decimal | str, currency: str,
    client_id: str | None = None, route: PayoutRoute | None = None,
) -> Withdrawal:
    """A party asks to be paid out: the amount leaves `available` for `payout` at once; with
    a provider's `route`, the payout is then sent through it."""
    minor = positive_minor(amount, currency)
    with uow:
        if route is not None:  # refuse, changing nothing, what the provider cannot pay
            route.check(uow, actor.party_id, currency, minor)
        withdrawal = Withdrawal(id=new_id("wdr"), party_id=actor.party_id, currency=currency,
                                amount_minor=minor, status="requested", created_at=uow.now)
        posted = post_transaction(
            uow,
            kind="money.withdrawal_requested",
            postings=[
                Posting(party_account(actor.party_id, currency, AVAILABLE), currency, -minor),
                Posting(party_account(actor.party_id, currency, PAYOUT), currency, minor),
            ],
            data={"withdrawal_id": withdrawal.id, "party_id": actor.party_id,
                  "amount": format_minor(minor, currency), "currency": currency},
            actor=actor.party_id,
            client_id=client_id,
            # The withdrawal id is new on every call: a retry is the same request without it.
            request={"party_id": actor.party_id, "amount": format_minor(minor, currency),
                     "currency": currency},
        )
        if posted.entry is None:  # an idempotent retry: return the first request
            first = uow.session.get_one(JournalEntry, posted.journal_seq)
            withdrawal = uow.session.get_one(
                Withdrawal, json.loads(first.body)["data"]["withdrawal_id"])
        else:
            uow.session.add(withdrawal)
            uow.commit()
    if route is not None and withdrawal.status == "requested":
        # After the commit: the provider is called outside any transaction (a retry of the
        # request dispatches a still-requested withdrawal again, under the same key).
        return route.dispatch(uow.fresh(), withdrawal.id)
    return withdrawal


def settle_withdrawal(uow: UnitOfWork, actor: Actor, withdrawal_id: str, paid: bool,
                      route: PayoutRoute | None = None) -> Withdrawal:
    """The operator confirms a payout was made (`paid`) or cancels it, returning the money;
    not when a provider's `route` pays withdrawals out."""
    actor.require_operator("settle withdrawals")
    if route is not None:
        raise Conflict("withdrawals are paid out by the payment provider, not by hand")
    with uow:
        withdrawal = uow.session.get(Withdrawal, withdrawal_id, with_for_update=True)
        if withdrawal is None:
            raise NotFound(f"no withdrawal '{withdrawal_id}'", field="id")
        if withdrawal.status != "requested":
            raise Conflict(f"withdrawal is already {withdrawal.status}")
        currency, minor, party = withdrawal.currency, withdrawal.amount_minor, withdrawal.party_id
        target = system_account(currency, CLEARING) if paid else party_account(
            party, currency, AVAILABLE)
        post_transaction(
            uow,
            kind="money.withdrawal_paid" if paid else "money.withdrawal_cancelled",
            postings=[
                Posting(party_account(party, currency, PAYOUT), currency, -minor),
                Posting(target, currency, minor),
            ],
            data={"withdrawal_id": withdrawal.id, "party_id": party,
                  "amount": format_minor(minor, currency), "currency": currency},
            actor=actor.party_id,
            parties=[party],
        )
        withdrawal.status = "paid" if paid else "cancelled"
        uow.commit()
        return withdrawal


def account_balances(uow: UnitOfWork, actor: Actor) -> list[Balance]:
    """The caller's balances per currency."""
    with uow:
        per_currency: dict[str, dict[str, int]] = {}
        for account in balances_of(uow.session, actor.party_id):
            per_currency.setdefault(account.currency, {})[account.purpose] = account.balance_minor
        return [
            Balance(
                currency=c,
                available=format_minor(v.get(AVAILABLE, 0), c),
                held=format_minor(v.get(HELD, 0), c),
                payout_pending=format_minor(v.get(PAYOUT, 0), c),
            )
            for c, v in sorted(per_currency.items())
        ]
