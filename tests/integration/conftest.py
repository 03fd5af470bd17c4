"""Fixtures of the integration tests: a small world of parties and a listed asset, built
through the services on whichever engine `database_url` gives (SQLite, then PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from ledger.actor import Actor
from ledger.services import assets
from ledger.services.transparency import LogIdentity
from ledger.signing_key import load_signing_key
from ledger.unit_of_work import UnitOfWork
from tests.conftest import ORIGIN


@dataclass(frozen=True)
class World:
    sessions: sessionmaker[Session]
    uow: Callable[[], UnitOfWork]
    operator: Actor
    university: Actor
    alice: Actor  # inventor, 60%
    bob: Actor  # inventor, 40%
    investor: Actor
    listing: assets.AssetListing

    def instrument(self, unit_class: str) -> str:
        return next(i.id for i in self.listing.instruments if i.unit_class == unit_class)


@pytest.fixture
def identity(home: Path) -> LogIdentity:
    return LogIdentity(ORIGIN, load_signing_key(home))


@pytest.fixture
def world(sessions: sessionmaker[Session], uow_factory: Callable[[], UnitOfWork],
          operator: Actor, make_party: Callable[..., Actor]) -> World:
    university = make_party("university", "HKU")
    alice = make_party("inventor", "Alice")
    bob = make_party("inventor", "Bob")
    investor = make_party("investor", "Fund")
    listing = assets.list_asset(
        uow_factory(), university, title="A better battery", kind="patent",
        jurisdiction="HK", policy="hku-2023",
        inventors=[{"party_id": alice.party_id, "share": "0.6"},
                   {"party_id": bob.party_id, "share": "0.4"}],
    )
    return World(sessions, uow_factory, operator, university, alice, bob, investor, listing)
