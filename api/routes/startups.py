"""Start-ups: their share capital, cap table as recorded on IPX, and its OCF export."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask_smorest import Blueprint

from api import auth
from api.context import caller, read_uow, uow
from api.schemas.equity import CapTableSchema, ShareCapitalSchema
from contracts.services import startups

blp = Blueprint("startups", __name__, url_prefix="/v1",
                description="Start-ups' share capital and cap tables")


@blp.route("/startups/<startup_id>/share-capital", methods=["POST"])
@blp.arguments(ShareCapitalSchema)
@blp.response(201, CapTableSchema)
@auth.required
def register(body: dict[str, Any], startup_id: str) -> Any:
    """The start-up (or the operator) registers its share classes, stakeholders, shares
    already issued and option pool, once; IPX records later issuances itself."""
    return startups.register_share_capital(uow(), caller(), startup_id, body)


@blp.route("/startups/<startup_id>/cap-table", methods=["GET"])
@blp.response(200, CapTableSchema)
@auth.required
def cap_table(startup_id: str) -> Any:
    """The cap table as recorded on IPX: for the start-up, its stakeholders, the universities
    it deals with, and the operator."""
    return startups.read_cap_table(read_uow(), caller(), startup_id)


@blp.route("/startups/<startup_id>/cap-table.ocf.zip", methods=["GET"])
@blp.response(200, content_type="application/zip")
@auth.required
def cap_table_ocf(startup_id: str) -> Any:
    """The cap table in the Open Cap Table Format 1.2.0: the manifest, stakeholders, stock
    classes, plans, issuances and transfers as JSON files in a zip (deterministic bytes)."""
    data = startups.export_ocf(read_uow(), caller(), startup_id)
    return Response(data, mimetype="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{startup_id}-cap-table.ocf.zip"'})
