"""Payments through the configured provider: card collections, the provider's webhook,
connected accounts for payouts, and reconciliation."""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask_smorest import Blueprint

from api import auth
from api.context import caller, read_uow, uow
from api.schemas.money import WithdrawalSchema
from api.schemas.payments import (
    CollectionSchema,
    ConnectedAccountLinkSchema,
    ConnectedAccountQuerySchema,
    ConnectedAccountSchema,
    DepositIntentCreateSchema,
    InvoiceIntentCreateSchema,
    ProviderPaymentSchema,
    ReconcileQuerySchema,
    ReconciliationSchema,
    WebhookReceiptSchema,
)
from payments.provider import PaymentProvider
from payments.services import collect, payouts, reconciliation, webhooks

blp = Blueprint("payments", __name__, url_prefix="/v1/payments",
                description="Payments through the provider (Stripe)")

EXTENSION = "ipx_payments"


def provider() -> PaymentProvider:
    """The provider the application factory chose from configuration."""
    chosen: PaymentProvider = current_app.extensions[EXTENSION]
    return chosen


@blp.route("/stripe/deposits", methods=["POST"])
@blp.arguments(DepositIntentCreateSchema)
@blp.response(201, CollectionSchema)
@auth.required
def start_deposit(body: dict[str, Any]) -> Any:
    """Fund your own account by card: returns the PaymentIntent to confirm. The account is
    credited when Stripe reports the payment succeeded (webhook), not before."""
    amount = body["amount"]
    return collect.start_deposit(uow(), provider(), caller(), amount["amount"],
                                 amount["currency"])


@blp.route("/stripe/invoice-payments", methods=["POST"])
@blp.arguments(InvoiceIntentCreateSchema)
@blp.response(201, CollectionSchema)
@auth.required
def start_invoice_payment(body: dict[str, Any]) -> Any:
    """The licensee pays an invoice by card (one PaymentIntent per invoice). When Stripe
    reports success, the invoice is paid and distributed to the asset's holders."""
    return collect.start_invoice_payment(uow(), provider(), caller(), body["invoice_id"])


@blp.route("/<payment_id>", methods=["GET"])
@blp.response(200, ProviderPaymentSchema)
@auth.required
def read_payment(payment_id: str) -> Any:
    """A payment of yours (or any, for the operator) and where it stands."""
    return collect.read_payment(read_uow(), caller(), payment_id)


@blp.route("/stripe/webhook", methods=["POST"])
@blp.doc(security=[])  # Stripe signs the body instead (Stripe-Signature)
@blp.response(200, WebhookReceiptSchema)
@blp.alt_response(400, description="unsigned, wrongly signed, stale (over 5 minutes) or "
                  "malformed: nothing changed")
def stripe_webhook() -> Any:
    """Stripe's events, verified by the `Stripe-Signature` header and applied at most once
    each; a repeated event is acknowledged and changes nothing."""
    receipt = webhooks.receive_event(uow(), provider(), request.get_data(),
                                     request.headers.get("Stripe-Signature"))
    return {"received": True, "event_id": receipt.event_id, "type": receipt.type,
            "outcome": receipt.outcome, "duplicate": receipt.duplicate,
            "journal_seq": receipt.journal_seq}


@blp.route("/stripe/connected-account", methods=["POST"])
@blp.arguments(ConnectedAccountLinkSchema)
@blp.response(200, ConnectedAccountSchema)
@auth.required
def link_connected_account(body: dict[str, Any]) -> Any:
    """Name the Stripe connected account (acct_...) your withdrawals are transferred to."""
    return payouts.link_connected_account(uow(), provider(), caller(), body["account_id"],
                                          body["party_id"])


@blp.route("/stripe/connected-account", methods=["GET"])
@blp.arguments(ConnectedAccountQuerySchema, location="query")
@blp.response(200, ConnectedAccountSchema)
@auth.required
def read_connected_account(query: dict[str, Any]) -> Any:
    """Your linked connected account (the operator adds `?party_id=`)."""
    return payouts.read_connected_account(read_uow(), caller(), query["party_id"])


@blp.route("/stripe/withdrawals/<withdrawal_id>/retry", methods=["POST"])
@blp.response(200, WithdrawalSchema)
@auth.required
def retry_payout(withdrawal_id: str) -> Any:
    """The operator retries a transfer whose outcome was unknown (same idempotency key)."""
    return payouts.retry_payout(uow(), provider(), caller(), withdrawal_id)


@blp.route("/stripe/reconciliation", methods=["GET"])
@blp.arguments(ReconcileQuerySchema, location="query")
@blp.response(200, ReconciliationSchema)
@auth.required
def reconcile(query: dict[str, Any]) -> Any:
    """The operator compares the ledger's Stripe clearing account with Stripe's balance
    transactions for [from, to): every difference is listed."""
    return reconciliation.reconcile(read_uow(), provider(), caller(), query["start"], query["end"])
