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
    # For requests that only read. On a SQLite file an engine whose transactions begin with a
    # plain (deferred) BEGIN: the main engine's `BEGIN IMMEDIATE` would queue every GET behind
    # every writer for the database's one write lock. Elsewhere the main engine.
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
    """A unit of work for a service that only reads (it must never write: on a SQLite file
    its transaction cannot take the write lock)."""
    return UnitOfWork(runtime().read_sessions)


def identity() -> LogIdentity:
    return runtime().identity


def caller() -> Actor:
    """The authenticated party; routes that need one are behind `auth.required`."""
    actor: Actor = g.actor
    return actor
