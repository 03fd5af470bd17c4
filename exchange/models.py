"""Tables of the exchange: each instrument's market, its orders and its trades."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from ledger.db import Base, UtcDateTime

Id = String(40)


class Market(Base):
    """How an instrument trades. Locking this row serialises matching per instrument."""

    __tablename__ = "markets"

    instrument_id: Mapped[str] = mapped_column(ForeignKey("instruments.id"), primary_key=True)
    tick_size: Mapped[str] = mapped_column(String(40))  # decimal string, in the currency
    lot_size: Mapped[int] = mapped_column(BigInteger)
    min_order_value_minor: Mapped[int] = mapped_column(BigInteger)
    band_bps: Mapped[int | None] = mapped_column(Integer)  # market-order protection band
    fee_bps: Mapped[int] = mapped_column(Integer)
    market_model: Mapped[str] = mapped_column(String(12))  # continuous | call
    auction_interval_s: Mapped[int | None] = mapped_column(Integer)
    next_auction_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    halted: Mapped[bool] = mapped_column(Boolean, default=False)
    last_price_ticks: Mapped[int | None] = mapped_column(BigInteger)
    next_priority: Mapped[int] = mapped_column(BigInteger, default=1)
    next_trade_no: Mapped[int] = mapped_column(BigInteger, default=1)
    # No open GTD order of this market expires before this time (NULL: it has none). A lower
    # bound, so that an order looks for due orders only once one can be due (migration 0014).
    earliest_expiry_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        # Loading only the resting orders that can cross: by side and price, then time.
        Index("ix_orders_book", "instrument_id", "status_open", "side", "price_ticks", "priority"),
        # Every order first expires its instrument's due GTD orders: without this index that
        # read every open order of the instrument (migration 0010).
        Index("ix_orders_due", "instrument_id", "expires_at",
              postgresql_where=text("status_open AND expires_at IS NOT NULL"),
              sqlite_where=text("status_open = 1 AND expires_at IS NOT NULL")),
    )

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    instrument_id: Mapped[str] = mapped_column(ForeignKey("instruments.id"))
    party_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    client_order_id: Mapped[str | None] = mapped_column(String(100))
    side: Mapped[str] = mapped_column(String(4))
    type: Mapped[str] = mapped_column(String(6))
    price_ticks: Mapped[int | None] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    filled: Mapped[int] = mapped_column(BigInteger, default=0)
    time_in_force: Mapped[str] = mapped_column(String(3))
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    post_only: Mapped[bool] = mapped_column(Boolean, default=False)
    stp: Mapped[str] = mapped_column(String(14))
    priority: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    status_open: Mapped[bool] = mapped_column(Boolean)  # resting in the book
    reason: Mapped[str | None] = mapped_column(String(40))
    hold_minor: Mapped[int] = mapped_column(BigInteger, default=0)  # cash still held (buys)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Trade(Base):
    __tablename__ = "trades"
    __table_args__ = (Index("ix_trades_instrument", "instrument_id", "trade_no"),)

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    instrument_id: Mapped[str] = mapped_column(ForeignKey("instruments.id"))
    trade_no: Mapped[int] = mapped_column(BigInteger)
    price_ticks: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(BigInteger)
    buy_order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"))
    sell_order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"))
    buyer_id: Mapped[str] = mapped_column(ForeignKey("parties.id"))
    seller_id: Mapped[str] = mapped_column(ForeignKey("parties.id"))
    buyer_fee_minor: Mapped[int] = mapped_column(BigInteger)
    seller_fee_minor: Mapped[int] = mapped_column(BigInteger)
    auction: Mapped[bool] = mapped_column(Boolean, default=False)
    journal_seq: Mapped[int] = mapped_column(ForeignKey("journal_entries.seq"))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
