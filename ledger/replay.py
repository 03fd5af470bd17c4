"""`ipx ledger replay --check`: rebuild balances and holdings from the journal alone.

Every entry that moves money lists its postings and every entry that moves units lists its
unit moves, so the projection tables can be recomputed without any other source. The postings
table, which statements read, must sum to the same balances.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.account_codes import AVAILABLE, party_account
from ledger.currency import parse_amount, to_minor
from ledger.models import Account, Holding, Instrument, JournalEntry, Posting

BATCH = 20_000


@dataclass(frozen=True)
class Projection:
    balances: dict[str, int]  # account code -> minor units
    holdings: dict[tuple[str, str], tuple[int, int]]  # (party, instrument) -> (units, held)


def journal_bodies(session: Session) -> Iterator[dict[str, Any]]:
    """Every entry's body in sequence order, streamed in batches."""
    last = 0
    while True:
        rows = session.execute(
            select(JournalEntry.seq, JournalEntry.body).where(JournalEntry.seq > last)
            .order_by(JournalEntry.seq).limit(BATCH)
        ).all()
        if not rows:
            return
        for _, body in rows:
            yield json.loads(body)
        last = rows[-1][0]


def rebuild(session: Session) -> Projection:
    """Fold every entry's postings and unit moves into balances and holdings."""
    balances: dict[str, int] = defaultdict(int)
    holdings: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for body in journal_bodies(session):
        for posting in body.get("postings", []):
            amount = parse_amount(posting["amount"], posting["currency"])
            balances[posting["account"]] += to_minor(amount, posting["currency"])
        for move in body.get("units", []):
            held = holdings[(move["party"], move["instrument"])]
            held[0] += move["units"]
            held[1] += move["held"]
    return Projection(dict(balances), {k: (v[0], v[1]) for k, v in holdings.items()})


def _money_differences(label: str, table: dict[str, int], replayed: dict[str, int]) -> list[str]:
    """Each account whose amount in `table` differs from the journal's, as `label` (formatted
    with its code) and the two amounts."""
    return [f"{label.format(code)} {table.get(code, 0)}, journal {replayed.get(code, 0)} "
            "(minor units)" for code in sorted(set(table) | set(replayed))
            if table.get(code, 0) != replayed.get(code, 0)]


def compare(session: Session) -> list[str]:
    """Differences between the tables and the journal's replay, and holdings that name an
    account other than their holder's; empty when they agree."""
    projection = rebuild(session)
    differences: list[str] = []
    tables = {a.code: a.balance_minor for a in session.execute(select(Account)).scalars()}
    differences += _money_differences("account {}: table", tables, projection.balances)
    posted = {code: int(total) for code, total in session.execute(
        select(Account.code, func.sum(Posting.amount_minor))
        .join(Posting, Posting.account_id == Account.id).group_by(Account.code))}
    differences += _money_differences("postings of {}: sum", posted, projection.balances)
    held = {(h.party_id, h.instrument_id): (h.units, h.held_units)
            for h in session.execute(select(Holding)).scalars()}
    for key in sorted(set(held) | set(projection.holdings)):
        table_h, replayed_h = held.get(key, (0, 0)), projection.holdings.get(key, (0, 0))
        if table_h != replayed_h:
            differences.append(
                f"holding {key[0]} of {key[1]}: table {table_h}, journal {replayed_h} "
                "(units, held)")
    # Not in the journal, but where a distribution pays: the holder's own account.
    for party_id, instrument_id, currency, code in session.execute(
            select(Holding.party_id, Holding.instrument_id, Instrument.currency, Account.code)
            .join(Instrument, Holding.instrument_id == Instrument.id)
            .join(Account, Holding.account_id == Account.id)
            .order_by(Holding.party_id, Holding.instrument_id)):
        if code != party_account(party_id, currency, AVAILABLE):
            differences.append(f"holding {party_id} of {instrument_id}: paid into {code}")
    return differences
