from __future__ import annotations

from marshmallow import fields, validate

from api.schemas.common import StrictSchema
from ledger.actor import PARTY_KINDS


class PartyCreateSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    kind = fields.String(required=True, validate=validate.OneOf(PARTY_KINDS))


class PartySchema(StrictSchema):
    id = fields.String()
    name = fields.String()
    kind = fields.String()
    created_at = fields.DateTime(format="iso")


class ApiKeyIssuedSchema(StrictSchema):
    id = fields.String()
    party_id = fields.String()
    key = fields.String(metadata={"description": "shown only in this response"})
    created_at = fields.DateTime(format="iso")
