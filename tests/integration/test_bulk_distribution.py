"""The money store's set-based writes (ledger/accounts.py) and a distribution to many holders,
on SQLite and PostgreSQL: balances, lines, postings and the journal agree, chunking included."""

from __future__ import annotations

import contextlib
import json
import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

import ledger.accounts
import ledger.db
from ledger.account_codes import AVAILABLE, CLEARING, HELD, party_account, system_account
from ledger.accounts import balances_of, post_transaction
from ledger.actor import Actor
from ledger.canonical import canonical_bytes, leaf_hash
from ledger.errors import InsufficientFunds, InsufficientUnits
from ledger.models import Account, Holding, JournalEntry, JournalEntryParty
from ledger.models import Posting as PostingRow
from ledger.postings import Posting
from ledger.replay import compare
from ledger.services import assets, revenue
from ledger.services.transparency import read_entry
from ledger.statement_verifier import _check_distribution
from ledger.unit_of_work import UnitOfWork
from tests.integration.conftest import World

Uow = Callable[[], UnitOfWork]


def _deposit(uow: UnitOfWork, party: str, minor: int) -> None:
    post_transaction(uow, kind="money.deposit", data={"party_id": party}, actor=None,
                     postings=[Posting(system_account("HKD", CLEARING), "HKD", -minor),
                               Posting(party_account(party, "HKD", AVAILABLE), "HKD", minor)])


def test_loaded_accounts_follow_the_set_based_update(uow_factory: Uow,
                                                     make_party: Callable[..., Actor]) -> None:
    alice = make_party("inventor")
    with uow_factory() as uow:
        _deposit(uow, alice.party_id, 500)
        uow.commit()
    with uow_factory() as uow:
        (loaded,) = balances_of(uow.session, alice.party_id)  # an ORM object, before
        assert loaded.balance_minor == 500
        _deposit(uow, alice.party_id, 250)
        # The UPDATE bypassed the ORM; the object in the session shows the new balance.
        assert loaded.balance_minor == 750
        uow.commit()
    with uow_factory() as uow:
        assert [a.balance_minor for a in balances_of(uow.session, alice.party_id)] == [750]


def test_overdraft_refused_and_nothing_written(uow_factory: Uow,
                                               make_party: Callable[..., Actor]) -> None:
    alice, bob = make_party("inventor"), make_party("inventor")
    with uow_factory() as uow:
        _deposit(uow, alice.party_id, 100)
        uow.commit()
    alices, bobs = (party_account(p.party_id, "HKD", AVAILABLE) for p in (alice, bob))
    with uow_factory() as uow, pytest.raises(
            InsufficientFunds, match=f"account {alices} would be overdrawn by 1 minor units"):
        post_transaction(uow, kind="money.transfer", data={}, actor=None, postings=[
            Posting(alices, "HKD", -101), Posting(bobs, "HKD", 101)])
    # From an account that does not exist yet: refused too, and not created.
    with uow_factory() as uow, pytest.raises(
            InsufficientFunds, match=f"account {bobs} would be overdrawn by 5 minor units"):
        post_transaction(uow, kind="money.transfer", data={}, actor=None, postings=[
            Posting(alices, "HKD", 5), Posting(bobs, "HKD", -5)])
    with uow_factory() as uow:
        codes = dict(uow.session.execute(select(Account.code, Account.balance_minor)).all())
        assert codes.get(alices) == 100
        assert bobs not in codes
        assert compare(uow.session) == []


def _created_concurrently(monkeypatch: pytest.MonkeyPatch, uow_factory: Uow,
                          party_id: str) -> list[bool]:
    """Make the first read that finds the party's HKD account missing also, right after it,
    create that account (a deposit of 40) in another transaction and commit it: the race of
    two writers creating one account. The list returned is non-empty once it has happened."""
    code = party_account(party_id, "HKD", AVAILABLE)
    read = ledger.accounts._lock_existing
    raced: list[bool] = []

    def racing(session: Session, codes: list[str]) -> dict[str, ledger.accounts.AccountState]:
        found = read(session, codes)
        if code in codes and code not in found and not raced:
            raced.append(True)
            with uow_factory() as other:
                _deposit(other, party_id, 40)
                other.commit()
        return found

    monkeypatch.setattr(ledger.accounts, "_lock_existing", racing)
    return raced


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_an_account_created_concurrently_takes_the_postings_on_top(
        uow_factory: Uow, make_party: Callable[..., Actor],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Between reading that bob's account is missing and inserting it, another transaction
    creates it and commits: the insert skips it, and the transfer is added to its balance.
    (PostgreSQL only: SQLite's writers never overlap.)"""
    alice, bob = make_party("inventor"), make_party("inventor")
    with uow_factory() as uow:
        _deposit(uow, alice.party_id, 100)
        uow.commit()
    bobs = party_account(bob.party_id, "HKD", AVAILABLE)
    raced = _created_concurrently(monkeypatch, uow_factory, bob.party_id)
    with uow_factory() as uow:
        post_transaction(uow, kind="money.transfer", data={}, actor=None, postings=[
            Posting(party_account(alice.party_id, "HKD", AVAILABLE), "HKD", -30),
            Posting(bobs, "HKD", 30)])
        uow.commit()
    assert raced
    with uow_factory() as uow:
        assert [a.balance_minor for a in balances_of(uow.session, alice.party_id)] == [70]
        assert [a.balance_minor for a in balances_of(uow.session, bob.party_id)] == [70]
        assert compare(uow.session) == []


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_lock_accounts_locks_an_account_created_concurrently(
        uow_factory: Uow, make_party: Callable[..., Actor],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Between reading that bob's account is missing and inserting it, another transaction
    creates it and commits: the insert skips it, and it is locked all the same.
    (PostgreSQL only: SQLite's writers never overlap.)"""
    bob = make_party("inventor")
    bobs = party_account(bob.party_id, "HKD", AVAILABLE)
    raced = _created_concurrently(monkeypatch, uow_factory, bob.party_id)
    with uow_factory() as uow:
        ledger.accounts.lock_accounts(uow.session, [bobs])
        assert raced
        with uow_factory() as other, pytest.raises(OperationalError, match="could not obtain"):
            other.session.execute(select(Account).where(Account.code == bobs)
                                  .with_for_update(nowait=True)).all()


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_concurrent_transfers_both_ways_keep_every_minor_unit(
        uow_factory: Uow, make_party: Callable[..., Actor]) -> None:
    """Eight threads move money back and forth among four parties (creating their accounts
    as they go): no deadlock, no overdraft, and the total is what was deposited."""
    parties = [make_party("inventor").party_id for _ in range(4)]
    with uow_factory() as uow:
        for party in parties[:2]:
            _deposit(uow, party, 1000)
        uow.commit()
    refused: list[str] = []

    def trade(worker: int) -> None:
        rng = random.Random(worker)
        for _ in range(25):
            payer, payee = rng.sample(parties, 2)
            with uow_factory() as uow:
                try:
                    post_transaction(uow, kind="money.transfer", data={}, actor=None, postings=[
                        Posting(party_account(payer, "HKD", AVAILABLE), "HKD", -30),
                        Posting(party_account(payee, "HKD", AVAILABLE), "HKD", 30)])
                    uow.commit()
                except InsufficientFunds as error:
                    refused.append(str(error))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(trade, range(8)))
    with uow_factory() as uow:
        balances = [a.balance_minor for p in parties for a in balances_of(uow.session, p)]
        assert sum(balances) == 2000 and min(balances) >= 0
        assert compare(uow.session) == []
    assert all("would be overdrawn by" in message for message in refused)


def test_the_fingerprint_is_the_request_hash_of_before(uow_factory: Uow,
                                                       make_party: Callable[..., Actor]) -> None:
    """Splicing the encoded data changes no byte: a retry stored before still matches."""
    alice = make_party("inventor")
    postings = [Posting(system_account("HKD", CLEARING), "HKD", -7),
                Posting(party_account(alice.party_id, "HKD", AVAILABLE), "HKD", 7)]
    data = {"party_id": alice.party_id, "note": "caf\u00e9 \U0001f600", "n": [1, None, True]}
    with uow_factory() as uow:
        posted = post_transaction(uow, kind="money.deposit", data=data, actor=None,
                                  postings=postings, client_id="fingerprint-1")
        uow.commit()
    from ledger.models import MoneyTransaction

    with uow_factory() as uow:
        stored = uow.session.get_one(MoneyTransaction, posted.transaction_id).request_hash
    assert stored == ledger.accounts.request_hash(
        {"kind": "money.deposit", "data": data,
         "postings": [[p.account, p.currency, p.amount] for p in postings]})


@pytest.mark.parametrize("chunk", [7, 5000])
def test_distribution_to_many_holders(world: World, monkeypatch: pytest.MonkeyPatch,
                                      make_party: Callable[..., Actor], chunk: int) -> None:
    """60 holders bought inventor units; two receipts (the first creates their accounts,
    the second updates them), with SQLite's lock reads split in chunks of `chunk`."""
    monkeypatch.setattr(ledger.accounts, "SQLITE_CHUNK", chunk)
    inventor_class = world.instrument("inventor")
    holders = [make_party("investor") for _ in range(60)]
    for i, holder in enumerate(holders):
        assets.transfer_units(world.uow(), world.alice, inventor_class, holder.party_id,
                              1 + i % 9)
    views = [revenue.record_revenue(world.uow(), world.operator, world.listing.asset.id,
                                    amount, "HKD", "royalty", f"R{n}")
             for n, amount in enumerate(["100000.01", "50000.03"])]
    read_back = {v.distribution.id: revenue.read_distribution(
        world.uow(), world.operator, v.distribution.id) for v in views}
    readers: dict[int, list[str]] = {}
    with world.uow() as uow:
        session = uow.session
        assert compare(session) == []  # balances and holdings replay from the journal
        for view in views:
            seq = view.distribution.journal_seq
            entry = session.get_one(JournalEntry, seq)
            body = json.loads(entry.body)
            # Encoded in parts, before the head was taken, and spliced: still the canonical
            # encoding of the whole, under its leaf hash.
            assert canonical_bytes(body) == entry.body.encode()
            assert leaf_hash(entry.body.encode()) == entry.leaf_hash
            data = body["data"]
            # Lines as read back = lines as journalled = lines as returned.
            assert read_back[view.distribution.id].lines == view.lines
            assert [(ln["party_id"], ln["class"], ln["units"]) for ln in data["lines"]] == \
                [(ln.party_id, ln.unit_class, ln.units) for ln in view.lines]
            # The holders, alice, bob and the university; and a residual line if any.
            assert len([ln for ln in view.lines if ln.unit_class != "residual"]) == 60 + 2 + 1
            # The offline verifier recomputes every line of the entry (the whole split, from
            # its inputs) and finds what each holder was paid.
            for holder in holders[::7]:
                posted = sum(Decimal(p["amount"]) for p in body["postings"]
                             if p["account"].startswith(holder.party_id + ":"))
                assert _check_distribution(body, holder.party_id, "HKD", posted) == []
            assert _check_distribution(body, holders[0].party_id, "HKD", Decimal("0.01")) != []
            # One posting per credited party plus the payer, summing to zero.
            postings = session.execute(
                select(func.count(), func.sum(PostingRow.amount_minor))
                .where(PostingRow.journal_seq == seq)).one()
            assert postings == (len(body["postings"]), 0)
            # The holders paid read the entry through their postings; it names the actor and
            # the asset's owner.
            named = set(session.execute(select(JournalEntryParty.party_id)
                                        .where(JournalEntryParty.seq == seq)).scalars())
            paid = {p["account"].split(":")[0] for p in body["postings"]}
            assert len(paid & {h.party_id for h in holders}) == 60
            assert named == {world.operator.party_id, world.listing.asset.owner_id}
            readers[seq] = sorted(paid - named - {"ipx"})
    for seq, parties in readers.items():
        for party_id in parties[::7]:
            assert read_entry(world.uow(), Actor(party_id, "investor"), seq).seq == seq


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_concurrent_unit_transfers_create_holdings_without_deadlock(
        world: World, make_party: Callable[..., Actor]) -> None:
    """Eight threads move units back and forth among four parties, two of whom hold none at
    first (their holdings are created as they go): no deadlock, and no unit made or lost."""
    instrument = world.instrument("inventor")
    parties = [world.alice, *(make_party("investor") for _ in range(3))]
    assets.transfer_units(world.uow(), world.alice, instrument, parties[1].party_id, 1000)

    def held() -> int:
        with world.uow() as uow:
            return int(uow.session.execute(select(func.sum(Holding.units))
                                           .where(Holding.instrument_id == instrument))
                       .scalar_one())

    before = held()

    def move(worker: int) -> None:
        rng = random.Random(worker)
        for _ in range(20):
            giver, taker = rng.sample(parties, 2)
            with contextlib.suppress(InsufficientUnits):  # a giver may have run out
                assets.transfer_units(world.uow(), giver, instrument, taker.party_id, 7)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(move, range(8)))
    assert held() == before
    with world.uow() as uow:
        assert compare(uow.session) == []


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_accounts_seen_committed_are_locked_without_a_savepoint(
        uow_factory: Uow, sessions: sessionmaker[Session],
        make_party: Callable[..., Actor]) -> None:
    """A savepoint guards a lock only while some row may be missing: once a committed
    transaction has seen every account, they are locked directly. A transaction that rolls
    back teaches nothing (the accounts it created are gone), even after a savepoint of it
    was released."""
    bob, carol = (make_party("inventor").party_id for _ in range(2))
    bobs, carols = ([party_account(party, "HKD", purpose) for purpose in (AVAILABLE, HELD)]
                    for party in (bob, carol))

    def savepoints(*locks: list[str], commit: bool) -> int:
        statements: list[str] = []
        with uow_factory() as uow:
            engine = uow.session.get_bind()
            listen = (lambda *args: statements.append(args[2]))  # noqa: E731
            event.listen(engine, "before_cursor_execute", listen)
            try:
                for codes in locks:
                    assert len(ledger.accounts.lock_accounts(uow.session, codes)) == len(codes)
                if commit:
                    uow.commit()
            finally:
                event.remove(engine, "before_cursor_execute", listen)
        return sum(s.startswith("SAVEPOINT") for s in statements)

    assert savepoints(bobs, commit=False) == 1  # created, then rolled back
    assert savepoints(bobs, carols, commit=True) == 2  # created again, and committed
    assert savepoints(bobs, commit=False) == 0
    assert savepoints(bobs, carols, commit=True) == 0
    ledger.db._known.clear()  # as a new process: both exist, neither is known
    assert savepoints(bobs, carols, commit=False) == 2  # carol's savepoint released after bob's
    assert savepoints(bobs, commit=True) == 1
    assert savepoints(bobs, carols, commit=True) == 1
    assert savepoints(bobs, carols, commit=True) == 0
    # One session, several transactions: what a rolled-back one saw is forgotten as well.
    dans = [party_account(make_party("inventor").party_id, "HKD", AVAILABLE)]
    with sessions() as session:
        ledger.accounts.lock_accounts(session, dans)
        session.rollback()
        ledger.accounts.lock_accounts(session, carols)
        session.commit()
    assert savepoints(dans, commit=True) == 1
