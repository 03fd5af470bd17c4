"""Revenue through the services on a real database: exact splits, money moved with the
journal entry, cumulative tiers across receipts, and refusals that change nothing."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ledger.actor import Actor
from ledger.errors import InvalidInput, NotFound, PermissionDenied
from ledger.models import JournalHead
from ledger.replay import compare
from ledger.services import assets, money, revenue
from ledger.unit_of_work import UnitOfWork

Uow = Callable[[], UnitOfWork]


def _available(uow: Uow, who: Actor) -> str:
    rows = money.account_balances(uow(), who)
    return rows[0].available if rows else "0.00"


def _size(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.execute(select(JournalHead.size)).scalar_one()


def test_hku_2023_golden_split(uow_factory: Uow, operator: Actor,
                               make_party: Callable[..., Actor],
                               sessions: sessionmaker[Session]) -> None:
    """HKD 100,000 received, HKD 10,000 unrecovered costs, inventors 60/40: cost recovery
    10,000 to the university; net 90,000; inventors 70% = 63,000 -> 37,800 and 25,200;
    university class 30% = 27,000."""
    uni, alice, bob = make_party("university"), make_party("inventor"), make_party("inventor")
    listing = assets.list_asset(
        uow_factory(), uni, title="Sensor", kind="patent", jurisdiction="HK",
        inventors=[{"party_id": alice.party_id, "share": "0.6"},
                   {"party_id": bob.party_id, "share": "0.4"}], policy="hku-2023")
    asset_id = listing.asset.id
    assets.record_cost(uow_factory(), uni, asset_id, "10000.00", "HKD", "filing fees")
    view = revenue.record_revenue(uow_factory(), operator, asset_id, "100000.00", "HKD",
                                  "royalty", "Q3")
    assert [(s["kind"], s["amount"]) for s in view.steps] == [("platform_fee", "0.00"),
                                                              ("cost_recovery", "10000.00")]
    assert sorted((ln.party_id, ln.unit_class, ln.units, ln.amount) for ln in view.lines) \
        == sorted([(alice.party_id, "inventor", 600_000, 3_780_000),
                   (bob.party_id, "inventor", 400_000, 2_520_000),
                   (uni.party_id, "university", 1_000_000, 2_700_000)])
    assert (_available(uow_factory, alice), _available(uow_factory, bob),
            _available(uow_factory, uni)) == ("37800.00", "25200.00", "37000.00")

    # The costs are recovered now: a second receipt goes wholly to the classes.
    second = revenue.record_revenue(uow_factory(), uni_payer(uow_factory, operator, uni),
                                    asset_id, "1000.00", "HKD", "licence_fee", "L-2")
    assert [s["amount"] for s in second.steps] == ["0.00", "0.00"]
    assert _available(uow_factory, alice) == "38220.00"
    with sessions() as session:
        assert compare(session) == []


def uni_payer(uow: Uow, operator: Actor, uni: Actor) -> Actor:
    """The owner pays revenue in from its own cash: fund it first."""
    money.deposit(uow(), operator, uni.party_id, "1000.00", "HKD", "uni-funding",
                  client_id="uni-funding")
    return uni


def test_stanford_tiers_split_a_receipt_across_the_boundary(
        uow_factory: Uow, operator: Actor, make_party: Callable[..., Actor]) -> None:
    uni, alice = make_party("university"), make_party("inventor")
    listing = assets.list_asset(
        uow_factory(), uni, title="Tiers", kind="patent", jurisdiction="US",
        inventors=[{"party_id": alice.party_id, "share": "1"}], policy="stanford-tiers")
    asset_id = listing.asset.id
    # Net after the 15% admin fee: 2,900,000 of cumulative net income, all in tier one.
    first = revenue.record_revenue(uow_factory(), operator, asset_id,
                                   str(Decimal("2900000") / Decimal("0.85")).split(".")[0]
                                   + ".00", "HKD", "royalty", "r1")
    assert first.distribution.net_minor < 300_000_000
    before = first.distribution.net_minor
    # The next receipt's net of 200,000 crosses 3,000,000: each tier takes its part.
    second = revenue.record_revenue(uow_factory(), operator, asset_id, "235294.12", "HKD",
                                    "royalty", "r2")
    net = second.distribution.net_minor
    in_tier_one = 300_000_000 - before
    inventor = next(ln.amount for ln in second.lines if ln.unit_class == "inventor")
    department = next(ln.amount for ln in second.lines if ln.unit_class == "department")
    assert inventor == in_tier_one * 3334 // 10000 + (net - in_tier_one) * 3334 // 10000
    assert department == in_tier_one * 2466 // 10000 + (net - in_tier_one) * 1466 // 10000


def test_refusals_change_nothing(uow_factory: Uow, operator: Actor,
                                 make_party: Callable[..., Actor],
                                 sessions: sessionmaker[Session]) -> None:
    uni, alice, other = (make_party("university"), make_party("inventor"),
                         make_party("university"))
    listing = assets.list_asset(
        uow_factory(), uni, title="X", kind="patent", jurisdiction="HK",
        inventors=[{"party_id": alice.party_id, "share": "1"}], policy="hku-2023")
    asset_id = listing.asset.id
    size = _size(sessions)
    for actor, amount, currency, error in [
        (operator, "100.00", "USD", InvalidInput),
        (operator, "0.00", "HKD", InvalidInput),
        (operator, "-5.00", "HKD", InvalidInput),
        (operator, "1.001", "HKD", InvalidInput),
        (other, "100.00", "HKD", PermissionDenied),
        (alice, "100.00", "HKD", PermissionDenied),
    ]:
        with pytest.raises(error):
            revenue.record_revenue(uow_factory(), actor, asset_id, amount, currency,
                                   "royalty", "x")
    with pytest.raises(NotFound):
        revenue.record_revenue(uow_factory(), operator, "ast_nope", "1.00", "HKD", "royalty",
                               "x")
    with pytest.raises(InvalidInput):
        revenue.record_revenue(uow_factory(), operator, asset_id, "1.00", "HKD", "gift", "x")
    assert _size(sessions) == size
    view = revenue.record_revenue(uow_factory(), operator, asset_id, "10.00", "HKD", "other",
                                  "ok")
    with pytest.raises(NotFound):  # another university has no line in it
        revenue.read_distribution(uow_factory(), other, view.distribution.id)
    assert revenue.read_distribution(uow_factory(), alice, view.distribution.id).lines
