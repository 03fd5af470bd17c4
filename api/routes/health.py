"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from sqlalchemy import text

from api.context import runtime

blp = Blueprint("health", __name__, description="Health")


@blp.route("/healthz", methods=["GET"])
@blp.response(200)
def healthz() -> Any:
    """200 once the service can reach its database (without queueing for SQLite's write
    lock)."""
    with runtime().read_engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    return {"status": "ok"}
