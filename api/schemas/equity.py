"""Schemas of start-ups' share capital, cap tables and equity-for-IP deals."""

from __future__ import annotations

import json
from typing import Any

from marshmallow import fields, validate

from api.schemas.common import DecimalString, MoneySchema, StrictSchema, money_json
from api.schemas.revenue import DistributionSchema
from contracts.cap_table import holding, issued_shares, percent_of_fully_diluted
from contracts.services.equity_deals import PROCEEDS_KINDS
from contracts.services.startups import cap_table_json

_ID = validate.Length(min=1, max=128)


def _count() -> fields.Integer:
    """A required whole number of shares (the cap table checks its meaning)."""
    return fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=10**15))


class ShareClassInSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=40))
    authorised = _count()
    seniority = fields.Integer(load_default=None, allow_none=True, strict=True)
    class_type = fields.String(load_default="common",
                               validate=validate.OneOf(["common", "preferred"]))
    votes_per_share = fields.Integer(load_default=1, strict=True)


class StakeholderInSchema(StrictSchema):
    id = fields.String(required=True, validate=_ID, metadata={
        "description": "an IPX party id, or the start-up's own id for, e.g., a founder"})
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    kind = fields.String(load_default="individual",
                         validate=validate.OneOf(["individual", "institution"]))


class IssuanceInSchema(StrictSchema):
    id = fields.String(required=True, validate=_ID)
    stakeholder = fields.String(required=True, validate=_ID)
    share_class = fields.String(required=True, validate=validate.Length(min=1, max=40))
    shares = _count()
    date = fields.Date(required=True)
    price_per_share = DecimalString(load_default=None, allow_none=True)
    consideration = fields.String(load_default=None, allow_none=True,
                                  validate=validate.Length(max=1000))


class OptionPoolInSchema(StrictSchema):
    share_class = fields.String(required=True, validate=validate.Length(min=1, max=40))
    reserved = _count()
    name = fields.String(load_default=None, allow_none=True,
                         validate=validate.Length(min=1, max=200))


class ShareCapitalSchema(StrictSchema):
    legal_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    formation_date = fields.Date(required=True)
    country_of_formation = fields.String(required=True, validate=validate.Length(equal=2),
                                         metadata={"example": "HK"})
    currency = fields.String(required=True, validate=validate.Length(equal=3),
                             metadata={"example": "HKD"})
    classes = fields.List(fields.Nested(ShareClassInSchema), required=True,
                          validate=validate.Length(min=1, max=50))
    stakeholders = fields.List(fields.Nested(StakeholderInSchema), load_default=list,
                               validate=validate.Length(max=10_000))
    issuances = fields.List(fields.Nested(IssuanceInSchema), load_default=list,
                            validate=validate.Length(max=10_000))
    option_pool = fields.Nested(OptionPoolInSchema, load_default=None, allow_none=True)


class CapTableSchema(StrictSchema):
    """A start-up's cap table as recorded on IPX (a ``CapTableView``)."""

    startup_id = fields.String(attribute="startup.party_id")
    legal_name = fields.String(attribute="startup.legal_name")
    formation_date = fields.Date(attribute="startup.formation_date")
    country_of_formation = fields.String(attribute="startup.country_of_formation")
    currency = fields.String(attribute="startup.currency")
    classes = fields.Method("_classes")
    stakeholders = fields.Method("_stakeholders")
    option_pool = fields.Method("_pool")
    transactions = fields.Method("_transactions")
    holdings = fields.Method("_holdings")
    issued = fields.Integer()
    fully_diluted = fields.Integer()

    def _classes(self, view: Any) -> list[dict[str, Any]]:
        table = view.cap_table
        return [{**c, "issued": issued_shares(table, c["name"]),
                 "available": table.available(c["name"]),
                 "instrument_id": view.instruments.get(c["name"])}
                for c in cap_table_json(table)["classes"]]

    def _stakeholders(self, view: Any) -> list[dict[str, Any]]:
        return list(cap_table_json(view.cap_table)["stakeholders"])

    def _pool(self, view: Any) -> Any:
        return cap_table_json(view.cap_table)["option_pool"]

    def _transactions(self, view: Any) -> list[dict[str, Any]]:
        return list(cap_table_json(view.cap_table)["transactions"])

    def _holdings(self, view: Any) -> list[dict[str, Any]]:
        table = view.cap_table
        return [{"stakeholder_id": who, "share_class": cls,
                 "shares": holding(table, who, cls),
                 "percent_of_fully_diluted": str(percent_of_fully_diluted(shares, table))}
                for who, by_class in view.holdings.items() for cls, shares in by_class.items()]


class DealCreateSchema(StrictSchema):
    university_id = fields.String(required=True, validate=validate.Length(min=1, max=40))
    asset_id = fields.String(required=True, validate=validate.Length(min=1, max=40))
    licence_terms = fields.Dict(required=True, metadata={
        "description": "licence terms, schema ipx.licence-terms/1, granted by the university "
                       "to the start-up"})
    terms = fields.Dict(required=True, metadata={
        "description": "deal terms, schema ipx.equity-deal-terms/1: {shares, share_class, "
                       "cash?: Money, royalty_percent?}; licence_terms_hash is filled in"})


class DealCounterSchema(StrictSchema):
    terms = fields.Dict(required=True)
    licence_terms = fields.Dict(load_default=None, allow_none=True, metadata={
        "description": "new licence terms; absent: the licence terms on the table"})


class DealAcceptSchema(StrictSchema):
    terms_hash = fields.String(required=True, validate=validate.Regexp(
        r"^[0-9a-f]{64}$", error="the hex SHA-256 terms_hash of the deal terms you read"))


class DealRejectSchema(StrictSchema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class DealWithdrawSchema(StrictSchema):
    reason = fields.String(load_default=None, allow_none=True,
                           validate=validate.Length(min=1, max=1000))


class DealStepSchema(StrictSchema):
    seq = fields.Integer()
    event = fields.String()
    by = fields.String(attribute="by_party_id")
    state = fields.String()
    terms_hash = fields.String(allow_none=True)
    licence_terms_hash = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    journal_seq = fields.Integer()
    at = fields.DateTime(format="iso")


class DealSchema(StrictSchema):
    """A deal (a ``DealView``)."""

    id = fields.String(attribute="deal.id")
    startup_id = fields.String(attribute="deal.startup_id")
    university_id = fields.String(attribute="deal.university_id")
    asset_id = fields.String(attribute="deal.asset_id")
    state = fields.String(attribute="deal.state")
    awaiting = fields.String(allow_none=True)
    offered_by = fields.String(attribute="deal.offered_by")
    terms = fields.Method("_terms")
    terms_hash = fields.String(attribute="deal.terms_hash")
    licence_terms = fields.Method("_licence_terms")
    licence_terms_hash = fields.String(attribute="deal.licence_terms_hash")
    equity_cap = fields.Method("_cap")
    grant_id = fields.String(attribute="deal.grant_id", allow_none=True)
    instrument_id = fields.String(attribute="deal.instrument_id", allow_none=True)
    issuance_id = fields.String(attribute="deal.issuance_id", allow_none=True)
    distributions = fields.List(fields.String(), attribute="distribution_ids")
    steps = fields.List(fields.Nested(DealStepSchema))
    created_at = fields.DateTime(attribute="deal.created_at", format="iso")
    updated_at = fields.DateTime(attribute="deal.updated_at", format="iso")

    def _terms(self, view: Any) -> Any:
        return json.loads(view.deal.terms)

    def _licence_terms(self, view: Any) -> Any:
        return json.loads(view.deal.licence_terms)

    def _cap(self, view: Any) -> dict[str, str]:
        return {"policy": view.deal.cap_policy, "max_percent": view.deal.cap_percent}


class ProceedsCreateSchema(StrictSchema):
    kind = fields.String(required=True, validate=validate.OneOf(PROCEEDS_KINDS))
    amount = fields.Nested(MoneySchema, required=True)
    reference = fields.String(required=True, validate=validate.Length(min=1, max=150))


class ProceedsSchema(StrictSchema):
    id = fields.String(attribute="proceeds.id")
    deal_id = fields.String(attribute="proceeds.deal_id")
    kind = fields.String(attribute="proceeds.kind")
    amount = fields.Method("_amount")
    reference = fields.String(attribute="proceeds.reference")
    journal_seq = fields.Integer(attribute="proceeds.journal_seq")
    created_at = fields.DateTime(attribute="proceeds.created_at", format="iso")
    distribution = fields.Nested(DistributionSchema)

    def _amount(self, view: Any) -> dict[str, str]:
        return money_json(view.proceeds.amount_minor, view.proceeds.currency)
