"""Rate limits: writes per party, failed authentications per address."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from api.app import create_app
from api.config import Settings
from ledger.services import parties
from ledger.unit_of_work import UnitOfWork


def _app(sqlite_url: str, home: Path, **limits: str):  # type: ignore[no-untyped-def]
    settings = Settings(database_url=sqlite_url, home=home, origin="t", **limits)
    return create_app(settings)


def test_failed_authentications_are_limited_per_address(sqlite_url: str, home: Path) -> None:
    app = _app(sqlite_url, home, auth_failure_limit="3 per minute")
    client = app.test_client()
    codes = [client.get("/v1/me", headers={"Authorization": "Bearer ipx_wrong"}).status_code
             for _ in range(5)]
    assert codes == [401, 401, 401, 429, 429]
    refused = client.get("/v1/me", headers={"Authorization": "Bearer ipx_wrong"})
    assert refused.content_type == "application/problem+json"
    assert refused.json["type"].endswith("/rate-limited")


def test_writes_are_limited_per_party_and_reads_are_not(sqlite_url: str, home: Path) -> None:
    app = _app(sqlite_url, home, write_rate_limit="2 per minute")
    _, key = parties.bootstrap_operator(UnitOfWork(app.extensions["ipx"].sessions))
    client = app.test_client()
    auth = {"Authorization": f"Bearer {key.key}"}
    codes = [client.post("/v1/parties", json={"name": f"p{i}", "kind": "investor"},
                         headers=auth).status_code for i in range(3)]
    assert codes == [201, 201, 429]
    assert all(client.get("/v1/me", headers=auth).status_code == 200 for _ in range(5))


def test_the_in_memory_limiter_starts_no_thread_per_request(
        sqlite_url: str, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """limits' MemoryStorage restarts a 10 ms expiry timer thread on every hit once the last
    one ended; the app's storage sweeps inline instead, and still limits."""
    import limits.storage.memory as memory

    started: list[object] = []

    class CountingTimer(threading.Timer):
        def start(self) -> None:
            started.append(self)
            super().start()

    app = _app(sqlite_url, home, write_rate_limit="5 per minute")
    _, key = parties.bootstrap_operator(UnitOfWork(app.extensions["ipx"].sessions))
    client = app.test_client()
    monkeypatch.setattr(memory.threading, "Timer", CountingTimer)
    codes = []
    for i in range(7):
        codes.append(client.post("/v1/parties", json={"name": f"p{i}", "kind": "investor"},
                                 headers={"Authorization": f"Bearer {key.key}"}).status_code)
        time.sleep(0.02)  # long enough for a 10 ms timer to have ended
    assert codes == [201] * 5 + [429] * 2
    assert started == []
