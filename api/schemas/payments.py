"""Schemas of payments through the provider: collections, webhooks, connected accounts,
provider withdrawals and reconciliation."""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from api.schemas.common import MoneySchema, StrictSchema, money_json


class DepositIntentCreateSchema(StrictSchema):
    amount = fields.Nested(MoneySchema, required=True)


class InvoiceIntentCreateSchema(StrictSchema):
    invoice_id = fields.String(required=True, validate=validate.Length(min=1, max=40))


class CollectionSchema(StrictSchema):
    """What a client needs to confirm the payment with Stripe.js (or another client)."""

    id = fields.String(metadata={"description": "the IPX payment"})
    purpose = fields.String(metadata={"description": "deposit or invoice"})
    party_id = fields.String()
    invoice_id = fields.String(allow_none=True)
    amount = fields.Method("_amount")
    status = fields.String()
    provider = fields.String()
    provider_id = fields.String(metadata={"description": "the PaymentIntent id (pi_...)"})
    client_secret = fields.String(metadata={"description": "for the client to confirm with"})

    def _amount(self, view: Any) -> dict[str, str]:
        return {"amount": view.amount, "currency": view.currency}


class ProviderPaymentSchema(StrictSchema):
    id = fields.String()
    purpose = fields.String()
    party_id = fields.String()
    invoice_id = fields.String(allow_none=True)
    amount = fields.Method("_amount")
    refunded = fields.Method("_refunded")
    status = fields.String()
    failure = fields.String(allow_none=True)
    provider_id = fields.String(allow_none=True)
    journal_seq = fields.Integer(allow_none=True)
    created_at = fields.DateTime()

    def _amount(self, row: Any) -> dict[str, str]:
        return money_json(row.amount_minor, row.currency)

    def _refunded(self, row: Any) -> dict[str, str]:
        return money_json(row.refunded_minor, row.currency)


class WebhookReceiptSchema(StrictSchema):
    received = fields.Boolean(metadata={"description": "always true: the event is acknowledged"})
    event_id = fields.String()
    type = fields.String()
    outcome = fields.String()
    duplicate = fields.Boolean(metadata={"description": "processed before: nothing changed"})
    journal_seq = fields.Integer(allow_none=True)


class ConnectedAccountLinkSchema(StrictSchema):
    account_id = fields.String(required=True, validate=validate.Length(min=6, max=255),
                               metadata={"example": "acct_1Nv0FGQ9RKHgCVdK"})
    party_id = fields.String(load_default=None, validate=validate.Length(min=1, max=40),
                             metadata={"description": "the operator links for a party"})


class ConnectedAccountQuerySchema(StrictSchema):
    party_id = fields.String(load_default=None, validate=validate.Length(min=1, max=40))


class ConnectedAccountSchema(StrictSchema):
    party_id = fields.String()
    provider = fields.String()
    account_id = fields.String(attribute="provider_account_id")
    payouts_status = fields.String(metadata={"description": "ok, or failing after a payout "
                                                            "to the bank failed"})
    last_failure = fields.String(allow_none=True)


class ReconcileQuerySchema(StrictSchema):
    start = fields.AwareDateTime(required=True, data_key="from")
    end = fields.AwareDateTime(required=True, data_key="to")


class DifferenceSchema(StrictSchema):
    key = fields.String(metadata={"description": "the charge or transfer (…:refund, …:reversal)"})
    ledger = fields.Method("_ledger")
    provider = fields.Method("_provider")
    reason = fields.String()
    references = fields.List(fields.String())

    def _ledger(self, d: Any) -> dict[str, str]:
        return money_json(d.ledger, d.currency)

    def _provider(self, d: Any) -> dict[str, str]:
        return money_json(d.provider, d.currency)


class ReconciliationSchema(StrictSchema):
    start = fields.DateTime(data_key="from")
    end = fields.DateTime(data_key="to")
    ledger_movements = fields.Integer()
    provider_movements = fields.Integer()
    not_mirrored = fields.Integer()
    differences = fields.List(fields.Nested(DifferenceSchema))
