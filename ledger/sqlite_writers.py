"""SQLite writers queue on a file lock, so that the next one starts as soon as one ends.

A SQLite writer that finds the database locked sleeps and tries again, 1, 2, 5, 10, 15 ms... apart
(the busy handler behind `busy_timeout`): with a few processes writing, the write lock sits
free between one transaction's end and the next writer's wake-up, and a writer can sleep past
several others. Here a write transaction first takes an exclusive `flock` on a file beside the
database, which the kernel hands to the next waiter the moment it is released at COMMIT or
ROLLBACK; `BEGIN IMMEDIATE` then finds the database free (bench/README.md). Readers that begin
without the write lock (`make_engine(read_only=True)`) do not queue. The queue only orders
writers: `BEGIN IMMEDIATE` still takes SQLite's own lock, so nothing depends on it for
correctness (a writer that does not queue, such as the `sqlite3` shell, just waits as before).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from typing import Any

# Which connection of this process holds each database's writer lock, and in which thread: a
# thread that would queue behind itself is refused at once (SQLite waited 30 s, then refused).
_writing: dict[str, tuple[int, int]] = {}


class QueuedWriterConnection(sqlite3.Connection):
    """A `sqlite3` connection (its `factory`) whose `queue_to_write()` waits for the database's
    writer lock file; COMMIT, ROLLBACK and close give it back."""

    def __init__(self, database: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        path = os.fspath(database)
        # A file's path; not in memory, nor a "file:" URI, whose file a path cannot name.
        queues = path not in ("", ":memory:") and not path.startswith("file:")
        self._path = os.path.realpath(path)
        self._writers = (os.open(f"{self._path}-writers", os.O_RDWR | os.O_CREAT, 0o600)
                         if queues else None)
        self._queued = False

    def queue_to_write(self) -> None:
        """Wait until no other connection to this database is writing (a no-op in memory).

        Raises `sqlite3.OperationalError` if this thread is writing to the same database on
        another connection: it would wait for itself."""
        if self._writers is None or self._queued:
            return
        thread = threading.get_ident()
        if _writing.get(self._path, (None, None))[1] == thread:
            raise sqlite3.OperationalError(
                "database is locked: this thread is writing to it on another connection")
        fcntl.flock(self._writers, fcntl.LOCK_EX)
        self._queued = True
        _writing[self._path] = (id(self), thread)

    def _leave(self) -> None:
        if self._queued:
            self._queued = False
            if _writing.get(self._path, (None, None))[0] == id(self):
                del _writing[self._path]
            fcntl.flock(self._writers, fcntl.LOCK_UN)  # type: ignore[arg-type]

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._leave()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._leave()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._leave()
            if self._writers is not None:
                os.close(self._writers)
                self._writers = None
