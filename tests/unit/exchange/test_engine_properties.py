"""Hypothesis properties of the engine over random command sequences.

Continuous markets, after every command: the book is never crossed; its inspection views agree with
each other; every order's quantity is conserved (remaining + filled + taken off = submitted, with
`filled` matching the trades); priority is respected (no trade against a resting order while an
older order at the same price and side still rests); trades happen at resting prices and within
the aggressor's limit. Replaying a sequence on a fresh book gives identical trades and events.

Call auctions: nobody trades at a price worse than their limit, everything trades at one price,
and the executed volume is the maximum any candidate price allows.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange.engine import InstrumentRules, Order, OrderBook, Result
from exchange.engine.types import STP_MODES

OWNERS = ("a", "b", "c", "d", "e", "f")

submit_cmd = st.tuples(
    st.just("submit"),
    st.sampled_from(("buy", "sell")),
    st.one_of(st.integers(98, 102), st.integers(98, 102), st.integers(95, 105), st.none()),
    st.integers(1, 12),
    st.sampled_from(("GTC", "GTC", "GTC", "IOC", "FOK", "GTD")),
    st.sampled_from((False, False, False, True)),
    st.sampled_from(STP_MODES),
    st.sampled_from(OWNERS),
    st.integers(1, 30),
)
cancel_cmd = st.tuples(st.just("cancel"), st.integers(0, 10_000), st.booleans())
reduce_cmd = st.tuples(st.just("reduce"), st.integers(0, 10_000), st.integers(0, 12))
expire_cmd = st.tuples(st.just("expire"), st.integers(0, 10))
commands = st.lists(
    st.one_of(submit_cmd, submit_cmd, submit_cmd, cancel_cmd, reduce_cmd, expire_cmd),
    min_size=20, max_size=80,
)
rules = st.builds(
    InstrumentRules,
    lot_size=st.sampled_from((1, 1, 2)),
    min_notional=st.sampled_from((0, 0, 300)),
    band_ticks=st.sampled_from((None, 2, 5)),
)


def replay(cmds: list[tuple[Any, ...]], book_rules: InstrumentRules,
           check: bool = False) -> list[Result]:
    """Apply the commands to a fresh book; with `check`, assert the invariants as it goes."""
    book = OrderBook(book_rules)
    now = 0
    ids: list[str] = []
    orders: dict[str, Order] = {}
    removed: dict[str, int] = defaultdict(int)  # cancelled, reduced or expired quantity
    traded: dict[str, int] = defaultdict(int)
    results: list[Result] = []
    for n, cmd in enumerate(cmds):
        now += 1
        kind = cmd[0]
        if kind == "submit":
            _, side, price, qty, tif, post_only, stp, owner, ttl = cmd
            oid = f"o{n}"
            o = Order(oid, owner, side, "limit" if price is not None else "market", price, qty,
                      qty, tif, now + ttl if tif == "GTD" else None, post_only, stp)
            result = book.submit(o, now)
            if not result.rejected:
                ids.append(oid)
                orders[oid] = o
        elif kind == "cancel":
            _, i, wrong_owner = cmd
            oid = ids[i % len(ids)] if ids else "none"
            owner = orders[oid].owner if oid in orders else "a"
            result = book.cancel(oid, "intruder" if wrong_owner else owner)
        elif kind == "reduce":
            _, i, qty = cmd
            oid = ids[i % len(ids)] if ids else "none"
            result = book.reduce(oid, orders[oid].owner if oid in orders else "a", qty)
        else:
            now += cmd[1]
            result = book.expire(now)
        results.append(result)
        if check:
            _check(book, orders, removed, traded, result)
    return results


def _check(book: OrderBook, orders: dict[str, Order], removed: dict[str, int],
           traded: dict[str, int], result: Result) -> None:
    # never crossed
    bid, ask = book.best_bid(), book.best_ask()
    assert bid is None or ask is None or bid < ask
    # the views agree
    resting = list(book.orders())
    assert len(resting) == len(book) == len({o.id for o in resting})
    assert all(o.remaining > 0 and book.get(o.id) is o for o in resting)
    bids, asks = book.depth(1000)
    assert sum(q for _, q in bids) + sum(q for _, q in asks) == sum(o.remaining for o in resting)
    assert [p for p, _ in bids] == sorted((p for p, _ in bids), reverse=True)
    assert [p for p, _ in asks] == sorted(p for p, _ in asks)
    # conservation
    for e in result.events:
        if e.kind in ("cancelled", "reduced", "expired"):
            removed[e.order_id] += e.quantity
    for t in result.trades:
        traded[t.buy_order_id] += t.quantity
        traded[t.sell_order_id] += t.quantity
    for oid, o in orders.items():
        assert o.remaining + o.filled + removed[oid] == o.quantity, oid
        assert o.filled == traded[oid], oid
        assert (o.remaining > 0) == (book.get(oid) is o), oid
    # priority, prices and limits
    for t in result.trades:
        buy, sell = orders[t.buy_order_id], orders[t.sell_order_id]
        maker, taker = (sell, buy) if t.aggressor_side == "buy" else (buy, sell)
        assert t.price == maker.price
        if taker.price is not None:
            assert t.price <= taker.price if taker.side == "buy" else t.price >= taker.price
        assert not any(o.side == maker.side and o.price == maker.price
                       and o.priority < maker.priority for o in resting), (t, maker)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(commands, rules)
def test_invariants_hold_after_every_command(cmds: list[tuple[Any, ...]],
                                             book_rules: InstrumentRules) -> None:
    replay(cmds, book_rules, check=True)


def _signature(results: list[Result]) -> list[tuple[Any, ...]]:
    return [(tuple(r.trades), tuple(r.events),
             tuple((o.id, o.remaining, o.filled, o.status, o.priority)
                   for o in r.touched.values()))
            for r in results]


@settings(max_examples=100, deadline=None)
@given(commands, rules)
def test_replay_is_deterministic(cmds: list[tuple[Any, ...]], book_rules: InstrumentRules) -> None:
    first = _signature(replay(cmds, book_rules))
    second = _signature(replay(cmds, book_rules))
    assert first == second
    assert repr(first) == repr(second)  # byte for byte


auction_orders = st.lists(
    st.tuples(
        st.sampled_from(("buy", "sell")),
        st.one_of(st.integers(95, 105), st.integers(95, 105), st.none()),
        st.integers(1, 20),
        st.sampled_from(OWNERS + ("g", "h")),
        st.sampled_from(STP_MODES),
    ),
    max_size=30,
)


@settings(max_examples=250, deadline=None)
@given(auction_orders, st.one_of(st.none(), st.integers(90, 110)))
def test_auction_clears_the_maximum_volume_within_every_limit(
    specs: list[tuple[Any, ...]], reference: int | None
) -> None:
    book = OrderBook(InstrumentRules(market_model="call"))
    for n, (side, price, qty, owner, stp) in enumerate(specs):
        book.submit(Order(f"o{n}", owner, side, "limit" if price is not None else "market",
                          price, qty, qty, "GTC", stp=stp), 0)
    resting = {o.id: (o.side, o.price, o.remaining) for o in book.orders()}
    # nobody crosses their own orders after STP at entry
    for a in book.orders():
        for b in book.orders():
            if a.owner == b.owner and a.side == "buy" and b.side == "sell":
                assert not (a.price is None or b.price is None or a.price >= b.price)

    limits = sorted({p for _, p, _ in resting.values() if p is not None})
    candidates = limits or ([reference] if reference is not None else [])

    def volume_at(p: int) -> int:
        demand = sum(q for s, lp, q in resting.values() if s == "buy" and (lp is None or lp >= p))
        supply = sum(q for s, lp, q in resting.values() if s == "sell" and (lp is None or lp <= p))
        return min(demand, supply)

    best = max((volume_at(p) for p in candidates), default=0)
    result = book.run_auction(reference)
    assert result.auction_volume == best
    if best == 0:
        assert result.auction_price is None and not result.trades
        return
    price = result.auction_price
    assert price is not None and volume_at(price) == best
    assert sum(t.quantity for t in result.trades) == best
    filled: dict[str, int] = defaultdict(int)
    for t in result.trades:
        assert t.price == price and t.aggressor_side is None
        for oid in (t.buy_order_id, t.sell_order_id):
            filled[oid] += t.quantity
        _, buy_limit, _ = resting[t.buy_order_id]
        _, sell_limit, _ = resting[t.sell_order_id]
        assert buy_limit is None or buy_limit >= price
        assert sell_limit is None or sell_limit <= price
    for oid, q in filled.items():
        assert q <= resting[oid][2]
        left = book.get(oid)
        assert (left.remaining if left else 0) == resting[oid][2] - q
    # price-time allocation: an order that got less than all of it leaves no better-placed
    # order of its side unfilled
    for oid, (side, lp, q) in resting.items():
        if filled.get(oid, 0) == q:
            continue
        for other, (s2, lp2, _) in resting.items():
            if other == oid or s2 != side or filled.get(other, 0) == 0:
                continue
            if lp2 is not None and lp is not None and lp2 != lp:
                better = lp > lp2 if side == "buy" else lp < lp2
                assert not better, (oid, other)
            elif lp2 is not None and lp is None:
                raise AssertionError(f"market order {oid} not filled before limit {other}")


class NaiveBook:
    """A deliberately simple model of continuous limit matching (GTC and IOC, no self-trades):
    one list of resting orders, scanned in full for the best price and then the oldest."""

    def __init__(self) -> None:
        self.resting: list[list[Any]] = []  # [seq, id, side, price, remaining]
        self.seq = 0

    def submit(self, oid: str, side: str, price: int, qty: int,
               ioc: bool) -> list[tuple[int, int, str]]:
        trades = []
        while qty:
            opposite = [r for r in self.resting if r[2] != side
                        and (r[3] <= price if side == "buy" else r[3] >= price)]
            if not opposite:
                break
            best = min(opposite, key=lambda r: (r[3] if side == "buy" else -r[3], r[0]))
            q = min(qty, best[4])
            trades.append((best[3], q, best[1]))
            qty -= q
            best[4] -= q
            if not best[4]:
                self.resting.remove(best)
        if qty and not ioc:
            self.seq += 1
            self.resting.append([self.seq, oid, side, price, qty])
        return trades

    def cancel(self, oid: str) -> None:
        self.resting = [r for r in self.resting if r[1] != oid]


naive_cmds = st.lists(
    st.one_of(
        st.tuples(st.just("submit"), st.sampled_from(("buy", "sell")), st.integers(97, 103),
                  st.integers(1, 10), st.booleans()),
        st.tuples(st.just("submit"), st.sampled_from(("buy", "sell")), st.integers(97, 103),
                  st.integers(1, 10), st.booleans()),
        st.tuples(st.just("cancel"), st.integers(0, 10_000)),
    ),
    min_size=10, max_size=80,
)


@settings(max_examples=200, deadline=None)
@given(naive_cmds)
def test_matches_a_naive_model(cmds: list[tuple[Any, ...]]) -> None:
    """Every order from its own owner (no STP): the engine's trades equal the model's."""
    book = OrderBook(InstrumentRules())
    model = NaiveBook()
    ids: list[str] = []
    for n, cmd in enumerate(cmds):
        if cmd[0] == "submit":
            _, side, price, qty, ioc = cmd
            oid = f"o{n}"
            ids.append(oid)
            result = book.submit(Order(oid, oid, side, "limit", price, qty, qty,
                                       "IOC" if ioc else "GTC"), n)
            got = [(t.price, t.quantity, t.sell_order_id if side == "buy" else t.buy_order_id)
                   for t in result.trades]
            assert got == model.submit(oid, side, price, qty, ioc)
        elif ids:
            oid = ids[cmd[1] % len(ids)]
            book.cancel(oid, oid)
            model.cancel(oid)
        assert sorted((o.id, o.remaining) for o in book.orders()) == \
            sorted((r[1], r[4]) for r in model.resting)
