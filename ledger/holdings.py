"""The unit store: holdings of instrument units, changed under row locks."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from ledger.account_codes import AVAILABLE, party_account
from ledger.account_opening import open_accounts
from ledger.db import insert_missing, lock_creating_missing
from ledger.models import Holding, Instrument
from ledger.postings import UnitMove, apply_unit_moves


def _lock(session: Session, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Holding]:
    # populate_existing: a holding read before (say in a savepoint since rolled back) shows
    # its state as now locked, not as first loaded.
    query = (select(Holding)
             .where(or_(*(and_(Holding.party_id == p, Holding.instrument_id == i)
                          for p, i in keys)))
             .order_by(Holding.instrument_id, Holding.party_id).with_for_update()
             .execution_options(populate_existing=True))
    return {(h.party_id, h.instrument_id): h for h in session.execute(query).scalars()}


def create_holdings(session: Session, keys: list[tuple[str, str]]) -> None:
    """Create empty holdings for these (party, instrument) keys, each naming its holder's
    available account in the instrument's currency, opened here where the holder has none; a
    row that a concurrent transaction created first is left as it is.

    The account is opened with the holding, one holder at a time, so that a distribution to
    100,000 holders updates their accounts, by the ids their holdings name, instead of
    creating them while it holds the asset (bench/README.md)."""
    currencies = dict(session.execute(select(Instrument.id, Instrument.currency).where(
        Instrument.id.in_(sorted({i for _, i in keys})))).all())
    codes = {(p, i): party_account(p, currencies[i], AVAILABLE) for p, i in keys}
    ids = open_accounts(session, codes.values())
    insert_missing(session, Holding, [
        {"party_id": p, "instrument_id": i, "units": 0, "held_units": 0,
         "account_id": ids[codes[p, i]]} for p, i in keys],
        ["party_id", "instrument_id"])


def apply_moves(session: Session, moves: Sequence[UnitMove]) -> None:
    """Apply unit moves under row locks (taken in a stable order), refusing any that would
    leave units short; holdings are created on first use, concurrently if need be."""
    keys = sorted({(m.party, m.instrument) for m in moves})
    rows = lock_creating_missing(session, keys, lambda: _lock(session, keys),
                                 lambda missing: create_holdings(session, missing))
    result = apply_unit_moves({k: (h.units, h.held_units) for k, h in rows.items()}, moves)
    for key, (units, held) in result.items():
        rows[key].units, rows[key].held_units = units, held
    session.flush()
