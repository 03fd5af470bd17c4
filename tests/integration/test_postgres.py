"""PostgreSQL: the journal tables refuse to change history, and concurrent writers neither
overdraw nor break the chain."""

from __future__ import annotations

import random
import threading

import psycopg
import pytest
from sqlalchemy import func, select

from ledger import replay
from ledger.actor import Actor
from ledger.audit import verify_journal
from ledger.errors import Conflict, InsufficientFunds, InsufficientUnits
from ledger.models import Account, Holding, Instrument, JournalEntry, Withdrawal
from ledger.services import assets, money
from ledger.services.transparency import LogIdentity, latest_checkpoint
from tests.conftest import ORIGIN
from tests.integration.conftest import World
from tests.integration.helpers import APPEND_ONLY, balances_by_currency, head_size, raw_query

TAMPERING = {
    "UPDATE": {
        "journal_entries": "UPDATE journal_entries SET kind = 'forged' WHERE seq = 1",
        "journal_entry_parties": "UPDATE journal_entry_parties SET party_id = 'pty_x'",
        "merkle_nodes": "UPDATE merkle_nodes SET hash = hash",
        "checkpoints": "UPDATE checkpoints SET note = note",
    },
    "DELETE": {table: f"DELETE FROM {table}" for table in APPEND_ONLY},
    # CASCADE, so that no foreign key refuses first: the trigger must be what stops it.
    "TRUNCATE": {table: f"TRUNCATE {table} CASCADE" for table in APPEND_ONLY},
}


def _apply(database_url: str, sql: str) -> None:
    with psycopg.connect(database_url) as connection:
        connection.execute(sql)
        connection.commit()


@pytest.mark.parametrize("table", APPEND_ONLY)
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.postgres
def test_journal_tables_refuse_update_delete_and_truncate(
    database_url: str, world: World, identity: LogIdentity, table: str,
) -> None:
    latest_checkpoint(world.uow(), identity)
    before = raw_query(database_url, f"SELECT * FROM {table} ORDER BY 1, 2")
    assert before, f"{table} has rows to protect"
    for operation, statements in TAMPERING.items():
        with pytest.raises(psycopg.errors.InsufficientPrivilege,
                           match=f"append-only: {operation} on {table}"):
            _apply(database_url, statements[table])
    assert raw_query(database_url, f"SELECT * FROM {table} ORDER BY 1, 2") == before
    # Appending is still allowed, and the journal still verifies.
    money.deposit(world.uow(), world.operator, world.alice.party_id, "1.00", "HKD", "after")
    latest_checkpoint(world.uow(), identity)
    with world.sessions() as session:
        assert verify_journal(session, identity.private_key.public_key(), ORIGIN).ok


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.postgres
def test_projection_tables_are_not_append_only(database_url: str, world: World) -> None:
    # Only the journal is protected: the projections a replay rebuilds stay writable.
    _apply(database_url, "UPDATE holdings SET units = units")
    _apply(database_url, "UPDATE accounts SET balance_minor = balance_minor")


MONEY_HISTORY = {
    "accounts": ["DELETE FROM accounts", "UPDATE accounts SET id = id + 1000",
                 "UPDATE accounts SET party_id = NULL", "TRUNCATE accounts CASCADE"],
    "parties": ["DELETE FROM parties", "UPDATE parties SET id = id || 'x'",
                "TRUNCATE parties CASCADE"],
    "money_transactions": ["DELETE FROM money_transactions",
                           "UPDATE money_transactions SET kind = 'forged'",
                           "TRUNCATE money_transactions CASCADE"],
    "postings": ["DELETE FROM postings", "UPDATE postings SET amount_minor = 0",
                 "TRUNCATE postings"],
}


@pytest.mark.parametrize("table", sorted(MONEY_HISTORY))
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.postgres
def test_money_history_is_never_rewritten(database_url: str, world: World, table: str) -> None:
    # Postings reference accounts and money transactions, and accounts their owners, without
    # per-row foreign keys on PostgreSQL (migrations 0011 and 0012), so nothing they refer to
    # may go or be re-keyed.
    money.deposit(world.uow(), world.operator, world.alice.party_id, "1.00", "HKD", "seed")
    before = raw_query(database_url, f"SELECT * FROM {table} ORDER BY 1")
    assert before, f"{table} has rows to protect"
    for statement in MONEY_HISTORY[table]:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match=f"on {table} is not"):
            _apply(database_url, statement)
    assert raw_query(database_url, f"SELECT * FROM {table} ORDER BY 1") == before


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.postgres
def test_postings_must_name_an_account_and_a_transaction(database_url: str,
                                                         world: World) -> None:
    money.deposit(world.uow(), world.operator, world.alice.party_id, "1.00", "HKD", "seed")
    account_id, seq = raw_query(database_url, "SELECT account_id, journal_seq FROM postings "
                                "LIMIT 1")[0]
    before = raw_query(database_url, "SELECT * FROM postings ORDER BY 1, 2, 3")
    [[moneyless]] = raw_query(database_url, "SELECT min(seq) FROM journal_entries WHERE seq "
                              "NOT IN (SELECT journal_seq FROM money_transactions)")
    unknown = {"account": (seq, 999999999), "money transaction": (moneyless, account_id)}
    for what, (bad_seq, bad_account) in unknown.items():
        # One bad row among good ones refuses the whole statement.
        with pytest.raises(psycopg.errors.ForeignKeyViolation, match=f"names an? {what} "):
            _apply(database_url, "INSERT INTO postings (account_id, journal_seq, line, "
                   f"amount_minor) VALUES ({account_id}, {seq}, 7, 0), "
                   f"({bad_account}, {bad_seq}, 8, 5)")
        # A big batch's postings are copied (ledger.accounts): COPY is checked the same way.
        with (psycopg.connect(database_url) as connection, connection.cursor() as cursor,
              pytest.raises(psycopg.errors.ForeignKeyViolation, match=f"names an? {what} "),
              cursor.copy("COPY postings (account_id, journal_seq, line, amount_minor) "
                          "FROM STDIN") as copy):
            copy.write(f"{account_id}\t{seq}\t7\t0\n{bad_account}\t{bad_seq}\t8\t5\n")
    assert raw_query(database_url, "SELECT * FROM postings ORDER BY 1, 2, 3") == before


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.postgres
def test_accounts_must_name_an_existing_party(database_url: str, world: World) -> None:
    before = raw_query(database_url, "SELECT * FROM accounts ORDER BY 1")
    # One bad row among good ones refuses the whole statement; an owner-less (system) one is fine.
    with pytest.raises(psycopg.errors.ForeignKeyViolation, match="names a party that does not"):
        _apply(database_url, "INSERT INTO accounts (code, party_id, currency, purpose, "
               "balance_minor, allow_negative) VALUES "
               f"('{world.alice.party_id}:EUR:available', '{world.alice.party_id}', 'EUR', "
               "'available', 0, false), ('pty_nobody:EUR:available', 'pty_nobody', 'EUR', "
               "'available', 0, false)")
    assert raw_query(database_url, "SELECT * FROM accounts ORDER BY 1") == before
    _apply(database_url, "INSERT INTO accounts (code, party_id, currency, purpose, "
           "balance_minor, allow_negative) VALUES ('ipx:EUR:fees', NULL, 'EUR', 'fees', 0, false)")


# --- concurrency ----------------------------------------------------------------------------

THREADS = 8
OPS_PER_THREAD = 25
EXPECTED_FAILURES = (InsufficientFunds, InsufficientUnits, Conflict)


def _setup_contention(world: World) -> list[Actor]:
    """Three funded parties holding units, every account they will touch already open."""
    holders = [world.alice, world.bob, world.investor]
    instrument = world.instrument("inventor")
    assets.transfer_units(world.uow(), world.alice, instrument, world.investor.party_id, 200_000)
    for holder in holders:
        money.deposit(world.uow(), world.operator, holder.party_id, "100.00", "HKD", "seed")
        opened = money.request_withdrawal(world.uow(), holder, "0.01", "HKD")
        money.settle_withdrawal(world.uow(), world.operator, opened.id, paid=False)
    return holders


@pytest.mark.parametrize("database_url", ["postgresql", "sqlite"], indirect=True)
def test_concurrent_writers_never_overdraw_or_break_the_chain(
    world: World, identity: LogIdentity,
) -> None:
    holders = _setup_contention(world)
    instrument = world.instrument("inventor")
    start_size = head_size(world.sessions)
    barrier = threading.Barrier(THREADS)
    successes = [0] * THREADS
    refused = [0] * THREADS
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        rng = random.Random(index)
        try:
            barrier.wait(timeout=30)
            for _ in range(OPS_PER_THREAD):
                party = rng.choice(holders)
                other = rng.choice([h for h in holders if h != party])
                action = rng.choice(["deposit", "withdraw", "withdraw", "settle", "transfer"])
                try:
                    if action == "deposit":
                        money.deposit(world.uow(), world.operator, party.party_id,
                                      f"{rng.randint(1, 3000) / 100:.2f}", "HKD", f"t{index}")
                    elif action == "withdraw":
                        money.request_withdrawal(world.uow(), party,
                                                 f"{rng.randint(1, 6000) / 100:.2f}", "HKD")
                    elif action == "settle":
                        with world.sessions() as session:
                            open_ids = list(session.execute(select(Withdrawal.id).where(
                                Withdrawal.status == "requested")).scalars())
                        if not open_ids:
                            continue
                        money.settle_withdrawal(world.uow(), world.operator,
                                                rng.choice(open_ids), paid=rng.random() < 0.5)
                    else:
                        assets.transfer_units(world.uow(), party, instrument, other.party_id,
                                              rng.randint(1, 300_000))
                    successes[index] += 1
                except EXPECTED_FAILURES:
                    refused[index] += 1
        except BaseException as error:  # anything else (a deadlock, a lost lock) fails the test
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a writer hung"
    assert errors == [], errors
    assert sum(successes) > THREADS * OPS_PER_THREAD // 3, (successes, refused)
    assert sum(refused) > 0, "the workload should have met some refusals"

    # Every success appended exactly one entry: seqs unique, contiguous, and counted.
    with world.sessions() as session:
        seqs = list(session.execute(select(JournalEntry.seq).order_by(JournalEntry.seq)).scalars())
    assert seqs == list(range(1, len(seqs) + 1))
    assert len(seqs) == head_size(world.sessions) == start_size + sum(successes)

    # Nothing overdrawn; money and units conserved.
    with world.sessions() as session:
        negative = session.execute(select(Account.code, Account.balance_minor).where(
            Account.balance_minor < 0, Account.allow_negative.is_(False))).all()
        assert negative == []
        assert session.execute(select(func.min(Holding.units))).scalar_one() >= 0
        total = session.execute(select(func.sum(Holding.units)).where(
            Holding.instrument_id == instrument)).scalar_one()
        assert total == session.get(Instrument, instrument).total_units  # type: ignore[union-attr]
    assert balances_by_currency(world.sessions) == {"HKD": 0}

    latest_checkpoint(world.uow(), identity)
    with world.sessions() as session:
        report = verify_journal(session, identity.private_key.public_key(), ORIGIN)
        assert report.ok, report
        assert report.entries == len(seqs)
        assert replay.compare(session) == []
