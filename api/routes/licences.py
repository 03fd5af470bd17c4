"""Licences: offers, acceptance, grants (and their ODRL form), royalty reports, invoices."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask_smorest import Blueprint

from api import auth
from api.context import caller, read_uow, uow
from api.schemas.licences import (
    AcceptanceSchema,
    AcceptSchema,
    GrantSchema,
    GrantTerminateSchema,
    InvoiceSchema,
    LateQuerySchema,
    LateReportSchema,
    MilestoneCreateSchema,
    OfferCreateSchema,
    OfferReviseSchema,
    OfferSchema,
    PaymentSchema,
    RoyaltyReportCreateSchema,
    RoyaltyReportSchema,
    SublicenceIncomeSchema,
)
from contracts.services import licences
from ledger.currency import parse_amount, positive_minor, to_minor
from ledger.errors import InvalidInput

blp = Blueprint("licences", __name__, url_prefix="/v1", description="Licences")


@blp.route("/licence-offers", methods=["POST"])
@blp.arguments(OfferCreateSchema)
@blp.response(201, OfferSchema)
@auth.required
def publish(body: dict[str, Any]) -> Any:
    """The grantor publishes licence terms for its assets (fixed, or open to negotiation)."""
    return licences.publish_offer(uow(), caller(), body["terms"], body["negotiable"])


@blp.route("/licence-offers/<offer_id>", methods=["GET"])
@blp.response(200, OfferSchema)
def read_offer(offer_id: str) -> Any:
    """An offer and the hash of its current terms: what a party accepts."""
    return licences.read_offer(read_uow(), offer_id)


@blp.route("/licence-offers/<offer_id>/terms", methods=["PUT"])
@blp.arguments(OfferReviseSchema)
@blp.response(200, OfferSchema)
@auth.required
def revise(body: dict[str, Any], offer_id: str) -> Any:
    """Propose new terms for a negotiable offer (a company applies by naming itself)."""
    return licences.revise_offer(uow(), caller(), offer_id, body["terms"])


@blp.route("/licence-offers/<offer_id>/accept", methods=["POST"])
@blp.arguments(AcceptSchema)
@blp.response(200, AcceptanceSchema)
@auth.required
def accept(body: dict[str, Any], offer_id: str) -> Any:
    """Accept the terms you read, by their hash; when both sides have, the grant executes."""
    return licences.accept_offer(uow(), caller(), offer_id, body["terms_hash"])


@blp.route("/licences/<grant_id>", methods=["GET"])
@blp.response(200, GrantSchema)
@auth.required
def read_grant(grant_id: str) -> Any:
    """A licence, for its grantor, its licensee and the operator."""
    return licences.read_grant(read_uow(), caller(), grant_id)


@blp.route("/licences/<grant_id>/odrl", methods=["GET"])
@blp.response(200)
@auth.required
def odrl(grant_id: str) -> Any:
    """The licence as an ODRL 2.2 JSON-LD Agreement."""
    return licences.grant_odrl(read_uow(), caller(), grant_id)


@blp.route("/licences/<grant_id>/terminate", methods=["POST"])
@blp.arguments(GrantTerminateSchema)
@blp.response(200, GrantSchema)
@auth.required
def terminate(body: dict[str, Any], grant_id: str) -> Any:
    """The grantor, the licensee or the operator ends an active licence, giving a reason;
    invoices already issued stay payable."""
    return licences.terminate_grant(uow(), caller(), grant_id, body["reason"])


def _minor(money: dict[str, Any], field: str) -> tuple[int, str]:
    return to_minor(parse_amount(money["amount"], money["currency"], field=field),
                    money["currency"]), money["currency"]


@blp.route("/licences/<grant_id>/royalty-reports", methods=["POST"])
@blp.arguments(RoyaltyReportCreateSchema)
@blp.response(201, RoyaltyReportSchema)
@auth.required
def report(body: dict[str, Any], grant_id: str) -> Any:
    """The licensee reports net sales for one period; the royalty due becomes an invoice."""
    lines = body["lines"]
    if lines is not None:
        amounts = [_minor(ln["net_sales"], f"lines[{i}].net_sales.amount")
                   for i, ln in enumerate(lines)]
        if len({c for _, c in amounts}) != 1:
            raise InvalidInput("report every line in the licence's currency", field="lines")
        net, currency = sum(a for a, _ in amounts), amounts[0][1]
        detail = [{"territory": ln["territory"], "product": ln["product"],
                   "net_sales": str(ln["net_sales"]["amount"])} for ln in lines]
    else:
        (net, currency), detail = _minor(body["net_sales"], "net_sales.amount"), []
    if net < 0:
        raise InvalidInput("net sales cannot be negative", field="net_sales")
    third = 0
    if body["third_party_royalties"] is not None:
        third, other = _minor(body["third_party_royalties"], "third_party_royalties.amount")
        if other != currency:
            raise InvalidInput("must be in the report's currency",
                               field="third_party_royalties.currency")
    return licences.report_royalties(uow(), caller(), grant_id, body["period_start"],
                                     body["period_end"], net, third, detail, currency)


@blp.route("/licences/<grant_id>/milestones", methods=["POST"])
@blp.arguments(MilestoneCreateSchema)
@blp.response(201, InvoiceSchema)
@auth.required
def milestone(body: dict[str, Any], grant_id: str) -> Any:
    """The licensee reports a milestone reached; its payment becomes an invoice."""
    return licences.report_milestone(uow(), caller(), grant_id, body["event"])


@blp.route("/licences/<grant_id>/sublicence-income", methods=["POST"])
@blp.arguments(SublicenceIncomeSchema)
@blp.response(201, InvoiceSchema)
@auth.required
def sublicence_income(body: dict[str, Any], grant_id: str) -> Any:
    """The licensee reports income from its sublicences; the grantor's share is invoiced."""
    income = positive_minor(body["income"]["amount"], body["income"]["currency"],
                            field="income.amount")
    return licences.report_sublicence_income(uow(), caller(), grant_id, income,
                                             body["income"]["currency"], body["reference"])


@blp.route("/invoices", methods=["GET"])
@blp.response(200, InvoiceSchema(many=True))
@auth.required
def invoices() -> Any:
    """Invoices the caller pays or is paid."""
    return licences.list_invoices(read_uow(), caller())


@blp.route("/invoices/<invoice_id>/pay", methods=["POST"])
@blp.response(200, PaymentSchema)
@auth.required
def pay(invoice_id: str) -> Any:
    """The licensee pays from its cash (the operator records a payment made outside); the
    money is distributed to the licence's assets' holders in the same transaction."""
    return licences.pay_invoice(uow(), caller(), invoice_id)


@blp.route("/licences/late-reports", methods=["GET"])
@blp.arguments(LateQuerySchema, location="query")
@blp.response(200, LateReportSchema(many=True))
@auth.required
def late_reports(query: dict[str, Any]) -> Any:
    """For a grantor: royalty reports late or missing on its active licences."""
    return licences.late_reports(read_uow(), caller(), query["as_of"] or date.today())
