"""Grants on a real database: concurrent overlapping exclusive grants never both succeed."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from contracts.models import LicenceGrant
from contracts.services import licences
from ledger.actor import Actor
from ledger.errors import Conflict
from ledger.services import assets
from ledger.unit_of_work import UnitOfWork


def _terms(grantor: str, asset: str, licensee: str, territory: str) -> dict[str, Any]:
    return {"schema": "ipx.licence-terms/1", "grantor": grantor, "assets": [asset],
            "licensee": licensee, "exclusivity": "exclusive",
            "field_of_use": [{"code": "diagnostics", "label": "Diagnostics"}],
            "territory": [territory], "start": "2026-01-01", "end": "2027-01-01",
            "currency": "HKD", "report_frequency": "annual"}


def test_concurrent_overlapping_exclusive_grants(
        uow_factory: Callable[[], UnitOfWork], make_party: Callable[..., Actor],
        sessions: sessionmaker[Session]) -> None:
    uni, alice = make_party("university"), make_party("inventor")
    companies = [make_party("company", f"company {i}") for i in range(6)]
    asset = assets.list_asset(uow_factory(), uni, title="Assay", kind="patent",
                              jurisdiction="HK", policy="hku-2023",
                              inventors=[{"party_id": alice.party_id, "share": "1"}]).asset.id
    # Every company gets an offer for an exclusive HK licence (some also for SG, no overlap).
    offers = []
    for i, company in enumerate(companies):
        territory = "HK" if i % 2 == 0 else "SG"
        offer = licences.publish_offer(uow_factory(), uni,
                                       _terms(uni.party_id, asset, company.party_id, territory),
                                       negotiable=False)
        offers.append((company, offer))
    results: list[str] = []

    def accept(company: Actor, offer_id: str, digest: str) -> None:
        try:
            licences.accept_offer(uow_factory(), company, offer_id, digest)
            results.append("granted")
        except Conflict:
            results.append("refused")

    threads = [threading.Thread(target=accept, args=(c, o.id, o.terms_hash)) for c, o in offers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["granted"] * 2 + ["refused"] * 4  # one per territory
    with sessions() as session:
        assert session.execute(select(func.count()).select_from(LicenceGrant)).scalar_one() == 2
