"""SQLite writers queue on a lock file beside the database (`ledger.sqlite_writers`): the next
writer starts when one commits or rolls back, a thread never waits for itself, and readers
that begin without the write lock do not queue."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from ledger.db import make_engine
from ledger.sqlite_writers import QueuedWriterConnection


def _connect(path: Path) -> QueuedWriterConnection:
    connection = sqlite3.connect(path, factory=QueuedWriterConnection, isolation_level=None,
                                 check_same_thread=False, timeout=30)
    assert isinstance(connection, QueuedWriterConnection)
    return connection


def _begin(connection: QueuedWriterConnection) -> None:
    connection.queue_to_write()
    connection.execute("BEGIN IMMEDIATE")


@pytest.mark.parametrize("end", ["commit", "rollback", "close"])
def test_the_next_writer_starts_when_the_first_ends(tmp_path: Path, end: str) -> None:
    db = tmp_path / "ipx.sqlite3"
    first, second = _connect(db), _connect(db)
    first.execute("CREATE TABLE t (n INTEGER)")
    _begin(first)
    first.execute("INSERT INTO t VALUES (1)")
    began = threading.Event()

    def write() -> None:
        _begin(second)
        began.set()
        second.execute("INSERT INTO t VALUES (2)")
        second.commit()

    writer = threading.Thread(target=write)
    writer.start()
    assert not began.wait(0.3)  # queued behind the first
    getattr(first, end)()
    assert began.wait(5)
    writer.join(5)
    check = _connect(db)
    assert sorted(n for (n,) in check.execute("SELECT n FROM t")) == (
        [1, 2] if end == "commit" else [2])
    for connection in (check, second) + (() if end == "close" else (first,)):
        connection.close()


def test_a_thread_is_refused_rather_than_waiting_for_itself(tmp_path: Path) -> None:
    db = tmp_path / "ipx.sqlite3"
    first, second = _connect(db), _connect(db)
    _begin(first)
    started = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="this thread is writing"):
        second.queue_to_write()
    assert time.monotonic() - started < 1
    first.rollback()
    _begin(second)  # free again
    second.rollback()
    first.close()
    second.close()


def test_in_memory_databases_do_not_queue(tmp_path: Path) -> None:
    connection = sqlite3.connect(":memory:", factory=QueuedWriterConnection)
    connection.queue_to_write()
    connection.queue_to_write()
    connection.close()
    assert list(tmp_path.iterdir()) == []


def test_engines_queue_writers_and_not_readers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ipx.sqlite3'}"
    writer, other, reader = make_engine(url), make_engine(url), make_engine(url,
                                                                          read_only=True)
    try:
        with writer.begin() as c:
            c.execute(text("CREATE TABLE t (n INTEGER)"))
        with writer.begin() as c:
            c.execute(text("INSERT INTO t VALUES (1)"))
            with reader.connect() as r:  # a reader begins and reads meanwhile
                assert r.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
            queued = threading.Event()

            def write() -> None:
                with other.begin() as o:
                    queued.set()
                    o.execute(text("INSERT INTO t VALUES (2)"))

            thread = threading.Thread(target=write)
            thread.start()
            assert not queued.wait(0.3)
        assert queued.wait(5)
        thread.join(5)
        with reader.connect() as r:
            assert r.execute(text("SELECT count(*) FROM t")).scalar_one() == 2
    finally:
        for engine in (writer, other, reader):
            engine.dispose()
