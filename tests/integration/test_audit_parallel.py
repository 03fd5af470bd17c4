"""`verify_journal` checks bodies in worker processes on large journals: the parallel path must
report exactly what the inline path reports, whatever was tampered with, wherever."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

import ledger.audit as audit
from ledger.actor import Actor
from ledger.services import parties
from ledger.signing_key import load_signing_key
from ledger.unit_of_work import UnitOfWork


@pytest.fixture
def journal(uow_factory: Callable[[], UnitOfWork], operator: Actor,
            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit, "BATCH", 7)  # many small batches in flight
    for i in range(40):
        parties.register_party(uow_factory(), operator, f"party {i}", "investor")


def _reports(sessions: sessionmaker[Session], home: Path) -> tuple[object, object]:
    key = load_signing_key(home).public_key()
    with sessions() as session:
        inline = audit.verify_journal(session, key, "o", workers=0)
    with sessions() as session:
        parallel = audit.verify_journal(session, key, "o", workers=2)
    return inline, parallel


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("tamper", [
    None,
    "UPDATE journal_entries SET body = replace(body, 'investor', 'investors') WHERE seq = 32",
    "UPDATE journal_entries SET body = replace(body, '\"kind\":', '\"kind\": ') WHERE seq = 9",
    "UPDATE journal_entries SET body = '{' WHERE seq = 15",
    "UPDATE journal_entries SET body = (SELECT body FROM journal_entries WHERE seq = 21) "
    "WHERE seq = 22",
    "UPDATE journal_entries SET leaf_hash = chain_hash WHERE seq = 3",
])
def test_parallel_and_inline_verification_agree(
        journal: None, sessions: sessionmaker[Session], home: Path, tamper: str | None) -> None:
    if tamper is not None:
        with sessions() as session:
            session.execute(text("PRAGMA foreign_keys=OFF"))
            session.execute(text(tamper))
            session.commit()
    inline, parallel = _reports(sessions, home)
    assert inline == parallel
    assert (tamper is None) == inline.ok  # type: ignore[attr-defined]
