"""A holding opens its holder's account in the instrument's currency and names it (migration
0016 opens the accounts that older holdings lack, 0021 names them), and a listing the other
accounts its distributions pay through, so that a distribution only updates accounts."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

import ledger.accounts
import migrations
from ledger.account_codes import AVAILABLE, CLEARING, party_account, system_account
from ledger.models import Account, Asset, Holding, Instrument
from ledger.replay import compare
from ledger.services import assets, money, parties, revenue
from tests.integration.conftest import World


def _accounts(world: World) -> dict[str, tuple[str | None, str, str, int, bool]]:
    with world.sessions() as session:
        return {a.code: (a.party_id, a.currency, a.purpose, a.balance_minor, a.allow_negative)
                for a in session.execute(select(Account)).scalars()}


def _hkd(party_id: str) -> str:
    return party_account(party_id, "HKD", AVAILABLE)


def _replay_agrees(world: World) -> None:
    with world.sessions() as session:
        assert compare(session) == []


def _holdings_name_their_accounts(world: World) -> None:
    """Every holding names its holder's available account in the instrument's currency."""
    with world.sessions() as session:
        ids = dict(session.execute(select(Account.code, Account.id)).all())
        for party_id, currency, account_id in session.execute(
                select(Holding.party_id, Instrument.currency, Holding.account_id)
                .join(Instrument, Holding.instrument_id == Instrument.id)).all():
            assert account_id == ids[party_account(party_id, currency, AVAILABLE)]


def test_a_listing_opens_the_owner_and_inventors_accounts(world: World) -> None:
    accounts = _accounts(world)
    for actor in (world.university, world.alice, world.bob):
        assert accounts[_hkd(actor.party_id)] == (actor.party_id, "HKD", AVAILABLE, 0, False)
    assert _hkd(world.investor.party_id) not in accounts
    _replay_agrees(world)


def test_a_listing_opens_the_accounts_its_distributions_pay_through(world: World) -> None:
    """In a currency IPX has never moved, with a platform fee and a residual holder: the first
    receipt finds every account it touches (creating one would lock them all twice)."""
    revenue.set_platform_fee(world.uow(), world.operator, 150)
    policy = {"classes": ["inventor", "university"], "residual_holder": world.investor.party_id,
              "tiers": [{"from": "0", "shares": {"inventor": "70", "university": "30"}}]}
    listing = assets.list_asset(
        world.uow(), world.university, title="Euro patent", kind="patent", jurisdiction="EP",
        policy=policy, currency="EUR", inventors=[{"party_id": world.alice.party_id,
                                                   "share": "1"}])
    accounts = _accounts(world)
    assert accounts[system_account("EUR", CLEARING)] == (None, "EUR", CLEARING, 0, True)
    for party in (world.operator, world.university, world.investor, world.alice):
        code = party_account(party.party_id, "EUR", AVAILABLE)
        assert accounts[code] == (party.party_id, "EUR", AVAILABLE, 0, False)
    view = revenue.record_revenue(world.uow(), world.operator, listing.asset.id, "1000.01",
                                  "EUR", "royalty", "first EUR")
    after = _accounts(world)
    assert set(after) == set(accounts)
    assert after[party_account(world.operator.party_id, "EUR", AVAILABLE)][3] == 1500
    assert after[system_account("EUR", CLEARING)][3] == -100001
    assert {line.party_id for line in view.lines} == {  # the investor has the leftover cents
        world.alice.party_id, world.university.party_id, world.investor.party_id}
    _replay_agrees(world)


def test_a_transfer_opens_the_recipients_account_once(world: World) -> None:
    inventor_class = world.instrument("inventor")
    investor = _hkd(world.investor.party_id)
    for units in (10, 5):
        assets.transfer_units(world.uow(), world.alice, inventor_class,
                              world.investor.party_id, units)
        assert _accounts(world)[investor] == (world.investor.party_id, "HKD", AVAILABLE, 0,
                                              False)
    dana = parties.register_party(world.uow(), world.operator, "Dana", "investor").id
    money.deposit(world.uow(), world.operator, dana, "5.00", "HKD", "d1")
    before = _accounts(world)
    assets.transfer_units(world.uow(), world.alice, inventor_class, dana, 1)
    assert _accounts(world) == before  # Dana's account existed: left as it was
    _holdings_name_their_accounts(world)
    _replay_agrees(world)


def test_a_distribution_to_holders_creates_none_of_their_accounts(world: World) -> None:
    for n in range(3):
        assets.transfer_units(world.uow(), world.alice, world.instrument("inventor"),
                              world.investor.party_id if n == 0 else world.bob.party_id, 100)
    holders = {_hkd(a.party_id) for a in (world.alice, world.bob, world.investor,
                                          world.university)}
    before = _accounts(world)
    assert holders <= set(before)
    view = revenue.record_revenue(world.uow(), world.operator, world.listing.asset.id,
                                  "1000.00", "HKD", "royalty", "R1")
    after = _accounts(world)
    credited = {_hkd(line.party_id) for line in view.lines}
    assert credited <= holders
    assert all(after[code][3] > before[code][3] for code in credited)
    _replay_agrees(world)


def test_replay_names_a_holding_that_names_another_partys_account(world: World) -> None:
    with world.sessions() as session:
        bobs = session.execute(select(Account.id).where(
            Account.code == _hkd(world.bob.party_id))).scalar_one()
        session.execute(update(Holding).where(Holding.party_id == world.alice.party_id)
                        .values(account_id=bobs))
        assert compare(session) == [
            f"holding {world.alice.party_id} of {world.instrument('inventor')}: paid into "
            f"{_hkd(world.bob.party_id)}"]
        session.rollback()


def test_a_distribution_reads_by_code_the_account_a_holding_does_not_name(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A holding from before migration 0021 whose holder had no account then names none:
    its holder is paid all the same. In a batch as big as a distribution's (here 2 postings),
    the accounts that holdings name are moved by those ids, the others read by code."""
    monkeypatch.setattr(ledger.accounts, "BIG_BATCH", 2)
    given: list[dict[str, int]] = []
    ids_of = ledger.accounts._ids_of

    def spy(session: Session, net: dict[str, int], known: dict[str, int]
            ) -> dict[str, int] | None:
        given.append(dict(known))
        return ids_of(session, net, known)

    monkeypatch.setattr(ledger.accounts, "_ids_of", spy)
    assets.transfer_units(world.uow(), world.alice, world.instrument("inventor"),
                          world.investor.party_id, 100)
    with world.sessions() as session:
        session.execute(update(Holding).where(Holding.party_id == world.investor.party_id)
                        .values(account_id=None))
        session.commit()
    before = _accounts(world)
    view = revenue.record_revenue(world.uow(), world.operator, world.listing.asset.id,
                                  "1000.00", "HKD", "royalty", "R1")
    paid = {line.party_id: line.amount for line in view.lines}
    investor = _hkd(world.investor.party_id)
    assert paid[world.investor.party_id] > 0
    assert _accounts(world)[investor][3] == before[investor][3] + paid[world.investor.party_id]
    _replay_agrees(world)
    with world.sessions() as session:
        ids = dict(session.execute(select(Account.code, Account.id)).all())
    assert given == [{_hkd(p.party_id): ids[_hkd(p.party_id)]
                      for p in (world.alice, world.bob, world.university)}]


def test_migration_0016_opens_the_accounts_older_holdings_lack(world: World,
                                                               database_url: str) -> None:
    money.deposit(world.uow(), world.operator, world.alice.party_id, "7.00", "HKD", "d1")
    eve = parties.register_party(world.uow(), world.operator, "Eve", "investor").id
    world.sessions.kw["bind"].dispose()  # let the migration take the database
    config = migrations.alembic_config(database_url)
    command.downgrade(config, "0015")
    with world.sessions() as session:  # a holding as written before 0016, without its account
        session.execute(insert(Holding).values(party_id=eve, instrument_id=world.instrument(
            "inventor"), units=0, held_units=0))
        session.commit()
    before = _accounts(world)
    world.sessions.kw["bind"].dispose()
    command.upgrade(config, "head")
    after = _accounts(world)
    assert after == before | {_hkd(eve): (eve, "HKD", AVAILABLE, 0, False)}
    assert after[_hkd(world.alice.party_id)][3] == 700  # an account in use is left as it was
    _holdings_name_their_accounts(world)  # 0021: Eve's holding too
    _replay_agrees(world)


def test_migration_0018_opens_the_accounts_older_listings_lack(world: World,
                                                               database_url: str) -> None:
    """An asset listed before 0018, in a currency IPX never moved: its clearing account and
    the owner's and operator's accounts in it are opened; everything else is left alone."""
    world.sessions.kw["bind"].dispose()  # let the migration take the database
    config = migrations.alembic_config(database_url)
    command.downgrade(config, "0017")
    with world.sessions() as session:  # a listing's row as written before 0018
        session.add(Asset(id="ast_before0018", owner_id=world.university.party_id,
                          title="Old yen patent", kind="patent", jurisdiction="JP",
                          currency="JPY", policy_id=world.listing.asset.policy_id,
                          created_at=world.listing.asset.created_at))
        session.commit()
    before = _accounts(world)
    world.sessions.kw["bind"].dispose()
    command.upgrade(config, "head")
    assert _accounts(world) == before | {
        system_account("JPY", CLEARING): (None, "JPY", CLEARING, 0, True),
        **{party_account(p.party_id, "JPY", AVAILABLE): (p.party_id, "JPY", AVAILABLE, 0, False)
           for p in (world.university, world.operator)}}
    _replay_agrees(world)
