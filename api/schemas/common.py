"""Schemas shared by every resource: money, problems, cursors."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

import marshmallow as ma
from marshmallow import ValidationError, fields, validate

from ledger.currency import CURRENCIES, format_minor


class StrictSchema(ma.Schema):
    """Unknown fields are an error: a typo must not be silently ignored."""

    class Meta:
        unknown = ma.RAISE


# Plain decimal notation only, of bounded size: no exponents ("1E+999999" would make exact
# minor-unit arithmetic explode), no non-ASCII digits, no more digits than any amount needs.
_PLAIN_DECIMAL = re.compile(r"-?[0-9]{1,20}(\.[0-9]{1,20})?", re.ASCII)


class DecimalString(fields.String):
    """A decimal number carried as a JSON string (never a float), parsed to Decimal."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if not isinstance(value, str):
            raise ValidationError("must be a decimal string such as \"1234.50\"")
        text = super()._deserialize(value, attr, data, **kwargs)
        if not _PLAIN_DECIMAL.fullmatch(text.strip()):
            raise ValidationError(f"'{text}' is not a plain decimal number such as \"1234.50\" "
                                  "(at most 20 digits before and after the point)")
        try:
            number = Decimal(text.strip())
        except InvalidOperation:
            raise ValidationError(f"'{text}' is not a decimal number") from None
        if not number.is_finite():
            raise ValidationError("must be a finite decimal number")
        return number

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else str(value)


def currency_field(**kwargs: Any) -> fields.String:
    def _known(code: str) -> None:
        if code not in CURRENCIES:
            raise ValidationError(f"'{code}' is not an ISO 4217 currency code")

    return fields.String(validate=[validate.Length(equal=3), _known],
                         metadata={"description": "ISO 4217 code", "example": "HKD"}, **kwargs)


def money_json(minor: int, currency: str) -> dict[str, str]:
    """Money as the contract writes it: a decimal string beside its currency."""
    return {"amount": format_minor(minor, currency), "currency": currency}


class MoneySchema(StrictSchema):
    amount = DecimalString(required=True, metadata={"example": "1234.50"})
    currency = currency_field(required=True)


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details; `errors` maps a field to what is wrong with it."""

    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class PageQuerySchema(StrictSchema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    cursor = fields.String(load_default=None, validate=validate.Length(max=100))
