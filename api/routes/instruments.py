"""Instruments: listings, market rules, books, trades and auctions."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from api import auth
from api.context import caller, read_uow, uow
from api.pagination import next_link
from api.schemas.exchange import (
    AuctionSchema,
    BookQuerySchema,
    BookSchema,
    InstrumentQuerySchema,
    InstrumentSchema,
    MarketConfigSchema,
    TradeQuerySchema,
    TradeSchema,
)
from exchange.services import auctions, markets

blp = Blueprint("instruments", __name__, url_prefix="/v1/instruments",
                description="Instruments and market data")


@blp.route("", methods=["GET"])
@blp.arguments(InstrumentQuerySchema, location="query")
@blp.response(200, InstrumentSchema(many=True))
def list_instruments(query: dict[str, Any]) -> Any:
    """Every instrument, in a stable order; `Link: rel=next` for more."""
    page = markets.list_instruments(read_uow(), after=query["cursor"], limit=query["limit"],
                                    asset_id=query["asset_id"])
    return page, 200, next_link(page, query["limit"], lambda i: i.id)


@blp.route("/<instrument_id>", methods=["GET"])
@blp.response(200, InstrumentSchema)
def get_instrument(instrument_id: str) -> Any:
    """One instrument with its trading rules and last price."""
    return markets.get_instrument(read_uow(), instrument_id)


@blp.route("/<instrument_id>/market", methods=["PATCH"])
@blp.arguments(MarketConfigSchema)
@blp.response(200, InstrumentSchema)
@auth.required
def configure(changes: dict[str, Any], instrument_id: str) -> Any:
    """The operator sets trading rules: tick, lot, minimum value, band, fee, model, halt."""
    return markets.configure_market(uow(), caller(), instrument_id, changes)


@blp.route("/<instrument_id>/book", methods=["GET"])
@blp.arguments(BookQuerySchema, location="query")
@blp.response(200, BookSchema)
def book(query: dict[str, Any], instrument_id: str) -> Any:
    """Resting quantity aggregated by price."""
    bids, asks = markets.order_book(read_uow(), instrument_id, query["depth"])
    return {"instrument_id": instrument_id, "bids": bids, "asks": asks}


@blp.route("/<instrument_id>/trades", methods=["GET"])
@blp.arguments(TradeQuerySchema, location="query")
@blp.response(200, TradeSchema(many=True))
def trades(query: dict[str, Any], instrument_id: str) -> Any:
    """Trades, newest first; `Link: rel=next` for older ones."""
    page = markets.recent_trades(read_uow(), instrument_id, before=query["cursor"],
                                 limit=query["limit"])
    return page, 200, next_link(page, query["limit"], lambda t: str(t.trade_no))


@blp.route("/<instrument_id>/auction", methods=["POST"])
@blp.response(200, AuctionSchema)
@auth.required
def auction(instrument_id: str) -> Any:
    """The operator runs the instrument's call auction now."""
    return auctions.run_auction(uow(), caller(), instrument_id)
