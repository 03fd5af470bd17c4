"""The journal's public face: checkpoints, the public key, entries and proofs.

Sequence numbers start at 1 and an entry's Merkle leaf index is `seq - 1`. Leaf hashes are
SHA-256(0x00 || JCS(body)) and inner nodes SHA-256(0x01 || left || right) (RFC 9162).
"""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from api import auth
from api.context import caller, identity, read_uow, uow
from api.schemas.ledger import (
    CheckpointSchema,
    ConsistencyProofSchema,
    ConsistencyQuerySchema,
    EntrySchema,
    InclusionProofSchema,
    InclusionQuerySchema,
    PublicKeySchema,
)
from ledger.services import transparency

blp = Blueprint("ledger", __name__, url_prefix="/v1/ledger",
                description=__doc__)


@blp.route("/checkpoint", methods=["GET"])
@blp.response(200, CheckpointSchema)
def checkpoint() -> Any:
    """The signed checkpoint of the whole journal as it stands now."""
    return transparency.latest_checkpoint(uow(), identity(), reader=read_uow())


@blp.route("/public-key", methods=["GET"])
@blp.response(200, PublicKeySchema)
def public_key() -> Any:
    """The Ed25519 key that signs checkpoints."""
    ident = identity()
    return {"key_id": ident.key_id.hex(), "algorithm": "Ed25519",
            "public_key_pem": ident.public_key_pem, "origin": ident.origin}


@blp.route("/entries/<int:seq>", methods=["GET"])
@blp.response(200, EntrySchema)
@auth.required
def entry(seq: int) -> Any:
    """An entry, for the parties it names and the operator. `leaf_index` is `seq - 1`."""
    return transparency.read_entry(read_uow(), caller(), seq)


@blp.route("/proofs/inclusion", methods=["GET"])
@blp.arguments(InclusionQuerySchema, location="query")
@blp.response(200, InclusionProofSchema)
def inclusion(query: dict[str, int]) -> Any:
    """RFC 9162 inclusion proof of entry `seq` (leaf index `seq - 1`) in the tree of `tree_size`."""
    return transparency.inclusion_proof(read_uow(), query["seq"], query["tree_size"])


@blp.route("/proofs/consistency", methods=["GET"])
@blp.arguments(ConsistencyQuerySchema, location="query")
@blp.response(200, ConsistencyProofSchema)
def consistency(query: dict[str, int]) -> Any:
    """RFC 9162 consistency proof between the trees of sizes `first` and `second`."""
    return transparency.consistency_proof(read_uow(), query["first"], query["second"])
