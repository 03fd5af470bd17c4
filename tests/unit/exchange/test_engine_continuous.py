"""Continuous matching: validation, price-time priority, every time in force, post-only, market
orders and their band, self-trade prevention, cancel, reduce, expiry, load."""

from __future__ import annotations

import pytest

from exchange.engine import InstrumentRules, Order, OrderBook
from tests.unit.exchange.helpers import book, fills, kinds, order, rejection


def test_resting_orders_depth_and_inspection() -> None:
    b = book()
    for oid, side, qty, price in [("a", "buy", 5, 99), ("b", "buy", 7, 99), ("c", "buy", 1, 98),
                                  ("d", "sell", 4, 101), ("e", "sell", 6, 103)]:
        r = b.submit(order(oid, "o" + oid, side, qty, price), 0)  # type: ignore[arg-type]
        assert kinds(r) == [("accepted", oid, qty, ""), ("rested", oid, qty, "")]
        assert r.touched[oid].status == "open"
    assert (b.best_bid(), b.best_ask()) == (99, 101)
    assert b.depth(1) == ([(99, 12)], [(101, 4)])
    assert b.depth(5) == ([(99, 12), (98, 1)], [(101, 4), (103, 6)])
    assert b.depth(0) == ([], [])
    assert [o.id for o in b.orders()] == ["a", "b", "c", "d", "e"]
    assert [o.priority for o in b.orders()] == [1, 2, 3, 4, 5]
    assert len(b) == 5 and "a" in b and b.get("zz") is None


def test_price_time_priority_trades_at_resting_prices() -> None:
    b = OrderBook(InstrumentRules(), next_trade_id=41)
    b.submit(order("s1", "x", "sell", 5, 101), 0)
    b.submit(order("s2", "y", "sell", 5, 100), 0)
    b.submit(order("s3", "z", "sell", 5, 100), 0)
    r = b.submit(order("b1", "w", "buy", 12, 102), 0)
    # best price first (100), then time at that price (s2 before s3), then 101
    assert fills(r) == [(100, 5, "b1", "s2"), (100, 5, "b1", "s3"), (101, 2, "b1", "s1")]
    assert [t.trade_id for t in r.trades] == [41, 42, 43]
    assert {t.aggressor_side for t in r.trades} == {"buy"}
    assert (r.trades[0].buyer, r.trades[0].seller) == ("w", "y")
    assert b.next_trade_id == 44
    s1 = r.touched["s1"]
    assert (s1.remaining, s1.filled, s1.status) == (3, 2, "partially_filled")
    assert r.touched["b1"].status == "filled" and r.touched["s2"].status == "filled"
    assert [e.kind for e in r.events] == ["accepted", "trade", "trade", "trade"]
    assert [e.trade_id for e in r.events[1:]] == [41, 42, 43]
    assert list(r.touched) == ["b1", "s2", "s3", "s1"]


def test_partial_fill_remainder_rests_and_keeps_partial_status() -> None:
    b = book()
    b.submit(order("s", "x", "sell", 3, 100), 0)
    r = b.submit(order("b", "y", "buy", 10, 100), 0)
    assert fills(r) == [(100, 3, "b", "s")]
    assert kinds(r)[-1] == ("rested", "b", 7, "")
    assert r.touched["b"].status == "partially_filled"
    assert (b.best_bid(), b.best_ask()) == (100, None)


def test_sell_aggressor_walks_bids_down() -> None:
    b = book()
    b.submit(order("b1", "x", "buy", 2, 99), 0)
    b.submit(order("b2", "x", "buy", 2, 101), 0)
    r = b.submit(order("s", "y", "sell", 3, 99), 0)
    assert fills(r) == [(101, 2, "b2", "s"), (99, 1, "b1", "s")]
    assert r.trades[0].aggressor_side == "sell"


def test_ioc_cancels_its_remainder() -> None:
    b = book()
    b.submit(order("s", "x", "sell", 3, 100), 0)
    r = b.submit(order("i", "y", "buy", 5, 100, tif="IOC"), 0)
    assert fills(r) == [(100, 3, "i", "s")]
    assert kinds(r)[-1] == ("cancelled", "i", 2, "ioc_remainder")
    assert r.touched["i"].status == "cancelled" and r.touched["i"].remaining == 0
    assert len(b) == 0
    r = b.submit(order("j", "y", "buy", 5, 100, tif="IOC"), 0)  # nothing to cross
    assert kinds(r) == [("accepted", "j", 5, ""), ("cancelled", "j", 5, "ioc_remainder")]


def test_fok_fills_completely_or_is_rejected() -> None:
    b = book()
    b.submit(order("s1", "x", "sell", 3, 100), 0)
    b.submit(order("s2", "x", "sell", 3, 101), 0)
    r = b.submit(order("f", "y", "buy", 7, 101, tif="FOK"), 0)
    assert rejection(r) == "fok_unfillable" and not r.trades and not r.touched
    assert r.events[-1].quantity == 7
    r = b.submit(order("g", "y", "buy", 4, 100, tif="FOK"), 0)  # 3 within its limit
    assert rejection(r) == "fok_unfillable"
    assert b.depth(5) == ([], [(100, 3), (101, 3)])  # nothing changed
    r = b.submit(order("h", "y", "buy", 6, 101, tif="FOK"), 0)
    assert fills(r) == [(100, 3, "h", "s1"), (101, 3, "h", "s2")]
    assert r.touched["h"].status == "filled" and len(b) == 0


def test_fok_counts_liquidity_after_self_trade_prevention() -> None:
    b = book()
    b.submit(order("own", "y", "sell", 5, 100), 0)
    b.submit(order("s", "x", "sell", 5, 101), 0)
    # cancel_newest would stop at the own order: nothing is fillable
    r = b.submit(order("f1", "y", "buy", 5, 101, tif="FOK"), 0)
    assert rejection(r) == "fok_unfillable"
    # cancel_oldest cancels the own order and goes on: 5 at 101 is enough for 5, not for 6
    r = b.submit(order("f2", "y", "buy", 6, 101, tif="FOK", stp="cancel_oldest"), 0)
    assert rejection(r) == "fok_unfillable" and len(b) == 2
    r = b.submit(order("f3", "y", "buy", 5, 101, tif="FOK", stp="cancel_oldest"), 0)
    assert fills(r) == [(101, 5, "f3", "s")]
    assert ("cancelled", "own", 5, "stp") in kinds(r)
    assert len(b) == 0


def test_post_only() -> None:
    b = book()
    b.submit(order("s", "x", "sell", 5, 101), 0)
    r = b.submit(order("p", "y", "buy", 5, 101, post_only=True), 0)
    assert rejection(r) == "post_only_would_cross" and len(b) == 1
    r = b.submit(order("q", "y", "buy", 5, 100, post_only=True), 0)
    assert kinds(r)[-1] == ("rested", "q", 5, "")
    r = b.submit(order("r", "y", "buy", 5, 100, tif="IOC", post_only=True), 0)
    assert rejection(r) == "invalid"


def test_market_order_on_empty_side_is_rejected() -> None:
    b = book()
    b.submit(order("b", "x", "buy", 5, 100), 0)
    r = b.submit(order("m", "y", "buy", 5, tif="IOC"), 0)
    assert rejection(r) == "no_liquidity" and len(b) == 1


def test_market_order_sweeps_and_cancels_its_remainder() -> None:
    b = book()
    b.submit(order("s1", "x", "sell", 2, 100), 0)
    b.submit(order("s2", "x", "sell", 2, 150), 0)
    r = b.submit(order("m", "y", "buy", 10, tif="IOC"), 0)
    assert fills(r) == [(100, 2, "m", "s1"), (150, 2, "m", "s2")]
    assert kinds(r)[-1] == ("cancelled", "m", 6, "market_remainder")
    assert r.touched["m"].status == "cancelled" and r.touched["m"].filled == 4


def test_market_order_never_trades_through_the_band() -> None:
    b = book(band_ticks=5)
    for oid, price in [("s1", 100), ("s2", 105), ("s3", 106)]:
        b.submit(order(oid, "x", "sell", 2, price), 0)
    r = b.submit(order("m", "y", "buy", 10, tif="GTC"), 0)
    assert fills(r) == [(100, 2, "m", "s1"), (105, 2, "m", "s2")]  # 106 > 100 + 5
    assert kinds(r)[-1] == ("cancelled", "m", 6, "band")
    assert b.best_ask() == 106
    b.submit(order("b1", "x", "buy", 2, 90), 0)
    b.submit(order("b2", "x", "buy", 2, 84), 0)
    r = b.submit(order("n", "y", "sell", 10, tif="IOC"), 0)
    assert fills(r) == [(90, 2, "b1", "n")]  # 84 < 90 - 5
    assert kinds(r)[-1] == ("cancelled", "n", 8, "band")


def test_stp_cancel_newest_cancels_the_incoming_remainder() -> None:
    b = book()
    b.submit(order("s1", "x", "sell", 2, 100), 0)
    b.submit(order("own", "me", "sell", 3, 100), 0)
    b.submit(order("s2", "x", "sell", 3, 101), 0)
    r = b.submit(order("in", "me", "buy", 10, 101), 0)
    assert fills(r) == [(100, 2, "in", "s1")]
    assert kinds(r)[-1] == ("cancelled", "in", 8, "stp")
    assert b.get("own") is not None and b.get("own").remaining == 3  # type: ignore[union-attr]
    assert b.depth(5) == ([], [(100, 3), (101, 3)])


def test_stp_cancel_oldest_cancels_the_resting_order_and_goes_on() -> None:
    b = book()
    b.submit(order("own", "me", "sell", 3, 100), 0)
    b.submit(order("s", "x", "sell", 3, 100), 0)
    r = b.submit(order("in", "me", "buy", 4, 100, stp="cancel_oldest"), 0)
    assert ("cancelled", "own", 3, "stp") in kinds(r)
    assert fills(r) == [(100, 3, "in", "s")]
    assert kinds(r)[-1] == ("rested", "in", 1, "")
    assert r.touched["own"].status == "cancelled" and b.get("own") is None
    assert (b.best_bid(), b.best_ask()) == (100, None)


def test_stp_cancel_both() -> None:
    b = book()
    b.submit(order("own", "me", "sell", 3, 100), 0)
    b.submit(order("s", "x", "sell", 3, 100), 0)
    r = b.submit(order("in", "me", "buy", 4, 100, stp="cancel_both"), 0)
    assert not r.trades
    assert kinds(r)[1:] == [("cancelled", "own", 3, "stp"), ("cancelled", "in", 4, "stp")]
    assert [o.id for o in b.orders()] == ["s"]


def test_lot_size_and_minimum_notional() -> None:
    b = book(lot_size=10, min_notional=1000)
    assert rejection(b.submit(order("a", "x", "buy", 15, 100), 0)) == "off_lot"
    assert rejection(b.submit(order("b", "x", "buy", 10, 99), 0)) == "below_min_notional"
    assert not b.submit(order("c", "x", "buy", 10, 100), 0).rejected
    # a market order is valued at the best opposite price (no band) ...
    assert rejection(b.submit(order("m", "y", "sell", 10, tif="IOC"), 0)) is None
    b.submit(order("d", "x", "buy", 10, 100), 0)
    banded = book(min_notional=1000, band_ticks=20)
    banded.submit(order("e", "x", "buy", 10, 100), 0)
    # ... or at the worst price its band allows: 10 * (100 - 20) < 1000
    assert rejection(banded.submit(order("n", "y", "sell", 10, tif="IOC"), 0)) \
        == "below_min_notional"


@pytest.mark.parametrize("bad", [
    order("x", "o", "buy", 0, 100),
    order("x", "o", "buy", 5, 0),
    order("x", "o", "buy", 5, -3),
    order("x", "o", "buy", 5, None, type="limit"),
    order("x", "o", "buy", 5, 100, type="market"),
    order("x", "o", "buy", 5, None, post_only=True),
    order("x", "o", "buy", 5, 100, tif="GTD"),
    order("x", "o", "buy", 5, 100, expires_at=10),
    Order("x", "o", "up", "limit", 100, 5, 5, "GTC"),  # type: ignore[arg-type]
    Order("x", "o", "buy", "stop", 100, 5, 5, "GTC"),  # type: ignore[arg-type]
    Order("x", "o", "buy", "limit", 100, 5, 5, "DAY"),  # type: ignore[arg-type]
    Order("x", "o", "buy", "limit", 100, 5, 4, "GTC"),
    Order("x", "o", "buy", "limit", 100, 5, 5, "GTC", stp="nope"),  # type: ignore[arg-type]
])
def test_malformed_orders_are_invalid(bad: Order) -> None:
    b = book()
    r = b.submit(bad, 0)
    assert rejection(r) == "invalid" and not r.touched and len(b) == 0
    assert bad.status == "rejected"


def test_duplicate_id_is_invalid() -> None:
    b = book()
    b.submit(order("a", "x", "buy", 5, 100), 0)
    assert rejection(b.submit(order("a", "y", "sell", 5, 200), 0)) == "invalid"
    assert len(b) == 1


def test_gtd_lifecycle() -> None:
    b = book()
    assert rejection(b.submit(order("old", "x", "buy", 5, 100, tif="GTD", expires_at=10), 10)) \
        == "expired"
    b.submit(order("g1", "x", "buy", 5, 100, tif="GTD", expires_at=20), 10)
    b.submit(order("g2", "x", "buy", 5, 99, tif="GTD", expires_at=30), 10)
    b.submit(order("gtc", "x", "buy", 5, 98), 10)
    assert b.expire(19).events == []
    r = b.expire(20)
    assert kinds(r) == [("expired", "g1", 5, "expired")]
    assert r.touched["g1"].status == "expired" and r.touched["g1"].remaining == 0
    # a later command expires what is due first
    r = b.submit(order("s", "y", "sell", 5, 98), 35)
    assert kinds(r)[0] == ("expired", "g2", 5, "expired")
    assert fills(r) == [(98, 5, "gtc", "s")]
    assert len(b) == 0


def test_cancel() -> None:
    b = book()
    b.submit(order("a", "x", "buy", 5, 100), 0)
    r = b.cancel("a", "intruder")
    assert kinds(r) == [("rejected", "a", 0, "not_found")] and r.rejected and len(b) == 1
    assert rejection(b.cancel("nope", "x")) == "not_found"
    r = b.cancel("a", "x")
    assert kinds(r) == [("cancelled", "a", 5, "user")]
    assert r.touched["a"].status == "cancelled" and len(b) == 0 and b.best_bid() is None
    assert rejection(b.cancel("a", "x")) == "not_found"


def test_reduce_keeps_priority() -> None:
    b = book(lot_size=1, min_notional=300)
    b.submit(order("a", "x", "sell", 10, 100), 0)
    b.submit(order("b", "y", "sell", 10, 100), 0)
    r = b.reduce("a", "x", 4)
    assert kinds(r) == [("reduced", "a", 6, "user")]
    a = r.touched["a"]
    assert (a.quantity, a.remaining, a.status) == (10, 4, "open")
    r = b.submit(order("c", "z", "buy", 5, 100), 0)
    assert fills(r) == [(100, 4, "c", "a"), (100, 1, "c", "b")]  # a first: priority kept


def test_reduce_refusals_and_reduce_to_zero() -> None:
    b = book(lot_size=2, min_notional=300)
    b.submit(order("a", "x", "sell", 10, 100), 0)
    assert rejection(b.reduce("a", "x", 12)) == "invalid"  # an increase is refused
    assert rejection(b.reduce("a", "x", 10)) == "invalid"
    assert rejection(b.reduce("a", "x", -2)) == "invalid"
    assert rejection(b.reduce("a", "x", 5)) == "off_lot"
    assert rejection(b.reduce("a", "x", 2)) == "below_min_notional"
    assert rejection(b.reduce("a", "y", 4)) == "not_found"
    assert b.get("a").remaining == 10  # type: ignore[union-attr]
    r = b.reduce("a", "x", 0)
    assert kinds(r) == [("cancelled", "a", 10, "user")] and len(b) == 0


def test_load_restores_priorities_without_matching() -> None:
    b = book()
    resting = [
        Order("late", "x", "sell", "limit", 100, 5, 5, "GTC", priority=30),
        Order("early", "y", "sell", "limit", 100, 5, 3, "GTC", priority=10),
        Order("other", "z", "sell", "limit", 101, 5, 5, "GTC", priority=20),
    ]
    b.load(resting)
    assert [o.id for o in b.orders()] == ["early", "late", "other"]
    assert b.next_priority == 31
    r = b.submit(order("in", "w", "buy", 9, 101), 0)
    assert fills(r) == [(100, 3, "in", "early"), (100, 5, "in", "late"), (101, 1, "in", "other")]
    assert r.touched["in"].priority == 31


def test_load_refuses_what_cannot_rest() -> None:
    b = book()
    b.load([Order("a", "x", "sell", "limit", 100, 5, 5, "GTC")])
    with pytest.raises(ValueError, match="duplicate"):
        b.load([Order("a", "x", "sell", "limit", 100, 5, 5, "GTC")])
    with pytest.raises(ValueError, match="cross"):
        b.load([Order("b", "x", "buy", "limit", 100, 5, 5, "GTC")])
    with pytest.raises(ValueError, match="nothing left"):
        b.load([Order("c", "x", "buy", "limit", 90, 5, 0, "GTC")])
    with pytest.raises(ValueError, match="market"):
        b.load([Order("d", "x", "buy", "market", None, 5, 5, "GTC")])


def test_caller_assigned_priority_slots_into_its_level() -> None:
    b = book()
    b.load([Order("a", "x", "sell", "limit", 100, 1, 1, "GTC", priority=5),
            Order("c", "x", "sell", "limit", 100, 1, 1, "GTC", priority=9)])
    b.load([Order("b", "x", "sell", "limit", 100, 1, 1, "GTC", priority=7)])
    assert [o.id for o in b.orders()] == ["a", "b", "c"]


def test_cancelled_orders_behind_the_front_are_skipped_and_compacted() -> None:
    b = book()
    b.submit(order("front", "x", "sell", 1, 100), 0)
    for i in range(200):
        b.submit(order(f"s{i}", "x", "sell", 1, 100), 0)
    for i in range(0, 200, 2):
        b.cancel(f"s{i}", "x")
    assert len(b) == 101 and b.depth(1) == ([], [(100, 101)])
    assert [o.id for o in b.orders()][:3] == ["front", "s1", "s3"]
    r = b.submit(order("in", "y", "buy", 3, 100), 0)
    assert fills(r) == [(100, 1, "in", "front"), (100, 1, "in", "s1"), (100, 1, "in", "s3")]
    for i in range(5, 200, 2):
        b.cancel(f"s{i}", "x")
    assert len(b) == 0 and b.best_ask() is None and list(b.orders()) == []


def test_touched_holds_final_states_and_conservation() -> None:
    b = book()
    b.submit(order("s", "x", "sell", 4, 100), 0)
    r = b.submit(order("b", "y", "buy", 10, 100, tif="IOC"), 0)
    buy, sell = r.touched["b"], r.touched["s"]
    assert (buy.filled, buy.remaining, buy.status) == (4, 0, "cancelled")
    assert (sell.filled, sell.remaining, sell.status) == (4, 0, "filled")
    cancelled = sum(e.quantity for e in r.events if e.kind == "cancelled" and e.order_id == "b")
    assert buy.filled + buy.remaining + cancelled == buy.quantity


def test_rules_are_validated() -> None:
    with pytest.raises(ValueError):
        InstrumentRules(lot_size=0)
    with pytest.raises(ValueError):
        InstrumentRules(min_notional=-1)
    with pytest.raises(ValueError):
        InstrumentRules(band_ticks=-1)
    with pytest.raises(ValueError):
        InstrumentRules(market_model="batch")  # type: ignore[arg-type]
