"""Bearer API keys: who is calling. Object-level checks live in the services."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Flask, current_app, g, request
from werkzeug.exceptions import TooManyRequests, Unauthorized

from api.context import uow
from ledger.services.parties import authenticate

F = TypeVar("F", bound=Callable[..., Any])
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="ipx"'}


def _unauthorized(message: str) -> Unauthorized:
    error = Unauthorized(message)
    error.data = {"message": message, "headers": CHALLENGE}  # type: ignore[attr-defined]
    return error


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
    actor = authenticate(uow(), token.strip())
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
