"""The bridge between stored orders and the pure engine: load, match, persist."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Executable, bindparam, func, select
from sqlalchemy.orm import Session

from exchange.engine import InstrumentRules, Result
from exchange.engine import Order as BookOrder
from exchange.markets import OpenMarket
from exchange.models import Order
from exchange.settlement import Executed, Settlement
from ledger.db import detached_rows
from ledger.unit_of_work import UnitOfWork

ORDERS = Order.__table__
_ORDER_COLUMNS = [c.key for c in ORDERS.columns]
_DUE = select(ORDERS).where(Order.instrument_id == bindparam("instrument"), Order.status_open,
                            Order.expires_at.is_not(None), Order.expires_at <= bindparam("now"))
_NEXT_EXPIRY = select(func.min(Order.expires_at)).where(
    Order.instrument_id == bindparam("instrument"), Order.status_open,
    Order.expires_at.is_not(None), Order.expires_at > bindparam("now"))


def detached_orders(session: Session, statement: Executable,
                    params: dict[str, Any]) -> list[Order]:
    """Orders read with one Core statement (selecting every column of `orders`) as objects
    outside the session: no ORM loading or change tracking; a `Settlement` writes what changes."""
    return detached_rows(Order, _ORDER_COLUMNS, session.connection().execute(statement, params))


def epoch_ms(at: datetime | None) -> int | None:
    """Engine time: integer milliseconds since the epoch."""
    return None if at is None else int(at.timestamp() * 1000)


def book_order(row: Order) -> BookOrder:
    return BookOrder(
        id=row.id, owner=row.party_id, side=row.side, type=row.type,  # type: ignore[arg-type]
        price=row.price_ticks, quantity=row.quantity, remaining=row.remaining,
        tif=row.time_in_force, expires_at=epoch_ms(row.expires_at),  # type: ignore[arg-type]
        post_only=row.post_only, stp=row.stp, priority=row.priority,  # type: ignore[arg-type]
    )


def book_rules(om: OpenMarket) -> InstrumentRules:
    market = om.market
    min_ticks = -(-market.min_order_value_minor // om.tick_minor)  # ceil: value in ticks*units
    return InstrumentRules(lot_size=market.lot_size, min_notional=min_ticks, band_ticks=None,
                           market_model=market.market_model)  # type: ignore[arg-type]


def due_orders(uow: UnitOfWork, om: OpenMarket) -> list[Order]:
    """The instrument's GTD orders whose time has come, which the caller closes with `expire`
    in this command; the market's `earliest_expiry_at` then moves to the earliest expiry of
    the open GTD orders left."""
    market, now = om.market, uow.now
    if market.earliest_expiry_at is None or market.earliest_expiry_at > now:
        return []  # every open GTD order expires at or after earliest_expiry_at
    params = {"instrument": om.instrument.id, "now": now}
    due = detached_orders(uow.session, _DUE, params)
    market.earliest_expiry_at = uow.session.connection().execute(_NEXT_EXPIRY, params).scalar()
    return due


def note_expiry(om: OpenMarket, expires_at: datetime | None) -> None:
    """Keep the market's `earliest_expiry_at` at or before a new order's expiry."""
    earliest = om.market.earliest_expiry_at
    if expires_at is not None and (earliest is None or expires_at < earliest):
        om.market.earliest_expiry_at = expires_at


def expire(settlement: Settlement, due: list[Order]) -> int:
    """Expire the given orders, releasing their holds, in the settlement's command."""
    for order in due:
        settlement.close(order, "expired", "expired")
    return len(due)


def apply_result(
    settlement: Settlement, rows: dict[str, Order], result: Result, *,
    limits: dict[str, int | None], auction: bool,
) -> list[Executed]:
    """Settle what the engine decided: trades with delivery versus payment, then order
    closures, all into the command's settlement."""
    market = settlement.om.market
    trades: list[Executed] = []
    for t in result.trades:
        buy, sell = rows[t.buy_order_id], rows[t.sell_order_id]
        buy_limit = limits.get(buy.id) or buy.price_ticks or t.price
        trades.append(settlement.fill(trade_no=t.trade_id, price_ticks=t.price,
                                      quantity=t.quantity, buy=buy, sell=sell,
                                      buy_limit_ticks=buy_limit, auction=auction))
        market.next_trade_no = t.trade_id + 1
        market.last_price_ticks = t.price
    cancelled = {e.order_id: e.reason for e in result.events
                 if e.kind in ("cancelled", "expired")}
    for order_id, row in rows.items():
        if not row.status_open:
            continue
        if order_id in cancelled:
            settlement.close(row, "expired" if cancelled[order_id] == "expired" else "cancelled",
                             cancelled[order_id] or "cancelled")
        elif row.remaining == 0:
            settlement.close(row, "filled", "filled")
        elif row.filled:
            row.status = "partially_filled"
    return trades
