"""The unit of work: one database transaction that a service owns from start to commit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from types import TracebackType

from sqlalchemy.orm import Session, sessionmaker

from ledger.clock import utcnow
from ledger.journal import JournalWriter


class UnitOfWork:
    """`with uow:` opens a transaction; `uow.commit()` makes it and its journal entries durable.

    Leaving the block without commit rolls everything back, journal entries included.
    """

    session: Session
    journal: JournalWriter
    now: datetime

    def __init__(
        self, session_factory: sessionmaker[Session], clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._session_factory = session_factory
        self._clock = clock

    def __enter__(self) -> UnitOfWork:
        self.session = self._session_factory()
        self.now = self._clock()
        self.journal = JournalWriter(self.session, self.now)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # close() detaches what was loaded first (so results a service returns stay readable,
        # unexpired) and then rolls back whatever was not committed as it releases the
        # connection: one step instead of expunge, rollback (which expires), close.
        self.session.close()

    def fresh(self) -> UnitOfWork:
        """Another unit of work on the same database, for a separate transaction."""
        return UnitOfWork(self._session_factory, self._clock)

    def commit(self) -> None:
        self.session.commit()
