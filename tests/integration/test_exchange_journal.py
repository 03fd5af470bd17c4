"""One journal entry per exchange command (an order, a cancel, an auction, an expiry run),
with the command's trades, closures, postings and unit moves, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from exchange.models import Market as MarketRow
from exchange.models import Trade
from exchange.replay import compare_orders
from exchange.services import auctions, trading
from ledger.actor import Actor
from ledger.clock import utcnow
from ledger.models import JournalEntry, JournalHead
from ledger.models import Posting as PostingRow
from ledger.replay import compare
from ledger.unit_of_work import UnitOfWork
from tests.integration.test_exchange_trading import Market


@pytest.fixture
def mkt(uow_factory: Callable[[], UnitOfWork], operator: Actor,
        make_party: Callable[..., Actor]) -> Market:
    return Market(uow_factory, operator, make_party)


def _entries_after(sessions: sessionmaker[Session], seq: int) -> list[dict[str, Any]]:
    with sessions() as session:
        return [json.loads(b) for b in session.execute(
            select(JournalEntry.body).where(JournalEntry.seq > seq)
            .order_by(JournalEntry.seq)).scalars()]


def _size(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.execute(select(JournalHead.size)).scalar_one()


def _replays(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        assert compare(session) == [] and compare_orders(session) == []


def test_an_order_is_one_entry_whose_postings_are_the_money_rows(
        mkt: Market, sessions: sessionmaker[Session]) -> None:
    mkt.configure(fee_bps=30)
    mkt.order(mkt.alice, "sell", 100, "10.00")
    mkt.order(mkt.bob, "sell", 100, "10.10")
    size = _size(sessions)
    buy = mkt.order(mkt.fund, "buy", 150, "10.20")
    assert [f.quantity for f in buy.fills] == [100, 50]
    [entry] = _entries_after(sessions, size)
    assert entry["kind"] == "order.placed" and entry["actor"] == mkt.fund.party_id
    assert len(entry["data"]["trades"]) == 2
    with sessions() as session:
        seqs = set(session.execute(select(Trade.journal_seq)).scalars())
        assert seqs == {size + 1}
        rows = session.execute(select(func.count()).select_from(PostingRow)
                               .where(PostingRow.journal_seq == size + 1)).scalar_one()
    assert rows == len(entry["postings"])
    accounts = [p["account"] for p in entry["postings"]]
    assert len(accounts) == len(set(accounts))  # merged: one posting per account
    _replays(sessions)


def test_expiry_and_cancel_are_closures_in_one_entry_each(
        mkt: Market, sessions: sessionmaker[Session]) -> None:
    soon = utcnow() + timedelta(seconds=30)
    gtd = mkt.order(mkt.fund, "buy", 10, "9.00", time_in_force="GTD", expires_at=soon)
    later = mkt.order(mkt.fund, "buy", 10, "8.00", time_in_force="GTD",
                      expires_at=utcnow() + timedelta(seconds=30))
    resting = mkt.order(mkt.alice, "sell", 10, "11.00")
    assert mkt.cash(mkt.fund)[1] == "170.00"

    def after_expiry() -> UnitOfWork:
        return UnitOfWork(sessions, clock=lambda: utcnow() + timedelta(seconds=60))

    # An order placed after the time: the expiry is part of its own entry.
    size = _size(sessions)
    trading.place_order(after_expiry(), mkt.bob, trading.OrderRequest(
        instrument_id=mkt.instrument, side="sell", type="limit",
        price=Decimal("12.00"), quantity=5))
    [entry] = _entries_after(sessions, size)
    assert {(c["order_id"], c["status"]) for c in entry["data"]["closed"]} == {
        (gtd.order.id, "expired"), (later.order.id, "expired")}
    assert mkt.cash(mkt.fund) == ("100000.00", "0.00")

    size = _size(sessions)
    trading.cancel_order(mkt.uow(), mkt.alice, resting.order.id)
    [entry] = _entries_after(sessions, size)
    assert (entry["kind"], entry["data"]["order_id"], entry["data"]["status"]) == (
        "order.closed", resting.order.id, "cancelled")
    assert entry["units"] == [{"party": mkt.alice.party_id, "instrument": mkt.instrument,
                               "units": 0, "held": -10}]
    _replays(sessions)


def _earliest_expiry(sessions: sessionmaker[Session], instrument: str) -> datetime | None:
    with sessions() as session:
        return session.execute(select(MarketRow.earliest_expiry_at).where(
            MarketRow.instrument_id == instrument)).scalar_one_or_none()


def test_the_market_knows_when_its_next_gtd_order_can_be_due(
        mkt: Market, sessions: sessionmaker[Session]) -> None:
    start = utcnow()

    def at(seconds: int) -> UnitOfWork:
        return UnitOfWork(sessions, clock=lambda: start + timedelta(seconds=seconds))

    def order(seconds: int, who: Actor, side: str, price: str, **kw: Any) -> trading.OrderView:
        return trading.place_order(at(seconds), who, trading.OrderRequest(
            instrument_id=mkt.instrument, side=side, type="limit", price=Decimal(price),
            quantity=10, **kw))

    assert _earliest_expiry(sessions, mkt.instrument) is None
    first = order(0, mkt.fund, "buy", "9.00", time_in_force="GTD",
                  expires_at=start + timedelta(seconds=30))
    second = order(0, mkt.fund, "buy", "8.00", time_in_force="GTD",
                   expires_at=start + timedelta(seconds=90))
    assert _earliest_expiry(sessions, mkt.instrument) == start + timedelta(seconds=30)
    # The first fills before its time: the market's bound stays early (it is only a bound)...
    assert order(10, mkt.alice, "sell", "9.00").order.status == "filled"
    assert _earliest_expiry(sessions, mkt.instrument) == start + timedelta(seconds=30)
    # ...until an order after it looks, finds nothing due and moves it to the second's time.
    size = _size(sessions)
    order(60, mkt.bob, "sell", "12.00")
    [entry] = _entries_after(sessions, size)
    assert entry["data"]["closed"] == []
    assert _earliest_expiry(sessions, mkt.instrument) == start + timedelta(seconds=90)
    # The second then expires on time, and with no GTD order left the market has no bound.
    size = _size(sessions)
    order(120, mkt.bob, "sell", "12.50")
    [entry] = _entries_after(sessions, size)
    assert [(c["order_id"], c["status"]) for c in entry["data"]["closed"]] == [
        (second.order.id, "expired")]
    assert first.order.id != second.order.id
    assert _earliest_expiry(sessions, mkt.instrument) is None
    assert mkt.cash(mkt.fund)[1] == "0.00"
    _replays(sessions)


def test_an_expiry_run_writes_one_entry_per_instrument(
        mkt: Market, sessions: sessionmaker[Session]) -> None:
    for price in ("9.00", "8.00"):
        mkt.order(mkt.fund, "buy", 10, price, time_in_force="GTD",
                  expires_at=utcnow() + timedelta(seconds=30))
    size = _size(sessions)
    expired = trading.expire_due_orders(
        UnitOfWork(sessions, clock=lambda: utcnow() + timedelta(seconds=60)))
    assert expired == 2
    [entry] = _entries_after(sessions, size)
    assert entry["kind"] == "orders.expired" and len(entry["data"]["closed"]) == 2
    assert mkt.cash(mkt.fund) == ("100000.00", "0.00")
    assert _earliest_expiry(sessions, mkt.instrument) is None  # no open GTD order is left
    _replays(sessions)


def test_an_auction_is_one_entry_with_its_trades(
        mkt: Market, sessions: sessionmaker[Session]) -> None:
    mkt.configure(market_model="call")
    mkt.order(mkt.alice, "sell", 300, "9.00")
    mkt.order(mkt.fund, "buy", 200, "10.00")
    mkt.order(mkt.fund, "buy", 50, "9.50")
    size = _size(sessions)
    outcome = auctions.run_auction(mkt.uow(), mkt.operator, mkt.instrument)
    assert outcome.quantity == 250
    [entry] = _entries_after(sessions, size)
    assert entry["kind"] == "auction.run"
    assert [t["trade_id"] for t in entry["data"]["trades"]] == [t.trade_id
                                                               for t in outcome.trades]
    assert {c["status"] for c in entry["data"]["closed"]} == {"filled"}
    _replays(sessions)
