"""Assets: listing, browsing, recoverable costs."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from api import auth
from api.context import caller, read_uow, uow
from api.pagination import next_link
from api.schemas.assets import AssetCreateSchema, AssetSchema, CostCreateSchema, CostSchema
from api.schemas.common import PageQuerySchema
from ledger.services import assets

blp = Blueprint("assets", __name__, url_prefix="/v1", description="Assets and their listings")


@blp.route("/assets", methods=["POST"])
@blp.arguments(AssetCreateSchema)
@blp.response(201, AssetSchema)
@auth.required
def list_asset(body: dict[str, Any]) -> Any:
    """A university lists an asset; each class's units are issued at once."""
    return assets.list_asset(uow(), caller(), **body)


@blp.route("/assets", methods=["GET"])
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, AssetSchema(many=True))
def browse(query: dict[str, Any]) -> Any:
    """Every listed asset, in a stable order; follow the `Link: rel=next` header for more."""
    page = assets.browse_assets(read_uow(), query["cursor"], query["limit"])
    return page, 200, next_link(page, query["limit"], lambda listing: listing.asset.id)


@blp.route("/assets/<asset_id>", methods=["GET"])
@blp.response(200, AssetSchema)
def get_asset(asset_id: str) -> Any:
    """One asset's listing."""
    return assets.get_asset(read_uow(), asset_id)


@blp.route("/assets/<asset_id>/costs", methods=["POST"])
@blp.arguments(CostCreateSchema)
@blp.response(201, CostSchema)
@auth.required
def record_cost(body: dict[str, Any], asset_id: str) -> Any:
    """The owner records a recoverable cost of the asset (patent fees, prosecution)."""
    money = body["amount"]
    return assets.record_cost(uow(), caller(), asset_id, money["amount"], money["currency"],
                              body["description"])
