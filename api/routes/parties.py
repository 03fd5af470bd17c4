"""Parties and API keys."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from api import auth
from api.context import caller, read_uow, uow
from api.schemas.parties import ApiKeyIssuedSchema, PartyCreateSchema, PartySchema
from ledger.services import parties

blp = Blueprint("parties", __name__, url_prefix="/v1", description="Parties and API keys")


@blp.route("/parties", methods=["POST"])
@blp.arguments(PartyCreateSchema)
@blp.response(201, PartySchema)
@auth.required
def create_party(body: dict[str, Any]) -> Any:
    """Register a party (operator only)."""
    return parties.register_party(uow(), caller(), body["name"], body["kind"])


@blp.route("/parties/<party_id>", methods=["GET"])
@blp.response(200, PartySchema)
@auth.required
def get_party(party_id: str) -> Any:
    """A party: the operator sees any, a party sees itself."""
    return parties.read_party(read_uow(), caller(), party_id)


@blp.route("/parties/<party_id>/api-keys", methods=["POST"])
@blp.response(201, ApiKeyIssuedSchema)
@auth.required
def issue_key(party_id: str) -> Any:
    """Issue a new API key for a party (the operator, or the party itself)."""
    return parties.issue_api_key(uow(), caller(), party_id)


@blp.route("/api-keys/<key_id>", methods=["DELETE"])
@blp.response(204)
@auth.required
def revoke_key(key_id: str) -> None:
    """Revoke an API key (the operator, or the key's party)."""
    parties.revoke_api_key(uow(), caller(), key_id)


@blp.route("/me", methods=["GET"])
@blp.response(200, PartySchema)
@auth.required
def me() -> Any:
    """The calling party."""
    return parties.read_party(read_uow(), caller(), caller().party_id)
