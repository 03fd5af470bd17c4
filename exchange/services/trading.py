"""Orders: one transaction each. Lock the instrument, load only the resting orders that can
cross, match with the pure engine, settle every fill, and journal it all as one entry just
before commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Executable, Integer, and_, bindparam, or_, select
from sqlalchemy.orm import Session

from exchange.cash import buy_hold, notional
from exchange.engine import OrderBook
from exchange.markets import OpenMarket, lock_market, read_market, save_market_state
from exchange.matching import (
    ORDERS,
    apply_result,
    book_order,
    book_rules,
    detached_orders,
    due_orders,
    epoch_ms,
    expire,
    note_expiry,
)
from exchange.models import Order, Trade
from exchange.settlement import Settlement, order_json
from ledger.actor import Actor
from ledger.currency import format_minor, parse_amount
from ledger.errors import Conflict, InvalidInput, NotFound
from ledger.ids import new_id
from ledger.models import Instrument
from ledger.unit_of_work import UnitOfWork

PAGE = 200
# Most orders fill against the first few resting ones: a small first page saves loading (and
# building ORM objects for) up to PAGE orders that stay untouched; later pages grow to PAGE.
FIRST_PAGE = 8
REJECTIONS = {
    "post_only_would_cross": ("a post-only order would trade on entry", "post_only"),
    "fok_unfillable": ("a fill-or-kill order cannot be filled in full now", "time_in_force"),
    "no_liquidity": ("there is nothing to trade against on the other side", "type"),
    "off_lot": ("quantity must be a multiple of the lot size", "quantity"),
    "below_min_notional": ("the order is below the minimum order value", "quantity"),
    "expired": ("expires_at is already in the past", "expires_at"),
    "invalid": ("the order is not valid for this market", "body"),
}


@dataclass(frozen=True)
class OrderRequest:
    instrument_id: str
    side: str
    type: str
    quantity: int
    time_in_force: str = "GTC"
    price: Decimal | None = None
    expires_at: datetime | None = None
    post_only: bool = False
    stp: str = "cancel_newest"
    client_order_id: str | None = None


@dataclass(frozen=True)
class Fill:
    trade_id: str
    price: Decimal
    quantity: int


@dataclass(frozen=True)
class OrderView:
    order: Order
    price: Decimal | None
    fills: list[Fill]


def _price_ticks(om: OpenMarket, price: Decimal) -> int:
    value = parse_amount(price, om.instrument.currency, field="price")
    if value <= 0:
        raise InvalidInput("price must be greater than zero", field="price")
    ticks = value / om.tick
    if ticks != ticks.to_integral_value():
        raise InvalidInput(f"price must be a multiple of the tick size {om.tick}", field="price")
    return int(ticks)


_BOOK_QUERIES: dict[tuple[str, bool, bool, bool, bool], Executable] = {}


def _book_query(side: str, limit: bool, after: bool, owner: bool, count: bool) -> Executable:
    """One side's resting orders in price-time priority, built once per shape."""
    key = (side, limit, after, owner, count)
    query = _BOOK_QUERIES.get(key)
    if query is None:
        q = select(ORDERS).where(Order.instrument_id == bindparam("instrument"),
                                 Order.status_open, Order.side == side)
        if owner:
            q = q.where(Order.party_id == bindparam("owner"))
        if limit:
            q = q.where(Order.price_ticks <= bindparam("limit") if side == "sell"
                        else Order.price_ticks >= bindparam("limit"))
        if after:
            better = (Order.price_ticks > bindparam("after_price") if side == "sell"
                      else Order.price_ticks < bindparam("after_price"))
            q = q.where(or_(better, and_(Order.price_ticks == bindparam("after_price"),
                                         Order.priority > bindparam("after_priority"))))
        price_order = Order.price_ticks.asc() if side == "sell" else Order.price_ticks.desc()
        q = q.order_by(price_order, Order.priority.asc())
        if count:
            q = q.limit(bindparam("count", type_=Integer(), literal_execute=True))
        query = _BOOK_QUERIES[key] = q
    return query


def _open_orders(session: Session, instrument_id: str, side: str, *, limit_ticks: int | None,
                 after: tuple[int, int] | None, count: int | None,
                 owner: str | None = None) -> list[Order]:
    """Resting orders of one side in price-time priority, optionally only those that cross."""
    params: dict[str, Any] = {"instrument": instrument_id, "owner": owner,
                              "limit": limit_ticks, "count": count}
    if after is not None:
        params["after_price"], params["after_priority"] = after
    query = _book_query(side, limit_ticks is not None, after is not None, owner is not None,
                        count is not None)
    return detached_orders(session, query, params)


def _crossing(session: Session, om: OpenMarket, side: str, limit_ticks: int | None,
              owner: str, quantity: int, expiring: set[str]) -> list[Order]:
    """Load opposite orders page by page until others' quantity covers the order (orders
    about to expire are left out)."""
    other = "sell" if side == "buy" else "buy"
    loaded: list[Order] = []
    covered = 0
    after: tuple[int, int] | None = None
    count = FIRST_PAGE
    while covered < quantity:
        page = _open_orders(session, om.instrument.id, other, limit_ticks=limit_ticks,
                            after=after, count=count)
        loaded += [o for o in page if o.id not in expiring]
        covered += sum(o.remaining for o in page
                       if o.party_id != owner and o.id not in expiring)
        if len(page) < count:
            break
        count = min(count * 4, PAGE)
        last = page[-1]
        after = (last.price_ticks or 0, last.priority)
    return loaded


def _market_limit(om: OpenMarket, side: str, resting: list[Order], owner: str,
                  quantity: int) -> int:
    """The worst price a market order may trade at: the protection band around the best
    opposite price at arrival or, with no band, the price that completes its quantity."""
    others = [o for o in resting if o.party_id != owner]
    if not others:
        raise Conflict("there is nothing to trade against on the other side", field="type")
    best = others[0].price_ticks or 0
    band = om.market.band_bps
    if band is not None:
        width = best * band // 10_000
        return best + width if side == "buy" else max(best - width, 1)
    covered, limit = 0, best
    for order in others:
        covered += order.remaining
        limit = order.price_ticks or limit
        if covered >= quantity:
            break
    return limit


def place_order(uow: UnitOfWork, actor: Actor, request: OrderRequest) -> OrderView:
    """Validate, hold, match, settle and journal one order, atomically."""
    with uow:
        om = lock_market(uow.session, request.instrument_id, detached=True)
        market = om.market
        session = uow.session
        if request.type == "limit":
            if request.price is None:
                raise InvalidInput("a limit order needs a price", field="price")
            price_ticks: int | None = _price_ticks(om, request.price)
        else:
            if request.price is not None:
                raise InvalidInput("a market order takes no price", field="price")
            if market.market_model == "call":
                raise InvalidInput("call auctions take limit orders only", field="type")
            price_ticks = None
        if request.quantity % market.lot_size:
            raise InvalidInput(f"quantity must be a multiple of the lot size {market.lot_size}",
                               field="quantity")
        if request.time_in_force == "GTD":
            if request.expires_at is None:
                raise InvalidInput("a GTD order needs expires_at", field="expires_at")
            if request.expires_at <= uow.now:
                raise InvalidInput("expires_at is already in the past", field="expires_at")
        elif request.expires_at is not None:
            raise InvalidInput("only GTD orders take expires_at", field="expires_at")
        if market.market_model == "call" and request.time_in_force in ("IOC", "FOK"):
            raise InvalidInput("call auctions take GTC and GTD orders only",
                               field="time_in_force")
        if price_ticks is not None and (
                notional(price_ticks, request.quantity, om.tick_minor)
                < market.min_order_value_minor):
            raise InvalidInput("the order is below the minimum order value", field="quantity")

        # Before anything changes the market: the settlement writes it back if it changed.
        settlement = Settlement(uow, om)
        due = due_orders(uow, om)
        expiring = {o.id for o in due}
        continuous = market.market_model == "continuous"
        if continuous:
            resting = _crossing(session, om, request.side, price_ticks, actor.party_id,
                                request.quantity, expiring)
        else:
            # A call market matches only at its auction; now only the caller's own crossing
            # orders matter, for self-trade prevention at entry.
            resting = _open_orders(session, om.instrument.id,
                                   "sell" if request.side == "buy" else "buy",
                                   limit_ticks=price_ticks, after=None, count=None,
                                   owner=actor.party_id)
            resting = [o for o in resting if o.id not in expiring]
        limit_ticks = price_ticks
        if request.type == "market":
            # A market order never trades through its band: it only sees orders inside it.
            limit_ticks = _market_limit(om, request.side, resting, actor.party_id,
                                        request.quantity)
            resting = [o for o in resting if ((o.price_ticks or 0) <= limit_ticks
                                              if request.side == "buy"
                                              else (o.price_ticks or 0) >= limit_ticks)]

        order = Order(
            id=new_id("ord"), instrument_id=om.instrument.id, party_id=actor.party_id,
            client_order_id=request.client_order_id, side=request.side, type=request.type,
            price_ticks=price_ticks, quantity=request.quantity, remaining=request.quantity,
            filled=0, time_in_force=request.time_in_force, expires_at=request.expires_at,
            post_only=request.post_only, stp=request.stp, priority=market.next_priority,
            status="open", status_open=True, reason=None, hold_minor=0,
            created_at=uow.now, updated_at=uow.now,
        )
        market.next_priority += 1
        note_expiry(om, order.expires_at)

        # Matched first (the engine is pure; the market's lock keeps the book still), so that
        # only what the result touches is locked: an order that rests locks its owner's cash
        # or units, not both, and the fee account only when something trades.
        book = OrderBook(book_rules(om), next_trade_id=market.next_trade_no)
        book.load(book_order(o) for o in resting)
        incoming = book_order(order)
        if request.type == "market":
            incoming.price = None
        result = book.submit(incoming, epoch_ms(uow.now) or 0)
        for event in result.events:
            if event.kind == "rejected" and event.order_id == order.id:
                detail, field = REJECTIONS.get(event.reason or "invalid", REJECTIONS["invalid"])
                raise Conflict(detail, field=field)
        rows = {o.id: o for o in [*resting, order]}

        settlement.lock_for([order, *due, *(rows[i] for i in result.touched)], result.trades)
        expire(settlement, due)
        cash = (buy_hold(limit_ticks or 0, request.quantity, om.tick_minor, market.fee_bps)
                if request.side == "buy" else 0)
        settlement.hold(order, cash)
        settlement.add(order)

        fills = apply_result(settlement, rows, result,
                             limits={order.id: limit_ticks}, auction=False)
        currency = om.instrument.currency
        # One entry for the whole command: the order and its hold, every trade it made, and
        # every order it closed (its own, filled makers, expired ones), with the net postings
        # and unit moves.
        settlement.finish("order.placed", {
            **order_json(order, om),
            "hold": format_minor(cash, currency) if request.side == "buy" else None,
            "trades": settlement.trades, "closed": settlement.closed,
        }, actor=actor.party_id)
        uow.commit()
        return OrderView(order, None if price_ticks is None else price_ticks * om.tick,
                         [Fill(t.id, t.price_ticks * om.tick, t.quantity) for t in fills])


_ORDER_BY_ID = select(ORDERS).where(Order.id == bindparam("id"))


def _own_order(session: Session, actor: Actor, order_id: str) -> Order:
    found = detached_orders(session, _ORDER_BY_ID, {"id": order_id})
    if not found or found[0].party_id != actor.party_id:
        # Someone else's order is indistinguishable from a missing one.
        raise NotFound(f"no order '{order_id}'", field="id")
    return found[0]


def cancel_order(uow: UnitOfWork, actor: Actor, order_id: str) -> OrderView:
    """Cancel the rest of one's own order and release what it holds."""
    with uow:
        order = _own_order(uow.session, actor, order_id)
        om = lock_market(uow.session, order.instrument_id, for_trading=False, detached=True)
        order = _own_order(uow.session, actor, order_id)  # again, now under the market's lock
        if not order.status_open:
            raise Conflict(f"the order is already {order.status}", field="id")
        settlement = Settlement(uow, om)
        settlement.lock([order.party_id])
        record = settlement.close(order, "cancelled", "user")
        settlement.finish("order.closed", record, actor=None)
        uow.commit()
        return _view(uow.session, om, order)


def _view(session: Session, om: OpenMarket, order: Order) -> OrderView:
    trades = session.execute(
        select(Trade).where(or_(Trade.buy_order_id == order.id, Trade.sell_order_id == order.id))
        .order_by(Trade.trade_no)).scalars()
    return OrderView(order, None if order.price_ticks is None else order.price_ticks * om.tick,
                     [Fill(t.id, t.price_ticks * om.tick, t.quantity) for t in trades])


def read_order(uow: UnitOfWork, actor: Actor, order_id: str) -> OrderView:
    with uow:
        order = _own_order(uow.session, actor, order_id)
        return _view(uow.session, _market_view(uow.session, order.instrument_id), order)


def _market_view(session: Session, instrument_id: str) -> OpenMarket:
    instrument = session.get_one(Instrument, instrument_id)
    return OpenMarket(instrument, read_market(session, instrument))


def list_orders(uow: UnitOfWork, actor: Actor, *, after: str | None, limit: int,
                open_only: bool = False) -> list[OrderView]:
    """The caller's orders, newest id last, after the cursor."""
    with uow:
        query = select(Order).where(Order.party_id == actor.party_id).order_by(Order.id)
        if after:
            query = query.where(Order.id > after)
        if open_only:
            query = query.where(Order.status_open)
        rows = list(uow.session.execute(query.limit(limit)).scalars())
        markets: dict[str, OpenMarket] = {}
        views = []
        for row in rows:
            if row.instrument_id not in markets:
                markets[row.instrument_id] = _market_view(uow.session, row.instrument_id)
            views.append(_view(uow.session, markets[row.instrument_id], row))
        return views


def expire_due_orders(uow: UnitOfWork) -> int:
    """Expire every GTD order whose time has come, on every instrument."""
    with uow:
        instruments = list(uow.session.execute(
            select(Order.instrument_id).where(Order.status_open, Order.expires_at.is_not(None),
                                              Order.expires_at <= uow.now).distinct()
        ).scalars())
        expired = 0
        for instrument_id in sorted(instruments):
            om = lock_market(uow.session, instrument_id, for_trading=False, detached=True)
            settlement = Settlement(uow, om)
            due = due_orders(uow, om)
            if not due:
                save_market_state(uow.session.connection(), om.market)  # its expiry moved on
                continue
            settlement.lock(o.party_id for o in due)
            expired += expire(settlement, due)
            settlement.finish("orders.expired", {"instrument_id": instrument_id,
                                                 "closed": settlement.closed}, actor=None)
        uow.commit()
        return expired
