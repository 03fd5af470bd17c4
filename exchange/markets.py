"""The market store: each instrument's trading rules, created with defaults on first use."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange.models import Market
from ledger.currency import exponent
from ledger.db import insert_missing
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


def lock_market(session: Session, instrument_id: str, *, for_trading: bool = True) -> OpenMarket:
    """Lock the instrument's market row (creating it with defaults) for this transaction.

    The row lock is what serialises matching per instrument across API processes.
    """
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
