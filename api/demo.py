"""A small demo marketplace, loaded on the first `make run`: who is who, and their keys."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from contracts.services import challenges, equity_deals, licence_units, licences, startups
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


def _equity_deal(sessions: sessionmaker[Session], operator: Actor, university: Actor,
                 party: Callable[[str, str, str], Actor], asset_id: str) -> None:
    """A start-up licenses the battery patent (grid storage, Hong Kong, exclusive) for shares:
    it offers 4%, the university counters with 5% of the fully diluted shares after issuance
    (the most the HKU-2023 policy asks) and some cash, and the start-up accepts: the licence,
    the shares (units of the start-up's equity instrument) and the cash in one transaction."""
    startup = party("startup", "Volta Grid Storage Ltd", "startup")
    startups.register_share_capital(UnitOfWork(sessions), startup, startup.party_id, {
        "legal_name": "Volta Grid Storage Limited", "formation_date": date(2025, 6, 1),
        "country_of_formation": "HK", "currency": "HKD",
        "classes": [{"name": "ordinary", "authorised": 10_000_000}],
        "stakeholders": [{"id": "founder-1", "name": "Grace Wong"},
                         {"id": "founder-2", "name": "Henry Lau"}],
        "issuances": [{"id": "founding-1", "stakeholder": "founder-1", "share_class": "ordinary",
                       "shares": 600_000, "date": date(2025, 6, 1)},
                      {"id": "founding-2", "stakeholder": "founder-2", "share_class": "ordinary",
                       "shares": 400_000, "date": date(2025, 6, 1)}]})
    money.deposit(UnitOfWork(sessions), operator, startup.party_id, "100000.00", "HKD",
                  "DEMO-VOLTA", client_id="deposit:DEMO-VOLTA")
    deal = equity_deals.propose(
        UnitOfWork(sessions), startup, university_id=university.party_id, asset_id=asset_id,
        licence_terms=_licence_terms(
            university, asset_id, licensee=startup.party_id, exclusivity="exclusive",
            field_of_use=[{"code": "grid_storage", "label": "Stationary grid storage"}],
            territory=["HK"], royalty={"tiers": [{"from": "0", "rate": "2"}]}),
        terms={"shares": 41_666, "share_class": "ordinary"})
    countered = equity_deals.counter(
        UnitOfWork(sessions), university, deal.deal.id,
        terms={"shares": 52_631, "share_class": "ordinary",
               "cash": {"amount": "50000.00", "currency": "HKD"}})
    equity_deals.accept(UnitOfWork(sessions), startup, deal.deal.id, countered.deal.terms_hash)


def _challenge(sessions: sessionmaker[Session], operator: Actor,
               party: Callable[[str, str, str], Actor], university: Actor, alice: Actor,
               bob: Actor, kowloon: Actor) -> None:
    """Kowloon Devices posts a challenge (揭榜掛帥) with a bounty, and the Innovation and
    Technology Commission confirms matching funds; the university's team with Alice and Bob
    wins it. The prototype milestone is paid; the field trial is rejected once, reported
    again and paid; the resulting patent is registered, owned by the university with an
    exclusive licence to Kowloon (the challenge's IP terms)."""
    itc = party("government", "Innovation and Technology Commission", "government")
    for who, amount in ((itc, "300000.00"), (kowloon, "400000.00")):
        money.deposit(UnitOfWork(sessions), operator, who.party_id, amount, "HKD",
                      f"DEMO-CHALLENGE-{who.party_id}",
                      client_id=f"deposit:DEMO-CHALLENGE-{who.party_id}")
    hkd = "HKD"
    posted = challenges.post_challenge(UnitOfWork(sessions), kowloon, {
        "title": "Battery-free vibration sensor for factory motors",
        "problem": "Our sensor nodes need batteries changed every 18 months. We want a node "
                   "that harvests enough energy from motor vibration to report every minute.",
        "field": "industrial-iot", "deadline": utcnow() + timedelta(days=60),
        "bounty": {"amount": Decimal("300000.00"), "currency": hkd},
        "matching": {"party_id": itc.party_id,
                     "amount": {"amount": Decimal("150000.00"), "currency": hkd}},
        "milestones": [{"key": "prototype", "title": "Bench prototype reporting every minute",
                        "percent": Decimal("40")},
                       {"key": "field-trial", "title": "Eight-week trial on a factory floor",
                        "percent": Decimal("60")}],
        "ip_terms": "exclusive_licence"})
    cid = posted.challenge.id
    challenges.confirm_matching(UnitOfWork(sessions), itc, cid)
    team = challenges.apply(UnitOfWork(sessions), alice, cid, {
        "members": [{"party": university.party_id, "percent": Decimal("40")},
                    {"party": alice.party_id, "percent": Decimal("35")},
                    {"party": bob.party_id, "percent": Decimal("25")}],
        "university": university.party_id},
        "A piezoelectric harvester tuned to 50 Hz motor vibration, with our mesh radio.")
    team_id = team.application.id
    challenges.shortlist(UnitOfWork(sessions), kowloon, cid, [team_id])
    challenges.award(UnitOfWork(sessions), kowloon, cid, team_id)
    challenges.report_milestone(UnitOfWork(sessions), alice, cid, "prototype")
    challenges.accept_milestone(UnitOfWork(sessions), kowloon, cid, "prototype")
    challenges.report_milestone(UnitOfWork(sessions), bob, cid, "field-trial")
    challenges.reject_milestone(UnitOfWork(sessions), kowloon, cid, "field-trial",
                                "the trial ran three weeks, not the eight agreed")
    challenges.report_milestone(UnitOfWork(sessions), bob, cid, "field-trial")
    challenges.accept_milestone(UnitOfWork(sessions), kowloon, cid, "field-trial")
    challenges.register_result(
        UnitOfWork(sessions), university, cid,
        title="Vibration-harvesting wireless sensor node", kind="patent", jurisdiction="HK",
        inventors=None, application_number="HK32026000042.1")


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
    _equity_deal(sessions, operator, university, party, battery.asset.id)
    _challenge(sessions, operator, party, university, alice, bob, kowloon)
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
