"""Equity-for-IP deals: proposal, counter, acceptance (which executes), rejection,
withdrawal, and the later proceeds of the equity."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from api import auth
from api.context import caller, read_uow, uow
from api.pagination import next_link
from api.schemas.common import PageQuerySchema
from api.schemas.equity import (
    DealAcceptSchema,
    DealCounterSchema,
    DealCreateSchema,
    DealRejectSchema,
    DealSchema,
    DealWithdrawSchema,
    ProceedsCreateSchema,
    ProceedsSchema,
)
from contracts.services import equity_deals

blp = Blueprint("equity_deals", __name__, url_prefix="/v1", description="Equity-for-IP deals")


@blp.route("/equity-deals", methods=["POST"])
@blp.arguments(DealCreateSchema)
@blp.response(201, DealSchema)
@auth.required
def propose(body: dict[str, Any]) -> Any:
    """A start-up proposes shares (and optional cash, royalty) for a licence of a
    university's asset; refused over the university's policy cap or the authorised shares."""
    return equity_deals.propose(uow(), caller(), university_id=body["university_id"],
                                asset_id=body["asset_id"],
                                licence_terms=body["licence_terms"], terms=body["terms"])


@blp.route("/equity-deals", methods=["GET"])
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, DealSchema(many=True))
@auth.required
def list_deals(query: dict[str, Any]) -> Any:
    """The caller's deals, by id; follow the `Link: rel=next` header for more."""
    page = equity_deals.list_deals(read_uow(), caller(), after=query["cursor"],
                                   limit=query["limit"])
    return page, 200, next_link(page, query["limit"], lambda view: view.deal.id)


@blp.route("/equity-deals/<deal_id>", methods=["GET"])
@blp.response(200, DealSchema)
@auth.required
def read(deal_id: str) -> Any:
    """A deal and every recorded step, for its start-up, its university and the operator."""
    return equity_deals.read(read_uow(), caller(), deal_id)


@blp.route("/equity-deals/<deal_id>/counter", methods=["POST"])
@blp.arguments(DealCounterSchema)
@blp.response(200, DealSchema)
@auth.required
def counter(body: dict[str, Any], deal_id: str) -> Any:
    """The party the terms await answers with new terms (checked like a proposal)."""
    return equity_deals.counter(uow(), caller(), deal_id, terms=body["terms"],
                                licence_terms=body["licence_terms"])


@blp.route("/equity-deals/<deal_id>/accept", methods=["POST"])
@blp.arguments(DealAcceptSchema)
@blp.response(200, DealSchema)
@auth.required
def accept(body: dict[str, Any], deal_id: str) -> Any:
    """Accept the terms you read, by their hash: the deal executes in the same transaction
    (licence grant, share issuance as equity units, cash)."""
    return equity_deals.accept(uow(), caller(), deal_id, body["terms_hash"])


@blp.route("/equity-deals/<deal_id>/reject", methods=["POST"])
@blp.arguments(DealRejectSchema)
@blp.response(200, DealSchema)
@auth.required
def reject(body: dict[str, Any], deal_id: str) -> Any:
    """The party the terms await rejects them, with a reason; the deal ends."""
    return equity_deals.reject(uow(), caller(), deal_id, body["reason"])


@blp.route("/equity-deals/<deal_id>/withdraw", methods=["POST"])
@blp.arguments(DealWithdrawSchema)
@blp.response(200, DealSchema)
@auth.required
def withdraw(body: dict[str, Any], deal_id: str) -> Any:
    """Either party withdraws before execution."""
    return equity_deals.withdraw(uow(), caller(), deal_id, body["reason"])


@blp.route("/equity-deals/<deal_id>/proceeds", methods=["POST"])
@blp.arguments(ProceedsCreateSchema)
@blp.response(201, ProceedsSchema)
@auth.required
def proceeds(body: dict[str, Any], deal_id: str) -> Any:
    """Proceeds of the university's equity (a dividend paid by the start-up, an exit recorded
    by the operator, a sale of the units paid in by the university), distributed as revenue
    of the deal's asset by its policy."""
    money = body["amount"]
    return equity_deals.record_proceeds(uow(), caller(), deal_id, kind=body["kind"],
                                        amount=money["amount"], currency=money["currency"],
                                        reference=body["reference"])
