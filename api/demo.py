"""A small demo marketplace, loaded on the first `make run`: who is who, and their keys."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from contracts.services import licence_units, licences
from exchange.services import markets, trading
from ledger.actor import Actor
from ledger.clock import utcnow
from ledger.models import Asset
from ledger.services import assets, money, parties, revenue
from ledger.unit_of_work import UnitOfWork

DEMO_KEYS = "demo-keys.json"


def _licence_terms(university: Actor, asset_id: str, **kw: Any) -> dict[str, Any]:
    return {"schema": "ipx.licence-terms/1", "grantor": university.party_id,
            "assets": [asset_id], "start": "2026-01-01", "end": "2031-01-01",
            "currency": "HKD", "report_frequency": "quarterly",
            "royalty": {"tiers": [{"from": "0", "rate": "4"}, {"from": "5000000", "rate": "2.5"}],
                        "minimum_annual": "40000"},
            "audit": {"allowed": True, "notice_days": 30}, **kw}


def _license(sessions: sessionmaker[Session], operator: Actor, university: Actor,
             kowloon: Actor, shenzhen: Actor, asset_id: str) -> None:
    """Kowloon Devices takes an exclusive licence for industrial IoT in Hong Kong and reports
    a quarter's sales; Shenzhen Wearables a non-exclusive one for wearables in mainland China
    (an exclusive overlapping Kowloon's would be refused: see scripts/demo-licensing.sh)."""
    for company, deposit in ((kowloon, "800000.00"), (shenzhen, "200000.00")):
        money.deposit(UnitOfWork(sessions), operator, company.party_id, deposit, "HKD",
                      f"DEMO-{company.party_id}", client_id=f"deposit:DEMO-{company.party_id}")
    grants = {}
    for company, exclusivity, code, label, territory in (
            (kowloon, "exclusive", "industrial_iot", "Industrial IoT sensing", "HK"),
            (shenzhen, "non_exclusive", "consumer_wearables", "Consumer wearables", "CN")):
        offer = licences.publish_offer(UnitOfWork(sessions), university, _licence_terms(
            university, asset_id, licensee=company.party_id, exclusivity=exclusivity,
            field_of_use=[{"code": code, "label": label}], territory=[territory],
            upfront_fee="30000.00"), negotiable=False)
        accepted = licences.accept_offer(UnitOfWork(sessions), company, offer.id,
                                         offer.terms_hash)
        assert accepted.grant is not None
        grants[company.party_id] = accepted.grant
    for invoice in licences.list_invoices(UnitOfWork(sessions), kowloon):
        licences.pay_invoice(UnitOfWork(sessions), kowloon, invoice.id)
    outcome = licences.report_royalties(
        UnitOfWork(sessions), kowloon, grants[kowloon.party_id].id, date(2026, 1, 1),
        date(2026, 4, 1), 150_000_000, by_territory=[
            {"territory": "HK", "product": "sensor node", "net_sales": "1500000.00"}])
    for invoice in outcome.invoices:
        licences.pay_invoice(UnitOfWork(sessions), kowloon, invoice.id)


def _licence_units(sessions: sessionmaker[Session], university: Actor, kowloon: Actor,
                   shenzhen: Actor, asset_id: str) -> None:
    """A tranche of standard non-exclusive licence units on the battery patent (each the right
    to make 1,000 cells) sells out to two makers, one sells some on to the other through the
    book, and a maker consumes units by reporting production."""
    tranche = licence_units.issue_tranche(
        UnitOfWork(sessions), university, _licence_terms(
            university, asset_id, exclusivity="non_exclusive", territory=["WORLD"],
            field_of_use=[{"code": "energy_storage", "label": "Energy storage cells"}],
            royalty={"tiers": [{"from": "0", "rate": "0"}]}, report_frequency="annual"),
        units=100, products_per_unit=1000, price="500.00", currency="HKD",
        closes_at=utcnow() + timedelta(days=30)).tranche
    licence_units.subscribe(UnitOfWork(sessions), kowloon, tranche.id, 60)
    licence_units.subscribe(UnitOfWork(sessions), shenzhen, tranche.id, 40)  # sells out: closes
    for who, side, price in ((shenzhen, "sell", "520.00"), (kowloon, "buy", "520.00")):
        trading.place_order(UnitOfWork(sessions), who, trading.OrderRequest(
            instrument_id=tranche.instrument_id, side=side, type="limit", price=Decimal(price),
            quantity=10))
    licence_units.consume_units(UnitOfWork(sessions), kowloon, tranche.id, 12_500)


def _inventor_instrument(listing: assets.AssetListing) -> str:
    return next(i.id for i in listing.instruments if i.unit_class == "inventor")


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
    kowloon = party("company", "Kowloon Devices Ltd", "company")
    shenzhen = party("company_2", "Shenzhen Wearables Co", "company")
    listing = assets.list_asset(
        UnitOfWork(sessions), university,
        title="Low-power wide-area sensor mesh with adaptive duty cycling",
        kind="patent", jurisdiction="HK", application_number="HK32023000001.2",
        inventors=[{"party_id": alice.party_id, "share": "0.6"},
                   {"party_id": bob.party_id, "share": "0.4"}],
        policy="hku-2023",
    )
    battery = assets.list_asset(
        UnitOfWork(sessions), university,
        title="Solid-state electrolyte for sodium-ion cells", kind="patent", jurisdiction="CN",
        application_number="CN202310000001.X",
        inventors=[{"party_id": bob.party_id, "share": "1"}], policy="hku-2023",
    )
    money.deposit(UnitOfWork(sessions), operator, fund.party_id, "250000.00", "HKD",
                  "DEMO-BANK-0001", client_id="deposit:DEMO-BANK-0001")
    assets.record_cost(UnitOfWork(sessions), university, listing.asset.id, "18500.00", "HKD",
                       "filing and prosecution fees")
    # The sensor patent's inventor units trade continuously; the battery patent's, being
    # thinner, in an hourly call auction. Each inventor offers some units.
    sensor_units = _inventor_instrument(listing)
    battery_units = _inventor_instrument(battery)
    markets.configure_market(UnitOfWork(sessions), operator, sensor_units,
                             {"fee_bps": 25, "band_bps": 1000})
    markets.configure_market(UnitOfWork(sessions), operator, battery_units,
                             {"fee_bps": 25, "market_model": "call",
                              "auction_interval_s": 3600})
    # A licensee's first royalty arrives: split by the HKU-2023 policy after cost recovery.
    revenue.record_revenue(UnitOfWork(sessions), operator, listing.asset.id, "120000.00", "HKD",
                           "royalty", "KOWLOON-DEVICES-2026-Q3")
    _license(sessions, operator, university, kowloon, shenzhen, listing.asset.id)
    _licence_units(sessions, university, kowloon, shenzhen, battery.asset.id)
    for who, instrument, quantity, price in ((alice, sensor_units, 20_000, "2.50"),
                                             (alice, sensor_units, 20_000, "2.60"),
                                             (bob, battery_units, 50_000, "1.20")):
        trading.place_order(UnitOfWork(sessions), who, trading.OrderRequest(
            instrument_id=instrument, side="sell", type="limit", price=Decimal(price),
            quantity=quantity))
    home.mkdir(parents=True, exist_ok=True)
    path = home / DEMO_KEYS
    path.write_text(json.dumps({
        "assets": {"sensor_mesh": listing.asset.id, "battery": battery.asset.id},
        "instruments": {"sensor_mesh_inventor_units": sensor_units,
                        "battery_inventor_units": battery_units},
        "parties": keys,
    }, indent=2) + "\n")
    path.chmod(0o600)
    return path
