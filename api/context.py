"""What a request needs from the application: units of work, the log identity, the caller."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ledger.actor import Actor
from ledger.services.transparency import LogIdentity
from ledger.unit_of_work import UnitOfWork


@dataclass
class Runtime:
    engine: Engine
    sessions: sessionmaker[Session]
    identity: LogIdentity
    # For requests that only read, refusing to write. On a SQLite file an engine whose
    # transactions begin with a plain (deferred) BEGIN: the main engine's `BEGIN IMMEDIATE`
    # would queue every GET behind every writer for the database's one write lock. On
    # PostgreSQL the main engine's pool with READ ONLY transactions; in memory the main engine.
    read_engine: Engine
    read_sessions: sessionmaker[Session]

    def dispose(self) -> None:
        """Close every pooled connection (an app that is done with its database)."""
        self.engine.dispose()
        self.read_engine.dispose()


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions["ipx"]
    return rt


def uow() -> UnitOfWork:
    return UnitOfWork(runtime().sessions)


def read_uow() -> UnitOfWork:
    """A unit of work for a service that only reads: a write through it fails."""
    return UnitOfWork(runtime().read_sessions)


def identity() -> LogIdentity:
    return runtime().identity


def caller() -> Actor:
    """The authenticated party; routes that need one are behind `auth.required`."""
    actor: Actor = g.actor
    return actor
