"""Licence units: tranches, subscriptions, closes and consumption (the units trade as an
instrument through /v1/orders)."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from api import auth
from api.context import caller, read_uow, uow
from api.schemas.licence_units import (
    ConsumptionCreateSchema,
    ConsumptionSchema,
    SubscriptionCreateSchema,
    SubscriptionSchema,
    TrancheClosedSchema,
    TrancheCreateSchema,
    TrancheSchema,
)
from contracts.services import licence_units

blp = Blueprint("licence_units", __name__, url_prefix="/v1/licence-unit-tranches",
                description="Licence units")


@blp.route("", methods=["POST"])
@blp.arguments(TrancheCreateSchema)
@blp.response(201, TrancheSchema)
@auth.required
def issue(body: dict[str, Any]) -> Any:
    """The grantor issues a tranche of units of a standard non-exclusive licence, each the
    right to make or sell `products_per_unit` products, at a fixed price per unit, open for
    subscription until `closes_at`. Its instrument is created now; its units at the close."""
    price = body["price"]
    return licence_units.issue_tranche(
        uow(), caller(), body["terms"], units=body["units"],
        products_per_unit=body["products_per_unit"], price=price["amount"],
        currency=price["currency"], closes_at=body["closes_at"])


@blp.route("/<tranche_id>", methods=["GET"])
@blp.response(200, TrancheSchema)
def read(tranche_id: str) -> Any:
    """A tranche: its terms hash, size, units sold, price, status and instrument."""
    return licence_units.read_tranche(read_uow(), tranche_id)


@blp.route("/<tranche_id>/subscriptions", methods=["POST"])
@blp.arguments(SubscriptionCreateSchema)
@blp.response(201, SubscriptionSchema)
@auth.required
def subscribe(body: dict[str, Any], tranche_id: str) -> Any:
    """Subscribe for units: their price is held from your available cash and paid at the
    close. The subscription that sells the last unit closes the tranche."""
    return licence_units.subscribe(uow(), caller(), tranche_id, body["units"])


@blp.route("/<tranche_id>/close", methods=["POST"])
@blp.response(200, TrancheClosedSchema)
@auth.required
def close(tranche_id: str) -> Any:
    """The grantor or the operator closes a tranche once its end has passed: subscribers pay,
    the money is distributed as the asset's revenue, and the units are issued."""
    return licence_units.close_tranche(uow(), caller(), tranche_id)


@blp.route("/<tranche_id>/consumptions", methods=["POST"])
@blp.arguments(ConsumptionCreateSchema)
@blp.response(201, ConsumptionSchema)
@auth.required
def consume(body: dict[str, Any], tranche_id: str) -> Any:
    """Report products made or sold under the licence: the units they use are burned from
    your free units (not those held for open orders)."""
    return licence_units.consume_units(uow(), caller(), tranche_id, body["products"])
