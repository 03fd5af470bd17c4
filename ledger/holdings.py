"""The unit store: holdings of instrument units, changed under row locks."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from ledger.models import Holding
from ledger.postings import UnitMove, apply_unit_moves


def apply_moves(session: Session, moves: Sequence[UnitMove]) -> None:
    """Apply unit moves (refusing any that would leave units short) within the session."""
    keys = sorted({(m.party, m.instrument) for m in moves})
    rows = {
        (h.party_id, h.instrument_id): h
        for h in session.execute(
            select(Holding)
            .where(or_(*(and_(Holding.party_id == p, Holding.instrument_id == i) for p, i in keys)))
            .order_by(Holding.instrument_id, Holding.party_id)
            .with_for_update()
        ).scalars()
    }
    result = apply_unit_moves({k: (h.units, h.held_units) for k, h in rows.items()}, moves)
    for (party, instrument), (units, held) in result.items():
        row = rows.get((party, instrument))
        if row is None:
            row = Holding(party_id=party, instrument_id=instrument, units=0, held_units=0)
            session.add(row)
        row.units, row.held_units = units, held
    session.flush()
