from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate

from api.schemas.common import DecimalString, MoneySchema, StrictSchema, currency_field, money_json
from ledger.policy import PRESETS
from ledger.services.assets import ASSET_KINDS


class PolicyField(fields.Field):
    """A preset name, or a policy object (validated in depth by the domain)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str):
            if value not in PRESETS:
                raise ValidationError(
                    f"unknown preset '{value}'; presets are {', '.join(sorted(PRESETS))}")
            return value
        if isinstance(value, dict):
            return value
        raise ValidationError("must be a preset name or a policy object")


class InventorShareSchema(StrictSchema):
    party_id = fields.String(required=True, validate=validate.Length(min=1, max=40))
    share = DecimalString(required=True, metadata={"example": "0.5"})


class AssetCreateSchema(StrictSchema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=500))
    kind = fields.String(required=True, validate=validate.OneOf(ASSET_KINDS))
    jurisdiction = fields.String(required=True, validate=validate.Regexp(
        r"^[A-Z]{2}$|^(EP|WO|EA|AP|OA)$", error="an ISO 3166-1 alpha-2 code or EP/WO/EA/AP/OA"))
    application_number = fields.String(load_default=None, validate=validate.Length(max=100))
    publication_number = fields.String(load_default=None, validate=validate.Length(max=100))
    currency = currency_field(load_default="HKD")
    inventors = fields.List(fields.Nested(InventorShareSchema), required=True,
                            validate=validate.Length(min=1, max=100))
    policy = PolicyField(required=True, metadata={
        "description": "a preset (hku-2023, hk-legacy, uc-1997, stanford-tiers) or a policy"})


class PolicyRefSchema(StrictSchema):
    id = fields.String()
    name = fields.String()
    version = fields.Integer()
    hash = fields.String()


class InstrumentRefSchema(StrictSchema):
    id = fields.String()
    unit_class = fields.String(data_key="class")
    total_units = fields.Integer()


class InventorOutSchema(StrictSchema):
    party_id = fields.String()
    share = fields.String()


class AssetSchema(StrictSchema):
    id = fields.String(attribute="asset.id")
    owner_id = fields.String(attribute="asset.owner_id")
    title = fields.String(attribute="asset.title")
    kind = fields.String(attribute="asset.kind")
    jurisdiction = fields.String(attribute="asset.jurisdiction")
    application_number = fields.String(attribute="asset.application_number", allow_none=True)
    publication_number = fields.String(attribute="asset.publication_number", allow_none=True)
    currency = fields.String(attribute="asset.currency")
    created_at = fields.DateTime(attribute="asset.created_at", format="iso")
    policy = fields.Nested(PolicyRefSchema)
    inventors = fields.List(fields.Nested(InventorOutSchema))
    instruments = fields.List(fields.Nested(InstrumentRefSchema))


class CostCreateSchema(StrictSchema):
    amount = fields.Nested(MoneySchema, required=True)
    description = fields.String(required=True, validate=validate.Length(min=1, max=500))


class CostSchema(StrictSchema):
    id = fields.String()
    asset_id = fields.String()
    amount = fields.Method("_amount")
    description = fields.String()
    journal_seq = fields.Integer()
    created_at = fields.DateTime(format="iso")

    def _amount(self, cost: Any) -> dict[str, str]:
        return money_json(cost.amount_minor, cost.currency)
