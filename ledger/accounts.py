"""The money store: accounts, and posting balanced transactions to them under row locks.

A transaction may touch 100,000 accounts (a distribution to every holder of an asset), so the
store reads, locks, creates and updates accounts with a few set-based statements per
transaction rather than ORM objects per account: on PostgreSQL one statement each, binding
arrays (`= ANY(:codes)`, `unnest(...)`); on SQLite, whose writers are already serialised by
`BEGIN IMMEDIATE`, executemany with prebuilt statements.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import BigInteger, Boolean, String, Text, any_, bindparam, insert, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ledger.account_codes import account_fields, may_go_negative
from ledger.account_opening import account_ids
from ledger.canonical import canonical_bytes, canonical_value
from ledger.canonical_rows import postings_canonical
from ledger.db import (
    BIG_BATCH,
    ArrayLiteral,
    is_postgresql,
    lock_creating_missing,
    planned_for_values,
)
from ledger.errors import IdempotencyConflict
from ledger.holdings import apply_moves
from ledger.ids import new_id
from ledger.journal import AppendedEntry, Rider
from ledger.models import Account, MoneyTransaction
from ledger.postings import (
    Posting,
    UnitMove,
    apply_postings,
    net_amounts,
    refuse_overdrafts,
)
from ledger.unit_of_work import UnitOfWork


def request_hash(data: Any) -> str:
    return hashlib.sha256(canonical_bytes(data)).hexdigest()


T = TypeVar("T")


class AccountState(NamedTuple):
    """An account as a transaction needs it: its row id, balance and overdraft rule."""

    id: int
    balance_minor: int
    allow_negative: bool


# SQLite binds at most 32,766 parameters per statement; PostgreSQL binds arrays instead.
SQLITE_CHUNK = 5000
CHECK_VIOLATION = "23514"  # SQLSTATE: here, the `no_overdraft` check of an account
TEXTS = ArrayLiteral(Text)
INTEGERS = ArrayLiteral(BigInteger)

_STATE = (Account.code, Account.id, Account.balance_minor, Account.allow_negative)
# Accounts are locked in id order, the one global lock order: by id a big batch's rows are
# read and written in the order the table holds them (bench/README.md).
_LOCK_PG = (select(*_STATE).where(Account.code == any_(bindparam("codes", type_=TEXTS)))
            .order_by(Account.id).with_for_update())
_CREATE_PG = text(
    "INSERT INTO accounts (code, party_id, currency, purpose, balance_minor, allow_negative) "
    "SELECT * FROM unnest(:codes, :party_ids, :currencies, :purposes, :balances, "
    ":allow_negative) ORDER BY 1 ON CONFLICT (code) DO NOTHING RETURNING code, id"
).bindparams(bindparam("codes", type_=TEXTS), bindparam("party_ids", type_=TEXTS),
             bindparam("currencies", type_=TEXTS), bindparam("purposes", type_=TEXTS),
             bindparam("balances", type_=INTEGERS),
             bindparam("allow_negative", type_=ArrayLiteral(Boolean)))
_CREATE_SQLITE = (
    "INSERT INTO accounts (code, party_id, currency, purpose, balance_minor, allow_negative) "
    "VALUES {values} ON CONFLICT (code) DO NOTHING RETURNING code, id")
# New balances by account id (`:ids`, `:balances`, both INTEGERS); also one part of an exchange
# command's write statement (exchange/settlement.py).
UPDATE_BALANCES_PG = ("UPDATE accounts SET balance_minor = b.balance FROM unnest(:ids, :balances) "
                      "AS b(id, balance) WHERE accounts.id = b.id")
_UPDATE_PG = text(UPDATE_BALANCES_PG).bindparams(bindparam("ids", type_=INTEGERS),
                                                bindparam("balances", type_=INTEGERS))
_UPDATE_SQLITE = "UPDATE accounts SET balance_minor = ?2 WHERE id = ?1"  # (id, balance) rows
_MOVE_SQLITE = ("UPDATE accounts SET balance_minor = balance_minor + ?2 "
                "WHERE id = ?1")  # (id, amount) rows
# A big batch's postings on PostgreSQL: each account locked and moved by its net amount in one
# pass, in id order (the sorted ids merged with the table's key), the overdraft rule left to
# the `no_overdraft` check. Not a hash join, whose order would be the table's.
_MOVE_PG = text(
    "UPDATE accounts SET balance_minor = accounts.balance_minor + m.amount FROM "
    "(SELECT * FROM unnest(:ids, :amounts) AS m(id, amount) ORDER BY id) AS m "
    "WHERE accounts.id = m.id"
).bindparams(bindparam("ids", type_=INTEGERS), bindparam("amounts", type_=INTEGERS))
_INSERT_TRANSACTION = insert(MoneyTransaction)
# On PostgreSQL a rider of the journal entry's own statement (see `money_rider`); without a
# fingerprint of its own, the transaction's is the entry's leaf hash.
_TRANSACTION_PG = (
    "INSERT INTO money_transactions (id, client_id, request_hash, kind, journal_seq, created_at) "
    "VALUES (:money_id, :money_client_id, COALESCE(:money_request_hash, encode(:leaf_hash, "
    "'hex')), :money_kind, :seq, :money_created_at)")
_POSTINGS_PG = (
    "INSERT INTO postings (account_id, journal_seq, line, amount_minor) "
    "SELECT p.account_id, :seq, p.line, p.amount FROM unnest(:money_account_ids, :money_lines, "
    ":money_amounts) AS p(account_id, line, amount)")
_TRANSACTION_BINDS = (
    bindparam("money_id", type_=String), bindparam("money_client_id", type_=String),
    bindparam("money_request_hash", type_=String), bindparam("money_kind", type_=String),
    bindparam("money_created_at", type_=MoneyTransaction.__table__.c.created_at.type))
_POSTINGS_BINDS = (bindparam("money_account_ids", type_=INTEGERS),
                   bindparam("money_lines", type_=INTEGERS),
                   bindparam("money_amounts", type_=INTEGERS))
# A big batch's postings on PostgreSQL, after the entry's statement: COPY writes a page of rows
# per WAL record where INSERT writes one per row.
_COPY_POSTINGS_PG = "COPY postings (account_id, journal_seq, line, amount_minor) FROM STDIN"
_INSERT_POSTINGS_SQLITE = (
    "INSERT INTO postings (account_id, journal_seq, line, amount_minor) VALUES (?, ?, ?, ?)")


def _most_of_the_table(connection: Connection, codes: list[str]) -> bool:
    """Whether a big batch of accounts is at least a quarter of the table (ids count up from
    1, so the highest id bounds the table's size): reading it all is then cheaper than looking
    each one up."""
    if len(codes) < BIG_BATCH:
        return False
    highest = connection.exec_driver_sql("SELECT max(id) FROM accounts").scalar()
    return 4 * len(codes) >= (highest or 0)


def _lock_existing(session: Session, codes: list[str]) -> dict[str, AccountState]:
    """Lock the existing accounts among `codes` (sorted, distinct) and read their state.

    PostgreSQL locks them in one statement, in id order (the one global lock order);
    SQLite's writers hold the whole database (`BEGIN IMMEDIATE`), so it only reads them.
    """
    session.flush()  # read what the session has changed, not what the database had before
    connection = session.connection()
    rows = (connection.execute(_LOCK_PG, {"codes": codes}).all() if is_postgresql(session)
            else _sqlite_rows(connection, codes))
    # bool(): SQLite hands back 0 and 1 for this column when read without SQLAlchemy types.
    return {code: AccountState(id_, balance, bool(allow)) for code, id_, balance, allow in rows}


def _sqlite_rows(connection: Connection, codes: list[str]) -> Sequence[Any]:
    """The (code, id, balance_minor, allow_negative) rows of the existing accounts among
    `codes` (distinct) on SQLite, which takes no row locks."""
    if _most_of_the_table(connection, codes):
        # Reading 100,000 accounts with their states took 0.32 s in one pass, 0.41 s by code
        # (bench/README.md).
        wanted = set(codes)
        return [row for row in connection.exec_driver_sql(
            "SELECT code, id, balance_minor, allow_negative FROM accounts").all()
            if row[0] in wanted]
    rows: list[Any] = []
    for i in range(0, len(codes), SQLITE_CHUNK):
        chunk = codes[i:i + SQLITE_CHUNK]
        rows += connection.exec_driver_sql(
            "SELECT code, id, balance_minor, allow_negative FROM accounts WHERE code IN "
            f"({', '.join('?' * len(chunk))})", tuple(chunk)).all()
    return rows


def _create(session: Session, balances: Mapping[str, int]) -> dict[str, int]:
    """Create the accounts `balances` names (sorted) with those balances and return their
    ids. An account a concurrent transaction created first is left out of the result (on
    PostgreSQL, which waits for that transaction to end; SQLite's writers never overlap)."""
    rows = []
    for code, balance in balances.items():
        party, currency, purpose, negative = account_fields(code)
        rows.append((code, party, currency, purpose, balance, negative))
    connection = session.connection()
    if is_postgresql(session):
        codes, owners, currencies, purposes, amounts, negatives = (
            list(c) for c in zip(*rows, strict=True))
        return dict(connection.execute(_CREATE_PG, {
            "codes": codes, "party_ids": owners, "currencies": currencies,
            "purposes": purposes, "balances": amounts, "allow_negative": negatives}).all())
    # Many rows per statement, their ids returned: 30 % less than one row per execution and
    # the ids read back by code (100,000 accounts, bench/README.md). 6 values a row.
    created: dict[str, int] = {}
    for i in range(0, len(rows), SQLITE_CHUNK):
        chunk = rows[i:i + SQLITE_CHUNK]
        created.update(connection.exec_driver_sql(
            _CREATE_SQLITE.format(values=", ".join(["(?, ?, ?, ?, ?, ?)"] * len(chunk))),
            tuple(value for row in chunk for value in row)).all())
    return created


def _lock_or_create(
    session: Session, wanted: list[str], opening: Callable[[list[str]], dict[str, int]],
) -> tuple[dict[str, AccountState], dict[str, int]]:
    """Lock the existing accounts among `wanted` (sorted), in id order, and create the
    missing ones with the balances `opening(missing)` gives them: (the states of the locked
    accounts, the ids of the created ones). Never while holding other locks
    (`lock_creating_missing`); one that a concurrent transaction created meanwhile is locked
    with the rest, and the accounts created here are not read again."""
    created: dict[str, int] = {}
    found = lock_creating_missing(
        session, wanted, lambda: _lock_existing(session, [c for c in wanted if c not in created]),
        lambda missing: created.update(_create(session, opening(missing))))
    return dict(found), created


def lock_accounts(session: Session, codes: Sequence[str]) -> dict[str, AccountState]:
    """Lock every account a transaction will touch, up front and in one stable order (so
    that two transactions touching the same accounts can never deadlock), creating any that
    do not exist yet (a concurrent creation of the same account is not an error); their
    states, by code."""
    found, created = _lock_or_create(session, sorted(set(codes)),
                                     lambda missing: dict.fromkeys(missing, 0))
    return found | {code: AccountState(id_, 0, may_go_negative(code))
                    for code, id_ in created.items()}


def _ids_of(session: Session, net: Mapping[str, int],
            known: Mapping[str, int]) -> dict[str, int] | None:
    """The ids of the accounts `net` names: those in `known`, the rest read by code; None when
    one does not exist."""
    # As sets: a distribution's 100,000 codes, all but a few known, in a few milliseconds.
    ids = (dict(known) if known.keys() <= net.keys()
           else {code: known[code] for code in net.keys() & known.keys()})
    rest = sorted(net.keys() - ids.keys())
    if rest:
        ids.update(account_ids(session, rest))
    return ids if len(ids) == len(net) else None


def _overdrawn(error: IntegrityError) -> bool:
    """Whether the statement failed an account's `no_overdraft` check (the only check of the
    accounts table)."""
    return (getattr(error.orig, "sqlstate", None) == CHECK_VIOLATION
            or getattr(error.orig, "sqlite_errorname", None) == "SQLITE_CONSTRAINT_CHECK")


def _move_by_id(session: Session, net: Mapping[str, int],
                known: Mapping[str, int]) -> dict[str, int] | None:
    """Move each account of a big batch by its `net` amount, by id (`known`, or read by code)
    in id order, the overdraft rule left to the `no_overdraft` check: the accounts' ids, or
    None, having changed nothing, when an account is missing or would be overdrawn (the
    caller then takes the path that creates it or names it). On PostgreSQL one UPDATE locks
    and writes them: 100,000 accounts took 0.19-0.22 s on the server by id, 0.34-0.42 s by
    code, and locking them first then updating them 1.8-2.3 s in all; on SQLite (whose
    writer holds the whole database) an UPDATE per account, in row order (bench/README.md)."""
    session.flush()  # move what the session has changed, not what the database had before
    ids = _ids_of(session, net, known)
    if ids is None:
        return None
    savepoint = session.begin_nested()
    connection = session.connection()  # which emits the SAVEPOINT
    try:
        if is_postgresql(session):
            # Merge join or nested loop, both in id order: the same global lock order as
            # `_LOCK_PG`, so that this cannot deadlock with a transaction locking a few.
            connection.exec_driver_sql("SET LOCAL enable_hashjoin = off")
            moved = connection.execute(_MOVE_PG, {"ids": [ids[code] for code in net],
                                                  "amounts": list(net.values())}).rowcount
            connection.exec_driver_sql("SET LOCAL enable_hashjoin TO DEFAULT")
        else:
            moved = connection.exec_driver_sql(_MOVE_SQLITE, sorted(
                (ids[code], amount) for code, amount in net.items())).rowcount
    except IntegrityError as error:
        if not _overdrawn(error):
            raise
        moved = None
    if moved != len(net):  # overdrawn, or a `known` id that is no account's
        savepoint.rollback()
        return None
    savepoint.commit()
    for obj in list(session.identity_map.values()):  # their balances are read again
        if isinstance(obj, Account) and obj.code in net:
            session.expire(obj, ["balance_minor"])
    return ids


def _post_to_accounts(session: Session, postings: Sequence[Posting],
                      known: Mapping[str, int]) -> dict[str, int]:
    """Apply balanced `postings` to their accounts' balances under row locks, refusing any
    overdraft, and return the accounts' ids (`known`: some of them, by code). A missing
    account is created with its new balance: a distribution's first receipt inserts 100,000
    accounts rather than inserting them at 0 and then updating every one."""
    if len(postings) >= BIG_BATCH:
        moved = _move_by_id(session, net_amounts(postings), known)
        if moved is not None:
            return moved

    def opening(missing: list[str]) -> dict[str, int]:
        sums = dict.fromkeys(missing, 0)
        for posting in postings:
            if posting.account in sums:
                sums[posting.account] += posting.amount
        refuse_overdrafts(sums, may_go_negative)
        return sums

    found, created = _lock_or_create(session, sorted({p.account for p in postings}), opening)
    balances = apply_postings(
        {code: state.balance_minor for code, state in found.items()} | dict.fromkeys(created, 0),
        postings,
        lambda code: found[code].allow_negative if code in found else may_go_negative(code),
    )
    for code in created:  # inserted with their new balances
        del balances[code]
    _write_balances(session, found, balances)
    return {code: state.id for code, state in found.items()} | created


def _write_balances(session: Session, accounts: Mapping[str, AccountState],
                    balances: Mapping[str, int]) -> None:
    """Store the new balances, and keep any Account object the session holds in step."""
    # In row order, not code order: accounts are opened one holder at a time, so their codes
    # lie at random in the table. On SQLite 100,000 updates took 0.61 s in code order and
    # 0.28-0.31 s in row order (bench/README.md). The rows are locked already.
    changed = sorted((accounts[code].id, balance) for code, balance in balances.items()
                     if balance != accounts[code].balance_minor)
    if not changed:
        return
    connection = session.connection()
    if is_postgresql(session):
        ids, values = (list(c) for c in zip(*changed, strict=True))
        connection.execute(_UPDATE_PG, {"ids": ids, "balances": values})
    else:
        connection.exec_driver_sql(_UPDATE_SQLITE, changed)
    _keep_objects_in_step(session, balances)


def _keep_objects_in_step(session: Session, balances: Mapping[str, int]) -> None:
    """The UPDATE bypassed the ORM: an Account loaded earlier in this session would otherwise
    go on showing the old balance."""
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Account) and obj.code in balances:
            set_committed_value(obj, "balance_minor", balances[obj.code])


def money_rider(*, kind: str, at: datetime, client_id: str | None, request_hash: str | None,
                account_ids: Sequence[int], amounts: Sequence[int]) -> tuple[str, Rider]:
    """A money transaction and its postings (`amounts[i]` to account `account_ids[i]`, line
    `i` of the entry's postings) as a rider of their journal entry, and the transaction's id.
    The caller has checked that they balance and applied them to the balances.
    `request_hash` None: the entry's leaf hash (no client id, so nothing ever compares it; the
    leaf identifies the transaction without encoding its postings a second time). On
    PostgreSQL the postings' references are checked once, at the end of the statement that
    writes them: the entry's own, or for a big batch a COPY that follows it (100,000 postings
    into a table with only its key: 0.14-0.16 s against 0.28-0.45 s by INSERT,
    bench/README.md)."""
    transaction_id = new_id("txn")
    big = len(account_ids) >= BIG_BATCH
    copied: list[Future[str]] = []

    def rows() -> list[tuple[int, int, int]]:
        # (account id, line, amount) in key order, so that the key's index is written page
        # after page: for 100,000 accounts opened in random order, SQLite's append with the
        # postings took 0.86-1.05 s in code order and 0.38-0.41 s in account order
        # (bench/README.md).
        return sorted(zip(account_ids, range(len(amounts)), amounts, strict=True))

    def write(connection: Connection, entry: AppendedEntry) -> None:
        connection.execute(_INSERT_TRANSACTION, {
            "id": transaction_id, "client_id": client_id, "kind": kind,
            "request_hash": request_hash or entry.leaf_hash.hex(), "journal_seq": entry.seq,
            "created_at": at})
        connection.exec_driver_sql(_INSERT_POSTINGS_SQLITE, [
            (account_id, entry.seq, line, amount) for account_id, line, amount in rows()])

    def params(entry: AppendedEntry) -> dict[str, Any]:
        transaction = {"money_id": transaction_id, "money_client_id": client_id,
                       "money_request_hash": request_hash, "money_kind": kind,
                       "money_created_at": at}
        if big:  # the rows to copy are made ready while the server writes the entry
            copied.append(_in_background(lambda: "".join(
                [f"{a}\t{entry.seq}\t{n}\t{m}\n" for a, n, m in rows()])))
            return transaction
        ordered = rows()
        return transaction | {"money_account_ids": [a for a, _, _ in ordered],
                              "money_lines": [n for _, n, _ in ordered],
                              "money_amounts": [m for _, _, m in ordered]}

    def copy(connection: Connection) -> None:
        driver = connection.connection.driver_connection  # psycopg's, in this transaction
        if driver is None:
            raise RuntimeError("the connection was closed before the postings were copied")
        with driver.cursor() as cursor, cursor.copy(_COPY_POSTINGS_PG) as copying:
            copying.write(copied[-1].result())

    if big:
        return transaction_id, Rider(statements=(_TRANSACTION_PG,), binds=_TRANSACTION_BINDS,
                                     write=write, params=params, follow=copy)
    return transaction_id, Rider(statements=(_TRANSACTION_PG, _POSTINGS_PG),
                                 binds=_TRANSACTION_BINDS + _POSTINGS_BINDS, write=write,
                                 params=params)


def _in_background(work: Callable[[], T]) -> Future[T]:
    """`work()` started in a thread of its own, which ends with it."""
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        return pool.submit(work)
    finally:
        pool.shutdown(wait=False)


@dataclass(frozen=True)
class Posted:
    transaction_id: str
    entry: AppendedEntry | None  # None when an idempotent retry found the first one
    journal_seq: int


def _meanwhile(encode: Callable[[], None], work: Callable[[], T], *, overlap: bool) -> T:
    """`encode()`, then `work()`. With `overlap`, `encode` runs in a thread while `work` waits
    on PostgreSQL: for a distribution, about 0.25 s of encoding (its lines and postings,
    `ledger.canonical_rows`) hidden behind the server's locking and updating of 100,000
    accounts. (Not on SQLite, whose statements hold the
    interpreter's lock for most of their time.)"""
    if not overlap:
        encode()
        return work()
    encoding = _in_background(encode)
    done = work()
    encoding.result()
    return done


def post_transaction(
    uow: UnitOfWork,
    *,
    kind: str,
    postings: Sequence[Posting],
    data: dict[str, Any],
    actor: str | None,
    client_id: str | None = None,
    parties: Sequence[str] = (),
    unit_moves: Sequence[UnitMove] = (),
    request: dict[str, Any] | None = None,
    data_encoders: Mapping[str, Callable[[], bytes]] | None = None,
    known_account_ids: Mapping[str, int] | None = None,
) -> Posted:
    """Post a balanced money transaction and its journal entry inside `uow`'s transaction.

    With a `client_id`, a retry with the same content returns the first posting and changes
    nothing; the same id with different content is refused. The content compared is `data`,
    or `request` when `data` holds something minted afresh on each call (a new id).
    `data_encoders` encode members of the entry's data that `data` leaves out (a
    distribution's lines, through `ledger.canonical_rows`); their bytes are spliced in, and
    on PostgreSQL a big batch's are written while the server locks the accounts.
    `known_account_ids`: ids of postings' accounts the caller has read already, by code (a
    distribution reads its holders' with their holdings); the others are read by code.
    """
    # `data` is encoded once, for the fingerprint and the journal entry: a distribution's is
    # 16 MiB. The fingerprint is request_hash({"kind", "data", "postings"}), spliced. The
    # entry's members are encoded before its append takes the journal head.
    def encode_data() -> bytes:
        if data_encoders:
            return canonical_bytes(data, encoded={k: f() for k, f in data_encoders.items()})
        return canonical_value(data)

    encoded: dict[str, bytes] = {}
    fingerprint = None
    if client_id is not None:
        encoded["data"] = encode_data()
        fingerprint = hashlib.sha256(canonical_bytes(
            {"kind": kind, "postings": [[p.account, p.currency, p.amount] for p in postings]},
            encoded={"data": encoded["data"] if request is None else canonical_value(request)},
        )).hexdigest()
        previous = uow.session.execute(
            select(MoneyTransaction).where(MoneyTransaction.client_id == client_id)
        ).scalar_one_or_none()
        if previous is not None:
            if previous.request_hash != fingerprint:
                raise IdempotencyConflict(
                    f"client id '{client_id}' was used for a different transaction",
                    field="client_id",
                )
            return Posted(previous.id, None, previous.journal_seq)

    session = uow.session
    with planned_for_values(session.connection(), max(len(postings), len(unit_moves))):
        def encode() -> None:
            if "data" not in encoded:
                encoded["data"] = encode_data()
            encoded["postings"] = postings_canonical(postings)

        account_ids = _meanwhile(
            encode, lambda: _post_to_accounts(session, postings, known_account_ids or {}),
            overlap=len(postings) >= BIG_BATCH and is_postgresql(session))
        if unit_moves:
            apply_moves(session, unit_moves)
        transaction_id, money = money_rider(
            kind=kind, at=uow.now, client_id=client_id, request_hash=fingerprint,
            account_ids=[account_ids[p.account] for p in postings],
            amounts=[p.amount for p in postings])
        entry = uow.journal.append(kind, data, actor=actor, parties=parties, postings=postings,
                                   unit_moves=unit_moves, encoded=encoded,
                                   riders=[money])
    return Posted(transaction_id, entry, entry.seq)


def balances_of(session: Session, party_id: str) -> list[Account]:
    return list(
        session.execute(
            select(Account).where(Account.party_id == party_id).order_by(Account.code)
        ).scalars()
    )
