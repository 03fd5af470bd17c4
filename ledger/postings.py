"""Double-entry arithmetic, pure: balanced postings and balances that never go negative.

A posting adds a signed number of minor units to one account. Within a transaction the
postings of each currency sum to zero, so money is never created or destroyed, only moved;
money enters and leaves IPX through clearing accounts that are allowed to go negative.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from operator import itemgetter
from typing import NamedTuple

from ledger.errors import InsufficientFunds, InsufficientUnits, InvalidInput


class Posting(NamedTuple):
    """A signed amount added to one account (a tuple: a distribution builds 100,000 of them)."""

    account: str
    currency: str
    amount: int  # signed minor units


def check_balanced(postings: Iterable[Posting]) -> None:
    """Raise InvalidInput unless every currency's postings sum to zero and none is zero."""
    totals: dict[str, int] = defaultdict(int)
    count = 0
    for posting in postings:
        if posting.amount == 0:
            raise InvalidInput(f"a posting to {posting.account} moves nothing", field="amount")
        totals[posting.currency] += posting.amount
        count += 1
    if count == 0:
        raise InvalidInput("a transaction needs postings", field="amount")
    for currency, total in totals.items():
        if total != 0:
            raise InvalidInput(f"postings in {currency} do not balance (off by {total})")


def net_amounts(postings: Iterable[Posting]) -> dict[str, int]:
    """Each account's net amount over balanced `postings`, in the order accounts first
    appear; raise InvalidInput as `check_balanced` does."""
    rows = list(postings)
    check_balanced(rows)
    # Column by column when every account appears once, as in a distribution's 100,000.
    accounts = list(map(itemgetter(0), rows))
    net = dict(zip(accounts, map(itemgetter(2), rows), strict=True))
    if len(net) < len(rows):  # an account posted to more than once
        net = dict.fromkeys(accounts, 0)
        for account, _, amount in rows:
            net[account] += amount
    return net


def apply_postings(
    balances: Mapping[str, int],
    postings: Iterable[Posting],
    may_go_negative: Callable[[str], bool],
) -> dict[str, int]:
    """Return the new balances of the touched accounts; refuse any overdraft.

    `balances` holds the current balance of every account the postings touch.
    """
    postings = list(postings)
    check_balanced(postings)
    result = {p.account: balances[p.account] for p in postings}
    for posting in postings:
        result[posting.account] += posting.amount
    refuse_overdrafts(result, may_go_negative)
    return result


def refuse_overdrafts(balances: Mapping[str, int], may_go_negative: Callable[[str], bool]) -> None:
    """Raise InsufficientFunds for the first negative balance of an account not allowed one."""
    for account, balance in balances.items():
        if balance < 0 and not may_go_negative(account):
            raise InsufficientFunds(
                f"account {account} would be overdrawn by {-balance} minor units"
            )


@dataclass(frozen=True)
class UnitMove:
    """A change to one party's holding of one instrument: units owned, and of them held."""

    party: str
    instrument: str
    units: int = 0
    held: int = 0


def apply_unit_moves(
    holdings: Mapping[tuple[str, str], tuple[int, int]], moves: Iterable[UnitMove]
) -> dict[tuple[str, str], tuple[int, int]]:
    """Return new (units, held) per (party, instrument); held stays within 0..units."""
    moves = list(moves)
    result = {(m.party, m.instrument): holdings.get((m.party, m.instrument), (0, 0)) for m in moves}
    for move in moves:
        units, held = result[(move.party, move.instrument)]
        result[(move.party, move.instrument)] = (units + move.units, held + move.held)
    for (party, instrument), (units, held) in result.items():
        if units < 0 or held < 0 or held > units:
            raise InsufficientUnits(
                f"party {party} does not hold enough units of {instrument} for this"
            )
    return result
