"""Idempotency records: a key whose first request died is reclaimed, not stuck forever."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from ledger.errors import Conflict, IdempotencyConflict
from ledger.services.idempotency import ABANDONED_AFTER, StoredResponse, claim, complete
from ledger.unit_of_work import UnitOfWork

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _at(sessions: sessionmaker[Session], at: datetime) -> UnitOfWork:
    return UnitOfWork(sessions, clock=lambda: at)


def test_claim_replay_conflict_and_reclaim(sessions: sessionmaker[Session]) -> None:
    assert claim(_at(sessions, T0), "pty_a", "k1", "h1") is None
    with pytest.raises(Conflict):  # still running
        claim(_at(sessions, T0 + timedelta(seconds=5)), "pty_a", "k1", "h1")
    with pytest.raises(IdempotencyConflict):  # another request
        claim(_at(sessions, T0 + timedelta(seconds=5)), "pty_a", "k1", "h2")
    later = T0 + ABANDONED_AFTER + timedelta(seconds=1)
    assert claim(_at(sessions, later), "pty_a", "k1", "h1") is None  # abandoned: reclaimed
    with pytest.raises(Conflict):
        claim(_at(sessions, later + timedelta(seconds=1)), "pty_a", "k1", "h1")
    complete(_at(sessions, later), "pty_a", "k1", StoredResponse(201, '{"id": 1}',
                                                                 "application/json"))
    replay = claim(_at(sessions, later + timedelta(days=1)), "pty_a", "k1", "h1")
    assert replay == StoredResponse(201, '{"id": 1}', "application/json")
    assert claim(_at(sessions, T0), "pty_b", "k1", "h1") is None  # keys are per party
