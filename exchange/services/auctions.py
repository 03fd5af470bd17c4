"""Periodic call auctions: one uniform price clears each call market when its time comes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import bindparam, select

from exchange.engine import OrderBook
from exchange.markets import lock_market
from exchange.matching import (
    ORDERS,
    apply_result,
    book_order,
    book_rules,
    detached_orders,
    due_orders,
    expire,
)
from exchange.models import Market, Order
from exchange.settlement import Settlement
from ledger.actor import Actor
from ledger.errors import Conflict
from ledger.unit_of_work import UnitOfWork

_RESTING = (select(ORDERS).where(Order.instrument_id == bindparam("instrument"), Order.status_open)
            .order_by(Order.priority))


@dataclass(frozen=True)
class AuctionFill:
    trade_id: str
    price: Decimal
    quantity: int


@dataclass(frozen=True)
class AuctionOutcome:
    instrument_id: str
    price: Decimal | None
    quantity: int
    trades: list[AuctionFill]


def _run(uow: UnitOfWork, instrument_id: str, actor_id: str | None) -> AuctionOutcome:
    om = lock_market(uow.session, instrument_id, detached=True)
    market = om.market
    if market.market_model != "call":
        raise Conflict("this instrument trades continuously, not by call auction",
                       field="instrument_id")
    settlement = Settlement(uow, om)  # before due_orders moves the market's earliest expiry
    due = due_orders(uow, om)
    expiring = {o.id for o in due}
    rows = [o for o in detached_orders(uow.session, _RESTING, {"instrument": instrument_id})
            if o.id not in expiring]
    settlement.lock([o.party_id for o in rows] + [o.party_id for o in due])
    expire(settlement, due)
    book = OrderBook(book_rules(om), next_trade_id=market.next_trade_no)
    book.load(book_order(o) for o in rows)
    result = book.run_auction(market.last_price_ticks)
    trades = apply_result(settlement, {o.id: o for o in rows}, result, limits={}, auction=True)
    price = trades[0].price_ticks * om.tick if trades else None
    quantity = sum(t.quantity for t in trades)
    if market.auction_interval_s:
        market.next_auction_at = uow.now + timedelta(seconds=market.auction_interval_s)
    # One entry for the whole auction: its price, every trade and every order it closed.
    settlement.finish(
        "auction.run",
        {"instrument_id": instrument_id, "price": None if price is None else str(price),
         "quantity": quantity, "trades": settlement.trades, "closed": settlement.closed},
        actor=actor_id,
    )
    return AuctionOutcome(instrument_id, price, quantity,
                          [AuctionFill(t.id, t.price_ticks * om.tick, t.quantity) for t in trades])


def run_auction(uow: UnitOfWork, actor: Actor, instrument_id: str) -> AuctionOutcome:
    """The operator runs an instrument's call auction now."""
    actor.require_operator("run auctions")
    with uow:
        outcome = _run(uow, instrument_id, actor.party_id)
        uow.commit()
        return outcome


def run_due_auctions(new_uow: Callable[[], UnitOfWork]) -> list[AuctionOutcome]:
    """Run every call auction whose time has come, each in its own transaction."""
    with new_uow() as uow:
        due = list(uow.session.execute(
            select(Market.instrument_id).where(
                Market.market_model == "call", Market.halted.is_(False),
                Market.next_auction_at.is_not(None), Market.next_auction_at <= uow.now)
            .order_by(Market.instrument_id)).scalars())
    outcomes = []
    for instrument_id in due:
        with new_uow() as uow:
            outcomes.append(_run(uow, instrument_id, None))
            uow.commit()
    return outcomes
