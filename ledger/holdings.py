"""The unit store: holdings of instrument units, changed under row locks."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from ledger.db import insert_missing
from ledger.models import Holding
from ledger.postings import UnitMove, apply_unit_moves


def _lock(session: Session, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Holding]:
    query = (select(Holding)
             .where(or_(*(and_(Holding.party_id == p, Holding.instrument_id == i)
                          for p, i in keys)))
             .order_by(Holding.instrument_id, Holding.party_id).with_for_update())
    return {(h.party_id, h.instrument_id): h for h in session.execute(query).scalars()}


def apply_moves(session: Session, moves: Sequence[UnitMove]) -> None:
    """Apply unit moves under row locks (taken in a stable order), refusing any that would
    leave units short; holdings are created on first use, concurrently if need be."""
    keys = sorted({(m.party, m.instrument) for m in moves})
    rows = _lock(session, keys)
    missing = [k for k in keys if k not in rows]
    if missing:
        insert_missing(session, Holding, [
            {"party_id": p, "instrument_id": i, "units": 0, "held_units": 0}
            for p, i in missing], ["party_id", "instrument_id"])
        rows.update(_lock(session, missing))
    result = apply_unit_moves({k: (h.units, h.held_units) for k, h in rows.items()}, moves)
    for key, (units, held) in result.items():
        rows[key].units, rows[key].held_units = units, held
    session.flush()
