"""Challenges (揭榜掛帥): machines, parsing, the award rules, milestones, and conserved money."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.challenges import (
    Application,
    Challenge,
    ChallengeMilestone,
    ChallengeSpec,
    Escrow,
    IpTerms,
    MatchingFunds,
    Team,
    TeamMember,
    accept_milestone,
    apply_to_challenge,
    award_challenge,
    cancel_challenge,
    confirm_matching,
    expire_challenge,
    milestone_release,
    parse_challenge,
    parse_team,
    post_challenge,
    refund_on_withdrawal_or_expiry,
    reject_milestone,
    release_schedule,
    report_milestone,
    result_ip,
    shortlist_teams,
    team_payout,
    withdraw_challenge,
)
from contracts.lifecycle import (
    CHALLENGE,
    CHALLENGE_MILESTONE,
    DEAL_AND_CHALLENGE_MACHINES,
    ChallengeState,
    MilestoneState,
    StateMachine,
    transition,
)
from contracts.terms import Exclusivity
from ledger.errors import Conflict, InsufficientFunds, InvalidInput, PermissionDenied

DEADLINE = datetime(2026, 6, 30, tzinfo=UTC)
BEFORE = DEADLINE - timedelta(days=30)
AFTER = DEADLINE + timedelta(seconds=1)

RAW: dict[str, Any] = {
    "poster": "pty_acme",
    "title": "Solid-state electrolyte stable above 80 C",
    "problem": "Our cells lose 20% capacity after 200 cycles at 80 C; find an electrolyte ...",
    "field": "battery-materials",
    "deadline": "2026-06-30T08:00:00+08:00",
    "currency": "HKD",
    "bounty": "1000000.00",
    "matching": {"party": "pty_itc", "amount": "500000.01"},
    "milestones": [{"key": "lab-cell", "title": "Lab cell, 100 cycles", "percent": "30"},
                   {"key": "pilot", "title": "Pilot cell, 500 cycles", "percent": "45.5"},
                   {"key": "transfer", "title": "Process transferred", "percent": "24.5"}],
    "ip_terms": "shared",
}
TEAM = Team((TeamMember("pty_hku", Decimal("40")), TeamMember("pty_prof", Decimal("35")),
             TeamMember("pty_postdoc", Decimal("25"))), university="pty_hku")
OTHER_TEAM = Team((TeamMember("pty_cuhk", Decimal(100)),), university="pty_cuhk")


def spec(**overrides: Any) -> ChallengeSpec:
    raw = copy.deepcopy(RAW)
    raw.update(overrides)
    return parse_challenge(raw)


def opened(**overrides: Any) -> Challenge:
    """Posted, and the government's matching funds confirmed: open for applications."""
    c = post_challenge(spec(**overrides))
    if c.spec.matching is not None:
        c, _ = confirm_matching(c, by=c.spec.matching.party, now=BEFORE)
    return c


def awarded(ip_terms: str = "shared") -> Challenge:
    c = opened(ip_terms=ip_terms)
    c = apply_to_challenge(c, Application("team_hku", TEAM, "We have a sulfide route."),
                           now=BEFORE)
    c = apply_to_challenge(c, Application("team_cuhk", OTHER_TEAM, "Polymer electrolyte."),
                           now=BEFORE)
    c = shortlist_teams(c, ["team_hku", "team_cuhk"], by="pty_acme", now=BEFORE)
    return award_challenge(c, "team_hku", by="pty_acme", now=BEFORE)


# --------------------------------------------------------------------------- machines

CHALLENGE_TABLE: dict[tuple[str, str], str] = {
    ("open", "shortlist"): "shortlisted",
    ("shortlisted", "shortlist"): "shortlisted",
    ("shortlisted", "award"): "awarded",
    ("awarded", "complete"): "completed",
    ("open", "withdraw"): "withdrawn",
    ("shortlisted", "withdraw"): "withdrawn",
    ("open", "expire"): "expired",
    ("shortlisted", "expire"): "expired",
    ("awaiting_matching", "confirm_matching"): "open",
    ("awaiting_matching", "withdraw"): "withdrawn",
    ("awaiting_matching", "expire"): "expired",
    ("awarded", "cancel"): "cancelled",
}
MILESTONE_TABLE: dict[tuple[str, str], str] = {
    ("pending", "report"): "reported",
    ("reported", "accept"): "accepted",
    ("reported", "reject"): "rejected",
    ("rejected", "report"): "reported",
}
MACHINE_CASES = [
    (CHALLENGE, CHALLENGE_TABLE,
     ("awaiting_matching", "open", "shortlisted", "awarded", "completed", "withdrawn",
      "expired", "cancelled"),
     ("confirm_matching", "shortlist", "award", "complete", "withdraw", "expire", "cancel")),
    (CHALLENGE_MILESTONE, MILESTONE_TABLE, ("pending", "reported", "accepted", "rejected"),
     ("report", "accept", "reject")),
]


@pytest.mark.parametrize(("machine", "state", "event", "expected"), [
    pytest.param(m, s, e, table.get((s, e)), id=f"{m.name}:{s}+{e}")
    for m, table, states, events in MACHINE_CASES for s in states for e in events
])
def test_machine_tables(machine: StateMachine, state: str, event: str,
                        expected: str | None) -> None:
    if expected is not None:
        assert transition(machine, state, event) == expected
    else:
        with pytest.raises(Conflict) as caught:
            transition(machine, state, event)
        assert f"'{state}'" in caught.value.detail and f"'{event}'" in caught.value.detail


def test_machine_shapes() -> None:
    assert dict(CHALLENGE.transitions) == CHALLENGE_TABLE
    assert dict(CHALLENGE_MILESTONE.transitions) == MILESTONE_TABLE
    assert CHALLENGE.initial == "open" and CHALLENGE_MILESTONE.initial == "pending"
    assert CHALLENGE.terminal_states == {"completed", "withdrawn", "expired", "cancelled"}
    assert CHALLENGE_MILESTONE.terminal_states == {"accepted"}
    assert {s.value for s in ChallengeState} == CHALLENGE.states
    assert {s.value for s in MilestoneState} == CHALLENGE_MILESTONE.states
    assert set(DEAL_AND_CHALLENGE_MACHINES) == {"equity deal", "challenge",
                                                "challenge milestone"}


# --------------------------------------------------------------------------- parsing

def test_parse_challenge() -> None:
    s = spec()
    assert s.deadline == DEADLINE  # +08:00 normalised to UTC
    assert s.bounty == 100_000_000 and s.matching == MatchingFunds("pty_itc", 50_000_001)
    assert s.funds == {"pty_acme": 100_000_000, "pty_itc": 50_000_001}
    assert s.total == 150_000_001
    assert s.milestones[1] == ChallengeMilestone("pilot", "Pilot cell, 500 cycles",
                                                 Decimal("45.5"))
    assert s.ip_terms is IpTerms.SHARED
    assert spec(matching=None).funds == {"pty_acme": 100_000_000}


@pytest.mark.parametrize(("overrides", "field"), [
    ({"bounty": "0"}, "challenge.bounty"),
    ({"bounty": "10.001"}, "challenge.bounty"),
    ({"bounty": 100}, "challenge.bounty"),
    ({"currency": "ABC"}, "challenge.currency"),
    ({"deadline": "2026-06-30T00:00:00"}, "challenge.deadline"),
    ({"deadline": "tomorrow"}, "challenge.deadline"),
    ({"field": "Battery Materials"}, "challenge.field"),
    ({"title": ""}, "challenge.title"),
    ({"ip_terms": "joint"}, "challenge.ip_terms"),
    ({"matching": {"party": "pty_acme", "amount": "1"}}, "challenge.matching.party"),
    ({"matching": {"party": "pty_itc", "amount": "0"}}, "challenge.matching.amount"),
    ({"matching": {"party": "pty_itc"}}, "challenge.matching.amount"),
    ({"milestones": []}, "challenge.milestones"),
    ({"milestones": [{"key": "a", "title": "A", "percent": "60"},
                     {"key": "b", "title": "B", "percent": "30"}]}, "challenge.milestones"),
    ({"milestones": [{"key": "a", "title": "A", "percent": "50"},
                     {"key": "a", "title": "B", "percent": "50"}]},
     "challenge.milestones[1].key"),
    ({"milestones": [{"key": "a", "title": "A", "percent": "0"},
                     {"key": "b", "title": "B", "percent": "100"}]},
     "challenge.milestones[0].percent"),
    ({"milestones": [{"key": "a", "title": "A", "percent": "100", "x": 1}]},
     "challenge.milestones[0].x"),
    ({"sponsor": "x"}, "challenge.sponsor"),
])
def test_bad_challenges(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        spec(**overrides)
    assert caught.value.field == field


def test_parse_team() -> None:
    team = parse_team({"members": [{"party": "pty_hku", "percent": "40"},
                                   {"party": "pty_prof", "percent": "35"},
                                   {"party": "pty_postdoc", "percent": "25"}],
                       "university": "pty_hku"})
    assert team == TEAM
    assert team.shares[0] == ("pty_hku", Decimal(40))


@pytest.mark.parametrize(("raw", "field"), [
    ({"members": []}, "team.members"),
    ({"members": [{"party": "pty_a", "percent": "99"}]}, "team.members"),
    ({"members": [{"party": "pty_a", "percent": "50"}, {"party": "pty_a", "percent": "50"}]},
     "team.members[1].party"),
    ({"members": [{"party": "pty_a", "percent": "100"}], "university": "pty_b"},
     "team.university"),
    ({"members": [{"party": "pty_a", "percent": 100}]}, "team.members[0].percent"),
])
def test_bad_teams(raw: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_team(raw)
    assert caught.value.field == field


# --------------------------------------------------------------------------- arithmetic

def test_team_payout_largest_remainder() -> None:
    three = [("a", Decimal("33.33")), ("b", Decimal("33.33")), ("c", Decimal("33.34"))]
    assert team_payout(100, three) == {"a": 33, "b": 33, "c": 34}
    assert team_payout(1, [("a", Decimal(50)), ("b", Decimal(50))]) == {"a": 1, "b": 0}
    assert team_payout(101, [("b", Decimal(50)), ("a", Decimal(50))]) == {"b": 51, "a": 50}
    assert team_payout(0, {"a": Decimal(100)}) == {"a": 0}
    # Remainders go by size: 7 x (20, 30, 50) = 1.4, 2.1, 3.5 -> floors 1, 2, 3; one left,
    # to the largest fraction (0.5: "c").
    assert team_payout(7, {"a": Decimal(20), "b": Decimal(30), "c": Decimal(50)}) == {
        "a": 1, "b": 2, "c": 4}
    with pytest.raises(InvalidInput):
        team_payout(10, {"a": Decimal(60), "b": Decimal(30)})
    with pytest.raises(InvalidInput):
        team_payout(-1, {"a": Decimal(100)})


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**15), st.lists(st.integers(1, 10_000), min_size=1, max_size=8))
def test_team_payout_is_exact(amount: int, weights: list[int]) -> None:
    # Percentages with up to 4 decimal places summing to exactly 100.
    total = sum(weights)
    raw = [Decimal(w * 1_000_000 // total).scaleb(-4) for w in weights]
    raw[-1] += Decimal(100) - sum(raw)
    shares = [(f"p{i}", p) for i, p in enumerate(raw)]
    paid = team_payout(amount, shares)
    assert list(paid) == [p for p, _ in shares]
    assert sum(paid.values()) == amount
    for party, percent in shares:
        assert abs(paid[party] - Fraction(amount) * Fraction(percent) / 100) < 1
    assert team_payout(amount, shares) == paid  # deterministic


def test_release_schedule_and_milestone_release() -> None:
    held = {"pty_acme": 10_000, "pty_itc": 5_001}
    ms = [("a", Decimal("33.33")), ("b", Decimal("33.33")), ("c", Decimal("33.34"))]
    schedule = release_schedule(held, ms)
    assert schedule == {"a": {"pty_acme": 3333, "pty_itc": 1667},
                        "b": {"pty_acme": 3333, "pty_itc": 1667},
                        "c": {"pty_acme": 3334, "pty_itc": 1667}}
    for funder, amount in held.items():
        assert sum(row[funder] for row in schedule.values()) == amount
    assert milestone_release(held, ms, "b") == schedule["b"]
    with pytest.raises(InvalidInput):
        milestone_release(held, ms, "zzz")
    with pytest.raises(InvalidInput):
        release_schedule(held, [("a", Decimal(50))])


def test_escrow_refuses_an_over_release() -> None:
    escrow = Escrow.hold("HKD", {"pty_acme": 100, "pty_itc": 50})
    escrow = escrow.release({"pty_acme": 60})
    assert escrow.remaining("pty_acme") == 40 and escrow.total_released == 60
    with pytest.raises(InsufficientFunds) as caught:
        escrow.release({"pty_itc": 10, "pty_acme": 41})
    assert "only 40 remain" in caught.value.detail
    assert escrow.remaining("pty_itc") == 50  # all or nothing
    with pytest.raises(InvalidInput):
        escrow.release({"pty_nobody": 1})
    with pytest.raises(InvalidInput):
        escrow.release({"pty_acme": -1})
    assert refund_on_withdrawal_or_expiry(escrow) == {"pty_acme": 40, "pty_itc": 50}
    refunded, refunds = escrow.refund_all()
    assert refunds == {"pty_acme": 40, "pty_itc": 50}
    assert refunded.total_remaining == 0 and refunded.total_refunded == 90
    with pytest.raises(InsufficientFunds):
        refunded.release({"pty_acme": 1})


# --------------------------------------------------------------------------- the flow

def test_a_challenge_from_posting_to_result() -> None:
    c = awarded()
    assert c.state == "awarded" and c.awarded_to == "team_hku" and c.team == TEAM
    assert c.escrow.total_held == 150_000_001
    c = report_milestone(c, "lab-cell", by="pty_prof")
    c = reject_milestone(c, "lab-cell", by="pty_acme", reason="only 80 cycles shown")
    assert c.milestone("lab-cell").state == "rejected"
    c = report_milestone(c, "lab-cell", by="pty_postdoc")
    c, payout = accept_milestone(c, "lab-cell", by="pty_acme")
    progress = c.milestone("lab-cell")
    assert (progress.state, progress.reports, progress.rejections) == (
        "accepted", 2, ("only 80 cycles shown",))
    # 30% of 100,000,000 and of 50,000,001 (15,000,000.3 -> 15,000,000).
    assert payout.by_funder == {"pty_acme": 30_000_000, "pty_itc": 15_000_000}
    assert payout.total == progress.released == 45_000_000
    assert payout.by_party == {"pty_hku": 18_000_000, "pty_prof": 15_750_000,
                               "pty_postdoc": 11_250_000}
    assert sum(p.amount for p in payout.payments) == payout.total
    assert {(p.funder, p.party) for p in payout.payments} == {
        (f, m.party) for f in ("pty_acme", "pty_itc") for m in TEAM.members}
    for key in ("transfer", "pilot"):
        c = report_milestone(c, key, by="pty_hku")
        c, _ = accept_milestone(c, key, by="pty_acme")
    assert c.state == "completed"
    assert c.escrow.total_released == 150_000_001 and c.escrow.total_remaining == 0
    assert result_ip(c).owners == ("pty_hku",)
    assert result_ip(c).licensee == "pty_acme"
    assert result_ip(c).exclusivity is Exclusivity.NON_EXCLUSIVE


@pytest.mark.parametrize(("ip_terms", "owners", "licensee", "exclusivity"), [
    ("assign", ("pty_acme",), None, None),
    ("exclusive_licence", ("pty_hku",), "pty_acme", Exclusivity.EXCLUSIVE),
    ("shared", ("pty_hku",), "pty_acme", Exclusivity.NON_EXCLUSIVE),
])
def test_result_ip_by_terms(ip_terms: str, owners: tuple[str, ...], licensee: str | None,
                            exclusivity: Exclusivity | None) -> None:
    c = awarded(ip_terms)
    with pytest.raises(Conflict):
        result_ip(c)
    for m in c.spec.milestones:
        c = report_milestone(c, m.key, by="pty_prof")
        c, _ = accept_milestone(c, m.key, by="pty_acme")
    r = result_ip(c)
    assert (r.owners, r.licensee, r.exclusivity) == (owners, licensee, exclusivity)
    assert r.team == TEAM.parties and r.ip_terms == ip_terms


def test_award_after_the_deadline_is_refused() -> None:
    c = opened()
    c = apply_to_challenge(c, Application("team_hku", TEAM, "p"), now=BEFORE)
    c = shortlist_teams(c, ["team_hku"], by="pty_acme", now=BEFORE)
    with pytest.raises(Conflict) as caught:
        award_challenge(c, "team_hku", by="pty_acme", now=DEADLINE)
    assert "deadline" in caught.value.detail and caught.value.field == "now"
    expired, refunds = expire_challenge(c, now=AFTER)
    assert expired.state == "expired"
    assert refunds == {"pty_acme": 100_000_000, "pty_itc": 50_000_001}


def test_award_to_a_team_that_did_not_apply_is_refused() -> None:
    c = opened()
    c = apply_to_challenge(c, Application("team_hku", TEAM, "p"), now=BEFORE)
    c = apply_to_challenge(c, Application("team_cuhk", OTHER_TEAM, "p"), now=BEFORE)
    with pytest.raises(Conflict):  # nothing shortlisted yet: the machine refuses
        award_challenge(c, "team_hku", by="pty_acme", now=BEFORE)
    c = shortlist_teams(c, ["team_hku"], by="pty_acme", now=BEFORE)
    with pytest.raises(InvalidInput) as ghost:
        award_challenge(c, "team_ghost", by="pty_acme", now=BEFORE)
    assert ghost.value.field == "team_id" and "did not apply" in ghost.value.detail
    with pytest.raises(InvalidInput) as unlisted:
        award_challenge(c, "team_cuhk", by="pty_acme", now=BEFORE)
    assert "shortlist" in unlisted.value.detail
    with pytest.raises(InvalidInput) as not_applied:
        shortlist_teams(c, ["team_ghost"], by="pty_acme", now=BEFORE)
    assert not_applied.value.field == "team_ids[0]"
    with pytest.raises(PermissionDenied):
        award_challenge(c, "team_hku", by="pty_itc", now=BEFORE)


def test_accepting_a_milestone_twice_is_refused() -> None:
    c = report_milestone(awarded(), "pilot", by="pty_prof")
    c, _ = accept_milestone(c, "pilot", by="pty_acme")
    with pytest.raises(Conflict) as caught:
        accept_milestone(c, "pilot", by="pty_acme")
    assert "already accepted" in caught.value.detail
    with pytest.raises(Conflict):
        report_milestone(c, "pilot", by="pty_prof")  # accepted is final
    with pytest.raises(Conflict):  # not reported yet
        accept_milestone(c, "lab-cell", by="pty_acme")
    # Even when it completed the challenge, a second acceptance names the milestone.
    for key in ("lab-cell", "transfer"):
        c = report_milestone(c, key, by="pty_prof")
        c, _ = accept_milestone(c, key, by="pty_acme")
    assert c.state == "completed"
    with pytest.raises(Conflict) as again:
        accept_milestone(c, "transfer", by="pty_acme")
    assert "already accepted" in again.value.detail


def test_milestone_refusals() -> None:
    c = awarded()
    with pytest.raises(PermissionDenied):
        report_milestone(c, "pilot", by="pty_cuhk")  # applied, but not the awarded team
    with pytest.raises(PermissionDenied):
        accept_milestone(report_milestone(c, "pilot", by="pty_prof"), "pilot", by="pty_prof")
    with pytest.raises(InvalidInput) as no_reason:
        reject_milestone(report_milestone(c, "pilot", by="pty_prof"), "pilot", by="pty_acme",
                         reason=" ")
    assert no_reason.value.field == "reason"
    with pytest.raises(InvalidInput) as unknown:
        report_milestone(c, "moon", by="pty_prof")
    assert unknown.value.field == "milestone"
    before_award = post_challenge(spec())
    with pytest.raises(PermissionDenied):
        report_milestone(before_award, "pilot", by="pty_prof")


def test_application_refusals() -> None:
    c = opened()
    with pytest.raises(Conflict):
        apply_to_challenge(c, Application("team_hku", TEAM, "p"), now=DEADLINE)
    c = apply_to_challenge(c, Application("team_hku", TEAM, "p"), now=BEFORE)
    with pytest.raises(Conflict) as dup:
        apply_to_challenge(c, Application("team_hku", OTHER_TEAM, "p"), now=BEFORE)
    assert dup.value.field == "application.team_id"
    funder_team = Team((TeamMember("pty_itc", Decimal(100)),), university="pty_itc")
    with pytest.raises(InvalidInput) as funder:
        apply_to_challenge(c, Application("team_itc", funder_team, "p"), now=BEFORE)
    assert funder.value.field == "application.team.members[0].party"
    no_uni = Team((TeamMember("pty_lab", Decimal(100)),))
    with pytest.raises(InvalidInput) as uni:
        apply_to_challenge(c, Application("team_lab", no_uni, "p"), now=BEFORE)
    assert uni.value.field == "application.team.university"
    assigned = opened(ip_terms="assign")
    apply_to_challenge(assigned, Application("team_lab", no_uni, "p"), now=BEFORE)
    with pytest.raises(Conflict):
        apply_to_challenge(awarded(), Application("team_lab", no_uni, "p"), now=BEFORE)


def test_withdrawal_and_expiry_rules() -> None:
    c = opened()
    with pytest.raises(PermissionDenied):
        withdraw_challenge(c, by="pty_itc")
    with pytest.raises(Conflict) as early:
        expire_challenge(c, now=BEFORE)
    assert "cannot expire before" in early.value.detail
    withdrawn, refunds = withdraw_challenge(c, by="pty_acme")
    assert withdrawn.state == "withdrawn" and refunds == c.spec.funds
    assert withdrawn.escrow.total_remaining == 0
    with pytest.raises(Conflict):
        withdraw_challenge(withdrawn, by="pty_acme")
    with pytest.raises(Conflict):
        withdraw_challenge(awarded(), by="pty_acme")  # only before the award
    with pytest.raises(Conflict):
        expire_challenge(awarded(), now=AFTER)


# --------------------------------------------------------------------------- money properties

@st.composite
def _specs(draw: st.DrawFn) -> ChallengeSpec:
    n = draw(st.integers(1, 6))
    cuts = sorted(draw(st.lists(st.integers(1, 9_999), min_size=n - 1, max_size=n - 1,
                                unique=True)))
    bounds = [0, *cuts, 10_000]
    milestones = tuple(ChallengeMilestone(f"m{i}", f"Milestone {i}",
                                          Decimal(bounds[i + 1] - bounds[i]).scaleb(-2))
                       for i in range(n))
    matching = draw(st.none() | st.integers(1, 10**12).map(lambda a: MatchingFunds("pty_gov",
                                                                                      a)))
    return ChallengeSpec("pty_co", "A problem", "Solve it", "materials", DEADLINE, "HKD",
                         draw(st.integers(1, 10**12)), milestones,
                         draw(st.sampled_from(list(IpTerms))), matching)


@st.composite
def _teams(draw: st.DrawFn, tag: str) -> Team:
    n = draw(st.integers(1, 4))
    cuts = sorted(draw(st.lists(st.integers(1, 999), min_size=n - 1, max_size=n - 1,
                                unique=True)))
    bounds = [0, *cuts, 1000]
    members = tuple(TeamMember(f"pty_{tag}{i}", Decimal(bounds[i + 1] - bounds[i]).scaleb(-1))
                    for i in range(n))
    return Team(members, university=members[0].party)


def _check_escrow(c: Challenge) -> None:
    e = c.escrow
    for funder in e.held:
        assert e.remaining(funder) >= 0 and e.released[funder] >= 0 and e.refunded[funder] >= 0
        assert e.released[funder] + e.refunded[funder] + e.remaining(funder) == e.held[funder]


@settings(max_examples=150, deadline=None)
@given(_specs(), st.data())
def test_money_is_conserved_on_every_path(s: ChallengeSpec, data: st.DataObject) -> None:
    c = post_challenge(s)
    assert c.escrow.total_held == s.bounty  # the government holds its own funds, later
    confirmed = s.matching is None or data.draw(st.booleans())
    if s.matching is not None and confirmed:
        c, amount = confirm_matching(c, by=s.matching.party, now=BEFORE)
        assert amount == s.matching.amount
    held = c.escrow.total_held
    assert held == (s.total if confirmed else s.bounty)
    teams = [(f"team{i}", data.draw(_teams(f"t{i}x"))) for i in range(data.draw(
        st.integers(0, 3)))] if confirmed else []
    for team_id, team in teams:
        c = apply_to_challenge(c, Application(team_id, team, "proposal"), now=BEFORE)
    path = data.draw(st.sampled_from(["withdraw", "expire", "award", "cancel"] if teams
                                     else ["withdraw", "expire"]))
    shortlist_first: bool = data.draw(st.booleans())
    if teams and shortlist_first:
        c = shortlist_teams(c, [t for t, _ in teams], by="pty_co", now=BEFORE)
    paid: dict[str, int] = {}
    refunded: dict[str, int] = {}
    if path == "withdraw":
        c, refunded = withdraw_challenge(c, by="pty_co")
    elif path == "expire":
        c, refunded = expire_challenge(c, now=AFTER)
    else:
        winner, team = data.draw(st.sampled_from(teams))
        if c.state == "open":
            c = shortlist_teams(c, [winner], by="pty_co", now=BEFORE)
        c = award_challenge(c, winner, by="pty_co", now=BEFORE)
        schedule = release_schedule(s.funds, s.milestones)
        rejections = dict.fromkeys((m.key for m in s.milestones), 0)
        # On the cancel path, the team delivers only some milestones (maybe none).
        to_accept = (len(s.milestones) if path == "award"
                     else data.draw(st.integers(0, len(s.milestones) - 1)))
        while sum(m.state == "accepted" for m in c.milestones) < to_accept:
            open_keys = [m.key for m in c.milestones if m.state != "accepted"]
            key = data.draw(st.sampled_from(open_keys))
            state = c.milestone(key).state
            if state in ("pending", "rejected"):
                c = report_milestone(c, key, by=data.draw(st.sampled_from(team.parties)))
            elif rejections[key] < 2 and data.draw(st.booleans()):
                c = reject_milestone(c, key, by="pty_co", reason="not yet")
                rejections[key] += 1
            else:
                c, payout = accept_milestone(c, key, by="pty_co")
                assert dict(payout.by_funder) == schedule[key]  # exact, order-independent
                pct = next(m.percent for m in s.milestones if m.key == key)
                for funder, amount in payout.by_funder.items():
                    assert abs(amount - Fraction(s.funds[funder]) * Fraction(pct) / 100) < 1
                assert sum(p.amount for p in payout.payments) == payout.total
                assert all(p.amount > 0 for p in payout.payments)
                for p in payout.payments:
                    assert p.party in team.parties
                    paid[p.party] = paid.get(p.party, 0) + p.amount
            _check_escrow(c)
        if path == "cancel":
            assert c.state == "awarded"
            remaining = {f: c.escrow.remaining(f) for f in c.escrow.held}
            c, refunded = cancel_challenge(c, reason="the team stopped reporting", now=AFTER)
            assert c.state == "cancelled" and refunded == remaining
            # Pro rata: each funder gets back what the unaccepted milestones would release.
            open_keys = {m.key for m in c.milestones if m.state != "accepted"}
            assert refunded == {f: sum(schedule[k][f] for k in open_keys) for f in s.funds}
        else:
            assert c.state == "completed"
        with pytest.raises(Conflict):
            withdraw_challenge(c, by="pty_co")
    _check_escrow(c)
    assert all(v >= 0 for v in (*paid.values(), *refunded.values()))
    assert sum(paid.values()) + sum(refunded.values()) == held
    assert c.escrow.total_released == sum(paid.values())
    assert c.escrow.total_refunded == sum(refunded.values())
    assert c.escrow.total_remaining == 0
    if path in ("withdraw", "expire"):
        assert refunded == (s.funds if confirmed else {s.poster: s.bounty}) and not paid


def test_spec_validation_on_post() -> None:
    bad = replace(spec(), bounty=0)
    with pytest.raises(InvalidInput) as caught:
        post_challenge(bad)
    assert caught.value.field == "challenge.bounty"
    naive = replace(spec(), deadline=datetime(2026, 1, 1))
    with pytest.raises(InvalidInput):
        post_challenge(naive)


# --------------------------------------------------------------------------- matching, cancel

def test_matching_funds_are_confirmed_by_the_government_itself() -> None:
    c = post_challenge(spec())
    assert c.state == "awaiting_matching"
    assert dict(c.escrow.held) == {"pty_acme": 100_000_000}  # the bounty only
    with pytest.raises(Conflict) as closed:
        apply_to_challenge(c, Application("team_hku", TEAM, "p"), now=BEFORE)
    assert "matching funds" in closed.value.detail
    with pytest.raises(PermissionDenied):
        confirm_matching(c, by="pty_acme", now=BEFORE)  # the poster cannot commit them
    with pytest.raises(Conflict):
        confirm_matching(c, by="pty_itc", now=DEADLINE)
    opened_c, amount = confirm_matching(c, by="pty_itc", now=BEFORE)
    assert (opened_c.state, amount) == ("open", 50_000_001)
    assert dict(opened_c.escrow.held) == {"pty_acme": 100_000_000, "pty_itc": 50_000_001}
    with pytest.raises(Conflict):
        confirm_matching(opened_c, by="pty_itc", now=BEFORE)  # once
    without = post_challenge(spec(matching=None))
    assert without.state == "open"
    with pytest.raises(PermissionDenied):
        confirm_matching(without, by="pty_itc", now=BEFORE)
    # Never confirmed: the poster may withdraw, or it expires; only the bounty comes back.
    assert withdraw_challenge(c, by="pty_acme")[1] == {"pty_acme": 100_000_000}
    expired, refunds = expire_challenge(c, now=AFTER)
    assert expired.state == "expired" and refunds == {"pty_acme": 100_000_000}


def test_cancelling_an_awarded_challenge() -> None:
    c = report_milestone(awarded(), "lab-cell", by="pty_prof")
    c, payout = accept_milestone(c, "lab-cell", by="pty_acme")
    with pytest.raises(Conflict) as early:
        cancel_challenge(c, reason="no news", now=BEFORE)
    assert early.value.field == "now"
    with pytest.raises(InvalidInput) as blank:
        cancel_challenge(c, reason="  ", now=AFTER)
    assert blank.value.field == "reason"
    with pytest.raises(Conflict):
        cancel_challenge(opened(), reason="no award", now=AFTER)  # expire it instead
    cancelled, refunds = cancel_challenge(c, reason="no news for a year", now=AFTER)
    assert cancelled.state == "cancelled"
    assert refunds == {"pty_acme": 70_000_000, "pty_itc": 35_000_001}
    assert payout.total + sum(refunds.values()) == 150_000_001
    assert cancelled.escrow.total_remaining == 0
    with pytest.raises(Conflict):
        report_milestone(cancelled, "pilot", by="pty_prof")
    with pytest.raises(Conflict):
        cancel_challenge(cancelled, reason="again", now=AFTER)
