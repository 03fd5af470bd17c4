"""Builders shared by the engine tests."""

from __future__ import annotations

from exchange.engine import InstrumentRules, Order, OrderBook, Result
from exchange.engine.types import OrderType, Side, StpMode, TimeInForce


def order(
    oid: str, owner: str, side: Side, quantity: int, price: int | None = None, *,
    tif: TimeInForce = "GTC", type: OrderType | None = None, expires_at: int | None = None,
    post_only: bool = False, stp: StpMode = "cancel_newest", priority: int = 0,
) -> Order:
    """A new order; a market order when `price` is None (unless `type` says otherwise)."""
    kind: OrderType = type if type is not None else ("market" if price is None else "limit")
    return Order(oid, owner, side, kind, price, quantity, quantity, tif, expires_at, post_only,
                 stp, priority)


def book(**rules: object) -> OrderBook:
    return OrderBook(InstrumentRules(**rules))  # type: ignore[arg-type]


def kinds(result: Result) -> list[tuple[str, str, int, str]]:
    """Events as (kind, order_id, quantity, reason)."""
    return [(e.kind, e.order_id, e.quantity, e.reason) for e in result.events]


def fills(result: Result) -> list[tuple[int, int, str, str]]:
    """Trades as (price, quantity, buy order, sell order)."""
    return [(t.price, t.quantity, t.buy_order_id, t.sell_order_id) for t in result.trades]


def rejection(result: Result) -> str | None:
    """The reason of the result's rejection, or None if it was not rejected."""
    return result.events[-1].reason if result.rejected else None
