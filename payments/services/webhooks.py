"""The provider's webhook events, each applied at most once.

The event's id is the primary key of `payment_events`; the row is inserted first, in the same
transaction as every ledger posting the event causes, so a replayed or concurrent delivery of
the same event either sees the row or fails on the key and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from contracts.models import Invoice
from contracts.services.licences import settle_invoice
from ledger.account_codes import AVAILABLE, party_account
from ledger.accounts import post_transaction
from ledger.currency import format_minor
from ledger.errors import InvalidInput
from ledger.models import Account
from ledger.postings import Posting
from ledger.unit_of_work import UnitOfWork
from payments.amounts import normalise_currency, stripe_to_ledger
from payments.models import ConnectedAccount, PaymentIntent, PayoutTransfer, ProviderEvent
from payments.provider import BadWebhook, Event, PaymentProvider
from payments.services.accounts import ensure_system_accounts, provider_clearing, receivable

HANDLED = ("payment_intent.succeeded", "payment_intent.payment_failed", "charge.refunded",
           "transfer.reversed", "payout.failed")


@dataclass(frozen=True)
class EventReceipt:
    event_id: str
    type: str
    outcome: str
    duplicate: bool
    journal_seq: int | None


@dataclass(frozen=True)
class Applied:
    outcome: str
    journal_seq: int | None = None


def receive_event(uow: UnitOfWork, provider: PaymentProvider, payload: bytes,
                  signature: str | None) -> EventReceipt:
    """Verify a webhook delivery and apply its event once; a repeat is acknowledged, unchanged."""
    event = provider.parse_event(payload, signature)
    with uow:
        seen = uow.session.get(ProviderEvent, event.id)
        if seen is not None:
            return EventReceipt(event.id, seen.type, seen.outcome, True, seen.journal_seq)
        row = ProviderEvent(event_id=event.id, provider=provider.name, type=event.type[:100],
                            outcome="applying", created_at=event.created, received_at=uow.now)
        uow.session.add(row)
        try:
            uow.session.flush()  # a concurrent delivery of this event waits here, then fails
        except IntegrityError:
            return EventReceipt(event.id, event.type, "already processed", True, None)
        handler = _HANDLERS.get(event.type, _acknowledge)
        try:
            applied = handler(uow, event)
        except (KeyError, TypeError, ValueError, InvalidInput) as error:
            # A well-signed event we cannot read: say so (400) and keep nothing, so that a
            # fixed deployment can take Stripe's retry.
            raise BadWebhook(f"cannot apply {event.type} {event.id}: {error}",
                             field="body") from None
        row.outcome = applied.outcome[:200]
        row.journal_seq = applied.journal_seq
        uow.commit()
        return EventReceipt(event.id, event.type, row.outcome, False, applied.journal_seq)


# --- the handlers, each inside the event's transaction --------------------------------------

def _acknowledge(uow: UnitOfWork, event: Event) -> Applied:
    return Applied("ignored: not an event IPX acts on")


def _id_of(value: Any) -> str | None:
    """An expandable field: an id, or the object with its id."""
    if isinstance(value, Mapping):
        return str(value["id"])
    return None if value is None else str(value)


def _payment_for(uow: UnitOfWork, intent: Mapping[str, Any]) -> PaymentIntent | None:
    found = uow.session.execute(
        select(PaymentIntent).where(PaymentIntent.provider_id == str(intent["id"]))
        .with_for_update()).scalar_one_or_none()
    if found is None:
        # The intent's id may not be stored yet (the webhook outran the API's answer).
        metadata = intent.get("metadata") or {}
        ipx_id = metadata.get("ipx_payment_id")
        if ipx_id:
            found = uow.session.get(PaymentIntent, str(ipx_id), with_for_update=True)
            if found is not None and found.provider_id not in (None, str(intent["id"])):
                return None
            if found is not None:
                found.provider_id = str(intent["id"])
    return found


def _money(amount: int, currency: str) -> dict[str, str]:
    return {"amount": format_minor(amount, currency), "currency": currency}


def _payment_succeeded(uow: UnitOfWork, event: Event) -> Applied:
    intent = event.object
    payment = _payment_for(uow, intent)
    if payment is None:
        return Applied("ignored: not an IPX payment")
    if payment.status in ("succeeded", "refunded"):
        return Applied("ignored: payment already credited")
    currency = normalise_currency(str(intent["currency"]))
    received = stripe_to_ledger(int(intent.get("amount_received") or intent["amount"]), currency)
    if currency != payment.currency or received != payment.amount_minor:
        payment.failure = (f"received {format_minor(received, currency)} {currency}, expected "
                           f"{format_minor(payment.amount_minor, payment.currency)} "
                           f"{payment.currency}")
        payment.updated_at = uow.now
        return Applied("refused: " + payment.failure)
    charge = _id_of(intent.get("latest_charge"))
    ensure_system_accounts(uow.session, currency)
    # The money lands on the payer's own account first; an invoice is then paid from it in
    # the same transaction, exactly as when a licensee pays from its cash.
    posted = post_transaction(
        uow, kind="payments.received",
        postings=[Posting(provider_clearing(currency), currency, -received),
                  Posting(party_account(payment.party_id, currency, AVAILABLE), currency,
                          received)],
        data={"payment_id": payment.id, "party_id": payment.party_id,
              "purpose": payment.purpose, "invoice_id": payment.invoice_id,
              "provider": "stripe", "payment_intent": str(intent["id"]), "charge": charge,
              "event_id": event.id, **_money(received, currency)},
        actor=None, parties=[payment.party_id])
    payment.status = "succeeded"
    payment.failure = None
    payment.journal_seq = posted.journal_seq
    payment.updated_at = uow.now
    outcome = "credited"
    if payment.invoice_id is not None:
        outcome = _settle_invoice(uow, payment)
    return Applied(outcome, posted.journal_seq)


def _settle_invoice(uow: UnitOfWork, payment: PaymentIntent) -> str:
    """Pay the invoice from the payer's account and distribute it, as pay_invoice does."""
    invoice = uow.session.get_one(Invoice, payment.invoice_id, with_for_update=True)
    if invoice.status != "issued":
        return f"credited to the payer: invoice is {invoice.status}"
    settle_invoice(uow, invoice, invoice.payer_id,
                   party_account(invoice.payer_id, invoice.currency, AVAILABLE),
                   payment_id=payment.id, provider="stripe")
    return "credited, invoice paid and distributed"


def _payment_failed(uow: UnitOfWork, event: Event) -> Applied:
    intent = event.object
    payment = _payment_for(uow, intent)
    if payment is None:
        return Applied("ignored: not an IPX payment")
    if payment.status != "open" and payment.status != "failed":
        return Applied(f"ignored: payment is {payment.status}")
    error = intent.get("last_payment_error") or {}
    payment.status = "failed"
    payment.failure = str(error.get("message") or error.get("code") or "declined")[:500]
    payment.updated_at = uow.now
    entry = uow.journal.append(
        "payments.failed",
        {"payment_id": payment.id, "party_id": payment.party_id, "event_id": event.id,
         "payment_intent": str(intent["id"]), "reason": payment.failure},
        actor=None, parties=[payment.party_id])
    return Applied("recorded: payment failed", entry.seq)


def _charge_refunded(uow: UnitOfWork, event: Event) -> Applied:
    charge = event.object
    intent_id = _id_of(charge.get("payment_intent"))
    payment = None if intent_id is None else uow.session.execute(
        select(PaymentIntent).where(PaymentIntent.provider_id == intent_id)
        .with_for_update()).scalar_one_or_none()
    if payment is None or payment.status not in ("succeeded", "refunded"):
        return Applied("ignored: not a credited IPX payment")
    currency = normalise_currency(str(charge["currency"]))
    refunded = stripe_to_ledger(int(charge["amount_refunded"]), currency)
    delta = refunded - payment.refunded_minor  # refunds are cumulative on the charge
    if delta <= 0:
        return Applied("ignored: refund already recorded")
    ensure_system_accounts(uow.session, currency)
    postings = [Posting(provider_clearing(currency), currency, delta)]
    from_party = 0
    if payment.purpose == "deposit":
        # Taken back from the party's available money; what it has spent since becomes a
        # receivable the operator must recover.
        account = uow.session.execute(select(Account).where(Account.code == party_account(
            payment.party_id, currency, AVAILABLE)).with_for_update()).scalar_one_or_none()
        from_party = min(delta, account.balance_minor if account is not None else 0)
    if from_party:
        postings.append(Posting(party_account(payment.party_id, currency, AVAILABLE), currency,
                                -from_party))
    if delta - from_party:
        postings.append(Posting(receivable(currency), currency, -(delta - from_party)))
    posted = post_transaction(
        uow, kind="payments.refunded", postings=postings,
        data={"payment_id": payment.id, "party_id": payment.party_id, "provider": "stripe",
              "charge": str(charge["id"]), "event_id": event.id,
              "from_party": format_minor(from_party, currency),
              "receivable": format_minor(delta - from_party, currency), **_money(delta, currency)},
        actor=None, parties=[payment.party_id])
    payment.refunded_minor = refunded
    if refunded >= payment.amount_minor:
        payment.status = "refunded"
    payment.updated_at = uow.now
    return Applied("refund recorded", posted.journal_seq)


def _transfer_reversed(uow: UnitOfWork, event: Event) -> Applied:
    transfer = event.object
    row = uow.session.execute(
        select(PayoutTransfer).where(PayoutTransfer.provider_id == str(transfer["id"]))
        .with_for_update()).scalar_one_or_none()
    if row is None or row.status not in ("paid", "reversed"):
        return Applied("ignored: not a paid IPX withdrawal")
    currency = normalise_currency(str(transfer["currency"]))
    reversed_minor = stripe_to_ledger(int(transfer["amount_reversed"]), currency)
    delta = reversed_minor - row.reversed_minor
    if delta <= 0:
        return Applied("ignored: reversal already recorded")
    ensure_system_accounts(uow.session, currency)
    posted = post_transaction(
        uow, kind="payments.transfer_reversed",
        postings=[Posting(provider_clearing(currency), currency, -delta),
                  Posting(party_account(row.party_id, currency, AVAILABLE), currency, delta)],
        data={"withdrawal_id": row.withdrawal_id, "party_id": row.party_id,
              "provider": "stripe", "transfer": row.provider_id, "event_id": event.id,
              **_money(delta, currency)},
        actor=None, parties=[row.party_id])
    row.reversed_minor = reversed_minor
    if reversed_minor >= row.amount_minor:
        row.status = "reversed"
    row.updated_at = uow.now
    return Applied("reversal returned to the party's available balance", posted.journal_seq)


def _payout_failed(uow: UnitOfWork, event: Event) -> Applied:
    # With separate charges and transfers, a connected account's payout to its bank moves
    # money already transferred out of IPX: the ledger is unchanged (the money is back on the
    # party's Stripe balance), but the party's payouts are marked failing for the operator.
    account = None if event.account is None else uow.session.execute(
        select(ConnectedAccount).where(ConnectedAccount.provider_account_id == event.account)
        .with_for_update()).scalar_one_or_none()
    if account is None:
        return Applied("recorded: payout of the platform or an unknown account failed")
    payout = event.object
    account.payouts_status = "failing"
    account.last_failure = str(payout.get("failure_message") or payout.get("failure_code")
                               or "payout failed")[:500]
    account.updated_at = uow.now
    entry = uow.journal.append(
        "payments.payout_failed",
        {"party_id": account.party_id, "account": event.account, "payout": str(payout["id"]),
         "event_id": event.id, "reason": account.last_failure},
        actor=None, parties=[account.party_id])
    return Applied("recorded: the party's payouts are failing", entry.seq)


_HANDLERS: dict[str, Callable[[UnitOfWork, Event], Applied]] = {
    "payment_intent.succeeded": _payment_succeeded,
    "payment_intent.payment_failed": _payment_failed,
    "charge.refunded": _charge_refunded,
    "transfer.reversed": _transfer_reversed,
    "payout.failed": _payout_failed,
}
