"""The API-key lookup only reads: on SQLite it must not queue behind a writer."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from flask import Flask

from ledger.services import parties
from ledger.unit_of_work import UnitOfWork


def test_authentication_does_not_wait_for_the_sqlite_write_lock(app: Flask) -> None:
    _, key = parties.bootstrap_operator(UnitOfWork(app.extensions["ipx"].sessions))
    client = app.test_client()
    database = app.extensions["ipx"].engine.url.database
    assert database and Path(database).exists()
    writer = sqlite3.connect(database, isolation_level=None, timeout=1)
    writer.execute("BEGIN IMMEDIATE")  # another process mid-transaction holds the write lock
    got: list[int] = []

    def request() -> None:
        # A valid key and a body the schema refuses: 422 means the caller was authenticated
        # (an unknown key is 401) and nothing else touched the database.
        got.append(client.post("/v1/orders", json={"side": "sideways"},
                               headers={"Authorization": f"Bearer {key.key}"}).status_code)

    try:
        thread = threading.Thread(target=request, daemon=True)
        thread.start()
        thread.join(timeout=10)
        assert got == [422], "the key lookup waited for the write lock"
    finally:
        writer.execute("ROLLBACK")
        writer.close()
        thread.join(timeout=35)
