"""IPX's pure matching engine: price-time priority continuous matching and call auctions.

Standard library only; integer prices (ticks) and quantities (units); deterministic. The service
loads the resting orders that matter into an `OrderBook`, submits a command, and persists the
`Result` (trades, events, and the final state of every order touched).
"""

from exchange.engine.book import OrderBook
from exchange.engine.types import (
    Event,
    EventKind,
    Fill,
    InstrumentRules,
    MarketModel,
    Order,
    OrderStatus,
    OrderType,
    Result,
    Side,
    StpMode,
    TimeInForce,
    Trade,
)

__all__ = [
    "Event",
    "EventKind",
    "Fill",
    "InstrumentRules",
    "MarketModel",
    "Order",
    "OrderBook",
    "OrderStatus",
    "OrderType",
    "Result",
    "Side",
    "StpMode",
    "TimeInForce",
    "Trade",
]
