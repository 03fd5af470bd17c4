from __future__ import annotations

import json
from datetime import UTC
from typing import Any

from marshmallow import ValidationError, fields, post_load, validate

from api.schemas.common import MoneySchema, StrictSchema, money_json

_MAX_UNITS = 10**12


class TrancheCreateSchema(StrictSchema):
    terms = fields.Dict(required=True, metadata={
        "description": "licence terms, schema ipx.licence-terms/1: non_exclusive, no licensee"})
    units = fields.Integer(required=True, strict=True,
                           validate=validate.Range(min=1, max=_MAX_UNITS))
    products_per_unit = fields.Integer(required=True, strict=True,
                                       validate=validate.Range(min=1, max=_MAX_UNITS),
                                       metadata={"description": "products one unit licenses"})
    price = fields.Nested(MoneySchema, required=True, metadata={"description": "per unit"})
    closes_at = fields.AwareDateTime(required=True, format="iso", metadata={
        "description": "subscriptions end then (or when the tranche sells out)"})

    @post_load
    def _utc(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        try:
            data["closes_at"] = data["closes_at"].astimezone(UTC)
        except OverflowError:
            raise ValidationError("out of range", field_name="closes_at") from None
        return data


class TrancheSchema(StrictSchema):
    id = fields.String(attribute="tranche.id")
    grantor_id = fields.String(attribute="tranche.grantor_id")
    asset_id = fields.String(attribute="tranche.asset_id")
    instrument_id = fields.String(attribute="tranche.instrument_id",
                                  metadata={"description": "trade the units with /v1/orders"})
    unit_class = fields.String(data_key="class")
    terms = fields.Method("_terms")
    terms_hash = fields.String(attribute="tranche.terms_hash")
    units = fields.Integer(attribute="tranche.units", metadata={"description": "offered"})
    products_per_unit = fields.Integer(attribute="tranche.products_per_unit")
    price = fields.Method("_price", metadata={"description": "per unit"})
    sold = fields.Integer(attribute="tranche.sold")
    remaining = fields.Integer(metadata={"description": "still for sale"})
    burned = fields.Integer(attribute="tranche.burned",
                            metadata={"description": "consumed since the close"})
    total_units = fields.Integer(metadata={"description": "units in existence (after the "
                                                          "close: sold less burned)"})
    status = fields.String(attribute="tranche.status")
    closes_at = fields.DateTime(attribute="tranche.closes_at", format="iso")
    created_at = fields.DateTime(attribute="tranche.created_at", format="iso")
    closed_at = fields.DateTime(attribute="tranche.closed_at", format="iso", allow_none=True)
    journal_seq = fields.Integer(attribute="tranche.journal_seq")
    closed_seq = fields.Integer(attribute="tranche.closed_seq", allow_none=True)

    def _terms(self, view: Any) -> Any:
        return json.loads(view.tranche.terms)

    def _price(self, view: Any) -> dict[str, str]:
        return money_json(view.tranche.price_minor, view.tranche.currency)


class TrancheClosedSchema(TrancheSchema):
    distribution_ids = fields.List(fields.String(), metadata={
        "description": "the revenue distributions of the subscribers' payments"})


class SubscriptionCreateSchema(StrictSchema):
    units = fields.Integer(required=True, strict=True,
                           validate=validate.Range(min=1, max=_MAX_UNITS))


class SubscriptionSchema(StrictSchema):
    id = fields.String(attribute="subscription.id")
    tranche_id = fields.String(attribute="subscription.tranche_id")
    party_id = fields.String(attribute="subscription.party_id")
    units = fields.Integer(attribute="subscription.units")
    amount = fields.Method("_amount", metadata={"description": "held until the close"})
    status = fields.String(attribute="subscription.status",
                           metadata={"description": "held, or paid once the tranche closed"})
    journal_seq = fields.Integer(attribute="subscription.journal_seq")
    tranche = fields.Nested(TrancheClosedSchema, metadata={
        "description": "the tranche after this subscription (closed if it sold out)"})

    def _amount(self, subscribed: Any) -> dict[str, str]:
        return money_json(subscribed.subscription.amount_minor,
                          subscribed.tranche.tranche.currency)


class ConsumptionCreateSchema(StrictSchema):
    products = fields.Integer(required=True, strict=True,
                              validate=validate.Range(min=1, max=10**15),
                              metadata={"description": "products made or sold since the "
                                                       "last report"})


class ConsumptionSchema(StrictSchema):
    tranche_id = fields.String()
    party_id = fields.String()
    products = fields.Integer()
    products_total = fields.Integer(metadata={"description": "reported by you so far"})
    units_consumed = fields.Integer(metadata={"description": "burned by this report"})
    units_consumed_total = fields.Integer()
    units_held = fields.Integer(metadata={"description": "your units left"})
    total_units = fields.Integer(metadata={"description": "units of the tranche in existence"})
    journal_seq = fields.Integer()

