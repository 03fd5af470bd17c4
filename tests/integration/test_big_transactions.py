"""Transactions of BIG_BATCH postings or more, through `post_transaction`: on PostgreSQL they
run unprepared and their data is encoded while the accounts are locked and updated. The same
balances, account ids, records and errors as on SQLite, where nothing overlaps, accounts are
read in one pass over the table or by code, and created SQLITE_CHUNK at a time; accounts
missing among existing ones are created with the rest updated."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ledger import accounts
from ledger.account_codes import AVAILABLE, CLEARING, party_account, system_account
from ledger.accounts import SQLITE_CHUNK, Posted, balances_of, post_transaction
from ledger.canonical import canonical_bytes, leaf_hash
from ledger.db import BIG_BATCH
from ledger.errors import InsufficientFunds
from ledger.models import Account, JournalEntry, MoneyTransaction, Party
from ledger.models import Posting as PostingRow
from ledger.postings import Posting
from ledger.replay import compare
from ledger.unit_of_work import UnitOfWork

Uow = Callable[[], UnitOfWork]
MANY = max(BIG_BATCH, SQLITE_CHUNK) + 200  # over both engines' batch sizes
CLEARING_HKD = system_account("HKD", CLEARING)


@pytest.fixture
def codes(sessions: sessionmaker[Session]) -> list[str]:
    """The available-cash accounts of MANY parties (not created yet). The parties are rows
    written directly: registering thousands through the service would journal each one,
    which nothing here checks."""
    owners = [f"pty_bulk{n:05d}" for n in range(MANY)]
    with sessions() as session:
        session.add_all(Party(id=owner, name=owner, kind="investor",
                              created_at=datetime.now(UTC)) for owner in owners)
        session.commit()
    return [party_account(owner, "HKD", AVAILABLE) for owner in owners]


def _pay(uow: UnitOfWork, amounts: dict[str, int]) -> Posted:
    return post_transaction(
        uow, kind="money.deposit", data={"n": len(amounts)}, actor=None,
        postings=[Posting(CLEARING_HKD, "HKD", -sum(amounts.values()))]
        + [Posting(code, "HKD", amount) for code, amount in amounts.items()])


def _paid(uow_factory: Uow, amounts: dict[str, int]) -> Posted:
    """`_pay`, committed in a unit of work of its own."""
    with uow_factory() as uow:
        posted = _pay(uow, amounts)
        uow.commit()
        return posted


def _balances(uow_factory: Uow) -> dict[str, int]:
    with uow_factory() as uow:
        return _read_balances(uow.session)


def _read_balances(session: Session) -> dict[str, int]:
    return dict(session.execute(select(Account.code, Account.balance_minor)).all())


def _check_postings_and_replay(uow_factory: Uow) -> None:
    """Every account's postings sum to its balance (the ids returned were the right ones),
    and the journal replays to the tables."""
    with uow_factory() as uow:
        posted = dict(uow.session.execute(
            select(Account.code, func.sum(PostingRow.amount_minor))
            .join(PostingRow, PostingRow.account_id == Account.id).group_by(Account.code)).all())
        assert posted == {code: balance for code, balance in _read_balances(uow.session).items()
                          if code in posted}
        assert compare(uow.session) == []


def test_a_big_transaction_updates_balances_and_records_its_rows(uow_factory: Uow,
                                                                 codes: list[str]) -> None:
    amounts = {code: 1 + n for n, code in enumerate(codes)}
    with uow_factory() as uow:
        _pay(uow, amounts)  # creates every account
        uow.commit()
    with uow_factory() as uow:
        loaded = balances_of(uow.session, codes[7].split(":")[0])[0]  # an ORM object, before
        posted = _pay(uow, amounts)
        assert loaded.balance_minor == 2 * 8  # the object in the session follows the UPDATE
        uow.commit()
    assert _balances(uow_factory) == {CLEARING_HKD: -2 * sum(amounts.values())} | {
        code: 2 * amount for code, amount in amounts.items()}
    _check_postings_and_replay(uow_factory)
    with uow_factory() as uow:  # the transaction names its entry, identified by its leaf hash
        transaction = uow.session.get_one(MoneyTransaction, posted.transaction_id)
        entry = uow.session.get_one(JournalEntry, posted.journal_seq)
        assert transaction.request_hash == entry.leaf_hash.hex()
        body = json.loads(entry.body)
        assert body["data"] == {"n": MANY}
        # Data and postings encoded beforehand (on PostgreSQL in a thread) and spliced: the
        # canonical encoding of the whole, under its leaf hash.
        assert len(body["postings"]) == MANY + 1
        assert canonical_bytes(body) == entry.body.encode()
        assert leaf_hash(entry.body.encode()) == entry.leaf_hash


def test_missing_accounts_are_created_with_the_rest_updated(uow_factory: Uow,
                                                            codes: list[str]) -> None:
    _paid(uow_factory, dict.fromkeys(codes[::2], 5))
    _paid(uow_factory, dict.fromkeys(codes, 3))
    assert _balances(uow_factory) == {CLEARING_HKD: -5 * len(codes[::2]) - 3 * MANY} | {
        code: 3 + (5 if n % 2 == 0 else 0) for n, code in enumerate(codes)}
    _check_postings_and_replay(uow_factory)


def test_an_overdraft_in_a_big_batch_is_named_and_changes_nothing(uow_factory: Uow,
                                                                  codes: list[str]) -> None:
    _paid(uow_factory, dict.fromkeys(codes, 10))
    before = _balances(uow_factory)
    debits = dict.fromkeys(codes, -10) | {codes[-3]: -11}
    with uow_factory() as uow, pytest.raises(
            InsufficientFunds, match=f"account {codes[-3]} would be overdrawn by 1 minor units"):
        _pay(uow, debits)
    assert _balances(uow_factory) == before


@pytest.mark.parametrize("whole_table", [True, False])
def test_sqlite_reads_a_big_batch_either_way_to_the_same_end(
        uow_factory: Uow, codes: list[str], whole_table: bool,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite reads a batch that is most of the table in one pass over it, and a smaller one
    by code: both find the same accounts, the missing ones left to be created."""
    _paid(uow_factory, dict.fromkeys(codes[1::3], 4))
    monkeypatch.setattr(accounts, "_most_of_the_table", lambda *_: whole_table)
    _paid(uow_factory, dict.fromkeys(codes, 2))
    assert _balances(uow_factory) == {CLEARING_HKD: -4 * len(codes[1::3]) - 2 * MANY} | {
        code: 2 + (4 if n % 3 == 1 else 0) for n, code in enumerate(codes)}
    _check_postings_and_replay(uow_factory)


def test_a_big_batch_of_existing_accounts_is_moved_by_id(
        uow_factory: Uow, sessions: sessionmaker[Session], codes: list[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A big batch whose accounts all exist is moved by each account's net amount, by id, the
    ids read by code (none are known here): on PostgreSQL by one UPDATE that locks them in id
    order (the global lock order), on SQLite an UPDATE per account. A batch with a missing
    account or an overdraft changes nothing there and takes the path that creates or names
    it."""
    moves: list[dict[str, int] | None] = []
    move_by_id = accounts._move_by_id

    def spy(session: Session, net: dict[str, int], known: dict[str, int]
            ) -> dict[str, int] | None:
        moves.append(move_by_id(session, net, known))
        return moves[-1]

    monkeypatch.setattr(accounts, "_move_by_id", spy)
    backwards = codes[::-1]  # listed backwards; opened by two transactions, so ids interleave codes
    _paid(uow_factory, dict.fromkeys(backwards[::2], 5))
    _paid(uow_factory, dict.fromkeys(backwards, 1))
    with uow_factory() as uow:
        loaded = balances_of(uow.session, backwards[0].split(":")[0])[0]  # an ORM object, before
        _pay(uow, dict.fromkeys(codes, 2))
        assert loaded.balance_minor == 3 + 5  # the object in the session follows the move
        uow.commit()
    before = _balances(uow_factory)
    with uow_factory() as uow, pytest.raises(InsufficientFunds, match=codes[5]):
        _pay(uow, dict.fromkeys(codes, -1) | {codes[5]: -1 - before[codes[5]]})
    assert _balances(uow_factory) == before
    assert before == {CLEARING_HKD: -5 * len(codes[::2]) - 3 * MANY} | {
        code: 3 + (5 if n % 2 == 0 else 0) for n, code in enumerate(backwards)}
    _check_postings_and_replay(uow_factory)
    missing, some_missing, all_there, overdrawn = moves
    assert missing is None and some_missing is None and overdrawn is None
    assert all_there is not None and len(all_there) == MANY + 1
    with sessions() as session:
        assert all_there == dict(session.execute(select(Account.code, Account.id).where(
            Account.code.in_(all_there))).all())


def test_account_ids_the_caller_knows_are_used_and_a_wrong_one_is_passed_over(
        uow_factory: Uow, sessions: sessionmaker[Session], codes: list[str]) -> None:
    """A caller may give the ids of some accounts (a distribution reads its holders' with
    their holdings). An id that is no account's moves nothing: the batch then takes the path
    that reads every account by code, to the same balances and postings."""
    _paid(uow_factory, dict.fromkeys(codes, 1))
    with sessions() as session:
        ids = dict(session.execute(select(Account.code, Account.id).where(
            Account.code.in_(codes))).all())
    nobody = max(ids.values()) + 1000
    for known in (ids, ids | {codes[7]: nobody}):
        with uow_factory() as uow:
            posted = post_transaction(
                uow, kind="money.deposit", data={}, actor=None, known_account_ids=known,
                postings=[Posting(CLEARING_HKD, "HKD", -2 * MANY)]
                + [Posting(code, "HKD", 2) for code in codes])
            uow.commit()
        assert posted.entry is not None
    assert _balances(uow_factory) == {CLEARING_HKD: -5 * MANY} | dict.fromkeys(codes, 5)
    _check_postings_and_replay(uow_factory)


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_big_batches_and_small_transfers_on_the_same_accounts_never_deadlock(
        uow_factory: Uow, codes: list[str]) -> None:
    """Two threads pay every account at once (the one-pass UPDATE) while four move money
    between a few of the same accounts (locked by `_LOCK_PG`), the accounts opened in reverse
    code order: both lock in id order, so no deadlock, no overdraft, and every minor unit is
    where the postings say."""
    _paid(uow_factory, dict.fromkeys(codes[::-1], 50))
    ends = codes[:6] + codes[-6:]  # both ends of the code order, and so of the id order
    refused: list[str] = []

    def pay_everyone(worker: int) -> None:
        for _ in range(3):
            _paid(uow_factory, dict.fromkeys(codes, 1 + worker))

    def transfer(worker: int) -> None:
        rng = random.Random(worker)
        for _ in range(30):
            payer, payee = rng.sample(ends, 2)
            with uow_factory() as uow:
                try:
                    post_transaction(uow, kind="money.transfer", data={}, actor=None,
                                     postings=[Posting(payer, "HKD", -7),
                                               Posting(payee, "HKD", 7)])
                    uow.commit()
                except InsufficientFunds as error:
                    refused.append(str(error))

    with ThreadPoolExecutor(6) as pool:
        done = [pool.submit(pay_everyone, w) for w in range(2)]
        done += [pool.submit(transfer, w) for w in range(4)]
        for future in done:
            future.result()  # a deadlock would raise here
    balances = _balances(uow_factory)
    assert balances.pop(CLEARING_HKD) == -(50 + 3 * 1 + 3 * 2) * MANY
    assert sum(balances.values()) == (50 + 3 + 6) * MANY and min(balances.values()) >= 0
    assert all("would be overdrawn by" in message for message in refused)
    _check_postings_and_replay(uow_factory)
