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


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions["ipx"]
    return rt


def uow() -> UnitOfWork:
    return UnitOfWork(runtime().sessions)


def identity() -> LogIdentity:
    return runtime().identity


def caller() -> Actor:
    """The authenticated party; routes that need one are behind `auth.required`."""
    actor: Actor = g.actor
    return actor
