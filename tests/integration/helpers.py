"""Helpers for the integration tests: table snapshots, journal reads, raw tampering."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session, sessionmaker

from ledger.models import (
    Account,
    Holding,
    JournalEntry,
    JournalEntryParty,
    JournalHead,
    MoneyTransaction,
    Posting,
)

APPEND_ONLY = ("journal_entries", "journal_entry_parties", "merkle_nodes", "checkpoints")

Sessions = sessionmaker[Session]


def table_names(sessions: Sessions) -> list[str]:
    with sessions() as session:
        names = inspect(session.get_bind()).get_table_names()
    return sorted(n for n in names if n != "alembic_version")


def snapshot(sessions: Sessions) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order: to prove that nothing changed."""
    names = table_names(sessions)
    with sessions() as session:
        return {
            name: sorted((tuple(row) for row in session.execute(text(f'SELECT * FROM "{name}"'))),
                         key=repr)
            for name in names
        }


def head_size(sessions: Sessions) -> int:
    with sessions() as session:
        return session.execute(select(JournalHead.size).where(JournalHead.id == 1)).scalar_one()


@dataclass(frozen=True)
class Entry:
    seq: int
    kind: str
    body: dict[str, Any]
    parties: frozenset[str]


def entries(sessions: Sessions, after: int = 0) -> list[Entry]:
    with sessions() as session:
        rows = session.execute(select(JournalEntry.seq, JournalEntry.kind, JournalEntry.body)
                               .where(JournalEntry.seq > after).order_by(JournalEntry.seq)).all()
        # Its readers: the parties it names, and the owners of the accounts it posts to.
        named: dict[int, set[str]] = {}
        for seq, party in session.execute(
                select(JournalEntryParty.seq, JournalEntryParty.party_id)
                .where(JournalEntryParty.seq > after)
                .union(select(MoneyTransaction.journal_seq, Account.party_id)
                       .join(Posting, Posting.journal_seq == MoneyTransaction.journal_seq)
                       .join(Account, Account.id == Posting.account_id)
                       .where(MoneyTransaction.journal_seq > after,
                              Account.party_id.is_not(None)))):
            named.setdefault(seq, set()).add(party)
    return [Entry(seq, kind, json.loads(body), frozenset(named.get(seq, ()))) for seq, kind, body
            in rows]


@contextmanager
def new_entries(sessions: Sessions, *kinds: str) -> Iterator[list[Entry]]:
    """Assert the block appends exactly entries of `kinds`, in order; yields them afterwards."""
    before = head_size(sessions)
    appended: list[Entry] = []
    yield appended
    appended.extend(entries(sessions, after=before))
    assert [e.kind for e in appended] == list(kinds)
    assert [e.seq for e in appended] == list(range(before + 1, before + 1 + len(kinds)))
    assert head_size(sessions) == before + len(kinds)
    for entry in appended:
        assert entry.body["seq"] == entry.seq
        assert entry.body["kind"] == entry.kind


def balance(sessions: Sessions, code: str) -> int:
    with sessions() as session:
        found = session.execute(select(Account.balance_minor).where(Account.code == code))
        return found.scalar_one_or_none() or 0


def units(sessions: Sessions, party: str, instrument: str) -> tuple[int, int]:
    with sessions() as session:
        row = session.get(Holding, (party, instrument))
        return (row.units, row.held_units) if row is not None else (0, 0)


def balances_by_currency(sessions: Sessions) -> dict[str, int]:
    with sessions() as session:
        totals: dict[str, int] = {}
        for account in session.execute(select(Account)).scalars():
            totals[account.currency] = totals.get(account.currency, 0) + account.balance_minor
    return totals


# --- tampering, as someone with direct database access would ---------------------------

def raw_execute(database_url: str, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
    """Run SQL (with `?` placeholders) outside IPX, in one transaction.

    On SQLite this is a plain connection (no foreign keys, as a tamperer's would be). On
    PostgreSQL the append-only triggers would refuse, so, as a superuser, disable every
    trigger of the journal tables for the duration of the transaction.
    """
    if database_url.startswith("sqlite:///"):
        connection = sqlite3.connect(database_url.removeprefix("sqlite:///"))
        try:
            with connection:
                for sql, params in statements:
                    connection.execute(sql, tuple(params))
        finally:
            connection.close()
        return
    with psycopg.connect(database_url) as pg:
        for table in APPEND_ONLY:
            pg.execute(f"ALTER TABLE {table} DISABLE TRIGGER ALL")
        for sql, params in statements:
            pg.execute(sql.replace("?", "%s"), tuple(params))
        for table in APPEND_ONLY:
            pg.execute(f"ALTER TABLE {table} ENABLE TRIGGER ALL")
        pg.commit()


def raw_query(database_url: str, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    if database_url.startswith("sqlite:///"):
        connection = sqlite3.connect(database_url.removeprefix("sqlite:///"))
        try:
            return [tuple(r) for r in connection.execute(sql, tuple(params)).fetchall()]
        finally:
            connection.close()
    with psycopg.connect(database_url) as pg:
        return [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r)
                for r in pg.execute(sql.replace("?", "%s"), tuple(params)).fetchall()]
