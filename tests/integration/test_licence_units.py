"""Licence units on a real database (SQLite and PostgreSQL): a sold-out tranche and one closed
at its end, trading and burning of the units, concurrent subscriptions, and a journal whose
replay still matches the balances, holdings, orders and trades."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from contracts.models import LicenceUnitSubscription, LicenceUnitTranche
from contracts.services import licence_units
from exchange.replay import compare_orders
from exchange.services import trading
from exchange.services.trading import OrderRequest
from ledger.actor import Actor
from ledger.clock import utcnow
from ledger.errors import Conflict, InsufficientUnits, InvalidInput, PermissionDenied
from ledger.models import Account, Holding, Instrument, JournalEntry
from ledger.replay import compare
from ledger.services import money
from ledger.unit_of_work import UnitOfWork
from tests.integration.conftest import World


def _terms(world: World) -> dict[str, Any]:
    return {"schema": "ipx.licence-terms/1", "grantor": world.university.party_id,
            "assets": [world.listing.asset.id], "exclusivity": "non_exclusive",
            "field_of_use": [{"code": "batteries", "label": "Batteries"}],
            "territory": ["WORLD"], "start": "2026-01-01", "end": "2040-01-01",
            "currency": "HKD", "report_frequency": "annual"}


def _available(session: Session, party: Actor, purpose: str = "available") -> int:
    return session.execute(select(func.coalesce(func.sum(Account.balance_minor), 0)).where(
        Account.party_id == party.party_id, Account.purpose == purpose)).scalar_one()


def _units(session: Session, party: Actor, instrument_id: str) -> tuple[int, int]:
    holding = session.get(Holding, (party.party_id, instrument_id))
    return (0, 0) if holding is None else (holding.units, holding.held_units)


def _consistent(session: Session, tranche_id: str) -> None:
    """The instrument's size is the units in existence: sold, less burned."""
    tranche = session.get_one(LicenceUnitTranche, tranche_id)
    instrument = session.get_one(Instrument, tranche.instrument_id)
    held = session.execute(select(func.coalesce(func.sum(Holding.units), 0)).where(
        Holding.instrument_id == tranche.instrument_id)).scalar_one()
    assert instrument.total_units == held == tranche.sold - tranche.burned


def test_the_lifecycle_replays(world: World, make_party: Callable[..., Actor]) -> None:
    now = [utcnow()]

    def clocked() -> UnitOfWork:
        return UnitOfWork(world.sessions, clock=lambda: now[0])

    acme, beta = make_party("company", "Acme"), make_party("company", "Beta")
    for i, who in enumerate((acme, beta)):
        money.deposit(world.uow(), world.operator, who.party_id, "50000.00", "HKD", f"b-{i}")
    terms = _terms(world)

    # A tranche that sells out: the last subscription closes it and pays the inventors.
    sold_out = licence_units.issue_tranche(
        clocked(), world.university, terms, units=10, products_per_unit=100,
        price=Decimal("1000.00"), currency="HKD", closes_at=now[0] + timedelta(days=1))
    a_id, a_instrument = sold_out.tranche.id, sold_out.tranche.instrument_id
    licence_units.subscribe(clocked(), acme, a_id, 4)
    last = licence_units.subscribe(clocked(), beta, a_id, 6)
    assert last.tranche.tranche.status == "closed" and len(last.tranche.distribution_ids) == 2

    # A tranche that reaches its end unsold in part: the command-line sweep closes it.
    partial = licence_units.issue_tranche(
        clocked(), world.university, terms, units=10, products_per_unit=1,
        price="50.00", currency="HKD", closes_at=now[0] + timedelta(days=1))
    b_id, b_instrument = partial.tranche.id, partial.tranche.instrument_id
    assert partial.unit_class == "licence_units_2"
    licence_units.subscribe(clocked(), acme, b_id, 3)
    assert licence_units.close_due_tranches(clocked) == []  # not yet
    now[0] += timedelta(days=2)
    with pytest.raises(Conflict):
        licence_units.subscribe(clocked(), beta, b_id, 1)
    with pytest.raises(PermissionDenied):
        licence_units.close_tranche(clocked(), acme, b_id)
    closed = licence_units.close_due_tranches(clocked)
    assert [v.tranche.id for v in closed] == [b_id]
    assert (closed[0].tranche.status, closed[0].total_units, closed[0].remaining) == (
        "closed", 3, 0)
    assert licence_units.close_due_tranches(clocked) == []
    with pytest.raises(Conflict):
        licence_units.close_tranche(clocked(), world.university, b_id)

    with world.sessions() as session:
        # 10,000 + 150 of revenue, HKU-2023 without costs: inventors 70% (60/40), HKU 30%.
        assert _available(session, world.alice) == 4200_00 + 63_00
        assert _available(session, world.bob) == 2800_00 + 42_00
        assert _available(session, world.university) == 3000_00 + 45_00
        assert _available(session, acme) == 50000_00 - 4000_00 - 150_00
        assert _available(session, acme, "held") == 0
        assert _units(session, acme, a_instrument) == (4, 0)
        assert _units(session, beta, a_instrument) == (6, 0)
        assert _units(session, acme, b_instrument) == (3, 0)
        assert all(s.status == "paid" for s in session.execute(
            select(LicenceUnitSubscription)).scalars())
        kinds = [k for (k,) in session.execute(
            select(JournalEntry.kind).where(JournalEntry.kind.like("licence_units.%"))
            .order_by(JournalEntry.seq))]
        assert kinds == ["licence_units.tranche_issued", "licence_units.subscribed",
                         "licence_units.subscribed", "licence_units.tranche_closed",
                         "licence_units.tranche_issued", "licence_units.subscribed",
                         "licence_units.tranche_closed"]

    # The units trade on the exchange by instrument id, unchanged.
    def order(who: Actor, side: str, quantity: int, price: str) -> trading.OrderView:
        return trading.place_order(world.uow(), who, OrderRequest(
            instrument_id=a_instrument, side=side, type="limit", price=Decimal(price),
            quantity=quantity))

    assert order(acme, "sell", 2, "1200.00").order.status == "open"
    assert order(beta, "buy", 2, "1200.00").order.status == "filled"
    assert order(acme, "sell", 1, "1500.00").order.status == "open"

    # Production burns units; a report needing units held for an order is refused.
    used = licence_units.consume_units(world.uow(), beta, a_id, 250)
    assert (used.units_consumed, used.units_held, used.total_units) == (3, 5, 7)
    with pytest.raises(InvalidInput):
        licence_units.consume_units(world.uow(), acme, a_id, 200)  # 2 needed, 1 free
    assert licence_units.consume_units(world.uow(), acme, a_id, 100).units_consumed == 1
    assert licence_units.consume_units(world.uow(), acme, b_id, 3).units_consumed == 3

    with world.sessions() as session:
        assert _units(session, beta, a_instrument) == (5, 0)
        assert _units(session, acme, a_instrument) == (1, 1)
        assert _units(session, acme, b_instrument) == (0, 0)
        _consistent(session, a_id)
        _consistent(session, b_id)
        assert compare(session) == []
        assert compare_orders(session) == []


def test_concurrent_subscriptions_never_oversell(world: World,
                                                 make_party: Callable[..., Actor]) -> None:
    buyers = [make_party("company", f"buyer {i}") for i in range(6)]
    for i, who in enumerate(buyers):
        money.deposit(world.uow(), world.operator, who.party_id, "1000.00", "HKD", f"c-{i}")
    tranche = licence_units.issue_tranche(
        world.uow(), world.university, _terms(world), units=10, products_per_unit=5,
        price="100.00", currency="HKD", closes_at=utcnow() + timedelta(days=1)).tranche
    results: list[str] = []
    barrier = threading.Barrier(len(buyers))

    def buy(who: Actor) -> None:
        barrier.wait()
        try:
            licence_units.subscribe(world.uow(), who, tranche.id, 3)
            results.append("subscribed")
        except InsufficientUnits:
            results.append("refused")

    threads = [threading.Thread(target=buy, args=(b,)) for b in buyers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["refused"] * 3 + ["subscribed"] * 3
    # The last unit sells the tranche out.
    licence_units.subscribe(world.uow(), buyers[0], tranche.id, 1)
    with world.sessions() as session:
        row = session.get_one(LicenceUnitTranche, tranche.id)
        assert (row.sold, row.status) == (10, "closed")
        held = session.execute(select(func.sum(Account.balance_minor)).where(
            Account.purpose == "held")).scalar_one()
        assert held == 0
        _consistent(session, tranche.id)
        assert compare(session) == []
        assert compare_orders(session) == []


def test_bad_input_changes_nothing(world: World, make_party: Callable[..., Actor]) -> None:
    acme = make_party("company", "Acme")
    tranche = licence_units.issue_tranche(
        world.uow(), world.university, _terms(world), units=2, products_per_unit=5,
        price="10.00", currency="HKD", closes_at=utcnow() + timedelta(hours=1)).tranche
    with world.sessions() as session:
        size = session.execute(select(func.count()).select_from(JournalEntry)).scalar_one()
    cases: list[Callable[[], Any]] = [
        lambda: licence_units.subscribe(world.uow(), acme, tranche.id, 1),  # no cash
        lambda: licence_units.subscribe(world.uow(), acme, tranche.id, 3),
        lambda: licence_units.consume_units(world.uow(), acme, tranche.id, 1),  # still open
        lambda: licence_units.issue_tranche(
            world.uow(), world.university, _terms(world), units=1, products_per_unit=1,
            price="1.00", currency="HKD", closes_at=datetime(2020, 1, 1, tzinfo=UTC)),
    ]
    for case in cases:
        with pytest.raises((Conflict, InvalidInput)):
            case()
    with world.sessions() as session:
        assert session.execute(select(func.count()).select_from(JournalEntry)).scalar_one() == size


def test_the_close_due_command(world: World, make_party: Callable[..., Actor],
                               database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from api.cli import main

    acme = make_party("company", "Acme")
    money.deposit(world.uow(), world.operator, acme.party_id, "100.00", "HKD", "d-1")
    past = utcnow() - timedelta(days=2)

    def earlier() -> UnitOfWork:
        return UnitOfWork(world.sessions, clock=lambda: past)

    tranche = licence_units.issue_tranche(
        earlier(), world.university, _terms(world), units=5, products_per_unit=1,
        price="10.00", currency="HKD", closes_at=past + timedelta(days=1)).tranche
    licence_units.subscribe(earlier(), acme, tranche.id, 2)
    monkeypatch.setenv("IPX_DATABASE_URL", database_url)
    result = CliRunner().invoke(main, ["licence-units", "close-due"])
    assert result.exit_code == 0, result.output
    assert f"{tranche.id}: 2 of 5 units sold" in result.output
    assert result.output.strip().endswith("1 tranches closed")
    with world.sessions() as session:
        assert session.get_one(LicenceUnitTranche, tranche.id).status == "closed"
        assert _units(session, acme, tranche.instrument_id) == (2, 0)
        _consistent(session, tranche.id)
        assert compare(session) == []
