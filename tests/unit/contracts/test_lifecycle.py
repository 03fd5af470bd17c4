"""State machines: every (state, event) pair of every machine, allowed or refused."""

from __future__ import annotations

import pytest

from contracts.lifecycle import (
    GRANT,
    INVOICE,
    MACHINES,
    OFFER,
    TRANCHE,
    OfferEvent,
    OfferState,
    StateMachine,
    allowed_events,
    is_terminal,
    transition,
)
from ledger.errors import Conflict, InvalidInput

# The expected tables, written out independently of the module's data.
ALLOWED: dict[str, dict[tuple[str, str], str]] = {
    "licence offer": {
        ("open", "licensee_accepts"): "accepted_by_licensee",
        ("open", "grantor_accepts"): "accepted_by_grantor",
        ("accepted_by_licensee", "grantor_accepts"): "executed",
        ("accepted_by_grantor", "licensee_accepts"): "executed",
        ("open", "revise"): "open",
        ("accepted_by_licensee", "revise"): "open",
        ("accepted_by_grantor", "revise"): "open",
        ("open", "withdraw"): "withdrawn",
        ("accepted_by_licensee", "withdraw"): "withdrawn",
        ("accepted_by_grantor", "withdraw"): "withdrawn",
        ("open", "expire"): "expired",
        ("accepted_by_licensee", "expire"): "expired",
        ("accepted_by_grantor", "expire"): "expired",
    },
    "grant": {
        ("active", "terminate"): "terminated",
        ("active", "expire"): "expired",
    },
    "invoice": {
        ("issued", "pay"): "paid",
        ("issued", "void"): "void",
    },
    "licence-unit tranche": {
        ("open", "sell_out"): "closed",
        ("open", "reach_end"): "closed",
        ("open", "cancel"): "cancelled",
    },
}
STATES = {
    "licence offer": {"open", "accepted_by_licensee", "accepted_by_grantor", "executed",
                      "withdrawn", "expired"},
    "grant": {"active", "terminated", "expired"},
    "invoice": {"issued", "paid", "void"},
    "licence-unit tranche": {"open", "closed", "cancelled"},
}
INITIAL = {"licence offer": "open", "grant": "active", "invoice": "issued",
           "licence-unit tranche": "open"}
TERMINAL = {
    "licence offer": {"executed", "withdrawn", "expired"},
    "grant": {"terminated", "expired"},
    "invoice": {"paid", "void"},
    "licence-unit tranche": {"closed", "cancelled"},
}


def _all_pairs() -> list[object]:
    out: list[object] = []
    for name, machine in MACHINES.items():
        events = sorted({e for _, e in ALLOWED[name]})
        for state in sorted(STATES[name]):
            for event in events:
                out.append(pytest.param(machine, state, event,
                                        ALLOWED[name].get((state, event)),
                                        id=f"{name}:{state}+{event}"))
    return out


@pytest.mark.parametrize(("machine", "state", "event", "expected"), _all_pairs())
def test_every_transition(machine: StateMachine, state: str, event: str,
                          expected: str | None) -> None:
    if expected is not None:
        assert transition(machine, state, event) == expected
    else:
        with pytest.raises(Conflict) as caught:
            transition(machine, state, event)
        detail = caught.value.detail
        assert machine.name in detail and f"'{state}'" in detail and f"'{event}'" in detail


def test_machines_match_the_expected_tables() -> None:
    assert set(MACHINES) == set(ALLOWED)
    for name, machine in MACHINES.items():
        assert dict(machine.transitions) == ALLOWED[name]
        assert machine.states == STATES[name]
        assert machine.initial == INITIAL[name]
        assert machine.terminal_states == TERMINAL[name]
        for state in STATES[name]:
            assert is_terminal(machine, state) == (state in TERMINAL[name])


def test_refusal_messages_say_what_is_allowed() -> None:
    with pytest.raises(Conflict) as caught:
        transition(OFFER, "accepted_by_licensee", "licensee_accepts")
    assert "expire, grantor_accepts, revise, withdraw" in caught.value.detail
    with pytest.raises(Conflict) as final:
        transition(INVOICE, "paid", "void")
    assert "final" in final.value.detail


def test_unknown_names() -> None:
    with pytest.raises(InvalidInput) as caught:
        transition(GRANT, "active", "renew")
    assert caught.value.field == "event"
    with pytest.raises(ValueError):
        transition(TRANCHE, "trading", "cancel")


def test_enums_are_the_stored_strings() -> None:
    assert transition(OFFER, OfferState.OPEN, OfferEvent.LICENSEE_ACCEPTS) == (
        "accepted_by_licensee")
    assert allowed_events(OFFER, "executed") == ()
    assert allowed_events(GRANT, "active") == ("expire", "terminate")


def test_a_full_offer_negotiation() -> None:
    state = OFFER.initial
    for event in ("licensee_accepts", "revise", "grantor_accepts", "licensee_accepts"):
        state = transition(OFFER, state, event)
    assert state == "executed"
