from __future__ import annotations

import json
from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from api.schemas.common import MoneySchema, StrictSchema, money_json


class OfferCreateSchema(StrictSchema):
    terms = fields.Dict(required=True, metadata={
        "description": "licence terms, schema ipx.licence-terms/1"})
    negotiable = fields.Boolean(load_default=False)


class OfferReviseSchema(StrictSchema):
    terms = fields.Dict(required=True)


class AcceptSchema(StrictSchema):
    terms_hash = fields.String(required=True, validate=validate.Regexp(
        r"^[0-9a-f]{64}$", error="the hex SHA-256 terms_hash of the offer you read"))


class OfferSchema(StrictSchema):
    id = fields.String()
    grantor_id = fields.String()
    licensee_id = fields.String(allow_none=True)
    negotiable = fields.Boolean()
    status = fields.String()
    terms = fields.Method("_terms")
    terms_hash = fields.String()
    grantor_accepted_hash = fields.String(allow_none=True)
    licensee_accepted_hash = fields.String(allow_none=True)
    updated_at = fields.DateTime(format="iso")

    def _terms(self, offer: Any) -> Any:
        return json.loads(offer.terms)


class GrantSchema(StrictSchema):
    id = fields.String()
    offer_id = fields.String()
    grantor_id = fields.String()
    licensee_id = fields.String()
    exclusivity = fields.String()
    status = fields.String()
    # The first day not licensed: the agreed end, or the day of termination if earlier.
    end_date = fields.Date()
    terms = fields.Method("_terms")
    terms_hash = fields.String()
    journal_seq = fields.Integer()
    created_at = fields.DateTime(format="iso")

    def _terms(self, grant: Any) -> Any:
        return json.loads(grant.terms)


class AcceptanceSchema(StrictSchema):
    offer = fields.Nested(OfferSchema)
    grant = fields.Nested(GrantSchema, allow_none=True)


class InvoiceSchema(StrictSchema):
    id = fields.String()
    grant_id = fields.String()
    payer_id = fields.String()
    payee_id = fields.String()
    kind = fields.String()
    description = fields.String()
    amount = fields.Method("_amount")
    status = fields.String()
    journal_seq = fields.Integer()
    paid_seq = fields.Integer(allow_none=True)
    created_at = fields.DateTime(format="iso")

    def _amount(self, invoice: Any) -> dict[str, str]:
        return money_json(invoice.amount_minor, invoice.currency)


class TerritorySalesSchema(StrictSchema):
    territory = fields.String(required=True, validate=validate.Length(min=2, max=5))
    product = fields.String(load_default="", validate=validate.Length(max=100))
    net_sales = fields.Nested(MoneySchema, required=True)


class RoyaltyReportCreateSchema(StrictSchema):
    period_start = fields.Date(required=True)
    period_end = fields.Date(required=True)
    net_sales = fields.Nested(MoneySchema, load_default=None)
    lines = fields.List(fields.Nested(TerritorySalesSchema), load_default=None,
                        metadata={"description": "net sales per territory and product"})
    third_party_royalties = fields.Nested(MoneySchema, load_default=None)

    @validates_schema
    def _sales(self, data: dict[str, Any], **_: Any) -> None:
        if (data.get("net_sales") is None) == (data.get("lines") is None):
            raise ValidationError("give either net_sales or lines", field_name="net_sales")
        if data["period_end"] <= data["period_start"]:
            raise ValidationError("must be after period_start", field_name="period_end")


class RoyaltyReportSchema(StrictSchema):
    id = fields.String(attribute="report.id")
    grant_id = fields.String(attribute="report.grant_id")
    period_start = fields.Date(attribute="report.period_start")
    period_end = fields.Date(attribute="report.period_end")
    breakdown = fields.Method("_breakdown")
    invoices = fields.List(fields.Nested(InvoiceSchema))

    def _breakdown(self, outcome: Any) -> Any:
        return json.loads(outcome.report.breakdown)


class SublicenceIncomeSchema(StrictSchema):
    income = fields.Nested(MoneySchema, required=True)
    reference = fields.String(required=True, validate=validate.Length(min=1, max=200))


class MilestoneCreateSchema(StrictSchema):
    event = fields.String(required=True, validate=validate.Length(min=1, max=100))


class PaymentSchema(StrictSchema):
    invoice = fields.Nested(InvoiceSchema)
    distribution_ids = fields.Method("_ids")

    def _ids(self, payment: Any) -> list[str]:
        return [v.distribution.id for v in payment.distributions]


class LateReportSchema(StrictSchema):
    grant_id = fields.String()
    licensee_id = fields.String()
    period_start = fields.Date()
    period_end = fields.Date()


class LateQuerySchema(StrictSchema):
    as_of = fields.Date(load_default=None)


class GrantTerminateSchema(StrictSchema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500), metadata={
        "description": "why the licence ends; journalled with who terminated it"})
