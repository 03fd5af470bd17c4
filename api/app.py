"""The application factory: configuration, storage, the log identity, blueprints, errors."""

from __future__ import annotations

import os

import flask_swagger_ui
from flask import Flask, send_from_directory
from flask.typing import ResponseReturnValue
from flask_smorest import Api

from api import auth, idempotency, problems, rate_limits
from api.config import Settings
from api.context import Runtime
from api.routes import (
    assets,
    challenges,
    equity_deals,
    health,
    instruments,
    ledger,
    licence_units,
    licences,
    money,
    orders,
    parties,
    revenue,
    startups,
)
from api.routes import payments as payment_routes
from api.schemas.common import ProblemSchema
from ledger.db import is_sqlite_file, make_engine, make_session_factory, read_only_view
from ledger.services.transparency import LogIdentity
from ledger.signing_key import load_signing_key
from payments.config import make_provider, withdrawal_route

SWAGGER_UI_FILES = os.path.join(os.path.dirname(flask_swagger_ui.__file__), "dist")

API_DESCRIPTION = """IPX: an open, verifiable exchange for intellectual property.

Authenticate with `Authorization: Bearer <api key>`. Every error is
`application/problem+json` (RFC 9457). Money is `{"amount": "<decimal string>", "currency":
"<ISO 4217>"}`. Every state-changing request accepts an `Idempotency-Key` header: a retry
with the same key returns the first response; the same key with another body is refused.
A 5xx, or a 409 `concurrent-conflict` (the request lost a race with another and changed
nothing), is not kept: send the same request again, with the same key.
Lists return a JSON array; the next page, if any, is in the `Link: <...>; rel="next"` header.

Journal sequence numbers start at 1; an entry's Merkle leaf index is `seq - 1`.
"""


class ProblemApi(Api):  # type: ignore[misc]
    """flask-smorest with its error body replaced by problem+json."""

    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self) -> None:
        problems.register(self._app)


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask("ipx")
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        API_TITLE="IPX",
        API_VERSION="v1",
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        OPENAPI_SWAGGER_UI_URL="/swagger-ui/",
        API_SPEC_OPTIONS={
            "info": {"description": API_DESCRIPTION},
            "components": {"securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "an IPX API key"}}},
            "security": [{"bearer": []}],
        },
    )
    engine = make_engine(settings.database_url)
    read_engine = (make_engine(settings.database_url, read_only=True)
                   if is_sqlite_file(engine) else read_only_view(engine))
    app.extensions["ipx"] = Runtime(
        engine=engine,
        sessions=make_session_factory(engine),
        identity=LogIdentity(settings.origin, load_signing_key(settings.home)),
        read_engine=read_engine,
        read_sessions=make_session_factory(read_engine),
    )
    provider = make_provider(settings.payments)
    app.extensions[payment_routes.EXTENSION] = provider
    app.extensions[money.PAYOUT_ROUTE] = withdrawal_route(provider)
    auth.register(app)
    app.extensions["ipx_auth_failures"] = rate_limits.register(app, settings)
    idempotency.register(app)
    api = ProblemApi(app)
    for module in (health, parties, assets, money, revenue, licences, licence_units,
                   instruments, orders, ledger, startups, equity_deals):
        api.register_blueprint(module.blp)
    api.register_blueprint(payment_routes.blp)
    api.register_blueprint(challenges.blp)

    @app.get("/swagger-ui/<path:filename>")
    def swagger_ui_files(filename: str) -> ResponseReturnValue:
        return send_from_directory(SWAGGER_UI_FILES, filename)

    return app
