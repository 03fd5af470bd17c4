"""Reconciliation: the ledger's provider clearing account against the provider's balance.

Both sides are reduced to signed amounts in IPX minor units per *key*, the provider object a
movement belongs to: a charge (money in), the refunds of a charge (`ch_…:refund`), a transfer
(money out), the reversals of a transfer (`tr_…:reversal`). Signs are the provider's: money
into its balance is positive. Pure: no Flask, no SQLAlchemy.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

# The provider's balance transaction types that IPX's ledger mirrors, and the suffix of the
# key that names them; anything else (the platform's own payouts, fees) is not reconciled.
MIRRORED_TYPES: dict[str, str] = {
    "charge": "", "payment": "",
    "refund": ":refund", "payment_refund": ":refund",
    "transfer": "", "transfer_refund": ":reversal", "transfer_cancel": ":reversal",
    "transfer_failure": ":reversal",
}


@dataclass(frozen=True)
class Movement:
    key: str
    currency: str
    amount: int  # IPX minor units, positive into the provider's balance
    reference: str  # a journal sequence number or a balance transaction id, for the reader


@dataclass(frozen=True)
class Difference:
    key: str
    currency: str
    ledger: int
    provider: int
    reason: str
    references: tuple[str, ...]


def compare(ledger: Iterable[Movement], provider: Iterable[Movement]) -> list[Difference]:
    """Every key whose totals differ between the two sides, in key order (empty: reconciled)."""
    totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    refs: dict[tuple[str, str], list[str]] = defaultdict(list)
    seen: dict[tuple[str, str], set[int]] = defaultdict(set)
    for side, movements in ((0, ledger), (1, provider)):
        for m in movements:
            totals[(m.key, m.currency)][side] += m.amount
            refs[(m.key, m.currency)].append(m.reference)
            seen[(m.key, m.currency)].add(side)
    out = []
    for (key, currency), (on_ledger, at_provider) in sorted(totals.items()):
        if on_ledger == at_provider:
            continue
        sides = seen[(key, currency)]
        reason = ("missing from the ledger" if sides == {1} else
                  "missing at the provider" if sides == {0} else "amounts differ")
        out.append(Difference(key, currency, on_ledger, at_provider, reason,
                              tuple(refs[(key, currency)])))
    return out
