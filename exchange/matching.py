"""The bridge between stored orders and the pure engine: load, match, persist."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from exchange.engine import InstrumentRules, Result
from exchange.engine import Order as BookOrder
from exchange.markets import OpenMarket
from exchange.models import Order, Trade
from exchange.settlement import execute_trade, release
from ledger.unit_of_work import UnitOfWork


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


def expire_due(uow: UnitOfWork, om: OpenMarket) -> int:
    """Expire the instrument's GTD orders whose time has come, releasing their holds."""
    due = list(uow.session.execute(
        select(Order).where(Order.instrument_id == om.instrument.id, Order.status_open,
                            Order.expires_at.is_not(None), Order.expires_at <= uow.now)
    ).scalars())
    for order in due:
        release(uow, om, order, "expired", "expired")
    return len(due)


def apply_result(
    uow: UnitOfWork, om: OpenMarket, rows: dict[str, Order], result: Result, *,
    limits: dict[str, int | None], auction: bool,
) -> list[Trade]:
    """Persist what the engine decided: trades with settlement, then order closures."""
    trades: list[Trade] = []
    for t in result.trades:
        buy, sell = rows[t.buy_order_id], rows[t.sell_order_id]
        buy_limit = limits.get(buy.id) or buy.price_ticks or t.price
        trades.append(execute_trade(uow, om, trade_no=t.trade_id, price_ticks=t.price,
                                    quantity=t.quantity, buy=buy, sell=sell,
                                    buy_limit_ticks=buy_limit, auction=auction))
        om.market.next_trade_no = t.trade_id + 1
        om.market.last_price_ticks = t.price
    cancelled = {e.order_id: e.reason for e in result.events
                 if e.kind in ("cancelled", "expired")}
    for order_id, row in rows.items():
        if not row.status_open:
            continue
        if order_id in cancelled:
            release(uow, om, row, "expired" if cancelled[order_id] == "expired" else "cancelled",
                    cancelled[order_id] or "cancelled")
        elif row.remaining == 0:
            release(uow, om, row, "filled", "filled")
        elif row.filled:
            row.status = "partially_filled"
    return trades
