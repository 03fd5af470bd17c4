"""The unit of work: one database transaction that a service owns from start to commit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from types import TracebackType

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from ledger.clock import utcnow
from ledger.db import is_postgresql
from ledger.journal import JournalWriter


def _wrote_nothing(session: Session) -> bool:
    """Whether the session's open PostgreSQL transaction has written nothing and holds
    nothing to write: no changes pending in the session, and no transaction id assigned
    (PostgreSQL assigns one on the first write or row lock)."""
    if (not session.in_transaction() or session.new or session.dirty or session.deleted
            or not is_postgresql(session)):
        return False
    if session.get_bind().get_execution_options().get("postgresql_readonly"):
        return True  # a READ ONLY transaction (`ledger.db.read_only_view`) cannot have written
    try:
        return bool(session.connection().exec_driver_sql(
            "SELECT pg_current_xact_id_if_assigned() IS NULL").scalar_one())
    except SQLAlchemyError:  # a transaction that an error (caught) has aborted: roll it back
        return False


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
        if exc_type is None and _wrote_nothing(self.session):
            # The same as a rollback for a transaction that wrote nothing; but on a ROLLBACK
            # psycopg drops every prepared statement of the connection, and the next unit of
            # work plans all its statements again (a book query after each order cost 2 ms
            # more of PostgreSQL's CPU per pair than the two apart: bench/README.md).
            self.session.commit()
        # close() detaches what was loaded first (so results a service returns stay readable,
        # unexpired) and then rolls back whatever was not committed as it releases the
        # connection: one step instead of expunge, rollback (which expires), close.
        self.session.close()

    def fresh(self) -> UnitOfWork:
        """Another unit of work on the same database, for a separate transaction."""
        return UnitOfWork(self._session_factory, self._clock)

    def commit(self) -> None:
        self.session.commit()
