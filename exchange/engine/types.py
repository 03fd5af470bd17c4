"""Value types of the matching engine: orders, instrument rules, trades, events and results.

Prices are integers in ticks, quantities integers in units, times integers chosen by the caller
(milliseconds since the epoch, say). Nothing here reads a clock or draws a random number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal, NamedTuple

Side = Literal["buy", "sell"]
OrderType = Literal["limit", "market"]
TimeInForce = Literal["GTC", "GTD", "IOC", "FOK"]
StpMode = Literal["cancel_newest", "cancel_oldest", "cancel_both"]
MarketModel = Literal["continuous", "call"]
OrderStatus = Literal[
    "new", "open", "partially_filled", "filled", "cancelled", "expired", "rejected"
]
EventKind = Literal[
    "accepted", "rejected", "trade", "cancelled", "reduced", "expired", "rested"
]

SIDES: Final = ("buy", "sell")
ORDER_TYPES: Final = ("limit", "market")
TIMES_IN_FORCE: Final = ("GTC", "GTD", "IOC", "FOK")
STP_MODES: Final = ("cancel_newest", "cancel_oldest", "cancel_both")
MARKET_MODELS: Final = ("continuous", "call")

#: Prices and quantities must stay below this (they are stored as signed 64-bit integers).
MAX_INT: Final = (1 << 63) - 1

# Reason codes of `rejected` events.
OFF_LOT: Final = "off_lot"
BELOW_MIN_NOTIONAL: Final = "below_min_notional"
POST_ONLY_WOULD_CROSS: Final = "post_only_would_cross"
FOK_UNFILLABLE: Final = "fok_unfillable"
EXPIRED: Final = "expired"
NO_LIQUIDITY: Final = "no_liquidity"
INVALID: Final = "invalid"
NOT_FOUND: Final = "not_found"  # cancel/reduce of an unknown order or of another owner's order

# Reason codes of `cancelled` events (and `expired`, whose reason is EXPIRED).
IOC_REMAINDER: Final = "ioc_remainder"
MARKET_REMAINDER: Final = "market_remainder"
BAND: Final = "band"
STP: Final = "stp"
USER: Final = "user"
FOK: Final = "fok"


@dataclass(slots=True)
class Order:
    """An order. The book mutates `remaining`, `filled`, `status` and `priority` in place.

    `quantity` is the original quantity and never changes; at every moment
    ``remaining + filled + (cancelled, reduced or expired quantity) == quantity``.
    `priority` is the time priority (lower is older): the book assigns the next number when an
    order enters with priority 0, and keeps a non-zero priority (restored with `load`, or chosen
    by a caller that numbers orders itself, e.g. from a database sequence).
    """

    id: str
    owner: str
    side: Side
    type: OrderType
    price: int | None  # ticks; None for a market order
    quantity: int
    remaining: int
    tif: TimeInForce
    expires_at: int | None = None  # GTD only
    post_only: bool = False
    stp: StpMode = "cancel_newest"
    priority: int = 0
    filled: int = 0
    status: OrderStatus = "new"


@dataclass(frozen=True)
class InstrumentRules:
    """Per-instrument trading rules.

    `min_notional` is the minimum ``price * quantity`` in ticks x units: a limit order uses its
    price; a market order uses the worst price its band allows (the best opposite price at arrival
    when there is no band). `band_ticks` protects market orders: a market buy never trades above
    the best ask at its arrival plus `band_ticks`, a market sell never below the best bid minus
    `band_ticks`; None means no band.
    """

    lot_size: int = 1
    min_notional: int = 0
    band_ticks: int | None = None
    market_model: MarketModel = "continuous"

    def __post_init__(self) -> None:
        if self.lot_size < 1:
            raise ValueError("lot_size must be at least 1")
        if self.min_notional < 0:
            raise ValueError("min_notional must not be negative")
        if self.band_ticks is not None and self.band_ticks < 0:
            raise ValueError("band_ticks must not be negative")
        if self.market_model not in MARKET_MODELS:
            raise ValueError(f"market_model must be one of {MARKET_MODELS}")


@dataclass(frozen=True, slots=True)
class Trade:
    """One execution between a buy order and a sell order, at `price` ticks.

    `aggressor_side` is the incoming order's side in a continuous market and None in an auction.
    """

    trade_id: int
    price: int
    quantity: int
    buy_order_id: str
    sell_order_id: str
    buyer: str
    seller: str
    aggressor_side: Side | None


Fill = Trade


class Event(NamedTuple):
    """Something that happened to an order, in the order it happened.

    `quantity` is the order's quantity for `accepted` and `rejected` (0 when a cancel or reduce is
    rejected), the traded quantity for `trade`, the resting quantity for `rested`, and the
    quantity taken off the book for `cancelled`, `reduced` and `expired`. `reason` is one of the
    reason codes of this module ('' when there is none). A `trade` event carries the trade's id;
    its `order_id` is the incoming order's (in an auction, the buy order's).
    """

    kind: EventKind
    order_id: str
    quantity: int
    reason: str = ""
    trade_id: int | None = None


@dataclass(slots=True)
class Result:
    """What one command did: trades, events in order, and every order it touched, in its final
    state (keyed by order id, in the order they were first touched), so that a caller can persist
    exactly what changed. A rejected order is not in `touched`: nothing changed.

    `auction_price` and `auction_volume` are set by a call auction that crossed.
    """

    trades: list[Trade] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    touched: dict[str, Order] = field(default_factory=dict)
    auction_price: int | None = None
    auction_volume: int = 0

    @property
    def rejected(self) -> bool:
        """True if the command was refused (its last event is a rejection)."""
        return bool(self.events) and self.events[-1].kind == "rejected"
