"""A small demo marketplace, loaded on the first `make run`: who is who, and their keys."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ledger.actor import Actor
from ledger.models import Asset
from ledger.services import assets, money, parties
from ledger.unit_of_work import UnitOfWork

DEMO_KEYS = "demo-keys.json"


def load_demo(sessions: sessionmaker[Session], home: Path) -> Path | None:
    """Create the demo parties, a listed patent and a funded investor; None if data exists."""
    with sessions() as session:
        if session.execute(select(func.count()).select_from(Asset)).scalar_one():
            return None
    operator_party, operator_key = parties.bootstrap_operator(UnitOfWork(sessions))
    operator = Actor(operator_party.id, "operator")
    keys: dict[str, dict[str, str]] = {
        "operator": {"party_id": operator_party.id, "key": operator_key.key}}

    def party(role: str, name: str, kind: str) -> Actor:
        created = parties.register_party(UnitOfWork(sessions), operator, name, kind)
        issued = parties.issue_api_key(UnitOfWork(sessions), operator, created.id)
        keys[role] = {"party_id": created.id, "name": name, "kind": kind, "key": issued.key}
        return Actor(created.id, kind)

    university = party("university", "Harbour University Technology Transfer Office",
                       "university")
    alice = party("inventor_alice", "Dr Alice Chan", "inventor")
    bob = party("inventor_bob", "Dr Bob Lee", "inventor")
    fund = party("investor", "Pearl River IP Ventures", "investor")
    party("company", "Kowloon Devices Ltd", "company")
    listing = assets.list_asset(
        UnitOfWork(sessions), university,
        title="Low-power wide-area sensor mesh with adaptive duty cycling",
        kind="patent", jurisdiction="HK", application_number="HK32023000001.2",
        inventors=[{"party_id": alice.party_id, "share": "0.6"},
                   {"party_id": bob.party_id, "share": "0.4"}],
        policy="hku-2023",
    )
    money.deposit(UnitOfWork(sessions), operator, fund.party_id, "250000.00", "HKD",
                  "DEMO-BANK-0001", client_id="deposit:DEMO-BANK-0001")
    assets.record_cost(UnitOfWork(sessions), university, listing.asset.id, "18500.00", "HKD",
                       "filing and prosecution fees")
    home.mkdir(parents=True, exist_ok=True)
    path = home / DEMO_KEYS
    path.write_text(json.dumps({"asset_id": listing.asset.id, "parties": keys}, indent=2) + "\n")
    path.chmod(0o600)
    return path
