"""Benchmark: the pure matching engine (exchange.engine) against pure-Python engines from PyPI.

One seeded command stream, in the spirit of exchange-core's test generator (TestOrdersGenerator):

* `--instruments` books (default 1,000) whose activity follows a Pareto distribution (shape 1.6,
  as exchange-core): each instrument gets a share of the commands and of the target depth in
  proportion to its Pareto weight, so a few books are busy and deep and most are thin;
* each book is first filled to its target depth (`--depth` resting orders in all, default a third
  of the commands: exchange-core's ratio, 1M resting orders for 3M commands) with passive GTC limit
  orders priced around the last trade price the way exchange-core prices them (the average of four
  uniform draws within a random deviation of up to 5,000 ticks around a central price of 100,000,
  bids at or below and asks at or above the last price, so some cross);
* then a mix of GTC limit orders, IOC orders (priced at the edge of the range, 50,000 or 150,000,
  like exchange-core's), cancels and quantity reductions of random live orders, leaning towards new
  orders while a book is below its target depth and towards removals above it;
* sizes 1 + a*b*c with a, b, c uniform in 0..5 (exchange-core's), owners drawn from `--users`
  (default 10,000) accounts. `--shallow` switches to a tenth of the commands as depth and prices
  within 500 ticks of 10,000: fewer, fuller price levels.

The stream is generated with exchange.engine as the reference book (as exchange-core generates
with its naive book), so every cancel and reduce names an order that is live in the reference.
The per-instrument streams are then merged in a seeded uniformly random interleaving: fill commands
first, then the mix. `--commands` counts both (default 1,000,000).

Each engine replays the same stream through a thin adapter (below), in a forked child of this
process (`--in-process`: one after the other in this process): every engine sees the stream as
this process laid it out and none inherits the heap another left. The fill phase and the mix phase
are timed separately, GC on as in service (the stream itself is gc.freeze()d); with `--rounds N`
the engines take turns N times and each one's best round counts, which evens out a machine that
is busy with other work. Then one more replay under tracemalloc gives each engine's peak memory
(the stream is allocated before and not counted). Before any timing, every engine must bring a
small scenario (partial fills, IOC remainder, reduce, cancel) to exchange.engine's traded volume,
or it is skipped. A replay that takes longer than `--timeout` seconds is stopped and reported.
Engines that lack a feature get the closest equivalent, named in the notes under the table.
Competitors are optional: an engine that is not installed is skipped with a message. They are not
dependencies of the project; install them by hand to compare (order-matching needs its polars
extra to import):

    .venv/bin/pip install lightmatchingengine pyorderbook fastlob akhil4n-orderbook \
        manticore-orderbook "order-matching[polars]"

    python bench/engine.py [--commands 1000000] [--instruments 1000] [--depth N] [--seed 1]
                           [--shallow] [--rounds 1] [--timeout 600] [--in-process]
                           [--engines ipx,lightmatchingengine,...] [--no-memory] [--profile]

Figures and the machine they were measured on: bench/README.md, section "Matching engine".

A benchmark, not a test: it prints figures and asserts nothing about time.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import importlib
import importlib.metadata
import io
import logging
import os
import pickle
import platform
import pstats
import random
import resource
import select
import signal
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from exchange.engine import InstrumentRules, Order, OrderBook  # noqa: E402

# --- the command stream ---------------------------------------------------------------------------

GTC, IOC, CANCEL, REDUCE = 0, 1, 2, 3
KIND_NAMES = ("GTC", "IOC", "cancel", "reduce")

PARETO_SHAPE = 1.6


class Prices(NamedTuple):
    """Price constants of the generator, in ticks."""

    central: int
    low: int
    high: int
    deviation: int  # for passive GTC orders


EXCHANGE_CORE_PRICES = Prices(100_000, 50_000, 150_000, 5_000)  # TestOrdersGenerator's
SHALLOW_PRICES = Prices(10_000, 5_000, 15_000, 500)


class Command(NamedTuple):
    """One command. `order_no`/`order_id` name the new order, or the order cancelled or reduced;
    `quantity` is the new remaining quantity of a reduce."""

    instrument: int
    kind: int
    order_no: int
    order_id: str
    owner_no: int
    owner: str
    is_buy: bool
    price: int
    quantity: int


class Stream(NamedTuple):
    fill: list[Command]
    mix: list[Command]
    reference_trades: int
    reference_volume: int


def _size(rng: random.Random) -> int:
    return 1 + rng.randrange(6) * rng.randrange(6) * rng.randrange(6)


def _passive_price(rng: random.Random, last: int, is_buy: bool, deviation: int) -> int:
    dev = 1 + int(rng.random() ** 2 * deviation)
    p = sum(rng.randrange(dev) for _ in range(4)) // 4 * 2 - dev
    if (p > 0) != (not is_buy):  # bids at or below the last price, asks at or above it
        p = -p
    return max(1, last + p)


def _generate_instrument(
    instrument: int, quota: int, target: int, rng: random.Random, owners: Sequence[str],
    next_no: list[int], prices: Prices,
) -> tuple[list[Command], list[Command], int, int]:
    """Commands for one instrument: (fill, mix, trades, volume), with exchange.engine as the
    reference book."""
    book = OrderBook(InstrumentRules())
    live: list[int] = []  # order numbers, swap-removed
    where: dict[int, int] = {}  # order number -> index in live
    owner_of: dict[int, int] = {}
    fill: list[Command] = []
    mix: list[Command] = []
    filling = target > 0
    last = prices.central
    trades = volume = 0
    users = len(owners)

    def drop(no: int) -> None:
        i = where.pop(no)
        moved = live.pop()
        if moved != no:
            live[i] = moved
            where[moved] = i

    for _ in range(quota):
        if filling and len(book) >= target:
            filling = False
        if filling:
            kind = GTC
        else:
            r = rng.random()
            if len(book) < target:
                kind = GTC if r < 0.50 else IOC if r < 0.65 else CANCEL if r < 0.825 else REDUCE
            else:
                kind = GTC if r < 0.30 else IOC if r < 0.50 else CANCEL if r < 0.75 else REDUCE
            if kind >= CANCEL and not live:
                kind = GTC
        if kind <= IOC:
            no = next_no[0]
            next_no[0] += 1
            owner_no = rng.randrange(users)
            is_buy = rng.random() < 0.5
            if kind == GTC:
                price = _passive_price(rng, last, is_buy, prices.deviation)
            else:  # exchange-core's IOC orders are priced at the edge of the range
                price = prices.high if is_buy else prices.low
            cmd = Command(instrument, kind, no, str(no), owner_no, owners[owner_no], is_buy,
                          price, _size(rng))
            result = book.submit(Order(cmd.order_id, cmd.owner, "buy" if is_buy else "sell",
                                       "limit", price, cmd.quantity, cmd.quantity,
                                       "GTC" if kind == GTC else "IOC"), 0)
            owner_of[no] = owner_no
        else:
            no = live[rng.randrange(len(live))]
            oid = str(no)
            owner_no = owner_of[no]
            resting = book.get(oid)
            assert resting is not None
            if kind == CANCEL:
                cmd = Command(instrument, CANCEL, no, oid, owner_no, owners[owner_no],
                              resting.side == "buy", resting.price or 0, 0)
                result = book.cancel(oid, owners[owner_no])
            else:
                new_quantity = rng.randrange(resting.remaining)
                cmd = Command(instrument, REDUCE, no, oid, owner_no, owners[owner_no],
                              resting.side == "buy", resting.price or 0, new_quantity)
                result = book.reduce(oid, owners[owner_no], new_quantity)
        (fill if filling else mix).append(cmd)
        for t in result.trades:
            trades += 1
            volume += t.quantity
            last = min(prices.high, max(prices.low, t.price))
        for oid, order in result.touched.items():
            n = int(oid)
            if order.remaining == 0:
                if n in where:
                    drop(n)
            elif n not in where:
                where[n] = len(live)
                live.append(n)
    return fill, mix, trades, volume


def _interleave(parts: list[list[Command]], rng: random.Random) -> list[Command]:
    """A uniformly random merge that keeps each part's own order."""
    labels = [i for i, part in enumerate(parts) for _ in part]
    rng.shuffle(labels)
    cursors = [iter(part) for part in parts]
    return [next(cursors[i]) for i in labels]


def generate(commands: int, instruments: int, depth: int, users: int, seed: int,
             prices: Prices = EXCHANGE_CORE_PRICES) -> Stream:
    """The seeded stream: Pareto-weighted instruments, fill then mix."""
    rng = random.Random(seed)
    weights = [rng.paretovariate(PARETO_SHAPE) for _ in range(instruments)]
    total = sum(weights)
    quotas = [int(commands * w / total) for w in weights]
    quotas[-1] += commands - sum(quotas)
    targets = [int(depth * w / total) for w in weights]
    owners = [f"u{i}" for i in range(users)]
    next_no = [1]
    fills: list[list[Command]] = []
    mixes: list[list[Command]] = []
    trades = volume = 0
    for i in range(instruments):
        fill, mix, n, v = _generate_instrument(
            i, quotas[i], targets[i], random.Random(rng.getrandbits(64)), owners, next_no, prices
        )
        fills.append(fill)
        mixes.append(mix)
        trades += n
        volume += v
    return Stream(_interleave(fills, rng), _interleave(mixes, rng), trades, volume)


# --- adapters -------------------------------------------------------------------------------------


class Adapter:
    """A thin adapter: builds an engine's books and replays commands through its API."""

    name = ""
    package = ""  # the PyPI distribution, for its version
    notes = ""
    counts_trades = True  # False: the engine reports volume exactly but not one trade per fill

    def available(self) -> str | None:
        """None if the engine can run, else why not."""
        return None

    def version(self) -> str:
        if not self.package:
            return "-"
        try:
            return importlib.metadata.version(self.package)
        except importlib.metadata.PackageNotFoundError:
            return "?"

    def setup(self, instruments: int) -> None:
        raise NotImplementedError

    def run(self, commands: list[Command]) -> tuple[int, int]:
        """Apply the commands; returns (trades, traded volume)."""
        raise NotImplementedError

    def teardown(self) -> None:
        """Drop the books."""


class IpxAdapter(Adapter):
    name = "ipx (exchange.engine)"
    notes = "native: GTC, IOC, cancel, reduce; STP cancel_newest (default)"

    def setup(self, instruments: int) -> None:
        rules = InstrumentRules()
        self.books = [OrderBook(rules) for _ in range(instruments)]

    def run(self, commands: list[Command]) -> tuple[int, int]:
        books = self.books
        trades = volume = 0
        for inst, kind, _, oid, _, owner, is_buy, price, qty in commands:
            book = books[inst]
            if kind == GTC:
                result = book.submit(Order(oid, owner, "buy" if is_buy else "sell", "limit",
                                           price, qty, qty, "GTC"), 0)
            elif kind == IOC:
                result = book.submit(Order(oid, owner, "buy" if is_buy else "sell", "limit",
                                           price, qty, qty, "IOC"), 0)
            elif kind == CANCEL:
                result = book.cancel(oid, owner)
            else:
                result = book.reduce(oid, owner, qty)
            if result.trades:
                for t in result.trades:
                    trades += 1
                    volume += t.quantity
        return trades, volume

    def teardown(self) -> None:
        self.books = []


def _importable(module: str) -> str | None:
    try:
        importlib.import_module(module)
    except Exception as error:  # ImportError, or a package broken on this Python
        return f"not installed or not importable ({type(error).__name__}: {error})"
    return None


class LightMatchingEngineAdapter(Adapter):
    name = "lightmatchingengine"
    package = "lightmatchingengine"
    notes = ("one engine, instrument = its key; no IOC: add, then cancel the remainder; no "
             "reduce: the order's leaves_qty written in place (keeps priority), 0 = cancel; "
             "trades = its passive fills")

    def available(self) -> str | None:
        return _importable("lightmatchingengine.lightmatchingengine")

    def setup(self, instruments: int) -> None:
        from lightmatchingengine.lightmatchingengine import LightMatchingEngine

        self.engine = LightMatchingEngine()
        self.ids: dict[int, Any] = {}

    def run(self, commands: list[Command]) -> tuple[int, int]:
        from lightmatchingengine.lightmatchingengine import Side

        engine = self.engine
        ids = self.ids
        buy_side, sell_side = Side.BUY, Side.SELL
        trades = volume = 0
        for inst, kind, no, _, _, _, is_buy, price, qty in commands:
            if kind <= IOC:
                order, fills = engine.add_order(inst, price, qty, buy_side if is_buy else sell_side)
                for t in fills:
                    if t.order_id != order.order_id:
                        trades += 1
                        volume += t.trade_qty
                if order.leaves_qty > 0:
                    if kind == IOC:
                        engine.cancel_order(order.order_id, inst)
                    else:
                        ids[no] = order
            elif kind == CANCEL:
                order = ids.pop(no, None)
                if order is not None:
                    # AssertionError: filled here, alive in the reference (STP)
                    with contextlib.suppress(AssertionError):
                        engine.cancel_order(order.order_id, inst)
            else:
                order = ids.get(no)
                if order is None:
                    continue
                if qty:
                    order.leaves_qty = qty
                else:
                    del ids[no]
                    with contextlib.suppress(AssertionError):
                        engine.cancel_order(order.order_id, inst)
        return trades, volume

    def teardown(self) -> None:
        self.engine = None
        self.ids = {}


class PyOrderBookAdapter(Adapter):
    name = "pyorderbook"
    package = "pyorderbook"
    notes = ("one Book, instrument = its symbol; Decimal prices, uuid4 ids (its own); no IOC: "
             "match, then cancel the remainder; no reduce: the order's quantity written in place "
             "(keeps priority), 0 = cancel")

    def available(self) -> str | None:
        return _importable("pyorderbook")

    def setup(self, instruments: int) -> None:
        import pyorderbook

        self.book = pyorderbook.Book()
        self.symbols = [f"S{i}" for i in range(instruments)]
        self.ids: dict[int, Any] = {}

    def run(self, commands: list[Command]) -> tuple[int, int]:
        from pyorderbook import Order as PobOrder
        from pyorderbook import Side as PobSide

        book = self.book
        symbols = self.symbols
        ids = self.ids
        bid, ask = PobSide.BID, PobSide.ASK
        trades = volume = 0
        for inst, kind, no, _, _, _, is_buy, price, qty in commands:
            if kind <= IOC:
                order = PobOrder(bid if is_buy else ask, symbols[inst], price, qty)
                blotter = book.match(order)
                for t in blotter.trades:
                    trades += 1
                    volume += t.fill_quantity
                if order.quantity > 0:
                    if kind == IOC:
                        book.cancel(order)
                    else:
                        ids[no] = order
            elif kind == CANCEL:
                order = ids.pop(no, None)
                if order is not None:
                    with contextlib.suppress(KeyError):
                        book.cancel(order)
            else:
                order = ids.get(no)
                if order is None:
                    continue
                if qty:
                    order.quantity = qty
                else:
                    del ids[no]
                    with contextlib.suppress(KeyError):
                        book.cancel(order)
        return trades, volume

    def teardown(self) -> None:
        self.book = None
        self.ids = {}


class FastlobAdapter(Adapter):
    name = "fastlob"
    package = "fastlob"
    notes = ("one Orderbook per instrument, marked running without its background GTD thread "
             "(one thread per book otherwise); Decimal prices; no IOC: GTC, then cancel what "
             "rests; reduce: its update(id, qty) (keeps priority), 0 = cancel; trades = its "
             "count of orders matched, which leaves out a partly filled last order")
    counts_trades = False

    def available(self) -> str | None:
        return _importable("fastlob")

    def setup(self, instruments: int) -> None:
        import fastlob

        self.books = []
        for i in range(instruments):
            book = fastlob.Orderbook(f"S{i}")
            book._alive = True  # what start() does, minus its expiry thread
            book._start_time = 0
            self.books.append(book)
        self.ids: dict[int, str] = {}

    def run(self, commands: list[Command]) -> tuple[int, int]:
        from fastlob import OrderParams, OrderSide, OrderType

        books = self.books
        ids = self.ids
        bid, ask, gtc = OrderSide.BID, OrderSide.ASK, OrderType.GTC
        trades = volume = 0
        for inst, kind, no, _, _, _, is_buy, price, qty in commands:
            book = books[inst]
            if kind <= IOC:
                result = book.process(OrderParams(bid if is_buy else ask, price, qty, gtc))
                trades += result.n_orders_matched()
                executed = result._execprices  # price -> quantity, market executions only
                if executed:
                    volume += int(sum(executed.values()))
                if result.kind().in_limit():
                    if kind == IOC:
                        book.cancel(result.orderid())
                    else:
                        ids[no] = result.orderid()
            elif kind == CANCEL:
                oid = ids.pop(no, None)
                if oid is not None:
                    book.cancel(oid)
            else:
                oid = ids.get(no)
                if oid is None:
                    continue
                if qty:
                    book.update(oid, qty)
                else:
                    del ids[no]
                    book.cancel(oid)
        return trades, volume

    def teardown(self) -> None:
        for book in self.books:
            book._alive = False
        self.books = []
        self.ids = {}


class Akhil4nAdapter(Adapter):
    name = "akhil4n-orderbook"
    package = "akhil4n-orderbook"
    notes = ("one OrderBook per instrument (SortedDict levels); no IOC: add, then cancel the "
             "remainder; no reduce: remaining_quantity (and the level total) written in place "
             "(keeps priority), 0 = cancel")

    def available(self) -> str | None:
        problem = _importable("orderbook")
        if problem is None and not hasattr(importlib.import_module("orderbook"), "OrderSide"):
            return "the module 'orderbook' installed is another package's"
        return problem

    def setup(self, instruments: int) -> None:
        import orderbook

        self.books = [orderbook.OrderBook() for _ in range(instruments)]
        self.ids: dict[int, str] = {}

    def run(self, commands: list[Command]) -> tuple[int, int]:
        from orderbook import Order as AkOrder
        from orderbook import OrderSide as AkSide

        books = self.books
        ids = self.ids
        bid, ask = AkSide.BID, AkSide.ASK
        trades = volume = 0
        for inst, kind, no, _, _, _, is_buy, price, qty in commands:
            book = books[inst]
            if kind <= IOC:
                order = AkOrder(bid if is_buy else ask, price, qty)
                log = book.trade_log
                before = len(log)
                book.add_limit_order(order)
                for t in log[before:]:
                    trades += 1
                    volume += t.quantity_filled
                if order.remaining_quantity > 0:
                    if kind == IOC:
                        book.cancel_order(order.order_id)
                    else:
                        ids[no] = order.order_id
            elif kind == CANCEL:
                oid = ids.pop(no, None)
                if oid is not None:
                    book.cancel_order(oid)
            else:
                oid = ids.get(no)
                if oid is None:
                    continue
                entry = book.orders.get(oid)
                if entry is None:
                    continue
                if qty:
                    level, order = entry
                    level.total_quantity -= order.remaining_quantity - qty
                    order.remaining_quantity = qty
                else:
                    del ids[no]
                    book.cancel_order(oid)
        return trades, volume

    def teardown(self) -> None:
        self.books = []
        self.ids = {}


class ManticoreAdapter(Adapter):
    name = "manticore-orderbook"
    package = "manticore-orderbook"
    notes = ("one OrderBook per instrument, logging off, its expiry thread stopped (one per book "
             "otherwise); native GTC, IOC, cancel; reduce: modify_order(new_quantity), 0 = "
             "cancel; trades counted from its TRADE events (IOC trades are published twice: "
             "counted once by trade id)")

    def available(self) -> str | None:
        return _importable("manticore_orderbook")

    def setup(self, instruments: int) -> None:
        import manticore_orderbook
        from manticore_orderbook.event_manager import EventType

        self.counts = [0, 0]
        self.seen: set[str] = set()  # IOC trades are published twice; count each trade id once
        counts = self.counts
        seen = self.seen

        def on_trade(event_type: Any, data: dict[str, Any]) -> None:
            if data["trade_id"] not in seen:
                seen.add(data["trade_id"])
                counts[0] += 1
                counts[1] += int(data["quantity"])

        self.books = []
        for i in range(instruments):
            book = manticore_orderbook.OrderBook(f"S{i}", enable_logging=False,
                                                 check_expiry_interval=3600.0)
            book.expiry_manager.stop()
            book.event_manager.subscribe(EventType.TRADE, on_trade)
            self.books.append(book)

    def run(self, commands: list[Command]) -> tuple[int, int]:
        books = self.books
        counts = self.counts
        seen = self.seen
        n0, v0 = counts
        for inst, kind, _, oid, _, owner, is_buy, price, qty in commands:
            book = books[inst]
            if kind <= IOC:
                seen.clear()
                book.add_order("buy" if is_buy else "sell", price, qty, order_id=oid,
                               time_in_force="GTC" if kind == GTC else "IOC", user_id=owner)
            elif kind == CANCEL:
                book.cancel_order(oid)
            elif qty:
                book.modify_order(oid, new_quantity=qty)
            else:
                book.cancel_order(oid)
        return counts[0] - n0, counts[1] - v0

    def teardown(self) -> None:
        self.books = []


class OrderMatchingAdapter(Adapter):
    name = "order-matching"
    package = "order-matching"
    notes = ("one MatchingEngine per instrument, loguru's default sink removed; place + match "
             "per order; no IOC: match, then cancel the remainder; no reduce: the order's size "
             "written in place, 0 = cancel")

    def available(self) -> str | None:
        return _importable("order_matching.matching_engine")

    def setup(self, instruments: int) -> None:
        from loguru import logger
        from order_matching.matching_engine import MatchingEngine

        logger.remove()
        self.engines = [MatchingEngine(seed=i) for i in range(instruments)]
        self.ids: dict[int, Any] = {}

    def run(self, commands: list[Command]) -> tuple[int, int]:
        from datetime import datetime, timedelta

        from order_matching.enums import Side as OmSide
        from order_matching.order import LimitOrder
        from order_matching.orders import Orders

        engines = self.engines
        ids = self.ids
        buy, sell = OmSide.BUY, OmSide.SELL
        base = datetime(2024, 1, 1)
        trades = volume = 0
        for step, (inst, kind, no, oid, _, owner, is_buy, price, qty) in enumerate(commands):
            engine = engines[inst]
            if kind <= IOC:
                at = base + timedelta(microseconds=step)
                order = LimitOrder(side=buy if is_buy else sell, price=price, size=qty,
                                   timestamp=at, order_id=oid, trader_id=owner)
                engine.place(Orders([order]))
                executed = engine.match(timestamp=at)
                for t in executed.trades:
                    trades += 1
                    volume += int(t.size)
                if order.size > 0:
                    if kind == IOC:
                        engine.cancel_order(oid)
                    else:
                        ids[no] = order
            elif kind == CANCEL:
                if ids.pop(no, None) is not None:
                    with contextlib.suppress(ValueError):
                        engine.cancel_order(oid)
            else:
                order = ids.get(no)
                if order is None:
                    continue
                if qty:
                    order.size = qty
                else:
                    del ids[no]
                    with contextlib.suppress(ValueError):
                        engine.cancel_order(oid)
        return trades, volume

    def teardown(self) -> None:
        self.engines = []
        self.ids = {}


ADAPTERS: list[Adapter] = [
    IpxAdapter(), LightMatchingEngineAdapter(), PyOrderBookAdapter(), FastlobAdapter(),
    Akhil4nAdapter(), ManticoreAdapter(), OrderMatchingAdapter(),
]

#: Not adapted (found with the package list, checked by hand): see bench/README.md.
EXCLUDED = {
    "OrderBook 0.1.2": "Python 2 only (cStringIO, implicit relative imports)",
    "ordrbook 0.0.1": "wrong matching: an incoming sell keeps matching after it is filled "
                      "when quantities are equal, and equal prices never match",
    "quant-limit-engine 0.1.1": "limit orders never match (only market orders do)",
    "pyclob 0.1.2": "binary event contracts only (prices 1..99 cents, account bankrolls)",
    "lobpy, market-wave, liquibook, cython-orderbook, order-book, ...": "native code, not "
                                                                         "pure Python",
}


# --- a sanity scenario every engine must get right before it is timed ------------------------

def _sanity_commands() -> list[Command]:
    rows = [  # kind, order, is_buy, price, quantity
        (GTC, 1, False, 100, 10), (GTC, 2, False, 101, 10), (IOC, 3, True, 101, 15),
        (GTC, 4, True, 99, 5), (REDUCE, 4, True, 99, 3), (GTC, 5, False, 99, 5),
        (CANCEL, 2, False, 101, 0), (IOC, 6, True, 98, 7), (GTC, 7, False, 98, 1),
        (GTC, 8, True, 101, 4), (GTC, 9, False, 97, 10),
    ]
    return [Command(0, kind, no, f"s{no}", no, f"o{no}", is_buy, price, qty)
            for kind, no, is_buy, price, qty in rows]


def sanity(adapter: Adapter) -> tuple[int, int]:
    adapter.setup(1)
    try:
        return adapter.run(_sanity_commands())
    finally:
        adapter.teardown()


# --- running --------------------------------------------------------------------------------------


class Figures(NamedTuple):
    name: str
    version: str
    fill_rate: float
    mix_rate: float
    total_rate: float
    seconds: float
    peak_mib: float | None
    trades: int
    volume: int
    notes: str


def _timed(adapter: Adapter, stream: Stream, instruments: int) -> tuple[float, float, int, int]:
    adapter.setup(instruments)
    gc.collect()
    t0 = time.perf_counter()
    n1, v1 = adapter.run(stream.fill)
    t1 = time.perf_counter()
    n2, v2 = adapter.run(stream.mix)
    t2 = time.perf_counter()
    adapter.teardown()
    gc.collect()
    return t1 - t0, t2 - t1, n1 + n2, v1 + v2


def _peak_memory(adapter: Adapter, stream: Stream, instruments: int) -> float:
    gc.collect()
    tracemalloc.start()
    adapter.setup(instruments)
    adapter.run(stream.fill)
    adapter.run(stream.mix)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    adapter.teardown()
    gc.collect()
    return peak / (1 << 20)


T = TypeVar("T")


def measure(adapters: list[Adapter], stream: Stream, instruments: int, memory: bool,
            isolated: bool, timeout: float, rounds: int) -> list[Figures]:
    """Time each engine's replay `rounds` times, the engines taking turns (so a busy spell of the
    machine hits them alike), keeping each one's best; then replay once more for peak memory.
    `isolated`: every replay runs in a forked child of this process, which sees the stream
    exactly as this process laid it out, and no engine inherits the heap another one left."""
    def run(fn: Callable[[], T]) -> T:
        return _in_child(fn, timeout) if isolated else fn()

    best: dict[str, tuple[float, float, int, int]] = {}
    failed: set[str] = set()
    for r in range(rounds):
        for adapter in adapters:
            if adapter.name in failed:
                continue
            print(f"round {r + 1}/{rounds}: {adapter.name} ...", end=" ", flush=True)
            try:
                timing = run(lambda a=adapter: _timed(a, stream, instruments))  # type: ignore[misc]
            except Exception as error:  # a competitor that breaks is reported, not fatal
                print(f"failed: {type(error).__name__}: {error}")
                adapter.teardown()
                failed.add(adapter.name)
                continue
            total = timing[0] + timing[1]
            print(f"{(len(stream.fill) + len(stream.mix)) / total:,.0f} commands/s "
                  f"({total:.1f} s), {timing[2]:,} trades", flush=True)
            if adapter.name not in best or total < best[adapter.name][0] + best[adapter.name][1]:
                best[adapter.name] = timing
    rows = []
    n_fill, n_mix = len(stream.fill), len(stream.mix)
    for adapter in adapters:
        if adapter.name not in best:
            continue
        peak = None
        if memory:
            print(f"memory: {adapter.name} ...", flush=True)
            try:
                peak = run(lambda a=adapter: _peak_memory(a, stream, instruments))  # type: ignore[misc]
            except Exception as error:
                print(f"  failed: {type(error).__name__}: {error}")
        fill_s, mix_s, trades, volume = best[adapter.name]
        rows.append(Figures(
            adapter.name, adapter.version(), n_fill / fill_s if fill_s else 0.0,
            n_mix / mix_s if mix_s else 0.0, (n_fill + n_mix) / (fill_s + mix_s),
            fill_s + mix_s, peak, trades, volume, adapter.notes,
        ))
    return rows


def _in_child(fn: Callable[[], T], timeout: float | None = None) -> T:
    """Run `fn` in a forked child and return its (pickled) result; kill it after `timeout` s."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read_end)
        try:
            payload = pickle.dumps(("ok", fn()))
        except BaseException as error:  # noqa: BLE001 - reported to the parent
            payload = pickle.dumps(("error", f"{type(error).__name__}: {error}"))
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(payload)
        os._exit(0)
    os.close(write_end)
    ready, _, _ = select.select([read_end], [], [], timeout)
    if not ready:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(read_end)
        raise TimeoutError(f"no result within {timeout:.0f} s: stopped")
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    if not data:
        raise RuntimeError("the child died without a result")
    status, value = pickle.loads(data)
    if status != "ok":
        raise RuntimeError(value)
    return value  # type: ignore[no-any-return]


def machine() -> list[str]:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return [
        f"machine: {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {cpu}",
        f"python: {platform.python_implementation()} {platform.python_version()} "
        f"({platform.system()} {platform.machine()})",
    ]


def table(rows: list[Figures]) -> str:
    head = ("engine", "version", "fill cmd/s", "mix cmd/s", "all cmd/s", "seconds", "peak MiB",
            "trades", "volume", "vs ipx")
    ipx = rows[0].total_rate if rows else 0.0
    body = [
        (r.name, r.version, f"{r.fill_rate:,.0f}", f"{r.mix_rate:,.0f}", f"{r.total_rate:,.0f}",
         f"{r.seconds:.1f}", "-" if r.peak_mib is None else f"{r.peak_mib:,.0f}",
         f"{r.trades:,}", f"{r.volume:,}", f"{ipx / r.total_rate:.1f}x" if r.total_rate else "-")
        for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=True)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
              for row in body]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--commands", type=int, default=1_000_000)
    parser.add_argument("--instruments", type=int, default=1000)
    parser.add_argument("--depth", type=int, default=None,
                        help="target resting orders over all books (default: commands / 3, "
                             "exchange-core's ratio: 1M orders for 3M commands)")
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--shallow", action="store_true",
                        help="depth a tenth of the commands, prices within 500 ticks of 10,000")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--engines", default="",
                        help="comma list of engine names to run (default: all installed)")
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc replay")
    parser.add_argument("--in-process", action="store_true",
                        help="replay every engine in this process, one after the other, instead "
                             "of each in a forked child")
    parser.add_argument("--rounds", type=int, default=1,
                        help="timed replays per engine, taking turns; the best one counts")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds a replay may take before it is stopped (forked mode)")
    parser.add_argument("--profile", action="store_true",
                        help="profile the ipx replay (cProfile) instead of comparing")
    args = parser.parse_args(argv)
    depth = args.commands // (10 if args.shallow else 3) if args.depth is None else args.depth
    prices = SHALLOW_PRICES if args.shallow else EXCHANGE_CORE_PRICES

    for line in machine():
        print(line)
    t0 = time.perf_counter()
    stream = generate(args.commands, args.instruments, depth, args.users, args.seed, prices)
    gc.collect()
    gc.freeze()  # the stream is the benchmark's, not an engine's: keep it out of GC passes
    counts = [0, 0, 0, 0]
    for cmd in stream.mix:
        counts[cmd.kind] += 1
    n_mix = max(1, len(stream.mix))
    mix_text = ", ".join(f"{KIND_NAMES[k]} {100 * counts[k] / n_mix:.1f}%" for k in range(4))
    print(f"stream: {len(stream.fill) + len(stream.mix):,} commands over {args.instruments:,} "
          f"instruments (seed {args.seed}, prices {prices.central:,} +- {prices.deviation:,} "
          f"ticks, generated in {time.perf_counter() - t0:.1f} s): "
          f"fill {len(stream.fill):,} GTC to a target depth of {depth:,} orders, then mix "
          f"{len(stream.mix):,} ({mix_text}); reference: {stream.reference_trades:,} trades, "
          f"volume {stream.reference_volume:,}")

    if args.profile:
        adapter = ADAPTERS[0]
        adapter.setup(args.instruments)
        profiler = cProfile.Profile()
        profiler.enable()
        adapter.run(stream.fill)
        adapter.run(stream.mix)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
        print(out.getvalue())
        return 0

    # Competitors log on every order (and pyorderbook at ERROR on a cancel of a filled order);
    # run every engine with logging off.
    logging.disable(logging.ERROR)
    wanted = {e.strip() for e in args.engines.split(",") if e.strip()}
    expected = sanity(ADAPTERS[0])
    runnable: list[Adapter] = []
    for adapter in ADAPTERS:
        if wanted and not any(w in adapter.name for w in wanted):
            continue
        problem = adapter.available()
        if problem is None:
            try:
                got = sanity(adapter)
            except Exception as error:
                got = (-1, -1)
                problem = f"the sanity scenario raised {type(error).__name__}: {error}"
            if not adapter.counts_trades:
                got = (expected[0], got[1])
            if problem is None and got != expected:
                problem = f"wrong result on the sanity scenario: {got} (trades, volume), " \
                          f"expected {expected}"
        if problem:
            print(f"skipped {adapter.name}: {problem}")
            continue
        runnable.append(adapter)
    rows = measure(runnable, stream, args.instruments, not args.no_memory, not args.in_process,
                   args.timeout, args.rounds)
    for name, why in EXCLUDED.items():
        print(f"not adapted: {name}: {why}")
    print()
    print(table(rows))
    for r in rows:
        print(f"- {r.name}: {r.notes}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nprocess max RSS: {rss:,.0f} MiB (stream and every engine included)")
    if len(rows) > 1:
        best = max(rows[1:], key=lambda r: r.total_rate)
        print(f"ipx / fastest competitor ({best.name}): {rows[0].total_rate / best.total_rate:.2f}x"
              " (goal: at least 2x)")
    return 0



if __name__ == "__main__":
    raise SystemExit(main())
