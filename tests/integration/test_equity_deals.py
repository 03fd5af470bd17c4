"""Equity-for-IP deals on a real database (SQLite, and PostgreSQL with CI=true): a start-up's
share capital, a deal from proposal through counter, acceptance and execution, a later exit
whose proceeds are distributed exactly, refusals that change nothing, and a replay."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, select

from contracts.equity_models import EquityDealStep, StartupShareClass
from contracts.models import GrantAsset, LicenceGrant
from contracts.ocf import MANIFEST_NAME, missing_fields, read_zip
from contracts.services import equity_deals, startups
from exchange.replay import compare_orders
from exchange.services import trading
from ledger.account_codes import AVAILABLE, party_account
from ledger.actor import Actor
from ledger.errors import (
    Conflict,
    DomainError,
    InsufficientFunds,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from ledger.models import Account, Holding, Instrument
from ledger.replay import compare
from ledger.services import assets, money, revenue
from tests.integration.conftest import World
from tests.integration.helpers import balance, entries, head_size, snapshot

FOUNDED = "2024-03-01"


def share_capital(**extra: Any) -> dict[str, Any]:
    from datetime import date
    return {
        "legal_name": "Volta Cells Limited", "formation_date": date(2024, 3, 1),
        "country_of_formation": "HK", "currency": "HKD",
        "classes": [{"name": "ordinary", "authorised": 2_000_000},
                    {"name": "preferred", "authorised": 10_000, "class_type": "preferred",
                     "seniority": 2}],
        "stakeholders": [{"id": "founder-a", "name": "Ada Founder"},
                         {"id": "founder-b", "name": "Ben Founder"}],
        "issuances": [
            {"id": "f-1", "stakeholder": "founder-a", "share_class": "ordinary",
             "shares": 600_000, "date": date(2024, 3, 1), "price_per_share": Decimal("0.01")},
            {"id": "f-2", "stakeholder": "founder-b", "share_class": "ordinary",
             "shares": 400_000, "date": date(2024, 3, 1)}],
        **extra,
    }


def licence(world: World, startup: Actor, territory: str = "HK") -> dict[str, Any]:
    return {"schema": "ipx.licence-terms/1", "grantor": world.university.party_id,
            "licensee": startup.party_id, "assets": [world.listing.asset.id],
            "exclusivity": "exclusive",
            "field_of_use": [{"code": "batteries", "label": "Batteries"}],
            "territory": [territory], "start": "2026-01-01", "end": "2036-01-01",
            "currency": "HKD", "report_frequency": "annual"}


def terms(shares: int, cash: str | None = None, share_class: str = "ordinary") -> dict[str, Any]:
    out: dict[str, Any] = {"shares": shares, "share_class": share_class}
    if cash is not None:
        out["cash"] = {"amount": cash, "currency": "HKD"}
    return out


@pytest.fixture
def startup(world: World, make_party: Callable[..., Actor]) -> Actor:
    actor = make_party("startup", "Volta Cells")
    startups.register_share_capital(world.uow(), actor, actor.party_id, share_capital())
    money.deposit(world.uow(), world.operator, actor.party_id, "100000.00", "HKD", "seed")
    return actor


def refused(world: World, error: type[DomainError], call: Callable[[], Any]) -> DomainError:
    """Run ``call``, which must raise ``error`` and change nothing at all."""
    before = snapshot(world.sessions)
    with pytest.raises(error) as caught:
        call()
    assert snapshot(world.sessions) == before
    return caught.value


def lines_by_party(world: World, distribution_id: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in revenue.read_distribution(world.uow(), world.operator, distribution_id).lines:
        out[line.party_id] = out.get(line.party_id, 0) + line.amount
    return out


def test_a_deal_from_proposal_to_exit(world: World, startup: Actor) -> None:
    uni, s = world.university, startup
    asset_id = world.listing.asset.id

    # 60,000 new shares are 5.66% of the 1,060,000 fully diluted after issuance: over 5%.
    error = refused(world, InvalidInput, lambda: equity_deals.propose(
        world.uow(), s, university_id=uni.party_id, asset_id=asset_id,
        licence_terms=licence(world, s), terms=terms(60_000)))
    assert error.field == "terms.shares"
    assert "caps equity at 5%" in str(error) and "hku-2023" in str(error)

    proposed = equity_deals.propose(world.uow(), s, university_id=uni.party_id,
                                    asset_id=asset_id, licence_terms=licence(world, s),
                                    terms=terms(50_000, "10000.00"))
    deal_id = proposed.deal.id
    assert (proposed.deal.state, proposed.awaiting) == ("proposed", uni.party_id)
    assert (proposed.deal.cap_policy, proposed.deal.cap_percent) == ("hku-2023", "5")
    first_hash = proposed.deal.terms_hash

    # The university asks for the most the cap allows, and more cash.
    countered = equity_deals.counter(world.uow(), uni, deal_id,
                                     terms=terms(52_631, "20000.00"))
    assert (countered.deal.state, countered.awaiting) == ("countered", s.party_id)
    assert countered.deal.terms_hash != first_hash
    # 52,632 would be 5.000038%: refused, to the share.
    refused(world, InvalidInput, lambda: equity_deals.counter(
        world.uow(), s, deal_id, terms=terms(52_632)))

    # Accepting the stale first terms, or one's own, is refused and changes nothing.
    refused(world, Conflict, lambda: equity_deals.accept(world.uow(), s, deal_id, first_hash))
    refused(world, Conflict, lambda: equity_deals.accept(world.uow(), uni, deal_id,
                                                          countered.deal.terms_hash))
    refused(world, NotFound, lambda: equity_deals.read(world.uow(), world.investor, deal_id))

    cash_before = balance(world.sessions, party_account(s.party_id, "HKD", AVAILABLE))
    size = head_size(world.sessions)
    executed = equity_deals.accept(world.uow(), s, deal_id, countered.deal.terms_hash)
    assert executed.deal.state == "executed"
    assert [st.event for st in executed.steps] == ["propose", "counter", "accept", "execute"]
    assert [st.by_party_id for st in executed.steps] == [s.party_id, uni.party_id,
                                                         s.party_id, s.party_id]
    kinds = [e.kind for e in entries(world.sessions, after=size)]
    assert kinds == ["equity_deal.accepted", "licence.granted", "revenue.distributed",
                     "equity_deal.executed"]

    # The licence was granted to the start-up on the asset.
    assert executed.grant is not None
    assert (executed.grant.grantor_id, executed.grant.licensee_id) == (uni.party_id, s.party_id)
    with world.sessions() as session:
        assert session.execute(select(GrantAsset.asset_id).where(
            GrantAsset.grant_id == executed.grant.id)).scalars().all() == [asset_id]
        # The shares: units of the start-up's equity instrument, held by the university.
        instrument = session.get_one(Instrument, executed.deal.instrument_id)
        assert (instrument.asset_id, instrument.total_units) == (asset_id, 52_631)
        assert instrument.unit_class.startswith("startup_equity_")
        holding = session.get_one(Holding, (uni.party_id, instrument.id))
        assert (holding.units, holding.held_units) == (52_631, 0)
        cls = session.get_one(StartupShareClass, (s.party_id, "ordinary"))
        assert cls.instrument_id == instrument.id
        steps = session.execute(select(EquityDealStep).where(
            EquityDealStep.deal_id == deal_id)).scalars().all()
        assert len(steps) == 4

    # The cash was paid from the start-up's cash and split by the policy.
    assert balance(world.sessions, party_account(s.party_id, "HKD", AVAILABLE)) \
        == cash_before - 2_000_000
    (cash_distribution,) = executed.distribution_ids
    assert lines_by_party(world, cash_distribution) == {
        world.alice.party_id: 840_000, world.bob.party_id: 560_000, uni.party_id: 600_000}

    view = startups.read_cap_table(world.uow(), uni, s.party_id)
    assert view.fully_diluted == 1_052_631
    assert view.holdings[uni.party_id] == {"ordinary": 52_631}
    assert view.cap_table.issuances[-1].id == f"{deal_id}.issuance"

    # Accepting again is refused and changes nothing.
    refused(world, Conflict, lambda: equity_deals.accept(world.uow(), s, deal_id,
                                                          countered.deal.terms_hash))
    refused(world, Conflict, lambda: equity_deals.withdraw(world.uow(), uni, deal_id, None))

    # Later, the start-up is sold: the operator records the university's exit proceeds.
    refused(world, PermissionDenied, lambda: equity_deals.record_proceeds(
        world.uow(), uni, deal_id, kind="exit", amount="1000.00", currency="HKD",
        reference="exit"))
    exit_ = equity_deals.record_proceeds(world.uow(), world.operator, deal_id, kind="exit",
                                         amount="1234567.89", currency="HKD",
                                         reference="acquired by BigCo")
    distribution = exit_.distribution.distribution
    assert (distribution.source, distribution.gross_minor) == ("equity_proceeds", 123_456_789)
    lines = lines_by_party(world, distribution.id)
    assert sum(lines.values()) == 123_456_789
    # hku-2023: 70% to the inventors' class, held 60:40 by Alice and Bob (each line rounded
    # down); the university's class and the leftover minor units are the owner's.
    assert lines[world.alice.party_id] == 123_456_789 * 70 * 60 // 10_000 == 51_851_851
    assert lines[world.bob.party_id] == 123_456_789 * 70 * 40 // 10_000 == 34_567_900
    assert lines[uni.party_id] == 123_456_789 - 51_851_851 - 34_567_900

    # A dividend paid by the start-up is revenue of the asset too.
    dividend = equity_deals.record_proceeds(world.uow(), s, deal_id, kind="dividend",
                                            amount="500.00", currency="HKD",
                                            reference="FY2026 dividend")
    assert sum(lines_by_party(world, dividend.distribution.distribution.id).values()) == 50_000

    # The units trade like any other instrument: the university sells 10,000 to a fund and
    # pays the sale's proceeds in as revenue of the asset.
    instrument_id = executed.deal.instrument_id
    assert instrument_id is not None
    money.deposit(world.uow(), world.operator, world.investor.party_id, "50000.00", "HKD",
                  "fund")
    trading.place_order(world.uow(), uni, trading.OrderRequest(
        instrument_id=instrument_id, side="sell", type="limit", price=Decimal("2.50"),
        quantity=10_000))
    bought = trading.place_order(world.uow(), world.investor, trading.OrderRequest(
        instrument_id=instrument_id, side="buy", type="limit", price=Decimal("2.50"),
        quantity=10_000))
    assert sum(f.quantity for f in bought.fills) == 10_000
    sale = equity_deals.record_proceeds(world.uow(), uni, deal_id, kind="sale",
                                        amount="25000.00", currency="HKD",
                                        reference="sold 10,000 units on IPX")
    assert sum(lines_by_party(world, sale.distribution.distribution.id).values()) == 2_500_000

    # The cap table reads the trade back as a transfer, and so does its OCF export; an
    # off-exchange transfer of units too.
    assets.transfer_units(world.uow(), world.investor, instrument_id, world.alice.party_id,
                          1_000, "a gift")
    view = startups.read_cap_table(world.uow(), s, s.party_id)
    assert view.holdings[uni.party_id] == {"ordinary": 42_631}
    assert view.holdings[world.investor.party_id] == {"ordinary": 9_000}
    assert view.holdings[world.alice.party_id] == {"ordinary": 1_000}
    assert view.fully_diluted == 1_052_631
    assert [t.consideration for t in view.cap_table.transfers] == ["trade 1 on IPX", "a gift"]
    files = read_zip(startups.export_ocf(world.uow(), s, s.party_id))
    assert missing_fields(files) == []
    kinds = [t["object_type"] for t in files["Transactions.ocf.json"]["items"]]
    assert kinds.count("TX_STOCK_TRANSFER") == 2

    # The journal alone rebuilds every balance, holding, order and trade.
    with world.sessions() as session:
        assert compare(session) == []
        assert compare_orders(session) == []


def test_bad_input_changes_nothing(world: World, startup: Actor,
                                   make_party: Callable[..., Actor]) -> None:
    uni, s = world.university, startup
    asset_id = world.listing.asset.id
    other_uni = make_party("university", "Another University")

    # Over the class's authorised shares (1.96% of fully diluted is within the cap).
    error = refused(world, InvalidInput, lambda: equity_deals.propose(
        world.uow(), s, university_id=uni.party_id, asset_id=asset_id,
        licence_terms=licence(world, s), terms=terms(20_000, share_class="preferred")))
    assert error.field == "terms.shares" and "authorised" in str(error)

    # A deal with a university for an asset it does not own.
    error = refused(world, InvalidInput, lambda: equity_deals.propose(
        world.uow(), s, university_id=other_uni.party_id, asset_id=asset_id,
        licence_terms=licence(world, s), terms=terms(1_000)))
    assert error.field == "asset_id" and "not owned" in str(error)

    # A licence that the university does not grant, or that covers another party's asset.
    bad = {**licence(world, s), "grantor": other_uni.party_id}
    refused(world, InvalidInput, lambda: equity_deals.propose(
        world.uow(), s, university_id=uni.party_id, asset_id=asset_id, licence_terms=bad,
        terms=terms(1_000)))
    other_asset = assets.list_asset(
        world.uow(), other_uni, title="Elsewhere", kind="patent", jurisdiction="HK",
        policy="hku-2023", inventors=[{"party_id": world.alice.party_id, "share": "1"}]).asset.id
    bad = {**licence(world, s), "assets": [asset_id, other_asset]}
    refused(world, InvalidInput, lambda: equity_deals.propose(
        world.uow(), s, university_id=uni.party_id, asset_id=asset_id, licence_terms=bad,
        terms=terms(1_000)))

    # Only a start-up with registered share capital proposes.
    unregistered = make_party("startup", "No Capital")
    refused(world, Conflict, lambda: equity_deals.propose(
        world.uow(), unregistered, university_id=uni.party_id, asset_id=asset_id,
        licence_terms=licence(world, unregistered), terms=terms(1_000)))
    refused(world, PermissionDenied, lambda: equity_deals.propose(
        world.uow(), world.investor, university_id=uni.party_id, asset_id=asset_id,
        licence_terms=licence(world, s), terms=terms(1_000)))

    # Registering twice, or for someone else.
    refused(world, Conflict, lambda: startups.register_share_capital(
        world.uow(), s, s.party_id, share_capital()))
    refused(world, PermissionDenied, lambda: startups.register_share_capital(
        world.uow(), s, unregistered.party_id, share_capital()))
    over = share_capital(option_pool={"share_class": "ordinary", "reserved": 1_500_000})
    error = refused(world, InvalidInput, lambda: startups.register_share_capital(
        world.uow(), unregistered, unregistered.party_id, over))
    assert error.field == "option_pool.reserved"


def test_a_deal_whose_licence_collides_is_not_executed(world: World, startup: Actor) -> None:
    uni, s = world.university, startup
    asset_id = world.listing.asset.id
    first = equity_deals.propose(world.uow(), s, university_id=uni.party_id, asset_id=asset_id,
                                 licence_terms=licence(world, s), terms=terms(10_000))
    second = equity_deals.propose(world.uow(), s, university_id=uni.party_id,
                                  asset_id=asset_id, licence_terms=licence(world, s),
                                  terms=terms(20_000))
    equity_deals.counter(world.uow(), uni, first.deal.id, terms=terms(10_001))
    hash_ = equity_deals.read(world.uow(), s, first.deal.id).deal.terms_hash
    equity_deals.accept(world.uow(), s, first.deal.id, hash_)
    # The same exclusive field and territory: the second deal cannot execute.
    refused(world, Conflict, lambda: equity_deals.accept(world.uow(), uni, second.deal.id,
                                                          second.deal.terms_hash))
    withdrawn = equity_deals.withdraw(world.uow(), s, second.deal.id, "licence taken")
    assert withdrawn.deal.state == "withdrawn"
    with world.sessions() as session:
        assert len(session.execute(select(LicenceGrant)).scalars().all()) == 1


def test_rejection_ends_the_deal(world: World, startup: Actor) -> None:
    uni, s = world.university, startup
    deal = equity_deals.propose(world.uow(), s, university_id=uni.party_id,
                                asset_id=world.listing.asset.id,
                                licence_terms=licence(world, s), terms=terms(1_000))
    refused(world, InvalidInput, lambda: equity_deals.reject(world.uow(), uni, deal.deal.id, " "))
    rejected = equity_deals.reject(world.uow(), uni, deal.deal.id, "too little")
    assert rejected.deal.state == "rejected"
    assert rejected.steps[-1].reason == "too little"
    refused(world, Conflict, lambda: equity_deals.accept(world.uow(), uni, deal.deal.id,
                                                          deal.deal.terms_hash))
    refused(world, Conflict, lambda: equity_deals.record_proceeds(
        world.uow(), world.operator, deal.deal.id, kind="exit", amount="1.00",
        currency="HKD", reference="x"))


def test_the_ocf_export_of_a_seeded_startup_has_every_file(world: World,
                                                           startup: Actor) -> None:
    uni, s = world.university, startup
    deal = equity_deals.propose(world.uow(), s, university_id=uni.party_id,
                                asset_id=world.listing.asset.id,
                                licence_terms=licence(world, s), terms=terms(50_000))
    equity_deals.accept(world.uow(), uni, deal.deal.id, deal.deal.terms_hash)
    data = startups.export_ocf(world.uow(), s, s.party_id)
    files = read_zip(data)
    assert set(files) == {MANIFEST_NAME, "Stakeholders.ocf.json", "StockClasses.ocf.json",
                          "StockPlans.ocf.json", "StockLegendTemplates.ocf.json",
                          "Transactions.ocf.json", "Valuations.ocf.json",
                          "VestingTerms.ocf.json"}
    assert missing_fields(files) == []
    assert files[MANIFEST_NAME]["issuer"]["legal_name"] == "Volta Cells Limited"
    issued = [t for t in files["Transactions.ocf.json"]["items"]
              if t["object_type"] == "TX_STOCK_ISSUANCE"]
    assert [(t["stakeholder_id"], t["quantity"]) for t in issued] == [
        ("founder-a", "600000"), ("founder-b", "400000"), (uni.party_id, "50000")]
    assert startups.export_ocf(world.uow(), uni, s.party_id) == data  # deterministic
    refused(world, NotFound, lambda: startups.export_ocf(world.uow(), world.investor,
                                                         s.party_id))


def test_cash_the_startup_does_not_have_stops_the_execution(world: World,
                                                            startup: Actor) -> None:
    uni, s = world.university, startup
    deal = equity_deals.propose(world.uow(), s, university_id=uni.party_id,
                                asset_id=world.listing.asset.id,
                                licence_terms=licence(world, s),
                                terms=terms(10_000, "100000.01"))
    refused(world, InsufficientFunds, lambda: equity_deals.accept(
        world.uow(), uni, deal.deal.id, deal.deal.terms_hash))
    assert equity_deals.read(world.uow(), s, deal.deal.id).deal.state == "proposed"


def test_the_universitys_new_account_opens_before_the_journal_is_locked(
        world: World, make_party: Callable[..., Actor]) -> None:
    """Shares of a start-up in another currency open the university's account in it: before
    the journal's head, the one global lock, is taken (the first insert of an account may
    wait for a concurrent one of the same account, which must not happen while the head is
    held; a later insert of it finds this transaction's own row and never waits)."""
    s = make_party("startup", "Dollar Cells")
    startups.register_share_capital(world.uow(), s, s.party_id, share_capital(currency="USD"))
    proposed = equity_deals.propose(world.uow(), s, university_id=world.university.party_id,
                                    asset_id=world.listing.asset.id,
                                    licence_terms=licence(world, s), terms=terms(50_000))
    usd = party_account(world.university.party_id, "USD", AVAILABLE)

    def opened_usd() -> bool:
        with world.sessions() as session:
            return session.execute(select(Account.id).where(Account.code == usd)
                                   ).scalar_one_or_none() is not None

    assert not opened_usd()
    statements: list[tuple[str, str]] = []
    engine = world.sessions.kw["bind"]

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((" ".join(statement.split()).lower(), repr(parameters)))

    event.listen(engine, "before_cursor_execute", record)
    try:
        accepted = equity_deals.accept(world.uow(), world.university, proposed.deal.id,
                                       proposed.deal.terms_hash)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert accepted.deal.state == "executed"
    assert opened_usd()
    head = next(i for i, (sql, _) in enumerate(statements) if "journal_head" in sql)
    first_insert = next(i for i, (sql, parameters) in enumerate(statements)
                        if sql.startswith("insert into accounts") and usd in parameters)
    assert first_insert < head
