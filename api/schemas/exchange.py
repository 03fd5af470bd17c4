from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from api.schemas.common import DecimalString, StrictSchema

SIDES = ("buy", "sell")
TYPES = ("limit", "market")
TIFS = ("GTC", "GTD", "IOC", "FOK")
STP_MODES = ("cancel_newest", "cancel_oldest", "cancel_both")


class InstrumentSchema(StrictSchema):
    id = fields.String()
    asset_id = fields.String()
    unit_class = fields.String(data_key="class")
    currency = fields.String()
    total_units = fields.Integer()
    tick_size = fields.String()
    lot_size = fields.Integer()
    min_order_value = fields.String()
    band_bps = fields.Integer(allow_none=True)
    fee_bps = fields.Integer()
    market_model = fields.String()
    auction_interval_s = fields.Integer(allow_none=True)
    next_auction_at = fields.DateTime(format="iso", allow_none=True)
    halted = fields.Boolean()
    last_price = DecimalString(allow_none=True)


class InstrumentQuerySchema(StrictSchema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    cursor = fields.String(load_default=None, validate=validate.Length(max=100))
    asset_id = fields.String(load_default=None, validate=validate.Length(max=40))


class MarketConfigSchema(StrictSchema):
    tick_size = DecimalString()
    lot_size = fields.Integer(strict=True, validate=validate.Range(min=1, max=10**9))
    min_order_value = DecimalString()
    band_bps = fields.Integer(strict=True, allow_none=True,
                              validate=validate.Range(min=1, max=10_000))
    fee_bps = fields.Integer(strict=True, validate=validate.Range(min=0, max=1_000))
    market_model = fields.String(validate=validate.OneOf(("continuous", "call")))
    auction_interval_s = fields.Integer(strict=True, allow_none=True,
                                        validate=validate.Range(min=1, max=366 * 86400))
    halted = fields.Boolean()


class OrderCreateSchema(StrictSchema):
    instrument_id = fields.String(required=True, validate=validate.Length(min=1, max=40))
    side = fields.String(required=True, validate=validate.OneOf(SIDES))
    type = fields.String(required=True, validate=validate.OneOf(TYPES))
    price = DecimalString(load_default=None, allow_none=True)
    quantity = fields.Integer(required=True, strict=True,
                              validate=validate.Range(min=1, max=10**12))
    time_in_force = fields.String(load_default="GTC", validate=validate.OneOf(TIFS))
    expires_at = fields.AwareDateTime(load_default=None, allow_none=True, format="iso")
    post_only = fields.Boolean(load_default=False)
    stp = fields.String(load_default="cancel_newest", validate=validate.OneOf(STP_MODES),
                        metadata={"description": "self-trade prevention, by the new order"})
    client_order_id = fields.String(load_default=None, allow_none=True,
                                    validate=validate.Length(min=1, max=100))

    @validates_schema
    def _consistent(self, data: dict[str, Any], **_: Any) -> None:
        if data["type"] == "limit" and data.get("price") is None:
            raise ValidationError("a limit order needs a price", field_name="price")
        if data["type"] == "market" and data.get("price") is not None:
            raise ValidationError("a market order takes no price", field_name="price")
        if data["time_in_force"] == "GTD" and data.get("expires_at") is None:
            raise ValidationError("a GTD order needs expires_at", field_name="expires_at")
        if data.get("post_only") and (data["type"] != "limit"
                                      or data["time_in_force"] in ("IOC", "FOK")):
            raise ValidationError("post_only needs a resting limit order (GTC or GTD)",
                                  field_name="post_only")


class FillSchema(StrictSchema):
    trade_id = fields.String()
    price = DecimalString()
    quantity = fields.Integer()


class OrderSchema(StrictSchema):
    id = fields.String(attribute="order.id")
    instrument_id = fields.String(attribute="order.instrument_id")
    client_order_id = fields.String(attribute="order.client_order_id", allow_none=True)
    side = fields.String(attribute="order.side")
    type = fields.String(attribute="order.type")
    price = DecimalString(allow_none=True)
    quantity = fields.Integer(attribute="order.quantity")
    filled_quantity = fields.Integer(attribute="order.filled")
    remaining_quantity = fields.Method("_remaining")
    time_in_force = fields.String(attribute="order.time_in_force")
    expires_at = fields.DateTime(attribute="order.expires_at", format="iso", allow_none=True)
    post_only = fields.Boolean(attribute="order.post_only")
    status = fields.String(attribute="order.status")
    reason = fields.String(attribute="order.reason", allow_none=True)
    created_at = fields.DateTime(attribute="order.created_at", format="iso")
    fills = fields.List(fields.Nested(FillSchema))

    def _remaining(self, view: Any) -> int:
        return 0 if not view.order.status_open else int(view.order.remaining)


class OrderQuerySchema(StrictSchema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    cursor = fields.String(load_default=None, validate=validate.Length(max=100))
    open = fields.Boolean(load_default=False)


class LevelSchema(StrictSchema):
    price = DecimalString()
    quantity = fields.Integer()


class BookSchema(StrictSchema):
    instrument_id = fields.String()
    bids = fields.List(fields.Nested(LevelSchema))
    asks = fields.List(fields.Nested(LevelSchema))


class BookQuerySchema(StrictSchema):
    depth = fields.Integer(load_default=50, validate=validate.Range(min=1, max=1000))


class TradeSchema(StrictSchema):
    id = fields.String()
    trade_no = fields.Integer()
    price = DecimalString()
    quantity = fields.Integer()
    at = fields.DateTime(format="iso")
    auction = fields.Boolean()
    journal_seq = fields.Integer()


class TradeQuerySchema(StrictSchema):
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    cursor = fields.Integer(load_default=None, metadata={"description": "a trade_no"})


class AuctionSchema(StrictSchema):
    instrument_id = fields.String()
    price = DecimalString(allow_none=True)
    quantity = fields.Integer()
    trades = fields.List(fields.Nested(FillSchema))
