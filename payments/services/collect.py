"""Collecting: a party funds its account, or pays an invoice, through a PaymentIntent.

The amount and currency come from the ledger (the invoice) or the request (a deposit); the
intent's metadata links it to the party, the invoice and a transfer group; its idempotency key
is the IPX payment's id, so a retry after a lost answer gets the same intent back. Nothing is
credited here: the money arrives with the provider's `payment_intent.succeeded` webhook.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from contracts.models import Invoice
from ledger.actor import Actor
from ledger.currency import format_minor, positive_minor
from ledger.errors import Conflict, NotFound, PermissionDenied
from ledger.ids import new_id
from ledger.models import Party
from ledger.unit_of_work import UnitOfWork
from payments.amounts import Use, ledger_to_stripe
from payments.models import PaymentIntent
from payments.provider import IntentRequest, PaymentProvider


@dataclass(frozen=True)
class CollectionView:
    """What a client needs to confirm the payment with the provider."""

    id: str
    purpose: str
    party_id: str
    invoice_id: str | None
    amount: str
    currency: str
    status: str
    provider: str
    provider_id: str
    client_secret: str


def transfer_group(payment: PaymentIntent) -> str:
    """Groups the charge with the transfers it later funds (Connect, separate charges and
    transfers)."""
    return f"ipx-{payment.invoice_id or payment.id}"


def _request(payment: PaymentIntent) -> IntentRequest:
    metadata = {"ipx_payment_id": payment.id, "ipx_party_id": payment.party_id,
                "ipx_purpose": payment.purpose, "ipx_transfer_group": transfer_group(payment)}
    if payment.invoice_id:
        metadata["ipx_invoice_id"] = payment.invoice_id
    what = f"invoice {payment.invoice_id}" if payment.invoice_id else "deposit"
    return IntentRequest(
        amount=ledger_to_stripe(payment.amount_minor, payment.currency, Use.CHARGE),
        currency=payment.currency, idempotency_key=f"ipx-payment-{payment.id}",
        transfer_group=transfer_group(payment), metadata=metadata,
        description=f"IPX {what} for {payment.party_id}")


def _open(uow: UnitOfWork, provider: PaymentProvider, payment_id: str) -> CollectionView:
    """Create (or find again) the provider's intent, outside any transaction: an intent
    already stored is fetched; else the idempotency key makes a repeated creation (after an
    answer was lost) return the same intent."""
    with uow:
        payment = uow.session.get_one(PaymentIntent, payment_id)
    if payment.provider_id is not None:
        created = provider.retrieve_payment_intent(payment.provider_id)
    else:
        created = provider.create_payment_intent(_request(payment))
    with uow:
        payment = uow.session.get_one(PaymentIntent, payment_id, with_for_update=True)
        if payment.provider_id is None:
            payment.provider_id = created.id
            payment.status = "open"
            payment.updated_at = uow.now
            uow.commit()
        return CollectionView(payment.id, payment.purpose, payment.party_id, payment.invoice_id,
                              format_minor(payment.amount_minor, payment.currency),
                              payment.currency, payment.status, provider.name, created.id,
                              created.client_secret)


def _record(uow: UnitOfWork, actor: Actor, payment: PaymentIntent, provider: str) -> None:
    payment.provider = provider
    uow.session.add(payment)
    uow.journal.append(
        "payments.intent_created",
        {"payment_id": payment.id, "party_id": payment.party_id, "purpose": payment.purpose,
         "invoice_id": payment.invoice_id,
         "amount": format_minor(payment.amount_minor, payment.currency),
         "currency": payment.currency},
        actor=actor.party_id, parties=[payment.party_id])


def start_deposit(uow: UnitOfWork, provider: PaymentProvider, actor: Actor,
                  amount: Decimal | str, currency: str) -> CollectionView:
    """A party starts funding its own account with a card payment."""
    provider.require_collection()
    minor = positive_minor(amount, currency)
    ledger_to_stripe(minor, currency, Use.CHARGE)  # refuse what the provider cannot charge
    with uow:
        if uow.session.get(Party, actor.party_id) is None:
            raise NotFound(f"no party '{actor.party_id}'")
        payment = PaymentIntent(
            id=new_id("pay"), party_id=actor.party_id, purpose="deposit", invoice_id=None,
            currency=currency, amount_minor=minor, refunded_minor=0, status="creating",
            created_at=uow.now, updated_at=uow.now)
        _record(uow, actor, payment, provider.name)
        uow.commit()
        payment_id = payment.id
    return _open(uow, provider, payment_id)


def start_invoice_payment(uow: UnitOfWork, provider: PaymentProvider, actor: Actor,
                          invoice_id: str) -> CollectionView:
    """The licensee starts paying an invoice by card: one intent per invoice, reused."""
    provider.require_collection()
    with uow:
        invoice = uow.session.get(Invoice, invoice_id, with_for_update=True)
        if invoice is None or actor.party_id not in (invoice.payer_id, invoice.payee_id):
            raise NotFound(f"no invoice '{invoice_id}'", field="invoice_id")
        if actor.party_id != invoice.payer_id:
            raise PermissionDenied("only the licensee pays an invoice")
        if invoice.status != "issued":
            raise Conflict(f"invoice is {invoice.status}", field="invoice_id")
        ledger_to_stripe(invoice.amount_minor, invoice.currency, Use.CHARGE)
        payment = uow.session.execute(
            select(PaymentIntent).where(PaymentIntent.invoice_id == invoice_id)
        ).scalar_one_or_none()
        if payment is None:
            payment = PaymentIntent(
                id=new_id("pay"), party_id=invoice.payer_id, purpose="invoice",
                invoice_id=invoice.id, currency=invoice.currency,
                amount_minor=invoice.amount_minor, refunded_minor=0, status="creating",
                created_at=uow.now, updated_at=uow.now)
            _record(uow, actor, payment, provider.name)
            uow.commit()
        elif payment.status == "succeeded":
            raise Conflict("invoice is already being paid", field="invoice_id")
        payment_id = payment.id
    return _open(uow, provider, payment_id)


def read_payment(uow: UnitOfWork, actor: Actor, payment_id: str) -> PaymentIntent:
    with uow:
        payment = uow.session.get(PaymentIntent, payment_id)
        if payment is None or not (actor.is_operator or actor.party_id == payment.party_id):
            raise NotFound(f"no payment '{payment_id}'", field="id")
        return payment
