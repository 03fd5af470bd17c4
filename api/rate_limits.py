"""Rate limits (Flask-Limiter): state-changing requests per party, failed logins per address."""

from __future__ import annotations

import time

from flask import Flask, g, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import parse
from limits.storage import MemoryStorage

from api.config import Settings

READ_METHODS = {"GET", "HEAD", "OPTIONS"}


def _who() -> str:
    actor = g.get("actor")
    return f"party:{actor.party_id}" if actor is not None else f"addr:{get_remote_address()}"


class InlineExpiryMemoryStorage(MemoryStorage):
    """limits' in-memory storage without a thread per request.

    `MemoryStorage` sweeps expired counters from a 10 ms timer thread that it starts again on
    every hit once the last one has finished: under steady traffic that is a new thread per
    request (about a third of the rate limiter's cost, bench/README.md). The sweep only frees
    memory, since every read already drops an expired counter itself, so here it runs in the
    hitting thread, at most once a second. Limits and their windows are unchanged.
    """

    STORAGE_SCHEME = ["ipx-memory"]
    SWEEP_EVERY = 1.0

    _next_sweep = 0.0

    def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802 (overrides a private name)
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + self.SWEEP_EVERY
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]


def _storage_uri(configured: str) -> str:
    scheme, sep, rest = configured.partition("://")
    return f"ipx-memory{sep}{rest}" if scheme == "memory" and sep else configured


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
        storage_uri=_storage_uri(settings.rate_limit_storage),
        headers_enabled=True,
    )
    return AuthFailures(limiter, settings.auth_failure_limit)
