"""Paying out: parties link a connected account; a withdrawal becomes a Connect transfer.

The withdrawal's amount waits on the party's `payout` account (taken from `available` when it
was requested). It leaves for the provider's clearing account only once the transfer exists,
and returns to `available` if the provider refuses it (or, later, reverses it: webhooks).
The transfer's idempotency key is the withdrawal id: a retry can never pay twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.account_codes import AVAILABLE, PAYOUT, party_account
from ledger.accounts import post_transaction
from ledger.actor import Actor
from ledger.currency import format_minor
from ledger.errors import Conflict, InvalidInput, NotFound
from ledger.models import Party, Withdrawal
from ledger.postings import Posting
from ledger.unit_of_work import UnitOfWork
from payments.amounts import Use, ledger_to_stripe
from payments.models import ConnectedAccount, PayoutTransfer
from payments.provider import (
    PaymentProvider,
    ProviderUnavailable,
    TransferDeclined,
    TransferRequest,
)
from payments.services.accounts import ensure_system_accounts, provider_clearing


def link_connected_account(uow: UnitOfWork, provider: PaymentProvider, actor: Actor,
                           account_id: str, party_id: str | None = None) -> ConnectedAccount:
    """A party (or the operator for it) names the connected account its payouts go to; the
    provider must know the account."""
    party_id = party_id or actor.party_id
    actor.require_self_or_operator(party_id, "link a party's payout account")
    if not account_id.startswith("acct_") or len(account_id) > 255:
        raise InvalidInput("a Stripe account id starts with 'acct_'", field="account_id")
    info = provider.retrieve_connected_account(account_id)
    with uow:
        if uow.session.get(Party, party_id) is None:
            raise NotFound(f"no party '{party_id}'", field="party_id")
        linked = uow.session.get(ConnectedAccount, party_id, with_for_update=True)
        if linked is not None and linked.provider_account_id == info.id:
            return linked
        if linked is None:
            linked = ConnectedAccount(party_id=party_id, provider=provider.name,
                                      provider_account_id=info.id, created_at=uow.now)
            uow.session.add(linked)
        linked.provider_account_id = info.id
        linked.payouts_status = "ok"
        linked.last_failure = None
        linked.updated_at = uow.now
        uow.journal.append("payments.account_linked",
                           {"party_id": party_id, "provider": provider.name, "account": info.id},
                           actor=actor.party_id, parties=[party_id])
        uow.commit()
        return linked


def read_connected_account(uow: UnitOfWork, actor: Actor,
                           party_id: str | None) -> ConnectedAccount:
    party_id = party_id or actor.party_id
    actor.require_self_or_operator(party_id, "see a party's payout account")
    with uow:
        linked = uow.session.get(ConnectedAccount, party_id)
        if linked is None:
            raise NotFound("no connected account is linked", field="party_id")
        return linked


@dataclass(frozen=True)
class ProviderPayouts:
    """The hook ledger.services.money calls for withdrawals when a provider pays out."""

    provider: PaymentProvider

    def check(self, uow: UnitOfWork, party_id: str, currency: str, minor: int) -> None:
        """Inside the request's transaction: refuse, changing nothing, what cannot be paid."""
        linked = uow.session.get(ConnectedAccount, party_id)
        if linked is None:
            raise Conflict("link a connected account before withdrawing "
                           "(POST /v1/payments/stripe/connected-account)", field="amount")
        ledger_to_stripe(minor, currency, Use.PAYOUT)

    def dispatch(self, uow: UnitOfWork, withdrawal_id: str) -> Withdrawal:
        return pay_out(uow, self.provider, withdrawal_id)


def retry_payout(uow: UnitOfWork, provider: PaymentProvider, actor: Actor,
                 withdrawal_id: str) -> Withdrawal:
    """The operator retries a withdrawal whose transfer had an unknown outcome (same key)."""
    actor.require_operator("retry payouts")
    return pay_out(uow, provider, withdrawal_id)


def pay_out(uow: UnitOfWork, provider: PaymentProvider, withdrawal_id: str) -> Withdrawal:
    """Transfer a requested withdrawal to the party's connected account and settle it in the
    ledger; when the provider cannot be reached, it stays requested (retry: same key)."""
    with uow:
        withdrawal = uow.session.get(Withdrawal, withdrawal_id, with_for_update=True)
        if withdrawal is None:
            raise NotFound(f"no withdrawal '{withdrawal_id}'", field="id")
        if withdrawal.status != "requested":
            return withdrawal
        linked = uow.session.get(ConnectedAccount, withdrawal.party_id)
        if linked is None:
            raise Conflict("the party has no connected account", field="id")
        row = uow.session.get(PayoutTransfer, withdrawal_id)
        if row is None:
            row = PayoutTransfer(
                withdrawal_id=withdrawal.id, party_id=withdrawal.party_id,
                destination=linked.provider_account_id, currency=withdrawal.currency,
                amount_minor=withdrawal.amount_minor, reversed_minor=0, status="pending",
                created_at=uow.now, updated_at=uow.now)
            uow.session.add(row)
            uow.commit()
        request = TransferRequest(
            amount=ledger_to_stripe(row.amount_minor, row.currency, Use.PAYOUT),
            currency=row.currency, destination=row.destination,
            idempotency_key=withdrawal.id, transfer_group=f"ipx-{withdrawal.id}",
            metadata={"ipx_withdrawal_id": withdrawal.id, "ipx_party_id": row.party_id})
    try:
        created = provider.create_transfer(request)
    except ProviderUnavailable:
        with uow:
            return uow.session.get_one(Withdrawal, withdrawal_id)
    except TransferDeclined as declined:
        return _settle(uow, withdrawal_id, None, str(declined))
    return _settle(uow, withdrawal_id, created.id, None)


def _settle(uow: UnitOfWork, withdrawal_id: str, transfer_id: str | None,
            failure: str | None) -> Withdrawal:
    with uow:
        withdrawal = uow.session.get_one(Withdrawal, withdrawal_id, with_for_update=True)
        row = uow.session.get_one(PayoutTransfer, withdrawal_id)
        if withdrawal.status != "requested":  # a concurrent retry settled it first
            return withdrawal
        currency, minor, party = withdrawal.currency, withdrawal.amount_minor, withdrawal.party_id
        ensure_system_accounts(uow.session, currency)
        target = provider_clearing(currency) if transfer_id else party_account(
            party, currency, AVAILABLE)
        post_transaction(
            uow, kind="payments.transferred" if transfer_id else "payments.transfer_declined",
            postings=[Posting(party_account(party, currency, PAYOUT), currency, -minor),
                      Posting(target, currency, minor)],
            data={"withdrawal_id": withdrawal.id, "party_id": party, "provider": "stripe",
                  "transfer": transfer_id, "destination": row.destination, "reason": failure,
                  "amount": format_minor(minor, currency), "currency": currency},
            actor=None, parties=[party])
        withdrawal.status = "paid" if transfer_id else "cancelled"
        row.provider_id = transfer_id
        row.status = "paid" if transfer_id else "failed"
        row.failure = None if failure is None else failure[:500]
        row.updated_at = uow.now
        uow.commit()
        return withdrawal
