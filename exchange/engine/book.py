"""A price-time priority order book for one instrument: continuous matching and call auctions.

Layout, per side: a sorted array of price *keys* (bisect) with the best key last, and beside it a
list of the price levels in the same order: a level is the order itself while it is alone at its
price (most levels of a deep book: no list to allocate, to reach through, or for the cyclic GC to
traverse), else a list of orders in time priority. The best level is the last item of both, found
without hashing; a level is found by bisecting the keys (which inserting needs anyway), with no
dict entry or int key object per level to miss the cache on. A bid's key is its price; an ask's key
is minus its price. So on both sides the best level is ``keys[-1]``, and an incoming order crosses
every opposite level whose key is at least its *threshold* (``-limit`` for a buy, ``limit`` for a
sell). A dict from order id to order finds any resting order in O(1).

Cancel never searches its level, by lazy deletion: a cancelled order gets ``remaining = 0`` and
leaves the id dict at once, but stays in its level's list until it reaches the front. Invariant: an
order alone at its level is live, and so is the first order of every list, so a level is empty
exactly when its list is. Dead entries are counted and the levels compacted when they outnumber
the live orders, so memory stays within twice the live book. (Lists beat insertion-ordered dicts
here: appending and popping the front of a short list is cheaper than hashing into a dict, and the
benchmark is dominated by those.)

Everything is deterministic: no clock (time is the caller's integer `now`), no randomness, and
only insertion-ordered dicts and sorted lists are iterated.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, insort
from collections.abc import Callable, Iterable, Iterator
from heapq import heapify, heappop, heappush
from typing import TypeAlias

from exchange.engine.types import (
    BAND,
    BELOW_MIN_NOTIONAL,
    EXPIRED,
    FOK,
    FOK_UNFILLABLE,
    INVALID,
    IOC_REMAINDER,
    MARKET_REMAINDER,
    MAX_INT,
    NO_LIQUIDITY,
    NOT_FOUND,
    OFF_LOT,
    POST_ONLY_WOULD_CROSS,
    STP,
    STP_MODES,
    USER,
    Event,
    InstrumentRules,
    Order,
    Result,
    Trade,
)

Level = Order | list[Order]  # an order alone at its price, or a list in time priority
Keys: TypeAlias = "array[int]"
Depth = list[tuple[int, int]]

_NO_LIMIT = -(1 << 65)  # below every key: a threshold that crosses every level
_EventFields = tuple[str, str, int, str, int | None]
# tuple.__new__ builds an Event without the Python-level NamedTuple constructor (3x faster).
_ev: Callable[[type[Event], _EventFields], Event] = tuple.__new__


def _priority(order: Order) -> int:
    return order.priority


class OrderBook:
    """The book of one instrument. See the module docstring for the layout.

    `next_trade_id` is the id the next trade gets; ids then go up by one per trade.
    """

    __slots__ = (
        "rules", "_call", "_lot", "_min_notional", "_band",
        "_bid_keys", "_ask_keys", "_bid_levels", "_ask_levels", "_bid_market", "_ask_market",
        "_orders", "_gtd", "_seq", "_next_trade_id", "_dead",
    )

    def __init__(self, rules: InstrumentRules, next_trade_id: int = 1) -> None:
        self.rules = rules
        self._call = rules.market_model == "call"
        self._lot = rules.lot_size
        self._min_notional = rules.min_notional
        self._band = rules.band_ticks
        # Sorted keys as packed 64-bit integers: a binary search reads one contiguous buffer
        # instead of chasing an int object per probe (cache misses on deep books).
        self._bid_keys: Keys = array("q")
        self._ask_keys: Keys = array("q")
        self._bid_levels: list[Level] = []  # level i has price key _bid_keys[i]
        self._ask_levels: list[Level] = []
        # call markets: resting market orders, in priority order
        self._bid_market: dict[str, Order] = {}
        self._ask_market: dict[str, Order] = {}
        self._orders: dict[str, Order] = {}
        self._gtd: list[tuple[int, int, str]] = []  # heap of (expires_at, priority, id), lazy
        self._seq = 1
        self._next_trade_id = next_trade_id
        self._dead = 0  # cancelled orders still in level lists

    # --- inspection ---------------------------------------------------------------------------

    @property
    def next_trade_id(self) -> int:
        """The id the next trade will get."""
        return self._next_trade_id

    @property
    def next_priority(self) -> int:
        """The priority the next order entering with priority 0 will get."""
        return self._seq

    def __len__(self) -> int:
        return len(self._orders)

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._orders

    def get(self, order_id: str) -> Order | None:
        """The resting order with this id, or None."""
        return self._orders.get(order_id)

    def best_bid(self) -> int | None:
        """The highest bid price, or None."""
        keys = self._bid_keys
        return keys[-1] if keys else None

    def best_ask(self) -> int | None:
        """The lowest ask price, or None."""
        keys = self._ask_keys
        return -keys[-1] if keys else None

    def depth(self, levels: int) -> tuple[Depth, Depth]:
        """The best `levels` price levels of each side, aggregated: ``(bids, asks)``, each a list
        of ``(price, quantity)`` from the best price outwards. Resting market orders of a call
        market have no price and are not shown."""
        if levels <= 0:
            return [], []
        bids = [(k, _total(level)) for k, level in
                zip(reversed(self._bid_keys[-levels:]), reversed(self._bid_levels[-levels:]),
                    strict=True)]
        asks = [(-k, _total(level)) for k, level in
                zip(reversed(self._ask_keys[-levels:]), reversed(self._ask_levels[-levels:]),
                    strict=True)]
        return bids, asks

    def orders(self) -> Iterator[Order]:
        """Every resting order: bids then asks, each side in priority order (market orders of a
        call market first, then price levels from the best, each in time priority)."""
        yield from self._bid_market.values()
        for level in reversed(self._bid_levels):
            yield from (o for o in _as_list(level) if o.remaining)
        yield from self._ask_market.values()
        for level in reversed(self._ask_levels):
            yield from (o for o in _as_list(level) if o.remaining)

    # --- restoring ----------------------------------------------------------------------------

    def load(self, orders: Iterable[Order]) -> None:
        """Restore resting orders without matching them, keeping their priorities (an order with
        priority 0 gets the next one). Raises ValueError for a duplicate id, an order with nothing
        remaining, a market order in a continuous market, or (continuous markets) an order that
        would cross the other side: a caller loads only what can rest side by side."""
        for order in orders:
            if order.id in self._orders:
                raise ValueError(f"duplicate order id {order.id!r}")
            if not 0 < order.remaining <= order.quantity:
                raise ValueError(f"order {order.id!r} has nothing left to rest")
            buy = order.side == "buy"
            price = order.price
            if price is not None and not 0 < price <= MAX_INT:
                raise ValueError(f"order {order.id!r} has a price out of range")
            if price is None:
                if not self._call:
                    raise ValueError(f"market order {order.id!r} cannot rest in a continuous book")
            elif not self._call:
                keys = self._ask_keys if buy else self._bid_keys
                if keys and keys[-1] >= (-price if buy else price):
                    raise ValueError(f"order {order.id!r} would cross the book")
            if order.priority == 0:
                order.priority = self._seq
                self._seq += 1
            elif order.priority >= self._seq:
                self._seq = order.priority + 1
            if order.status == "new":
                order.status = "partially_filled" if order.filled else "open"
            self._place(order, True)

    # --- commands -----------------------------------------------------------------------------

    def submit(self, order: Order, now: int) -> Result:
        """Submit a new order at time `now`.

        GTD orders due at `now` are expired first (their `expired` events lead the result).
        Then the order is validated (rejected: `invalid`, `expired`, `off_lot`,
        `below_min_notional`, `no_liquidity`, `post_only_would_cross`, `fok_unfillable`; nothing
        changes). In a continuous market it then matches in price-time priority at the resting
        orders' prices, and its remainder rests (GTC, GTD) or is cancelled (IOC, market orders,
        self-trade prevention). In a call market it never matches: it rests for the next auction
        after self-trade prevention at entry.
        """
        res = Result([], [], {})
        gtd = self._gtd
        if gtd and gtd[0][0] <= now:
            self._sweep(now, res)
        q = order.quantity
        price = order.price
        tif = order.tif
        side = order.side
        if (  # the common case, checked inline: a new GTC or IOC limit order
            (tif == "GTC" or tif == "IOC") and order.type == "limit" and price is not None
            and 0 < price <= MAX_INT and 0 < q <= MAX_INT and order.remaining == q
            and not order.filled and order.expires_at is None and (side == "buy" or side == "sell")
            and order.stp in STP_MODES and not (order.post_only and tif == "IOC")
            and not self._call
        ):
            if order.id in self._orders:
                return _reject(order, res, INVALID)
        else:
            if _malformed(order) or order.id in self._orders:
                return _reject(order, res, INVALID)
            if self._call and (tif == "IOC" or tif == "FOK" or order.post_only):
                return _reject(order, res, INVALID)  # not supported in call markets
            expires_at = order.expires_at
            if expires_at is not None and expires_at <= now:
                return _reject(order, res, EXPIRED)
        if q % self._lot:
            return _reject(order, res, OFF_LOT)
        min_notional = self._min_notional
        if min_notional and price is not None and price * q < min_notional:
            return _reject(order, res, BELOW_MIN_NOTIONAL)
        buy = side == "buy"
        if self._call:
            return self._submit_call(order, buy, res)

        if buy:
            keys = self._ask_keys
            levels = self._ask_levels
        else:
            keys = self._bid_keys
            levels = self._bid_levels
        if price is None:
            if not keys:
                return _reject(order, res, NO_LIQUIDITY)
            band = self._band
            if band is None:
                threshold = _NO_LIMIT
                worst = keys[-1]
            else:
                threshold = worst = keys[-1] - band
            if min_notional and max(-worst if buy else worst, 1) * q < min_notional:
                return _reject(order, res, BELOW_MIN_NOTIONAL)
        else:
            threshold = -price if buy else price
            if order.post_only and keys and keys[-1] >= threshold:
                return _reject(order, res, POST_ONLY_WOULD_CROSS)
        if tif == "FOK" and not self._fok_fillable(order, keys, levels, threshold):
            return _reject(order, res, FOK_UNFILLABLE)

        oid = order.id
        res.events.append(_ev(Event, ("accepted", oid, q, "", None)))
        explicit = order.priority != 0
        if explicit:
            if order.priority >= self._seq:
                self._seq = order.priority + 1
        else:
            order.priority = self._seq
            self._seq += 1
        res.touched[oid] = order
        if keys and keys[-1] >= threshold:
            stop = self._match(order, buy, keys, levels, threshold, res)
        else:
            stop = ""
        rem = order.remaining
        if rem == 0:
            order.status = "filled"
            return res
        if stop:
            reason = stop
        elif price is None:
            reason = BAND if keys else MARKET_REMAINDER
        elif tif == "IOC":
            reason = IOC_REMAINDER
        elif tif == "FOK":
            reason = FOK  # unreachable: the check above guarantees the fill
        elif explicit or tif == "GTD":
            self._place(order, explicit)
            order.status = "partially_filled" if order.filled else "open"
            res.events.append(_ev(Event, ("rested", oid, rem, "", None)))
            return res
        else:  # the common case, inlined: a GTC remainder joins the back of its level
            self._orders[oid] = order
            if buy:
                key = price
                own_keys = self._bid_keys
                own_levels = self._bid_levels
            else:
                key = -price
                own_keys = self._ask_keys
                own_levels = self._ask_levels
            i = bisect_left(own_keys, key)
            if i < len(own_keys) and own_keys[i] == key:
                level = own_levels[i]
                if isinstance(level, list):
                    level.append(order)
                else:
                    own_levels[i] = [level, order]
            else:
                own_keys.insert(i, key)
                own_levels.insert(i, order)
            order.status = "partially_filled" if order.filled else "open"
            res.events.append(_ev(Event, ("rested", oid, rem, "", None)))
            return res
        order.remaining = 0
        order.status = "cancelled"
        res.events.append(_ev(Event, ("cancelled", oid, rem, reason, None)))
        return res

    def cancel(self, order_id: str, owner: str) -> Result:
        """Cancel a resting order of `owner` (reason `user`). An unknown id, or another owner's
        order, gives a `rejected` event (reason `not_found`) and changes nothing."""
        order = self._orders.get(order_id)
        if order is None or order.owner != owner:
            return Result([], [_ev(Event, ("rejected", order_id, 0, NOT_FOUND, None))], {})
        quantity = order.remaining
        price = order.price
        if price is None:
            self._remove(order)
        else:  # _remove, inlined
            del self._orders[order_id]
            order.remaining = 0
            if order.side == "buy":
                keys = self._bid_keys
                levels = self._bid_levels
                i = bisect_left(keys, price)
            else:
                keys = self._ask_keys
                levels = self._ask_levels
                i = bisect_left(keys, -price)
            level = levels[i]
            if not isinstance(level, list):  # alone at its price
                del keys[i]
                del levels[i]
            elif level[0] is not order:
                self._dead += 1  # stays in the list until it reaches the front
                if self._dead > 64 and self._dead > len(self._orders):
                    self._compact()
            else:
                del level[0]
                while level and not level[0].remaining:
                    del level[0]
                    self._dead -= 1
                if not level:
                    del keys[i]
                    del levels[i]
        order.status = "cancelled"
        return Result(
            [], [_ev(Event, ("cancelled", order_id, quantity, USER, None))], {order_id: order}
        )

    def reduce(self, order_id: str, owner: str, new_quantity: int) -> Result:
        """Reduce the remaining quantity of a resting order of `owner` to `new_quantity`, keeping
        its time priority (event `reduced`, whose quantity is the amount taken off). Reducing to 0
        cancels it (reason `user`). Refused (`rejected`, nothing changes): an unknown id or another
        owner's order (`not_found`), a quantity that is not smaller than the remaining one or is
        negative (`invalid`), off the lot size (`off_lot`), or that would leave a limit order below
        the minimum notional (`below_min_notional`)."""
        order = self._orders.get(order_id)
        if order is None or order.owner != owner:
            return Result([], [_ev(Event, ("rejected", order_id, 0, NOT_FOUND, None))], {})
        reason = ""
        if not 0 <= new_quantity < order.remaining:
            reason = INVALID
        elif new_quantity % self._lot:
            reason = OFF_LOT
        elif new_quantity == 0:
            return self.cancel(order_id, owner)
        elif order.price is not None and order.price * new_quantity < self._min_notional:
            reason = BELOW_MIN_NOTIONAL
        if reason:
            return Result([], [_ev(Event, ("rejected", order_id, 0, reason, None))], {})
        taken = order.remaining - new_quantity
        order.remaining = new_quantity
        return Result(
            [], [_ev(Event, ("reduced", order_id, taken, USER, None))], {order_id: order}
        )

    def expire(self, now: int) -> Result:
        """Expire every GTD order with ``expires_at <= now`` (events `expired`, reason
        `expired`), oldest expiry first, then by priority."""
        res = Result([], [], {})
        if self._gtd and self._gtd[0][0] <= now:
            self._sweep(now, res)
        return res

    def run_auction(self, reference_price: int | None = None) -> Result:
        """Run a call auction: one uniform price clears as much as can trade.

        The price is chosen among the limit prices present (the reference price alone when only
        market orders are present on both sides): the one that maximises the executed volume,
        then minimises the absolute imbalance between demand and supply at that price, then is
        nearest `reference_price` (skipped when None), then, if still tied, the lower price.
        Each side then fills in priority order: market orders first, then limit orders from the
        best price, each price in time priority, until the volume is reached. So the side without
        surplus fills completely, and on the surplus side orders strictly better than the price
        fill fully while orders at the price are rationed by time priority. Buys and sells are
        paired in that order into trades at the uniform price (no aggressor). What is not filled
        keeps resting for the next auction. No crossing volume: an empty result, no price.
        Call `expire(now)` first to drop GTD orders that are due.
        """
        res = Result([], [], {})
        bid_market = list(self._bid_market.values())
        ask_market = list(self._ask_market.values())
        demand_market = sum(o.remaining for o in bid_market)
        supply_market = sum(o.remaining for o in ask_market)
        bids = [(k, _as_list(level))  # best first
                for k, level in zip(reversed(self._bid_keys), reversed(self._bid_levels),
                                    strict=True)]
        asks = [(-k, _as_list(level))
                for k, level in zip(reversed(self._ask_keys), reversed(self._ask_levels),
                                    strict=True)]
        bid_qty = {p: _total(level) for p, level in bids}
        ask_qty = {p: _total(level) for p, level in asks}
        prices = sorted(bid_qty.keys() | ask_qty.keys())
        if not prices:
            if reference_price is None or not (demand_market and supply_market):
                return res
            prices = [reference_price]

        demand = demand_market + sum(bid_qty.values())  # bids at or above the candidate
        supply = supply_market  # asks at or below the candidate
        best: tuple[int, int, int, int] | None = None
        for p in prices:  # ascending
            supply += ask_qty.get(p, 0)
            volume = min(demand, supply)
            if volume > 0:
                distance = 0 if reference_price is None else abs(p - reference_price)
                rank = (-volume, abs(demand - supply), distance, p)
                if best is None or rank < best:
                    best = rank
            demand -= bid_qty.get(p, 0)
        if best is None:
            return res
        price = best[3]
        volume = -best[0]

        buys = _allocate(bid_market, bids, volume, lambda p: p >= price)
        sells = _allocate(ask_market, asks, volume, lambda p: p <= price)
        trades = res.trades
        events = res.events
        touched = res.touched
        tid = self._next_trade_id
        i = j = 0
        buy, buy_left = buys[0]
        sell, sell_left = sells[0]
        while True:
            q = buy_left if buy_left < sell_left else sell_left
            trades.append(Trade(tid, price, q, buy.id, sell.id, buy.owner, sell.owner, None))
            events.append(_ev(Event, ("trade", buy.id, q, "", tid)))
            tid += 1
            buy_left -= q
            sell_left -= q
            if not buy_left:
                i += 1
                if i == len(buys):
                    break
                buy, buy_left = buys[i]
            if not sell_left:
                j += 1
                sell, sell_left = sells[j]
        self._next_trade_id = tid
        for order, q in buys + sells:
            order.remaining -= q
            order.filled += q
            touched[order.id] = order
            if order.remaining:
                order.status = "partially_filled"
            else:
                order.status = "filled"
                self._remove(order)
        res.auction_price = price
        res.auction_volume = volume
        return res

    # --- internals ----------------------------------------------------------------------------

    def _match(
        self, order: Order, buy: bool, keys: Keys, levels: list[Level],
        threshold: int, res: Result,
    ) -> str:
        """Match `order` against the opposite side down to `threshold`. Returns STP if
        self-trade prevention stopped it, else ''."""
        rem = order.remaining
        oid = order.id
        owner = order.owner
        side = order.side
        trades = res.trades
        events = res.events
        touched = res.touched
        orders = self._orders
        tid = self._next_trade_id
        stop = ""
        dead = self._dead
        while keys:
            key = keys[-1]
            if key < threshold:
                break
            level = levels[-1]
            price = -key if buy else key
            queue: list[Order] | None
            if isinstance(level, list):
                queue = level
                resting = level[0]  # live, by the invariant
            else:
                queue = None
                resting = level  # alone at its price
            while True:
                rid = resting.id
                rq = resting.remaining
                if resting.owner == owner:
                    mode = order.stp
                    if mode == "cancel_newest":
                        stop = STP
                        break
                    events.append(_ev(Event, ("cancelled", rid, rq, STP, None)))
                    resting.status = "cancelled"
                    if mode == "cancel_both":
                        stop = STP
                    q = 0
                else:
                    q = rq if rq <= rem else rem
                    if buy:
                        trades.append(Trade(tid, price, q, oid, rid, owner, resting.owner, side))
                    else:
                        trades.append(Trade(tid, price, q, rid, oid, resting.owner, owner, side))
                    events.append(_ev(Event, ("trade", oid, q, "", tid)))
                    tid += 1
                    resting.filled += q
                    rem -= q
                    if q == rq:
                        resting.status = "filled"
                touched[rid] = resting
                if q == rq or not q:  # filled, or cancelled by STP: off the book
                    resting.remaining = 0
                    del orders[rid]
                    if queue is None:
                        levels.pop()
                        keys.pop()
                        break
                    del queue[0]
                    while queue and not queue[0].remaining:
                        del queue[0]
                        dead -= 1
                    if not queue:
                        levels.pop()
                        keys.pop()
                        break
                    resting = queue[0]
                else:
                    resting.remaining = rq - q
                    resting.status = "partially_filled"
                if stop or not rem:
                    break
            if stop or not rem:
                break
        self._dead = dead
        self._next_trade_id = tid
        order.filled += order.remaining - rem
        order.remaining = rem
        return stop

    def _fok_fillable(
        self, order: Order, keys: Keys, levels: list[Level], threshold: int
    ) -> bool:
        """Whether `order` would fill completely, self-trade prevention included."""
        need = order.remaining
        owner = order.owner
        skip_own = order.stp == "cancel_oldest"
        for key, level in zip(reversed(keys), reversed(levels), strict=True):
            if key < threshold:
                return False
            for resting in _as_list(level):
                if not resting.remaining:
                    continue
                if resting.owner == owner:
                    if skip_own:
                        continue
                    return False  # matching would stop here
                need -= resting.remaining
                if need <= 0:
                    return True
        return False

    def _submit_call(self, order: Order, buy: bool, res: Result) -> Result:
        """Call market: validate what needs the book, apply STP at entry, rest."""
        price = order.price
        opp_keys = self._ask_keys if buy else self._bid_keys
        if price is None and self._min_notional and opp_keys:
            best = opp_keys[-1]
            worst = best if self._band is None else best - self._band
            if max(-worst if buy else worst, 1) * order.quantity < self._min_notional:
                return _reject(order, res, BELOW_MIN_NOTIONAL)
        oid = order.id
        events = res.events
        touched = res.touched
        events.append(_ev(Event, ("accepted", oid, order.quantity, "", None)))
        explicit = order.priority != 0
        if explicit:
            if order.priority >= self._seq:
                self._seq = order.priority + 1
        else:
            order.priority = self._seq
            self._seq += 1
        touched[oid] = order

        owner = order.owner
        threshold = _NO_LIMIT if price is None else (-price if buy else price)
        opp_levels = self._ask_levels if buy else self._bid_levels
        opp_market = self._ask_market if buy else self._bid_market
        own = [o for o in opp_market.values() if o.owner == owner]
        for key, level in zip(reversed(opp_keys), reversed(opp_levels), strict=True):
            if key < threshold:
                break
            own.extend(o for o in _as_list(level) if o.owner == owner and o.remaining)
        if own:
            mode = order.stp
            if mode != "cancel_newest":
                for resting in own:
                    events.append(_ev(Event, ("cancelled", resting.id, resting.remaining, STP,
                                              None)))
                    self._remove(resting)
                    resting.status = "cancelled"
                    touched[resting.id] = resting
            if mode != "cancel_oldest":
                events.append(_ev(Event, ("cancelled", oid, order.remaining, STP, None)))
                order.remaining = 0
                order.status = "cancelled"
                return res
        self._place(order, explicit)
        order.status = "partially_filled" if order.filled else "open"
        events.append(_ev(Event, ("rested", oid, order.remaining, "", None)))
        return res

    def _place(self, order: Order, explicit: bool) -> None:
        """Put `order` on the book; `explicit`: its priority was not just assigned, so it may
        belong before orders already at its level."""
        oid = order.id
        self._orders[oid] = order
        price = order.price
        if price is None:
            market = self._bid_market if order.side == "buy" else self._ask_market
            if explicit and market and next(reversed(market.values())).priority > order.priority:
                ranked = sorted([*market.values(), order], key=_priority)
                market.clear()
                market.update((o.id, o) for o in ranked)
            else:
                market[oid] = order
        else:
            if order.side == "buy":
                key = price
                keys = self._bid_keys
                levels = self._bid_levels
            else:
                key = -price
                keys = self._ask_keys
                levels = self._ask_levels
            i = bisect_left(keys, key)
            if i == len(keys) or keys[i] != key:
                keys.insert(i, key)
                levels.insert(i, order)
            else:
                level = levels[i]
                if not isinstance(level, list):
                    level = levels[i] = [level]
                if explicit and level[-1].priority > order.priority:
                    insort(level, order, key=_priority)
                else:
                    level.append(order)
        if order.expires_at is not None:
            gtd = self._gtd
            heappush(gtd, (order.expires_at, order.priority, oid))
            if len(gtd) > 2 * len(self._orders) + 64:  # drop entries of orders gone
                orders = self._orders
                live = [e for e in gtd if (kept := orders.get(e[2])) is not None
                        and kept.expires_at == e[0] and kept.priority == e[1]]
                heapify(live)
                self._gtd = live

    def _remove(self, order: Order) -> None:
        """Take a resting order off the book (its `remaining` becomes 0)."""
        oid = order.id
        del self._orders[oid]
        order.remaining = 0
        price = order.price
        if price is None:
            del (self._bid_market if order.side == "buy" else self._ask_market)[oid]
            return
        if order.side == "buy":
            keys = self._bid_keys
            levels = self._bid_levels
            i = bisect_left(keys, price)
        else:
            keys = self._ask_keys
            levels = self._ask_levels
            i = bisect_left(keys, -price)
        level = levels[i]
        if not isinstance(level, list):  # alone at its price
            del keys[i]
            del levels[i]
            return
        if level[0] is not order:
            self._dead += 1  # stays in the list until it reaches the front
            if self._dead > 64 and self._dead > len(self._orders):
                self._compact()
            return
        del level[0]
        while level and not level[0].remaining:
            del level[0]
            self._dead -= 1
        if not level:
            del keys[i]
            del levels[i]

    def _compact(self) -> None:
        """Drop every dead entry from the level lists."""
        for levels in (self._bid_levels, self._ask_levels):
            for level in levels:
                if isinstance(level, list):
                    level[:] = [o for o in level if o.remaining]
        self._dead = 0

    def _sweep(self, now: int, res: Result) -> None:
        """Expire the GTD orders due at `now` into `res`."""
        gtd = self._gtd
        orders = self._orders
        events = res.events
        touched = res.touched
        while gtd and gtd[0][0] <= now:
            expires_at, priority, oid = heappop(gtd)
            order = orders.get(oid)
            if order is None or order.expires_at != expires_at or order.priority != priority:
                continue  # already gone
            events.append(_ev(Event, ("expired", oid, order.remaining, EXPIRED, None)))
            self._remove(order)
            order.status = "expired"
            touched[oid] = order


def _total(level: Level) -> int:
    if isinstance(level, list):
        return sum(o.remaining for o in level)  # dead entries have 0
    return level.remaining


def _as_list(level: Level) -> list[Order]:
    """A level as a list of orders in time priority (dead entries included)."""
    return level if isinstance(level, list) else [level]


def _malformed(order: Order) -> bool:
    """Structural validation of a new order (reason `invalid`)."""
    q = order.quantity
    if not 0 < q <= MAX_INT or order.remaining != q or order.filled:
        return True
    side = order.side
    if side != "buy" and side != "sell":
        return True
    tif = order.tif
    if tif == "GTD":
        if order.expires_at is None:
            return True
    elif (tif != "GTC" and tif != "IOC" and tif != "FOK") or order.expires_at is not None:
        return True
    if order.stp not in STP_MODES:
        return True
    if order.type == "limit":
        price = order.price
        if price is None or not 0 < price <= MAX_INT:
            return True
        return order.post_only and (tif == "IOC" or tif == "FOK")
    if order.type == "market":
        return order.price is not None or order.post_only
    return True


def _reject(order: Order, res: Result, reason: str) -> Result:
    order.status = "rejected"
    res.events.append(_ev(Event, ("rejected", order.id, order.quantity, reason, None)))
    return res


def _allocate(
    market: list[Order], levels: list[tuple[int, list[Order]]], volume: int,
    eligible: Callable[[int], bool],
) -> list[tuple[Order, int]]:
    """Fill one side of an auction in priority order up to `volume`."""
    out: list[tuple[Order, int]] = []
    left = volume
    for order in market:
        q = min(order.remaining, left)
        out.append((order, q))
        left -= q
        if not left:
            return out
    for price, level in levels:
        if not eligible(price):
            break
        for order in level:
            if not order.remaining:
                continue  # dead
            q = min(order.remaining, left)
            out.append((order, q))
            left -= q
            if not left:
                return out
    raise AssertionError("auction volume exceeds the eligible quantity")  # pragma: no cover
