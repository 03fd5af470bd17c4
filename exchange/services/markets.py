"""Instruments as markets: their rules (set by the operator), books, trades and last prices."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, literal, select, union_all

from exchange.markets import lock_market, read_market
from exchange.models import Market, Order, Trade
from ledger.actor import Actor
from ledger.clock import isoformat
from ledger.currency import exponent, format_minor, parse_amount, to_minor
from ledger.errors import InvalidInput, NotFound
from ledger.models import Instrument
from ledger.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class InstrumentView:
    id: str
    asset_id: str
    unit_class: str
    currency: str
    total_units: int
    tick_size: str
    lot_size: int
    min_order_value: str
    band_bps: int | None
    fee_bps: int
    market_model: str
    auction_interval_s: int | None
    next_auction_at: datetime | None
    halted: bool
    last_price: Decimal | None


def _view(instrument: Instrument, market: Market) -> InstrumentView:
    tick = Decimal(market.tick_size)
    return InstrumentView(
        instrument.id, instrument.asset_id, instrument.unit_class, instrument.currency,
        instrument.total_units, market.tick_size, market.lot_size,
        format_minor(market.min_order_value_minor, instrument.currency), market.band_bps,
        market.fee_bps, market.market_model, market.auction_interval_s, market.next_auction_at,
        market.halted,
        None if market.last_price_ticks is None else market.last_price_ticks * tick,
    )


def get_instrument(uow: UnitOfWork, instrument_id: str) -> InstrumentView:
    with uow:
        instrument = uow.session.get(Instrument, instrument_id)
        if instrument is None:
            raise NotFound(f"no instrument '{instrument_id}'", field="id")
        return _view(instrument, read_market(uow.session, instrument))


def list_instruments(uow: UnitOfWork, *, after: str | None, limit: int,
                     asset_id: str | None = None) -> list[InstrumentView]:
    with uow:
        query = select(Instrument).order_by(Instrument.id).limit(limit)
        if after:
            query = query.where(Instrument.id > after)
        if asset_id:
            query = query.where(Instrument.asset_id == asset_id)
        return [_view(i, read_market(uow.session, i))
                for i in uow.session.execute(query).scalars()]


def configure_market(uow: UnitOfWork, actor: Actor, instrument_id: str,
                     changes: dict[str, Any]) -> InstrumentView:
    """The operator sets an instrument's trading rules; every change is journalled."""
    actor.require_operator("configure markets")
    with uow:
        om = lock_market(uow.session, instrument_id, for_trading=False)
        market, currency = om.market, om.instrument.currency
        if "tick_size" in changes:
            tick = parse_amount(changes["tick_size"], currency, field="tick_size")
            if tick <= 0:
                raise InvalidInput("tick_size must be greater than zero", field="tick_size")
            has_open = uow.session.execute(select(func.count()).select_from(Order).where(
                Order.instrument_id == instrument_id, Order.status_open)).scalar_one()
            if has_open and Decimal(market.tick_size) != tick:
                raise InvalidInput("cannot change the tick size while orders rest",
                                   field="tick_size")
            # Ticks must be whole minor units so that every amount stays an exact integer.
            market.tick_size = str(tick.quantize(Decimal(1).scaleb(-exponent(currency))))
        if "min_order_value" in changes:
            value = parse_amount(changes["min_order_value"], currency, field="min_order_value")
            if value < 0:
                raise InvalidInput("must not be negative", field="min_order_value")
            market.min_order_value_minor = to_minor(value, currency)
        for name in ("lot_size", "band_bps", "fee_bps", "market_model", "auction_interval_s",
                     "halted"):
            if name in changes:
                setattr(market, name, changes[name])
        if market.market_model == "call" and market.auction_interval_s:
            market.next_auction_at = market.next_auction_at or (
                uow.now + timedelta(seconds=market.auction_interval_s))
        else:
            market.next_auction_at = None
        view = _view(om.instrument, market)
        uow.journal.append(
            "market.configured",
            {"instrument_id": instrument_id, "tick_size": view.tick_size,
             "lot_size": view.lot_size, "min_order_value": view.min_order_value,
             "band_bps": view.band_bps, "fee_bps": view.fee_bps,
             "market_model": view.market_model, "auction_interval_s": view.auction_interval_s,
             "next_auction_at": None if view.next_auction_at is None
             else isoformat(view.next_auction_at), "halted": view.halted},
            actor=actor.party_id,
        )
        uow.commit()
        return view


@dataclass(frozen=True)
class Level:
    price: Decimal
    quantity: int


def order_book(uow: UnitOfWork, instrument_id: str, depth: int) -> tuple[list[Level], list[Level]]:
    """Resting quantity aggregated by price: bids best (highest) first, asks lowest first."""
    with uow:
        instrument = uow.session.get(Instrument, instrument_id)
        if instrument is None:
            raise NotFound(f"no instrument '{instrument_id}'", field="id")
        tick = Decimal(read_market(uow.session, instrument).tick_size)
        # Both sides in one statement (one round trip less per read of the book).
        best = [select(literal(side).label("side"), Order.price_ticks,
                       func.sum(Order.remaining).label("quantity"))
                .where(Order.instrument_id == instrument_id, Order.status_open,
                       Order.side == side)
                .group_by(Order.price_ticks).order_by(order).limit(depth).subquery()
                for side, order in (("buy", Order.price_ticks.desc()),
                                    ("sell", Order.price_ticks.asc()))]
        sides: dict[str, list[Level]] = {"buy": [], "sell": []}
        for side, price, quantity in uow.session.execute(
                union_all(*(select(*levels.c) for levels in best))):
            sides[side].append(Level(price * tick, int(quantity)))
        # Each side best first (a union keeps no order of its own).
        sides["buy"].sort(key=lambda level: -level.price)
        sides["sell"].sort(key=lambda level: level.price)
        return sides["buy"], sides["sell"]


@dataclass(frozen=True)
class TradeView:
    id: str
    trade_no: int
    price: Decimal
    quantity: int
    at: datetime
    auction: bool
    journal_seq: int


def recent_trades(uow: UnitOfWork, instrument_id: str, *, before: int | None,
                  limit: int) -> list[TradeView]:
    """Trades newest first; `before` is a trade number cursor."""
    with uow:
        instrument = uow.session.get(Instrument, instrument_id)
        if instrument is None:
            raise NotFound(f"no instrument '{instrument_id}'", field="id")
        tick = Decimal(read_market(uow.session, instrument).tick_size)
        query = (select(Trade).where(Trade.instrument_id == instrument_id)
                 .order_by(Trade.trade_no.desc()).limit(limit))
        if before is not None:
            query = query.where(Trade.trade_no < before)
        return [TradeView(t.id, t.trade_no, t.price_ticks * tick, t.quantity, t.at, t.auction,
                          t.journal_seq) for t in uow.session.execute(query).scalars()]
