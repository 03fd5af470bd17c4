"""The API-key lookup and the GET routes only read: on SQLite they must not queue behind a
writer."""

from __future__ import annotations

import re
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
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


# Both sign and store a checkpoint when the journal has grown since the last one (which
# takes the write lock); with the checkpoint current they only read (tested below).
GETS_THAT_MAY_WRITE = {"/v1/ledger/checkpoint", "/v1/statements"}


def test_reads_do_not_wait_for_the_sqlite_write_lock(app: Flask) -> None:
    """Every GET route but the two that may store a checkpoint runs in a transaction that
    does not take the write lock: each answers (a 404 for the made-up ids, a 422 for missing
    query parameters) while another process holds it."""
    _, key = parties.bootstrap_operator(UnitOfWork(app.extensions["ipx"].sessions))
    client = app.test_client()
    paths = sorted(
        re.sub(r"<(int:)?\w+>", lambda m: "1" if m.group(1) else "none", rule.rule)
        for rule in app.url_map.iter_rules()
        if "GET" in (rule.methods or ()) and rule.rule not in GETS_THAT_MAY_WRITE
        and (rule.rule.startswith("/v1/") or rule.rule == "/healthz"))
    assert len(paths) >= 30 and "/v1/instruments/none/book" in paths
    writer = sqlite3.connect(str(app.extensions["ipx"].engine.url.database),
                             isolation_level=None, timeout=1)
    writer.execute("BEGIN IMMEDIATE")
    got: dict[str, int] = {}

    def read_all() -> None:
        for path in paths:
            got[path] = client.get(path, headers={"Authorization": f"Bearer {key.key}"}
                                   ).status_code

    try:
        thread = threading.Thread(target=read_all, daemon=True)
        thread.start()
        thread.join(timeout=20)
        waited = [path for path in paths if path not in got]
        assert not waited, f"waited for the write lock: {waited[:3]}"
        assert not {path: code for path, code in got.items() if code >= 500}
    finally:
        writer.execute("ROLLBACK")
        writer.close()
        thread.join(timeout=35)


def test_a_statement_reads_its_lines_without_the_sqlite_write_lock(app: Flask) -> None:
    """With the checkpoint current, the checkpoint and a statement (JSON, CSV and PDF)
    answer while another process holds the write lock: a long statement does not hold up
    every writer."""
    _, key = parties.bootstrap_operator(UnitOfWork(app.extensions["ipx"].sessions))
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key.key}"}
    assert client.get("/v1/ledger/checkpoint").status_code == 200  # signed: nothing to store
    now = datetime.now(UTC)
    query = (f"from={now - timedelta(days=30):%Y-%m-%dT%H:%M:%SZ}"
             f"&to={now + timedelta(days=1):%Y-%m-%dT%H:%M:%SZ}&currency=HKD")
    writer = sqlite3.connect(str(app.extensions["ipx"].engine.url.database),
                             isolation_level=None, timeout=1)
    writer.execute("BEGIN IMMEDIATE")
    got: list[int] = []

    def read() -> None:
        got.append(client.get("/v1/ledger/checkpoint").status_code)
        for form in ("json", "csv", "pdf"):
            got.append(client.get(f"/v1/statements?{query}&format={form}",
                                  headers=headers).status_code)

    try:
        thread = threading.Thread(target=read, daemon=True)
        thread.start()
        thread.join(timeout=20)
        assert got == [200, 200, 200, 200], "waited for the write lock"
    finally:
        writer.execute("ROLLBACK")
        writer.close()
        thread.join(timeout=35)
