"""Challenges (揭榜掛帥): what is posted, applied, decided and paid, as the API writes it."""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from api.schemas.assets import AssetSchema, InventorShareSchema, PolicyField
from api.schemas.common import DecimalString, MoneySchema, PageQuerySchema, StrictSchema, money_json
from contracts.lifecycle import CHALLENGE
from ledger.services.assets import ASSET_KINDS

IP_TERMS = ("assign", "exclusive_licence", "shared")
_ID = validate.Length(min=1, max=128)


# --------------------------------------------------------------------------- requests

class MilestoneSpecSchema(StrictSchema):
    key = fields.String(required=True, validate=validate.Length(min=1, max=64),
                        metadata={"example": "prototype"})
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    percent = DecimalString(required=True, metadata={
        "description": "percentage of every funder's hold this milestone releases; the "
                       "milestones' percentages sum to 100", "example": "40"})


class MatchingCreateSchema(StrictSchema):
    party_id = fields.String(required=True, validate=_ID)
    amount = fields.Nested(MoneySchema, required=True)


class ChallengeCreateSchema(StrictSchema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    problem = fields.String(required=True, validate=validate.Length(min=1, max=10_000))
    field = fields.String(required=True, validate=validate.Length(min=1, max=64), metadata={
        "description": "a field code: lowercase letters, digits, '_', '.', ':' or '-'",
        "example": "battery-materials"})
    deadline = fields.AwareDateTime(required=True, metadata={
        "description": "the last moment to apply, shortlist or award (ISO 8601 with offset)"})
    bounty = fields.Nested(MoneySchema, required=True, metadata={
        "description": "held from the poster's available cash when the challenge is posted"})
    matching = fields.Nested(MatchingCreateSchema, load_default=None, metadata={
        "description": "a government party's matching funds, held once it confirms them"})
    milestones = fields.List(fields.Nested(MilestoneSpecSchema), required=True,
                             validate=validate.Length(min=1, max=50))
    ip_terms = fields.String(required=True, validate=validate.OneOf(IP_TERMS), metadata={
        "description": "assign (the poster owns the result), exclusive_licence (the team's "
                       "university owns it, the poster has an exclusive licence) or shared "
                       "(the university owns it, the poster has a non-exclusive licence)"})


class ChallengeQuerySchema(PageQuerySchema):
    status = fields.String(load_default=None, validate=validate.OneOf(sorted(CHALLENGE.states)))
    field = fields.String(load_default=None, validate=validate.Length(min=1, max=64))


class TeamMemberSchema(StrictSchema):
    party = fields.String(required=True, data_key="party_id", validate=_ID)
    percent = DecimalString(required=True, metadata={
        "description": "this party's percentage of every payout; the team's sum to 100"})


class TeamSchema(StrictSchema):
    members = fields.List(fields.Nested(TeamMemberSchema), required=True,
                          validate=validate.Length(min=1, max=50))
    university = fields.String(load_default=None, validate=_ID, metadata={
        "description": "the member that owns the result under exclusive_licence and shared"})


class ApplicationCreateSchema(StrictSchema):
    team = fields.Nested(TeamSchema, required=True)
    proposal = fields.String(required=True, validate=validate.Length(min=1, max=10_000))


class ShortlistSchema(StrictSchema):
    team_ids = fields.List(fields.String(validate=_ID), required=True,
                           validate=validate.Length(min=1, max=100))


class AwardCreateSchema(StrictSchema):
    team_id = fields.String(required=True, validate=_ID)


class ReasonSchema(StrictSchema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class ResultCreateSchema(StrictSchema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=500))
    kind = fields.String(required=True, validate=validate.OneOf(ASSET_KINDS))
    jurisdiction = fields.String(required=True, validate=validate.Regexp(
        r"^[A-Z]{2}$|^(EP|WO|EA|AP|OA)$", error="an ISO 3166-1 alpha-2 code or EP/WO/EA/AP/OA"))
    application_number = fields.String(load_default=None, validate=validate.Length(max=100))
    publication_number = fields.String(load_default=None, validate=validate.Length(max=100))
    inventors = fields.List(fields.Nested(InventorShareSchema), load_default=None,
                            validate=validate.Length(min=1, max=100), metadata={
                                "description": "members of the awarded team; by default its "
                                               "inventors, by their payout percentages"})
    policy = PolicyField(load_default="hku-2023", metadata={
        "description": "a preset (hku-2023, hk-legacy, uc-1997, stanford-tiers) or a policy"})


# --------------------------------------------------------------------------- responses

class MemberOutSchema(StrictSchema):
    party_id = fields.String()
    percent = fields.String()


class ApplicationSchema(StrictSchema):
    id = fields.String(attribute="application.id", metadata={"description": "the team's id"})
    challenge_id = fields.String(attribute="application.challenge_id")
    applicant_id = fields.String(attribute="application.applicant_id")
    university_id = fields.String(attribute="application.university_id", allow_none=True)
    proposal = fields.String(attribute="application.proposal")
    shortlisted = fields.Method("_shortlisted")
    members = fields.List(fields.Nested(MemberOutSchema))
    journal_seq = fields.Integer(attribute="application.journal_seq")
    created_at = fields.DateTime(attribute="application.created_at", format="iso")

    def _shortlisted(self, view: Any) -> bool:
        return view.application.shortlist_position is not None


class AwardSchema(StrictSchema):
    team_id = fields.String(attribute="row.application_id")
    university_id = fields.String(attribute="application.university_id", allow_none=True)
    members = fields.List(fields.Nested(MemberOutSchema))
    ip_terms = fields.String(attribute="row.ip_terms")
    terms_hash = fields.String(attribute="row.terms_hash")
    journal_seq = fields.Integer(attribute="row.journal_seq")
    awarded_at = fields.DateTime(attribute="row.awarded_at", format="iso")


class ResultLinkSchema(StrictSchema):
    asset_id = fields.String()
    owner_id = fields.String()
    licensee_id = fields.String(allow_none=True)
    exclusivity = fields.String(allow_none=True)
    journal_seq = fields.Integer()


class ChallengeSchema(StrictSchema):
    id = fields.String(attribute="challenge.id")
    poster_id = fields.String(attribute="challenge.poster_id")
    title = fields.String(attribute="challenge.title")
    problem = fields.String(attribute="challenge.problem")
    field = fields.String(attribute="challenge.field")
    deadline = fields.DateTime(attribute="challenge.deadline", format="iso")
    bounty = fields.Method("_bounty")
    ip_terms = fields.String(attribute="challenge.ip_terms")
    status = fields.String(attribute="challenge.status")
    spec_hash = fields.String(attribute="challenge.spec_hash")
    funders = fields.Method("_funders", metadata={
        "description": "each funder's committed, held, released (paid), refunded and "
                       "remaining amounts; role is poster or matching"})
    milestones = fields.Method("_milestones")
    shortlist = fields.List(fields.String())
    applications = fields.Integer(metadata={"description": "how many teams applied"})
    award = fields.Nested(AwardSchema, allow_none=True)
    result = fields.Nested(ResultLinkSchema, allow_none=True)
    closing_reason = fields.String(attribute="challenge.closing_reason", allow_none=True)
    journal_seq = fields.Integer(attribute="challenge.journal_seq")
    entry_seq = fields.Integer(allow_none=True, metadata={
        "description": "the journal entry of the operation that returned this, if any"})
    payments = fields.Method("_payments", metadata={
        "description": "what an accepted milestone paid: funder, team party, amount"})
    refunds = fields.Method("_refunds")
    created_at = fields.DateTime(attribute="challenge.created_at", format="iso")
    updated_at = fields.DateTime(attribute="challenge.updated_at", format="iso")

    def _bounty(self, view: Any) -> dict[str, str]:
        return money_json(view.challenge.bounty_minor, view.challenge.currency)

    def _funders(self, view: Any) -> list[dict[str, Any]]:
        currency = view.challenge.currency
        return [{"party_id": f.party_id, "role": f.role, "confirmed": f.hold_seq is not None,
                 "committed": money_json(f.committed_minor, currency),
                 "held": money_json(f.held_minor, currency),
                 "released": money_json(f.released_minor, currency),
                 "refunded": money_json(f.refunded_minor, currency),
                 "remaining": money_json(f.held_minor - f.released_minor - f.refunded_minor,
                                         currency)} for f in view.funders]

    def _milestones(self, view: Any) -> list[dict[str, Any]]:
        currency = view.challenge.currency
        return [{"key": m.row.key, "title": m.row.title, "percent": m.row.percent,
                 "status": m.row.status, "reports": m.row.reports,
                 "rejections": list(m.rejections),
                 "released": money_json(m.row.released_minor, currency),
                 "accepted_seq": m.row.accepted_seq} for m in view.milestones]

    def _payments(self, view: Any) -> list[dict[str, Any]]:
        currency = view.challenge.currency
        return [{"funder_id": p.funder, "party_id": p.party,
                 "amount": money_json(p.amount, currency)} for p in view.payments]

    def _refunds(self, view: Any) -> list[dict[str, Any]]:
        currency = view.challenge.currency
        return [{"party_id": party, "amount": money_json(amount, currency)}
                for party, amount in view.refunds.items()]


class ResultSchema(StrictSchema):
    challenge_id = fields.String(attribute="result.challenge_id")
    ip_terms = fields.String()
    owner_id = fields.String(attribute="result.owner_id")
    licensee_id = fields.String(attribute="result.licensee_id", allow_none=True)
    exclusivity = fields.String(attribute="result.exclusivity", allow_none=True)
    journal_seq = fields.Integer(attribute="result.journal_seq")
    asset = fields.Nested(AssetSchema)
