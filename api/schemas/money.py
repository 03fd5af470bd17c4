from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from api.schemas.common import MoneySchema, StrictSchema, money_json


class BalanceSchema(StrictSchema):
    currency = fields.String()
    available = fields.String(metadata={"description": "decimal string"})
    held = fields.String(metadata={"description": "held for open orders and commitments"})
    payout_pending = fields.String(metadata={"description": "withdrawn, not yet paid out"})


class HoldingSchema(StrictSchema):
    instrument_id = fields.String()
    asset_id = fields.String()
    unit_class = fields.String(data_key="class")
    units = fields.Integer()
    held_units = fields.Integer()


class DepositCreateSchema(StrictSchema):
    party_id = fields.String(required=True, validate=validate.Length(min=1, max=40))
    amount = fields.Nested(MoneySchema, required=True)
    reference = fields.String(required=True, validate=validate.Length(min=1, max=200),
                              metadata={"description": "the bank reference; unique per deposit"})


class DepositSchema(StrictSchema):
    id = fields.String()
    party_id = fields.String()
    amount = fields.Method("_amount")
    reference = fields.String()
    journal_seq = fields.Integer()

    def _amount(self, receipt: Any) -> dict[str, str]:
        return {"amount": receipt.amount, "currency": receipt.currency}


class WithdrawalCreateSchema(StrictSchema):
    amount = fields.Nested(MoneySchema, required=True)


class WithdrawalSchema(StrictSchema):
    id = fields.String()
    party_id = fields.String()
    amount = fields.Method("_amount")
    status = fields.String()
    created_at = fields.DateTime(format="iso")

    def _amount(self, withdrawal: Any) -> dict[str, str]:
        return money_json(withdrawal.amount_minor, withdrawal.currency)


class UnitTransferCreateSchema(StrictSchema):
    instrument_id = fields.String(required=True, validate=validate.Length(min=1, max=40))
    to_party_id = fields.String(required=True, validate=validate.Length(min=1, max=40))
    units = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    reference = fields.String(load_default="", validate=validate.Length(max=200))


class UnitTransferSchema(StrictSchema):
    journal_seq = fields.Integer()
