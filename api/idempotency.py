"""`Idempotency-Key` on every state-changing request: a retry gets the first response back."""

from __future__ import annotations

import hashlib
import json

from flask import Flask, Response, g, request

from api.context import uow
from api.problems import lost_a_race
from ledger.errors import InvalidInput
from ledger.services.idempotency import StoredResponse, claim, complete

HEADER = "Idempotency-Key"
# Secrets are shown once and never stored: a replay of these responses carries null instead.
SECRET_FIELDS = {"parties.issue_key": ("key",)}
METHODS = {"POST", "PUT", "PATCH", "DELETE"}
ANONYMOUS = "-"


def _before() -> Response | None:
    g.idempotency = None
    key = request.headers.get(HEADER)
    if key is None or request.method not in METHODS:
        return None
    if not 1 <= len(key) <= 200 or not key.isprintable():
        raise InvalidInput("must be 1 to 200 printable characters", field=HEADER)
    actor = g.get("actor")
    party = actor.party_id if actor is not None else ANONYMOUS
    fingerprint = hashlib.sha256(
        b"\n".join([request.method.encode(), request.path.encode(), request.get_data()])
    ).hexdigest()
    stored = claim(uow(), party, key, fingerprint)
    if stored is not None:
        response = Response(stored.body, status=stored.status_code, mimetype=stored.content_type)
        response.headers["Idempotent-Replayed"] = "true"
        return response
    g.idempotency = (party, key)
    return None


def _after(response: Response) -> Response:
    claimed = g.pop("idempotency", None)
    if claimed is None:
        return response
    party, key = claimed
    if response.status_code >= 500 or lost_a_race(response):
        complete(uow(), party, key, None)  # nothing was changed: let the client retry
    else:
        body = response.get_data(as_text=True)
        secrets = SECRET_FIELDS.get(request.endpoint or "")
        if secrets and response.is_json:
            redacted = json.loads(body)
            redacted.update(dict.fromkeys(secrets))
            body = json.dumps(redacted)
        complete(uow(), party, key, StoredResponse(response.status_code, body,
                                                   response.mimetype or "application/json"))
    return response


def register(app: Flask) -> None:
    app.before_request(_before)
    app.after_request(_after)
