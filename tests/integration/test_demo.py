"""api.demo.load_demo, the marketplace `make run` loads on a first start, on both engines:
every service it calls succeeds, the keys it writes work, the journal verifies and replays,
the inventor's revenue statement verifies offline, and a second start keeps the data."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from api.demo import load_demo
from exchange.replay import compare_orders
from ledger.actor import Actor
from ledger.audit import verify_journal
from ledger.clock import utcnow
from ledger.replay import compare
from ledger.services import parties
from ledger.services.statements import build_statement
from ledger.services.transparency import LogIdentity
from ledger.statement_verifier import verify_statement
from ledger.unit_of_work import UnitOfWork
from tests.conftest import ORIGIN


def test_the_demo_loads_once_and_everything_it_wrote_checks_out(
    sessions: sessionmaker[Session], identity: LogIdentity, home: Path,
) -> None:
    path = load_demo(sessions, home)
    assert path is not None
    demo = json.loads(path.read_text())
    roles = demo["parties"]
    assert {"operator", "university", "inventor_alice", "inventor_bob", "investor",
            "company", "company_2"} <= set(roles)
    for role in roles.values():
        actor = parties.authenticate(UnitOfWork(sessions), role["key"])
        assert actor is not None and actor.party_id == role["party_id"]

    with sessions() as session:
        report = verify_journal(session, identity.private_key.public_key(), ORIGIN)
        assert report.ok, report.reason
        assert compare(session) + compare_orders(session) == []

    # The inventor's statement carries the royalty's distribution, and verifies offline.
    alice = Actor(roles["inventor_alice"]["party_id"], "inventor")
    now = utcnow()
    statement = build_statement(UnitOfWork(sessions), identity, alice, now - timedelta(days=1),
                                now + timedelta(minutes=1), "HKD")
    assert any(line["kind"] == "revenue.distributed" for line in statement["lines"])
    verdict = verify_statement(json.loads(json.dumps(statement)), identity.public_key_pem)
    assert verdict.ok, [v for v in verdict.lines if not v.ok]

    assert load_demo(sessions, home) is None  # a second start keeps what is there
