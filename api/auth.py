"""Bearer API keys: who is calling. Object-level checks live in the services."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Flask, current_app, g, request
from sqlalchemy import Engine
from werkzeug.exceptions import TooManyRequests, Unauthorized

from api.context import runtime
from ledger.services.parties import key_actor

F = TypeVar("F", bound=Callable[..., Any])
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="ipx"'}


def _unauthorized(message: str) -> Unauthorized:
    error = Unauthorized(message)
    error.data = {"message": message, "headers": CHALLENGE}  # type: ignore[attr-defined]
    return error


def _lookup_engine() -> Engine:
    """The engine for the key lookup, which only reads one row.

    On a SQLite file the runtime's read engine, whose transactions begin with a plain
    (deferred) BEGIN: the app's own `BEGIN IMMEDIATE` would take the database's single write
    lock for it, so every request would queue twice behind every writer. On PostgreSQL the
    app's own pool in autocommit: one statement is its own snapshot, so BEGIN and ROLLBACK
    would be two more round trips for nothing, and psycopg forgets its prepared statements at
    every ROLLBACK, so the order's own statements would never be prepared. Elsewhere (and for
    in-memory SQLite, which a second engine could not see) the app's own engine, which the read
    engine then is."""
    engine: Engine | None = current_app.extensions.get("ipx_auth_engine")
    if engine is None:
        rt = runtime()
        engine = (rt.engine.execution_options(isolation_level="AUTOCOMMIT")
                  if rt.engine.url.get_backend_name() == "postgresql" else rt.read_engine)
        current_app.extensions["ipx_auth_engine"] = engine
    return engine


def _load_caller() -> None:
    g.actor = None
    header = request.headers.get("Authorization")
    if header is None:
        return
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("the Authorization header must be 'Bearer <api key>'")
    failures = current_app.extensions["ipx_auth_failures"]
    if not failures.allowed():
        raise TooManyRequests("too many failed authentications from this address; wait a minute")
    with _lookup_engine().connect() as connection:
        actor = key_actor(connection, token.strip())
    if actor is None:
        failures.record()
        raise _unauthorized("the API key is unknown or revoked")
    g.actor = actor


def required(view: F) -> F:
    """Refuse the request with 401 unless it carries a valid API key."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if g.get("actor") is None:
            raise _unauthorized("this endpoint needs an API key: 'Authorization: Bearer <key>'")
        return view(*args, **kwargs)

    return cast(F, wrapper)


def register(app: Flask) -> None:
    app.before_request(_load_caller)
