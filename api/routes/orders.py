"""Orders: place, read, list and cancel one's own."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from api import auth
from api.context import caller, read_uow, uow
from api.pagination import next_link
from api.schemas.exchange import OrderCreateSchema, OrderQuerySchema, OrderSchema
from exchange.services import trading

blp = Blueprint("orders", __name__, url_prefix="/v1/orders", description="Orders")

# An instance, not the class: webargs would build a new schema for every request it parses.
ORDER_CREATE = OrderCreateSchema()


@blp.route("", methods=["POST"])
@blp.arguments(ORDER_CREATE)
@blp.response(201, OrderSchema)
@auth.required
def place(body: dict[str, Any]) -> Any:
    """Place an order. A buy holds price x quantity plus fees; a sell holds the units."""
    return trading.place_order(uow(), caller(), trading.OrderRequest(**body))


@blp.route("", methods=["GET"])
@blp.arguments(OrderQuerySchema, location="query")
@blp.response(200, OrderSchema(many=True))
@auth.required
def list_orders(query: dict[str, Any]) -> Any:
    """The caller's orders; `open=true` for resting ones only."""
    page = trading.list_orders(read_uow(), caller(), after=query["cursor"], limit=query["limit"],
                               open_only=query["open"])
    return page, 200, next_link(page, query["limit"], lambda v: v.order.id)


@blp.route("/<order_id>", methods=["GET"])
@blp.response(200, OrderSchema)
@auth.required
def get_order(order_id: str) -> Any:
    """One of the caller's orders with its fills."""
    return trading.read_order(read_uow(), caller(), order_id)


@blp.route("/<order_id>", methods=["DELETE"])
@blp.response(200, OrderSchema)
@auth.required
def cancel(order_id: str) -> Any:
    """Cancel the rest of the order and release what it holds."""
    return trading.cancel_order(uow(), caller(), order_id)
