"""Trading through the services on a real database (SQLite and PostgreSQL): holds, delivery
versus payment, fees, cancels, auctions, refusals that change nothing, and replay."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from exchange.replay import compare_orders
from exchange.services import auctions, markets, trading
from exchange.services.trading import OrderRequest
from ledger.actor import Actor
from ledger.clock import utcnow
from ledger.errors import Conflict, InsufficientFunds, InsufficientUnits, InvalidInput, NotFound
from ledger.models import Account, Holding, JournalHead
from ledger.replay import compare
from ledger.services import assets, money
from ledger.unit_of_work import UnitOfWork

D = Decimal


class Market:
    """A listed patent whose inventor-class units trade, with a funded investor."""

    def __init__(self, uow: Callable[[], UnitOfWork], operator: Actor,
                 make_party: Callable[..., Actor]) -> None:
        self.uow = uow
        self.operator = operator
        self.university = make_party("university")
        self.alice = make_party("inventor", "Alice")
        self.bob = make_party("inventor", "Bob")
        self.fund = make_party("investor", "Fund")
        listing = assets.list_asset(
            uow(), self.university, title="Sensor mesh", kind="patent", jurisdiction="HK",
            inventors=[{"party_id": self.alice.party_id, "share": "0.6"},
                       {"party_id": self.bob.party_id, "share": "0.4"}],
            policy="hku-2023")
        self.instrument = next(i.id for i in listing.instruments if i.unit_class == "inventor")
        money.deposit(uow(), operator, self.fund.party_id, "100000.00", "HKD", "bank-1",
                      client_id="dep-1")
        money.deposit(uow(), operator, self.bob.party_id, "5000.00", "HKD", "bank-2",
                      client_id="dep-2")

    def order(self, who: Actor, side: str, quantity: int, price: str | None = None,
              **kw: Any) -> trading.OrderView:
        request = OrderRequest(instrument_id=self.instrument, side=side,
                               type="limit" if price is not None else "market",
                               price=None if price is None else D(price), quantity=quantity, **kw)
        return trading.place_order(self.uow(), who, request)

    def configure(self, **changes: Any) -> None:
        markets.configure_market(self.uow(), self.operator, self.instrument, changes)

    def cash(self, who: Actor) -> tuple[str, str]:
        rows = money.account_balances(self.uow(), who)
        return (rows[0].available, rows[0].held) if rows else ("0.00", "0.00")

    def units(self, who: Actor) -> tuple[int, int]:
        rows = [h for h in assets.holdings_of(self.uow(), who)
                if h.instrument_id == self.instrument]
        return (rows[0].units, rows[0].held_units) if rows else (0, 0)


@pytest.fixture
def mkt(uow_factory: Callable[[], UnitOfWork], operator: Actor,
        make_party: Callable[..., Actor]) -> Market:
    return Market(uow_factory, operator, make_party)


def _size(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.execute(select(JournalHead.size)).scalar_one()


def test_a_buy_fills_against_a_resting_sell_with_delivery_versus_payment(
        mkt: Market, sessions: sessionmaker[Session]) -> None:
    mkt.configure(fee_bps=25)
    sell = mkt.order(mkt.alice, "sell", 1000, "10.00")
    assert sell.order.status == "open"
    assert mkt.units(mkt.alice) == (600_000, 1000)

    buy = mkt.order(mkt.fund, "buy", 400, "10.50")
    assert buy.order.status == "filled"
    assert [(f.price, f.quantity) for f in buy.fills] == [(D("10.00"), 400)]
    # 4,000.00 notional at the resting price; each side pays 25 bps = 10.00.
    assert mkt.cash(mkt.fund) == ("95990.00", "0.00")
    assert mkt.cash(mkt.alice) == ("3990.00", "0.00")
    assert mkt.units(mkt.fund) == (400, 0)
    assert mkt.units(mkt.alice) == (599_600, 600)
    assert markets.get_instrument(mkt.uow(), mkt.instrument).last_price == D("10.00")
    bids, asks = markets.order_book(mkt.uow(), mkt.instrument, 10)
    assert (bids, [(a.price, a.quantity) for a in asks]) == ([], [(D("10.00"), 600)])

    cancelled = trading.cancel_order(mkt.uow(), mkt.alice, sell.order.id)
    assert cancelled.order.status == "cancelled"
    assert mkt.units(mkt.alice) == (599_600, 0)
    with sessions() as session:
        assert compare(session) == [] and compare_orders(session) == []


def test_a_command_locks_and_opens_only_what_it_moves(
        mkt: Market, sessions: sessionmaker[Session]) -> None:
    """An order that rests touches its owner's units (a sell) or cash (a buy), not both, and
    the fee account only once something trades: a seller's resting order opens none of its
    cash accounts (its available one came with its holding), and opens no fee account."""
    mkt.configure(fee_bps=25)

    def accounts() -> set[str]:
        with sessions() as session:
            return set(session.execute(select(Account.code)).scalars())

    before = accounts()
    mkt.order(mkt.alice, "sell", 100, "10.00")
    mkt.order(mkt.fund, "buy", 100, "9.00")
    opened = accounts() - before
    assert not any(code.startswith(mkt.alice.party_id) for code in opened)
    assert not any(code.endswith(":fees") for code in opened)
    assert mkt.units(mkt.alice) == (600_000, 100)
    mkt.order(mkt.fund, "buy", 40, "10.00")  # trades: both parties' cash and units, and fees
    opened = accounts() - before
    assert {f"{mkt.alice.party_id}:HKD:held", "ipx:HKD:fees"} <= opened
    assert f"{mkt.alice.party_id}:HKD:available" in before
    assert mkt.cash(mkt.alice)[0] == "399.00" and mkt.units(mkt.fund) == (40, 0)
    with sessions() as session:
        assert compare(session) == [] and compare_orders(session) == []


def test_price_time_priority_and_partial_fills(mkt: Market) -> None:
    first = mkt.order(mkt.alice, "sell", 100, "10.00")
    second = mkt.order(mkt.bob, "sell", 100, "10.00")
    better = mkt.order(mkt.bob, "sell", 50, "9.90")
    buy = mkt.order(mkt.fund, "buy", 200, "10.00")
    assert [(f.price, f.quantity) for f in buy.fills] == [(D("9.90"), 50), (D("10.00"), 100),
                                                         (D("10.00"), 50)]
    assert trading.read_order(mkt.uow(), mkt.alice, first.order.id).order.status == "filled"
    partly = trading.read_order(mkt.uow(), mkt.bob, second.order.id)
    assert (partly.order.status, partly.order.remaining) == ("partially_filled", 50)
    assert trading.read_order(mkt.uow(), mkt.bob, better.order.id).order.status == "filled"


def test_a_buy_holds_cash_and_a_cancel_releases_it(mkt: Market) -> None:
    mkt.configure(fee_bps=100)
    order = mkt.order(mkt.fund, "buy", 100, "12.34")
    assert mkt.cash(mkt.fund) == ("98753.66", "1246.34")  # 1,234.00 + 1% fee
    trading.cancel_order(mkt.uow(), mkt.fund, order.order.id)
    assert mkt.cash(mkt.fund) == ("100000.00", "0.00")


def test_a_market_buy_never_trades_through_its_band(mkt: Market) -> None:
    mkt.configure(band_bps=500)  # 5%
    mkt.order(mkt.alice, "sell", 100, "10.00")
    mkt.order(mkt.alice, "sell", 100, "10.50")
    mkt.order(mkt.bob, "sell", 100, "10.51")
    buy = mkt.order(mkt.fund, "buy", 300)
    assert [(f.price, f.quantity) for f in buy.fills] == [(D("10.00"), 100), (D("10.50"), 100)]
    assert (buy.order.status, buy.order.filled) == ("cancelled", 200)
    assert mkt.cash(mkt.fund)[1] == "0.00"  # nothing stays held


def test_refusals_change_nothing(mkt: Market, sessions: sessionmaker[Session]) -> None:
    mkt.configure(lot_size=10)
    mkt.order(mkt.alice, "sell", 100, "10.00")
    before = (_size(sessions), mkt.cash(mkt.fund), mkt.units(mkt.alice))
    cases: list[tuple[type[Exception], dict[str, Any]]] = [
        (InvalidInput, {"who": mkt.fund, "side": "buy", "quantity": 10, "price": "10.005"}),
        (InvalidInput, {"who": mkt.fund, "side": "buy", "quantity": 15, "price": "10.00"}),
        (InsufficientFunds, {"who": mkt.fund, "side": "buy", "quantity": 20_000,
                             "price": "10.00"}),
        (InsufficientUnits, {"who": mkt.fund, "side": "sell", "quantity": 10,
                             "price": "10.00"}),
        (InvalidInput, {"who": mkt.fund, "side": "buy", "quantity": 10, "price": "10.00",
                        "time_in_force": "GTD", "expires_at": utcnow() - timedelta(seconds=1)}),
        (Conflict, {"who": mkt.fund, "side": "buy", "quantity": 200, "price": "10.00",
                    "time_in_force": "FOK"}),
        (Conflict, {"who": mkt.fund, "side": "buy", "quantity": 10, "price": "10.00",
                    "post_only": True}),
    ]
    for error, case in cases:
        who = case.pop("who")
        side, quantity, price = case.pop("side"), case.pop("quantity"), case.pop("price")
        with pytest.raises(error):
            mkt.order(who, side, quantity, price, **case)
        assert (_size(sessions), mkt.cash(mkt.fund), mkt.units(mkt.alice)) == before, case
    with pytest.raises(NotFound):
        trading.place_order(mkt.uow(), mkt.fund, OrderRequest(
            instrument_id="ins_nope", side="buy", type="limit", price=D("1"), quantity=10))
    mkt.configure(halted=True)
    halted_size = _size(sessions)
    with pytest.raises(Conflict):
        mkt.order(mkt.fund, "buy", 10, "10.00")
    assert _size(sessions) == halted_size


def test_someone_elses_order_cannot_be_cancelled_or_read(mkt: Market) -> None:
    order = mkt.order(mkt.alice, "sell", 100, "10.00")
    with pytest.raises(NotFound):
        trading.cancel_order(mkt.uow(), mkt.bob, order.order.id)
    with pytest.raises(NotFound):
        trading.read_order(mkt.uow(), mkt.bob, order.order.id)
    assert mkt.units(mkt.alice) == (600_000, 100)


def test_self_trade_prevention_cancels_the_newest_by_default(mkt: Market) -> None:
    mkt.order(mkt.bob, "sell", 100, "10.00")
    mkt.order(mkt.bob, "buy", 100, "9.00")  # no cross
    own = mkt.order(mkt.bob, "buy", 50, "10.00")
    assert (own.order.status, own.fills) == ("cancelled", [])
    assert mkt.cash(mkt.bob)[1] == "900.00"  # only the resting 9.00 bid holds cash


def test_a_call_auction_clears_at_one_price(mkt: Market, sessions: sessionmaker[Session]) -> None:
    mkt.configure(market_model="call")
    mkt.order(mkt.alice, "sell", 300, "9.00")
    mkt.order(mkt.bob, "sell", 200, "10.00")
    mkt.order(mkt.fund, "buy", 250, "11.00")
    mkt.order(mkt.fund, "buy", 200, "10.00")
    assert mkt.units(mkt.fund) == (0, 0)  # nothing trades before the auction
    outcome = auctions.run_auction(mkt.uow(), mkt.operator, mkt.instrument)
    # Volume is 450 at 10.00 (at 9.00 only 300 sell; above 10.00 only 250 buy).
    assert (outcome.price, outcome.quantity) == (D("10.00"), 450)
    assert {t.price for t in outcome.trades} == {D("10.00")}
    assert mkt.units(mkt.fund) == (450, 0)
    assert mkt.cash(mkt.fund) == ("95500.00", "0.00")  # the 11.00 bid paid 10.00 too
    with sessions() as session:
        assert compare(session) == [] and compare_orders(session) == []
        held = session.execute(select(func.sum(Holding.held_units))).scalar_one()
    assert held == 50  # bob's unfilled 50 at 10.00 rest for the next auction


def test_the_book_aggregates_each_side_best_first_to_its_depth(mkt: Market) -> None:
    """Resting quantity summed per price, bids highest first and asks lowest first, each
    side cut to the depth on its own (both are read in one statement)."""
    for quantity, price in ((100, "10.40"), (30, "10.00"), (70, "10.00"), (50, "10.20")):
        assert mkt.order(mkt.alice, "sell", quantity, price).order.status == "open"
    for quantity, price in ((10, "9.00"), (20, "9.80"), (40, "9.50"), (5, "9.80")):
        assert mkt.order(mkt.fund, "buy", quantity, price).order.status == "open"
    bids, asks = markets.order_book(mkt.uow(), mkt.instrument, 2)
    assert [(b.price, b.quantity) for b in bids] == [(D("9.80"), 25), (D("9.50"), 40)]
    assert [(a.price, a.quantity) for a in asks] == [(D("10.00"), 100), (D("10.20"), 50)]
    bids, asks = markets.order_book(mkt.uow(), mkt.instrument, 10)
    assert [b.price for b in bids] == [D("9.80"), D("9.50"), D("9.00")]
    assert [a.price for a in asks] == [D("10.00"), D("10.20"), D("10.40")]
