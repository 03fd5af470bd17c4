from __future__ import annotations

import base64
from typing import Any

from marshmallow import fields, validate

from api.schemas.common import StrictSchema


class CheckpointSchema(StrictSchema):
    origin = fields.String()
    tree_size = fields.Integer()
    root_hash = fields.Method("_root", metadata={"description": "lowercase hex"})
    timestamp = fields.DateTime(attribute="created_at", format="iso")
    key_id = fields.Method("_key_id", metadata={"description": "lowercase hex, 4 bytes"})
    signature = fields.Method("_signature", metadata={"description": "base64 Ed25519 signature"})
    note = fields.String(metadata={"description": "the signed checkpoint text"})

    def _root(self, c: Any) -> str:
        return str(c.root_hash.hex())

    def _key_id(self, c: Any) -> str:
        return str(c.key_id.hex())

    def _signature(self, c: Any) -> str:
        return base64.b64encode(c.signature).decode()


class PublicKeySchema(StrictSchema):
    key_id = fields.String()
    algorithm = fields.String()
    public_key_pem = fields.String()
    origin = fields.String()


class EntrySchema(StrictSchema):
    seq = fields.Integer()
    leaf_index = fields.Method("_leaf_index")
    body = fields.Dict()
    leaf_hash = fields.String()

    def _leaf_index(self, e: Any) -> int:
        return int(e.seq) - 1


class InclusionQuerySchema(StrictSchema):
    seq = fields.Integer(required=True, validate=validate.Range(min=1))
    tree_size = fields.Integer(required=True, validate=validate.Range(min=1))


class InclusionProofSchema(StrictSchema):
    seq = fields.Integer()
    leaf_index = fields.Integer()
    tree_size = fields.Integer()
    path = fields.List(fields.String())


class ConsistencyQuerySchema(StrictSchema):
    first = fields.Integer(required=True, validate=validate.Range(min=1))
    second = fields.Integer(required=True, validate=validate.Range(min=1))


class ConsistencyProofSchema(StrictSchema):
    first = fields.Integer()
    second = fields.Integer()
    path = fields.List(fields.String())
