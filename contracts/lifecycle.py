"""Small explicit state machines, as data, for offers, grants, invoices and unit tranches.

Each machine is a table ``(state, event) -> new state``; anything not in the table is refused
with ``ledger.errors.Conflict`` naming the machine, the state and the events it would accept.
States and events are ``StrEnum`` members, so they compare equal to the plain strings stored
in the database and journal (``OfferState.OPEN == "open"``).

Licence offer::

    open --licensee_accepts--> accepted_by_licensee --grantor_accepts--> executed
    open --grantor_accepts---> accepted_by_grantor  --licensee_accepts-> executed
    open | accepted_by_* --revise--> open      (new terms: earlier acceptances lapse)
    open | accepted_by_* --withdraw--> withdrawn
    open | accepted_by_* --expire--> expired

  The grantor publishing an offer does not count as its acceptance: each party accepts by
  sending the terms hash it read, so a fixed-terms offer usually goes ``open`` ->
  ``accepted_by_licensee`` -> ``executed`` (or the grantor counter-signs first when it
  answers an application). ``revise`` replaces the terms of a negotiable offer.

Grant: ``active --terminate--> terminated``, ``active --expire--> expired``.

Invoice: ``issued --pay--> paid``, ``issued --void--> void``.

Licence-unit tranche: ``open --sell_out--> closed``, ``open --reach_end--> closed`` (buyers
pay at close, then the units trade as an instrument), ``open --cancel--> cancelled``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from ledger.errors import Conflict, InvalidInput

__all__ = [
    "GRANT",
    "INVOICE",
    "MACHINES",
    "OFFER",
    "TRANCHE",
    "GrantEvent",
    "GrantState",
    "InvoiceEvent",
    "InvoiceState",
    "OfferEvent",
    "OfferState",
    "StateMachine",
    "TrancheEvent",
    "TrancheState",
    "allowed_events",
    "is_terminal",
    "transition",
]


@dataclass(frozen=True)
class StateMachine:
    """A named transition table. ``initial`` is the state a new object starts in."""

    name: str
    initial: str
    transitions: Mapping[tuple[str, str], str]

    @property
    def states(self) -> frozenset[str]:
        """Every state named in the table."""
        return frozenset({self.initial, *(s for s, _ in self.transitions),
                          *self.transitions.values()})

    @property
    def events(self) -> frozenset[str]:
        """Every event named in the table."""
        return frozenset(e for _, e in self.transitions)

    @property
    def terminal_states(self) -> frozenset[str]:
        """States no event leaves."""
        return frozenset(s for s in self.states if not allowed_events(self, s))


class OfferState(StrEnum):
    """States of a licence offer."""

    OPEN = "open"
    ACCEPTED_BY_LICENSEE = "accepted_by_licensee"
    ACCEPTED_BY_GRANTOR = "accepted_by_grantor"
    EXECUTED = "executed"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


class OfferEvent(StrEnum):
    """Events of a licence offer."""

    LICENSEE_ACCEPTS = "licensee_accepts"
    GRANTOR_ACCEPTS = "grantor_accepts"
    REVISE = "revise"
    WITHDRAW = "withdraw"
    EXPIRE = "expire"


class GrantState(StrEnum):
    """States of a grant."""

    ACTIVE = "active"
    TERMINATED = "terminated"
    EXPIRED = "expired"


class GrantEvent(StrEnum):
    """Events of a grant."""

    TERMINATE = "terminate"
    EXPIRE = "expire"


class InvoiceState(StrEnum):
    """States of an invoice."""

    ISSUED = "issued"
    PAID = "paid"
    VOID = "void"


class InvoiceEvent(StrEnum):
    """Events of an invoice."""

    PAY = "pay"
    VOID = "void"


class TrancheState(StrEnum):
    """States of a licence-unit tranche (``closed``: sold, its units trade)."""

    OPEN = "open"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class TrancheEvent(StrEnum):
    """Events of a licence-unit tranche."""

    SELL_OUT = "sell_out"
    REACH_END = "reach_end"
    CANCEL = "cancel"


_O, _OE = OfferState, OfferEvent
_PENDING = (_O.OPEN, _O.ACCEPTED_BY_LICENSEE, _O.ACCEPTED_BY_GRANTOR)

OFFER = StateMachine(
    name="licence offer",
    initial=_O.OPEN,
    transitions={
        (_O.OPEN, _OE.LICENSEE_ACCEPTS): _O.ACCEPTED_BY_LICENSEE,
        (_O.OPEN, _OE.GRANTOR_ACCEPTS): _O.ACCEPTED_BY_GRANTOR,
        (_O.ACCEPTED_BY_LICENSEE, _OE.GRANTOR_ACCEPTS): _O.EXECUTED,
        (_O.ACCEPTED_BY_GRANTOR, _OE.LICENSEE_ACCEPTS): _O.EXECUTED,
        **{(s, _OE.REVISE): _O.OPEN for s in _PENDING},
        **{(s, _OE.WITHDRAW): _O.WITHDRAWN for s in _PENDING},
        **{(s, _OE.EXPIRE): _O.EXPIRED for s in _PENDING},
    },
)

GRANT = StateMachine(
    name="grant",
    initial=GrantState.ACTIVE,
    transitions={
        (GrantState.ACTIVE, GrantEvent.TERMINATE): GrantState.TERMINATED,
        (GrantState.ACTIVE, GrantEvent.EXPIRE): GrantState.EXPIRED,
    },
)

INVOICE = StateMachine(
    name="invoice",
    initial=InvoiceState.ISSUED,
    transitions={
        (InvoiceState.ISSUED, InvoiceEvent.PAY): InvoiceState.PAID,
        (InvoiceState.ISSUED, InvoiceEvent.VOID): InvoiceState.VOID,
    },
)

TRANCHE = StateMachine(
    name="licence-unit tranche",
    initial=TrancheState.OPEN,
    transitions={
        (TrancheState.OPEN, TrancheEvent.SELL_OUT): TrancheState.CLOSED,
        (TrancheState.OPEN, TrancheEvent.REACH_END): TrancheState.CLOSED,
        (TrancheState.OPEN, TrancheEvent.CANCEL): TrancheState.CANCELLED,
    },
)

MACHINES: Mapping[str, StateMachine] = {m.name: m for m in (OFFER, GRANT, INVOICE, TRANCHE)}


def allowed_events(machine: StateMachine, state: str) -> tuple[str, ...]:
    """The events ``state`` accepts, sorted (empty for a terminal state)."""
    return tuple(sorted(e for s, e in machine.transitions if s == state))


def is_terminal(machine: StateMachine, state: str) -> bool:
    """True when no event leaves ``state``."""
    return not allowed_events(machine, state)


def transition(machine: StateMachine, state: str, event: str) -> str:
    """The state after ``event`` in ``state``.

    Raises ``Conflict`` when the machine refuses the event in that state, ``InvalidInput``
    (field ``event``) for an event the machine does not know, and ``ValueError`` for a state
    it does not know (a stored state out of the table is a bug, not a user error).
    """
    if state not in machine.states:
        raise ValueError(f"'{state}' is not a state of the {machine.name} machine")
    if event not in machine.events:
        raise InvalidInput(f"'{event}' is not an event of a {machine.name}; events are "
                           f"{', '.join(sorted(machine.events))}", field="event")
    try:
        return str(machine.transitions[(state, event)])
    except KeyError:
        allowed = allowed_events(machine, state)
        detail = (f"it accepts only {', '.join(allowed)}" if allowed
                  else "it is final and accepts no event")
        raise Conflict(f"a {machine.name} that is '{state}' does not accept '{event}': "
                       f"{detail}", field="state") from None


# --------------------------------------------------------------------------- issue 6 machines
# Appended for equity-for-IP deals and challenges. They live in ``DEAL_AND_CHALLENGE_MACHINES``
# rather than ``MACHINES`` so the licence machines' registry stays exactly as it was.
#
# Equity-for-IP deal (the start-up proposes; the parties take turns)::
#
#     proposed --counter--> countered --counter--> countered ...
#     proposed | countered --accept--> accepted --execute--> executed
#     proposed | countered --reject--> rejected
#     proposed | countered | accepted --withdraw--> withdrawn
#
#   Who may send which event (only the party the terms on the table are addressed to may
#   counter, accept or reject them) is checked in ``contracts.equity``, not here.
#
# Challenge (揭榜掛帥)::
#
#     open --shortlist--> shortlisted --shortlist--> shortlisted   (add teams to the shortlist)
#     shortlisted --award--> awarded --complete--> completed       (every milestone accepted)
#     open | shortlisted --withdraw--> withdrawn                   (only before an award)
#     open | shortlisted --expire--> expired                       (deadline passed, no award)
#     awaiting_matching --confirm_matching--> open   (with matching funds: the government
#                                                     holds its own money before it opens)
#     awaiting_matching --withdraw | expire--> withdrawn | expired
#     awarded --cancel--> cancelled   (the operator, after the deadline, when the team does
#                                      not deliver: the unpaid holds go back to the funders)
#
# Challenge milestone::
#
#     pending --report--> reported --accept--> accepted
#                         reported --reject--> rejected --report--> reported ...


class DealState(StrEnum):
    """States of an equity-for-IP deal."""

    PROPOSED = "proposed"
    COUNTERED = "countered"
    ACCEPTED = "accepted"
    EXECUTED = "executed"
    WITHDRAWN = "withdrawn"
    REJECTED = "rejected"


class DealEvent(StrEnum):
    """Events of an equity-for-IP deal."""

    COUNTER = "counter"
    ACCEPT = "accept"
    REJECT = "reject"
    WITHDRAW = "withdraw"
    EXECUTE = "execute"


class ChallengeState(StrEnum):
    """States of a challenge."""

    OPEN = "open"
    SHORTLISTED = "shortlisted"
    AWARDED = "awarded"
    COMPLETED = "completed"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    AWAITING_MATCHING = "awaiting_matching"
    CANCELLED = "cancelled"


class ChallengeEvent(StrEnum):
    """Events of a challenge."""

    SHORTLIST = "shortlist"
    AWARD = "award"
    COMPLETE = "complete"
    WITHDRAW = "withdraw"
    EXPIRE = "expire"
    CONFIRM_MATCHING = "confirm_matching"
    CANCEL = "cancel"


class MilestoneState(StrEnum):
    """States of one milestone of an awarded challenge."""

    PENDING = "pending"
    REPORTED = "reported"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class MilestoneEvent(StrEnum):
    """Events of one milestone of an awarded challenge."""

    REPORT = "report"
    ACCEPT = "accept"
    REJECT = "reject"


_D, _DE = DealState, DealEvent
_NEGOTIATING = (_D.PROPOSED, _D.COUNTERED)

EQUITY_DEAL = StateMachine(
    name="equity deal",
    initial=_D.PROPOSED,
    transitions={
        **{(s, _DE.COUNTER): _D.COUNTERED for s in _NEGOTIATING},
        **{(s, _DE.ACCEPT): _D.ACCEPTED for s in _NEGOTIATING},
        **{(s, _DE.REJECT): _D.REJECTED for s in _NEGOTIATING},
        **{(s, _DE.WITHDRAW): _D.WITHDRAWN for s in (*_NEGOTIATING, _D.ACCEPTED)},
        (_D.ACCEPTED, _DE.EXECUTE): _D.EXECUTED,
    },
)

_C, _CE = ChallengeState, ChallengeEvent
_BEFORE_AWARD = (_C.OPEN, _C.SHORTLISTED)

CHALLENGE = StateMachine(
    name="challenge",
    initial=_C.OPEN,
    transitions={
        **{(s, _CE.SHORTLIST): _C.SHORTLISTED for s in _BEFORE_AWARD},
        (_C.SHORTLISTED, _CE.AWARD): _C.AWARDED,
        (_C.AWARDED, _CE.COMPLETE): _C.COMPLETED,
        **{(s, _CE.WITHDRAW): _C.WITHDRAWN for s in _BEFORE_AWARD},
        **{(s, _CE.EXPIRE): _C.EXPIRED for s in _BEFORE_AWARD},
        (_C.AWAITING_MATCHING, _CE.CONFIRM_MATCHING): _C.OPEN,
        (_C.AWAITING_MATCHING, _CE.WITHDRAW): _C.WITHDRAWN,
        (_C.AWAITING_MATCHING, _CE.EXPIRE): _C.EXPIRED,
        (_C.AWARDED, _CE.CANCEL): _C.CANCELLED,
    },
)

_M, _ME = MilestoneState, MilestoneEvent

CHALLENGE_MILESTONE = StateMachine(
    name="challenge milestone",
    initial=_M.PENDING,
    transitions={
        (_M.PENDING, _ME.REPORT): _M.REPORTED,
        (_M.REPORTED, _ME.ACCEPT): _M.ACCEPTED,
        (_M.REPORTED, _ME.REJECT): _M.REJECTED,
        (_M.REJECTED, _ME.REPORT): _M.REPORTED,
    },
)

DEAL_AND_CHALLENGE_MACHINES: Mapping[str, StateMachine] = {
    m.name: m for m in (EQUITY_DEAL, CHALLENGE, CHALLENGE_MILESTONE)
}

__all__ += [
    "CHALLENGE",
    "CHALLENGE_MILESTONE",
    "DEAL_AND_CHALLENGE_MACHINES",
    "EQUITY_DEAL",
    "ChallengeEvent",
    "ChallengeState",
    "DealEvent",
    "DealState",
    "MilestoneEvent",
    "MilestoneState",
]
