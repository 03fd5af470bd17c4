"""`ipx challenges expire-due` as a real process: challenges past their deadline without an
award expire and their holds go back; `ipx ledger replay --check` still agrees."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from contracts.services import challenges
from ledger.actor import Actor
from ledger.clock import utcnow
from ledger.services import money
from ledger.unit_of_work import UnitOfWork
from tests.integration.helpers import balance
from tests.integration.test_cli import ipx


def test_expire_due_refunds_and_replay_agrees(database_url: str, home: Path,
                                              sessions: sessionmaker[Session],
                                              operator: Actor,
                                              make_party: Callable[..., Actor]) -> None:
    poster, gov = make_party("company"), make_party("government")
    for who in (poster, gov):
        money.deposit(UnitOfWork(sessions), operator, who.party_id, "1000.00", "HKD",
                      f"seed-{who.party_id}")
    past = utcnow() - timedelta(days=10)

    def post(days: int, matching: bool) -> str:
        # Posted ten days ago, with a deadline `days` after that.
        return challenges.post_challenge(UnitOfWork(sessions, lambda: past), poster, {
            "title": "A problem", "problem": "Solve it", "field": "materials",
            "deadline": past + timedelta(days=days),
            "bounty": {"amount": Decimal("100.00"), "currency": "HKD"},
            "matching": ({"party_id": gov.party_id,
                          "amount": {"amount": Decimal("50.00"), "currency": "HKD"}}
                         if matching else None),
            "milestones": [{"key": "all", "title": "All of it", "percent": Decimal("100")}],
            "ip_terms": "assign"}).challenge.id

    due, unconfirmed, later = post(5, True), post(5, True), post(30, False)
    challenges.confirm_matching(UnitOfWork(sessions, lambda: past), gov, due)
    assert balance(sessions, f"{poster.party_id}:HKD:held") == 30_000
    run = ipx("challenges", "expire-due", database_url=database_url, home=home)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().endswith("2 challenges expired")
    assert due in run.stdout and unconfirmed in run.stdout and later not in run.stdout
    statuses = {cid: challenges.read_challenge(UnitOfWork(sessions), cid).challenge.status
                for cid in (due, unconfirmed, later)}
    assert statuses == {due: "expired", unconfirmed: "expired", later: "open"}
    assert balance(sessions, f"{poster.party_id}:HKD:held") == 10_000  # the later one's
    assert balance(sessions, f"{gov.party_id}:HKD:held") == 0
    assert balance(sessions, f"{gov.party_id}:HKD:available") == 100_000
    again = ipx("challenges", "expire-due", database_url=database_url, home=home)
    assert again.stdout.strip().endswith("0 challenges expired")
    replay = ipx("ledger", "replay", "--check", database_url=database_url, home=home)
    assert replay.returncode == 0, replay.stderr
