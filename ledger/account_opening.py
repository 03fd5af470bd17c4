"""Opening accounts ahead of the transactions that will move money through them.

A transaction that finds one of its accounts missing creates it, but never while it holds
locks: it gives its locks back, creates, and locks everything again (`ledger.db.
lock_creating_missing`). For a distribution to 100,000 holders that second pass costs 0.3-0.6 s
(bench/README.md), so the accounts a distribution touches are opened before it: a holder's
with its holding, the rest with the asset's listing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Text, any_, bindparam, select
from sqlalchemy.orm import Session

from ledger.account_codes import account_fields
from ledger.db import ArrayLiteral, insert_missing, is_postgresql
from ledger.models import Account

_SQLITE_CHUNK = 5000  # codes bound per read: SQLite binds at most 32,766 values a statement
_IDS_PG = (select(Account.code, Account.id)
           .where(Account.code == any_(bindparam("codes", type_=ArrayLiteral(Text)))))


def account_ids(session: Session, codes: Sequence[str]) -> dict[str, int]:
    """The ids of the existing accounts among `codes` (distinct), by code: on PostgreSQL in
    one statement binding them as an array, on SQLite some thousands at a time."""
    if is_postgresql(session):
        return dict(session.connection().execute(_IDS_PG, {"codes": list(codes)}).all())
    ids: dict[str, int] = {}
    for i in range(0, len(codes), _SQLITE_CHUNK):
        ids.update(session.execute(select(Account.code, Account.id).where(
            Account.code.in_(codes[i:i + _SQLITE_CHUNK]))).all())
    return ids


def open_accounts(session: Session, codes: Iterable[str]) -> dict[str, int]:
    """Open these accounts at zero where they do not exist yet (owner, currency, purpose and
    overdraft rule by `account_fields`), and return their ids by code; an account that
    exists, or that a concurrent transaction opens first, is left as it is. Call it before
    taking locks: on PostgreSQL an insert waits for a concurrent one of the same account."""
    wanted = sorted(set(codes))
    fields = ("party_id", "currency", "purpose", "allow_negative")
    insert_missing(session, Account, [
        {"code": code, "balance_minor": 0, **dict(zip(fields, account_fields(code), strict=True))}
        for code in wanted], ["code"])
    return account_ids(session, wanted)
