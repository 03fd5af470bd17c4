"""The market store: each instrument's trading rules, created with defaults on first use."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.orm import Session

from exchange.models import Market
from ledger.currency import exponent
from ledger.db import detached_rows, insert_missing
from ledger.errors import Conflict, NotFound
from ledger.models import Instrument

DEFAULTS = {
    "tick_size": "0.01",
    "lot_size": 1,
    "min_order_value_minor": 0,
    "band_bps": None,
    "fee_bps": 0,
    "market_model": "continuous",
    "auction_interval_s": None,
    "next_auction_at": None,
    "halted": False,
    "last_price_ticks": None,
    "next_priority": 1,
    "next_trade_no": 1,
    "earliest_expiry_at": None,
}


@dataclass(frozen=True)
class OpenMarket:
    """An instrument and its market, locked for the rest of the transaction."""

    instrument: Instrument
    market: Market

    @property
    def tick(self) -> Decimal:
        return Decimal(self.market.tick_size)

    @property
    def tick_minor(self) -> int:
        """A tick in minor units of the currency (always a whole number, by validation)."""
        return int(self.tick.scaleb(exponent(self.instrument.currency)))


# The instrument and its locked market in one statement: the common case on every order.
_LOCK_OPEN_MARKET = (select(Instrument.__table__, Market.__table__)
                     .join_from(Instrument.__table__, Market.__table__,
                                Market.instrument_id == Instrument.id)
                     .where(Instrument.id == bindparam("instrument"))
                     .with_for_update(of=Market.__table__))
_INSTRUMENT_COLUMNS = [c.key for c in Instrument.__table__.columns]
_MARKET_COLUMNS = [c.key for c in Market.__table__.columns]
MARKET_STATE = ("next_priority", "next_trade_no", "last_price_ticks", "next_auction_at",
                 "earliest_expiry_at")
_SAVE_MARKET = (update(Market.__table__).where(Market.instrument_id == bindparam("key"))
                .values({k: bindparam(k) for k in MARKET_STATE}))


def market_state(market: Market) -> tuple[object, ...]:
    """What trading changes in a market row (see `save_market_state`)."""
    return tuple(getattr(market, k) for k in MARKET_STATE)


def save_market_state(connection: Connection, market: Market) -> None:
    """Write what trading changes in a detached market row (from `lock_market(detached=True)`)
    on the transaction's connection."""
    connection.execute(_SAVE_MARKET, {"key": market.instrument_id,
                                      **{k: getattr(market, k) for k in MARKET_STATE}})


def lock_market(session: Session, instrument_id: str, *, for_trading: bool = True,
                detached: bool = False) -> OpenMarket:
    """Lock the instrument's market row (creating it with defaults) for this transaction.

    The row lock is what serialises matching per instrument across API processes. `detached`
    gives objects outside the session (read with one Core statement, no ORM loading): the
    caller writes what it changes with `save_market_state`.
    """
    if detached:
        row = session.connection().execute(_LOCK_OPEN_MARKET,
                                           {"instrument": instrument_id}).one_or_none()
        if row is not None:
            n = len(_INSTRUMENT_COLUMNS)
            [instrument] = detached_rows(Instrument, _INSTRUMENT_COLUMNS, [row[:n]])
            [market] = detached_rows(Market, _MARKET_COLUMNS, [row[n:]])
            if for_trading and market.halted:
                raise Conflict(f"instrument '{instrument_id}' is halted", field="instrument_id")
            return OpenMarket(instrument, market)
        # Missing instrument or first use of the market: the ORM path below creates it, then
        # the detached read sees it.
        lock_market(session, instrument_id, for_trading=for_trading)
        session.flush()
        return lock_market(session, instrument_id, for_trading=for_trading, detached=True)
    instrument = session.get(Instrument, instrument_id)
    if instrument is None:
        raise NotFound(f"no instrument '{instrument_id}'", field="instrument_id")
    query = (select(Market).where(Market.instrument_id == instrument_id).with_for_update()
             .execution_options(populate_existing=True))
    market = session.execute(query).scalar_one_or_none()
    if market is None:
        # First use: create the defaults; a concurrent first use may win the insert.
        insert_missing(session, Market, [{"instrument_id": instrument_id, **DEFAULTS}],
                       ["instrument_id"])
        market = session.execute(query).scalar_one()
    if for_trading and market.halted:
        raise Conflict(f"instrument '{instrument_id}' is halted", field="instrument_id")
    return OpenMarket(instrument, market)


def read_market(session: Session, instrument: Instrument) -> Market:
    """The market of an instrument as stored, or its defaults if it never traded."""
    market = session.get(Market, instrument.id)
    return market if market is not None else Market(instrument_id=instrument.id, **DEFAULTS)
