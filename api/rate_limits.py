"""Rate limits (Flask-Limiter): state-changing requests per party, failed logins per address."""

from __future__ import annotations

from flask import Flask, g, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import parse

from api.config import Settings

READ_METHODS = {"GET", "HEAD", "OPTIONS"}


def _who() -> str:
    actor = g.get("actor")
    return f"party:{actor.party_id}" if actor is not None else f"addr:{get_remote_address()}"


class AuthFailures:
    """Counts failed authentications per client address and refuses more than the limit."""

    def __init__(self, limiter: Limiter, limit: str) -> None:
        self._limiter = limiter
        self._limit = parse(limit)

    def allowed(self) -> bool:
        return bool(self._limiter.limiter.test(self._limit, "auth-failure", get_remote_address()))

    def record(self) -> None:
        self._limiter.limiter.hit(self._limit, "auth-failure", get_remote_address())


def register(app: Flask, settings: Settings) -> AuthFailures:
    limiter = Limiter(
        key_func=_who,
        app=app,
        default_limits=[settings.write_rate_limit],
        default_limits_exempt_when=lambda: request.method in READ_METHODS,
        storage_uri=settings.rate_limit_storage,
        headers_enabled=True,
    )
    return AuthFailures(limiter, settings.auth_failure_limit)
