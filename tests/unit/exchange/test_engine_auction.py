"""Call markets: collecting orders without matching, STP at entry, and the uniform-price auction."""

from __future__ import annotations

from exchange.engine import OrderBook
from tests.unit.exchange.helpers import book, fills, kinds, order, rejection


def call_book(**rules: object) -> OrderBook:
    return book(market_model="call", **rules)


def worked_example() -> OrderBook:
    """Buys 100@105, 50@103, 80@101, 60@99; sells 70@98, 60@100, 90@102, 50@104.

    price:   98  99 100 101 102 103 104 105
    demand: 290 290 230 230 150 150 100 100   (buys at or above the price)
    supply:  70  70 130 130 220 220 270 270   (sells at or below the price)
    volume:  70  70 130 130 150 150 100 100
    The volume peaks at 150 at 102 and 103, both with an imbalance of 70: the reference price
    decides, and without one the lower price, 102.
    """
    b = call_book()
    for oid, side, qty, price in [
        ("b1", "buy", 100, 105), ("s1", "sell", 70, 98), ("b2", "buy", 50, 103),
        ("s2", "sell", 60, 100), ("b3", "buy", 80, 101), ("s3", "sell", 90, 102),
        ("b4", "buy", 60, 99), ("s4", "sell", 50, 104),
    ]:
        r = b.submit(order(oid, "o" + oid, side, qty, price), 0)  # type: ignore[arg-type]
        assert kinds(r)[-1] == ("rested", oid, qty, "") and not r.trades
    return b


def test_call_market_collects_crossed_orders_without_matching() -> None:
    b = worked_example()
    assert (b.best_bid(), b.best_ask()) == (105, 98)  # crossed, by design, until the auction
    assert len(b) == 8


def test_worked_example_without_reference_takes_the_lower_price() -> None:
    b = worked_example()
    r = b.run_auction(None)
    assert (r.auction_price, r.auction_volume) == (102, 150)
    # buys (no surplus) fill completely; sells: 98 and 100 are better than 102 and fill fully,
    # the sell at 102 is rationed to 20; pairs in priority order, all at 102, no aggressor
    assert fills(r) == [(102, 70, "b1", "s1"), (102, 30, "b1", "s2"), (102, 30, "b2", "s2"),
                        (102, 20, "b2", "s3")]
    assert {t.aggressor_side for t in r.trades} == {None}
    assert [t.trade_id for t in r.trades] == [1, 2, 3, 4]
    s3 = r.touched["s3"]
    assert (s3.filled, s3.remaining, s3.status) == (20, 70, "partially_filled")
    # what did not fill keeps resting for the next auction
    assert [o.id for o in b.orders()] == ["b3", "b4", "s3", "s4"]
    assert b.run_auction(None).auction_price is None  # 101 < 102: nothing crosses any more


def test_worked_example_reference_price_breaks_the_tie() -> None:
    assert worked_example().run_auction(100).auction_price == 102
    assert worked_example().run_auction(110).auction_price == 103
    r = worked_example().run_auction(103)
    assert r.auction_price == 103 and {t.price for t in r.trades} == {103}


def test_imbalance_comes_before_the_reference_price() -> None:
    """Buys 100@102, 30@100; sells 100@99, 20@101. Volume is 100 at 99..102; the imbalance is
    30 at 99 and 100, 20 at 101 and 102: 101 (lower) without a reference, even with a reference
    of 99; 102 with a reference above it."""
    def fresh() -> OrderBook:
        b = call_book()
        b.submit(order("b1", "x", "buy", 100, 102), 0)
        b.submit(order("b2", "y", "buy", 30, 100), 0)
        b.submit(order("s1", "z", "sell", 100, 99), 0)
        b.submit(order("s2", "w", "sell", 20, 101), 0)
        return b

    assert fresh().run_auction(None).auction_price == 101
    assert fresh().run_auction(99).auction_price == 101
    r = fresh().run_auction(105)
    assert (r.auction_price, r.auction_volume) == (102, 100)
    assert fills(r) == [(102, 100, "b1", "s1")]


def test_orders_at_the_price_are_rationed_by_time_priority() -> None:
    b = call_book()
    for oid in ("b1", "b2", "b3"):
        b.submit(order(oid, oid, "buy", 50, 100), 0)
    b.submit(order("s", "x", "sell", 70, 100), 0)
    r = b.run_auction(None)
    assert (r.auction_price, r.auction_volume) == (100, 70)
    assert fills(r) == [(100, 50, "b1", "s"), (100, 20, "b2", "s")]
    assert b.get("b2").remaining == 30 and b.get("b3").remaining == 50  # type: ignore[union-attr]
    assert "b3" not in r.touched


def test_market_orders_fill_first_in_an_auction() -> None:
    b = call_book()
    b.submit(order("lim", "x", "buy", 30, 101), 0)
    r = b.submit(order("mkt", "y", "buy", 40), 0)  # a market order rests in a call market
    assert kinds(r)[-1] == ("rested", "mkt", 40, "")
    b.submit(order("s1", "z", "sell", 50, 100), 0)
    b.submit(order("s2", "z", "sell", 30, 102), 0)
    # demand 70/70/40 and supply 50/50/80 at 100/101/102: 50 trades, at 100 (lower of a tie)
    r = b.run_auction(None)
    assert (r.auction_price, r.auction_volume) == (100, 50)
    assert fills(r) == [(100, 40, "mkt", "s1"), (100, 10, "lim", "s1")]
    assert [o.id for o in b.orders()] == ["lim", "s2"]


def test_market_orders_alone_clear_at_the_reference_price_or_not_at_all() -> None:
    b = call_book()
    b.submit(order("m1", "x", "buy", 10), 0)
    b.submit(order("m2", "y", "sell", 6), 0)
    r = b.run_auction(None)
    assert r.auction_price is None and not r.trades and not r.events
    r = b.run_auction(250)
    assert fills(r) == [(250, 6, "m1", "m2")]
    assert [(o.id, o.remaining) for o in b.orders()] == [("m1", 4)]


def test_no_crossing_volume_gives_an_empty_result() -> None:
    b = call_book()
    b.submit(order("b", "x", "buy", 10, 99), 0)
    b.submit(order("s", "y", "sell", 10, 100), 0)
    r = b.run_auction(100)
    assert (r.auction_price, r.auction_volume, r.trades, r.events, r.touched) == \
        (None, 0, [], [], {})
    assert len(b) == 2
    assert call_book().run_auction(100).auction_price is None  # an empty book too


def test_ioc_fok_and_post_only_are_not_supported_in_call_markets() -> None:
    b = call_book()
    assert rejection(b.submit(order("i", "x", "buy", 5, 100, tif="IOC"), 0)) == "invalid"
    assert rejection(b.submit(order("f", "x", "buy", 5, 100, tif="FOK"), 0)) == "invalid"
    assert rejection(b.submit(order("p", "x", "buy", 5, 100, post_only=True), 0)) == "invalid"
    assert len(b) == 0


def test_stp_applies_at_entry_in_call_markets() -> None:
    b = call_book()
    b.submit(order("own", "me", "sell", 5, 100), 0)
    r = b.submit(order("n1", "me", "buy", 5, 99), 0)  # does not cross its own sell: rests
    assert kinds(r)[-1] == ("rested", "n1", 5, "")
    r = b.submit(order("n2", "me", "buy", 5, 100), 0)  # crosses: cancel_newest
    assert kinds(r)[-1] == ("cancelled", "n2", 5, "stp") and b.get("own") is not None
    r = b.submit(order("n3", "me", "buy", 5, 101, stp="cancel_oldest"), 0)
    assert kinds(r)[1:] == [("cancelled", "own", 5, "stp"), ("rested", "n3", 5, "")]
    b.submit(order("own2", "me2", "sell", 5, 100), 0)
    r = b.submit(order("n4", "me2", "buy", 5, stp="cancel_both"), 0)  # market: crosses all
    assert kinds(r)[1:] == [("cancelled", "own2", 5, "stp"), ("cancelled", "n4", 5, "stp")]
    assert [o.id for o in b.orders()] == ["n3", "n1"]


def test_gtd_orders_expire_between_auctions() -> None:
    b = call_book()
    b.submit(order("g", "x", "buy", 5, 100, tif="GTD", expires_at=50), 0)
    b.submit(order("s", "y", "sell", 5, 100), 0)
    assert kinds(b.expire(50)) == [("expired", "g", 5, "expired")]
    assert b.run_auction(100).auction_price is None


def test_auction_trade_ids_continue_across_auctions() -> None:
    b = OrderBook(call_book().rules, next_trade_id=7)
    b.submit(order("b", "x", "buy", 5, 100), 0)
    b.submit(order("s", "y", "sell", 2, 100), 0)
    assert [t.trade_id for t in b.run_auction(None).trades] == [7]
    b.submit(order("s2", "y", "sell", 3, 100), 0)
    r = b.run_auction(None)
    assert [t.trade_id for t in r.trades] == [8] and r.touched["b"].status == "filled"
    assert len(b) == 0
