"""Challenges through the service, on SQLite and PostgreSQL: money conserved on every path
(award and every milestone, withdrawal, expiry, cancellation after an award), refusals that
change nothing, the resulting asset, and the journal replaying to the tables."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from contracts.challenge_models import ChallengeFunder, ChallengeResult
from contracts.services import challenges
from exchange.replay import compare_orders
from ledger.actor import Actor
from ledger.errors import (
    Conflict,
    DomainError,
    InsufficientFunds,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from ledger.models import Asset, AssetInventor, Holding, Instrument
from ledger.replay import compare
from ledger.services import money
from ledger.unit_of_work import UnitOfWork
from tests.integration.helpers import balance, entries, new_entries, snapshot

START = datetime(2026, 3, 1, tzinfo=UTC)
DEADLINE = START + timedelta(days=60)
PARTIES = ("poster", "gov", "uni", "alice", "bob", "lab")


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Setup:
    sessions: sessionmaker[Session]
    clock: Clock
    operator: Actor
    poster: Actor  # a company, 2,000,000.00 HKD
    gov: Actor  # a government body, 500,000.00 HKD
    uni: Actor
    alice: Actor  # inventor
    bob: Actor  # inventor
    lab: Actor  # another university, a rival team

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.sessions, self.clock)

    def cash(self, who: Actor) -> tuple[int, int]:
        return (balance(self.sessions, f"{who.party_id}:HKD:available"),
                balance(self.sessions, f"{who.party_id}:HKD:held"))

    def total(self) -> int:
        """Every party's HKD, available and held: money only moves between them."""
        return sum(sum(self.cash(getattr(self, p))) for p in PARTIES)


@pytest.fixture
def setup(sessions: sessionmaker[Session], operator: Actor,
          make_party: Callable[..., Actor]) -> Setup:
    s = Setup(sessions, Clock(), operator, make_party("company", "Acme Cells"),
              make_party("government", "ITC"), make_party("university", "HKU"),
              make_party("inventor", "Alice"), make_party("inventor", "Bob"),
              make_party("university", "Lab U"))
    for who, amount in ((s.poster, "2000000.00"), (s.gov, "500000.00")):
        money.deposit(s.uow(), operator, who.party_id, amount, "HKD", f"seed-{who.party_id}")
    return s


def body(s: Setup, **overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "title": "Solid-state electrolyte stable above 80 C",
        "problem": "Our cells lose capacity at 80 C; find an electrolyte that does not.",
        "field": "battery-materials", "deadline": DEADLINE,
        "bounty": {"amount": Decimal("300000.00"), "currency": "HKD"},
        "matching": {"party_id": s.gov.party_id,
                     "amount": {"amount": Decimal("150000.01"), "currency": "HKD"}},
        "milestones": [{"key": "lab-cell", "title": "Lab cell", "percent": Decimal("30")},
                       {"key": "pilot", "title": "Pilot line", "percent": Decimal("45.5")},
                       {"key": "transfer", "title": "Transfer", "percent": Decimal("24.5")}],
        "ip_terms": "exclusive_licence",
    }
    raw.update(overrides)
    return raw


def team(s: Setup) -> dict[str, Any]:
    return {"members": [{"party": s.uni.party_id, "percent": Decimal("40")},
                        {"party": s.alice.party_id, "percent": Decimal("35")},
                        {"party": s.bob.party_id, "percent": Decimal("25")}],
            "university": s.uni.party_id}


def opened(s: Setup, **overrides: Any) -> str:
    view = challenges.post_challenge(s.uow(), s.poster, body(s, **overrides))
    if view.challenge.status == "awaiting_matching":
        challenges.confirm_matching(s.uow(), s.gov, view.challenge.id)
    return view.challenge.id


def awarded(s: Setup, **overrides: Any) -> tuple[str, str]:
    cid = opened(s, **overrides)
    app = challenges.apply(s.uow(), s.alice, cid, team(s), "A sulfide route.")
    rival = challenges.apply(s.uow(), s.lab, cid, {
        "members": [{"party": s.lab.party_id, "percent": Decimal("100")}],
        "university": s.lab.party_id}, "A polymer route.")
    challenges.shortlist(s.uow(), s.poster, cid, [app.application.id, rival.application.id])
    challenges.award(s.uow(), s.poster, cid, app.application.id)
    return cid, app.application.id


def assert_replays(s: Setup) -> None:
    with s.sessions() as session:
        assert compare(session) + compare_orders(session) == []


def refused(s: Setup, error: type[DomainError], call: Callable[[], Any],
            field: str | None = None) -> DomainError:
    """``call`` raises ``error`` (naming ``field``) and changes no row of any table."""
    before = snapshot(s.sessions)
    with pytest.raises(error) as caught:
        call()
    assert snapshot(s.sessions) == before
    if field is not None:
        assert caught.value.field == field, caught.value
    return caught.value


# --------------------------------------------------------------------------- paths

def test_award_and_every_milestone_pays_out_exactly_what_was_held(setup: Setup) -> None:
    s = setup
    total = s.total()
    with new_entries(s.sessions, "challenge.posted") as posted:
        view = challenges.post_challenge(s.uow(), s.poster, body(s))
    cid = view.challenge.id
    assert view.challenge.status == "awaiting_matching"
    assert posted[0].parties == {s.poster.party_id, s.gov.party_id}
    assert s.cash(s.poster) == (170_000_000, 30_000_000)
    assert s.cash(s.gov) == (50_000_000, 0)  # nothing held until the government confirms
    with new_entries(s.sessions, "challenge.matching_confirmed"):
        assert challenges.confirm_matching(s.uow(), s.gov, cid).challenge.status == "open"
    assert s.cash(s.gov) == (50_000_000 - 15_000_001, 15_000_001)
    cid, team_id = cid, challenges.apply(s.uow(), s.alice, cid, team(s), "p").application.id
    challenges.shortlist(s.uow(), s.poster, cid, [team_id])
    with new_entries(s.sessions, "challenge.awarded") as signed:
        view = challenges.award(s.uow(), s.poster, cid, team_id)
    terms = signed[0].body["data"]["terms"]
    assert terms["result"] == {"owners": [s.uni.party_id], "licensee": s.poster.party_id,
                               "exclusivity": "exclusive"}
    assert view.award is not None and view.award.row.terms_hash == signed[0].body["data"][
        "terms_hash"]
    s.clock.now = DEADLINE + timedelta(days=100)  # delivery runs past the deadline
    challenges.report_milestone(s.uow(), s.bob, cid, "lab-cell")
    with new_entries(s.sessions, "challenge.milestone_rejected"):
        challenges.reject_milestone(s.uow(), s.poster, cid, "lab-cell", "only 80 cycles")
    challenges.report_milestone(s.uow(), s.alice, cid, "lab-cell")
    with new_entries(s.sessions, "challenge.milestone_accepted") as paid:
        view = challenges.accept_milestone(s.uow(), s.poster, cid, "lab-cell")
    # 30% of 30,000,000 and of 15,000,001 (4,500,000.3 -> 4,500,000); 40/35/25 to the team.
    assert sum(p.amount for p in view.payments) == 13_500_000
    assert s.cash(s.uni) == (5_400_000, 0)
    assert s.cash(s.alice) == (4_725_000, 0) and s.cash(s.bob) == (3_375_000, 0)
    assert sum(int(Decimal(p["amount"]) * 100) for p in paid[0].body["postings"]) == 0
    assert view.milestones[0].rejections == ("only 80 cycles",)
    for key in ("transfer", "pilot"):
        challenges.report_milestone(s.uow(), s.uni, cid, key)
        view = challenges.accept_milestone(s.uow(), s.poster, cid, key)
    assert view.challenge.status == "completed"
    assert s.cash(s.poster) == (170_000_000, 0) and s.cash(s.gov) == (34_999_999, 0)
    team_total = sum(sum(s.cash(p)) for p in (s.uni, s.alice, s.bob))
    assert team_total == 45_000_001 and s.total() == total
    for f in view.funders:
        assert f.released_minor == f.held_minor and f.refunded_minor == 0
    assert_replays(s)


def test_the_result_is_registered_by_the_ip_terms(setup: Setup) -> None:
    s = setup
    cid, _ = awarded(s)
    for key in ("lab-cell", "pilot", "transfer"):
        challenges.report_milestone(s.uow(), s.alice, cid, key)
        challenges.accept_milestone(s.uow(), s.poster, cid, key)
    kw = {"title": "Sulfide electrolyte", "kind": "patent", "jurisdiction": "HK",
          "inventors": None}
    refused(s, PermissionDenied, lambda: challenges.register_result(
        s.uow(), s.poster, cid, **kw))  # exclusive_licence: the university owns it
    refused(s, InvalidInput, lambda: challenges.register_result(
        s.uow(), s.uni, cid, **{**kw, "inventors": [{"party_id": s.lab.party_id,
                                                      "share": "1"}]}),
            field="inventors[0].party_id")
    with new_entries(s.sessions, "policy.registered", "asset.listed",
                     "challenge.result_registered") as logged:
        result = challenges.register_result(s.uow(), s.uni, cid, **kw)
    assert logged[1].body["data"]["challenge_id"] == cid
    assert (result.result.owner_id, result.result.licensee_id, result.result.exclusivity) == (
        s.uni.party_id, s.poster.party_id, "exclusive")
    with s.sessions() as session:
        asset = session.get_one(Asset, result.asset.asset.id)
        assert asset.owner_id == s.uni.party_id
        inventors = {i.party_id: Decimal(i.share) for i in session.execute(
            select(AssetInventor).where(AssetInventor.asset_id == asset.id)).scalars()}
        # Alice and Bob, by their payout percentages 35:25.
        assert inventors == {s.alice.party_id: Decimal("0.583334"),
                             s.bob.party_id: Decimal("0.416666")}
        link = session.get_one(ChallengeResult, cid)
        assert link.asset_id == asset.id
        held = {(h.party_id, i.unit_class): h.units for h, i in session.execute(
            select(Holding, Instrument).join(Instrument, Instrument.id == Holding.instrument_id)
            .where(Instrument.asset_id == asset.id)).all()}
    assert held[(s.uni.party_id, "university")] == 1_000_000
    assert held[(s.alice.party_id, "inventor")] + held[(s.bob.party_id, "inventor")] == \
        1_000_000
    refused(s, Conflict, lambda: challenges.register_result(s.uow(), s.uni, cid, **kw))
    assert_replays(s)


@pytest.mark.parametrize("confirm", [True, False])
def test_withdrawal_before_award_refunds_every_hold(setup: Setup, confirm: bool) -> None:
    s = setup
    total, before = s.total(), (s.cash(s.poster), s.cash(s.gov))
    cid = challenges.post_challenge(s.uow(), s.poster, body(s)).challenge.id
    if confirm:
        challenges.confirm_matching(s.uow(), s.gov, cid)
        app = challenges.apply(s.uow(), s.alice, cid, team(s), "p").application.id
        challenges.shortlist(s.uow(), s.poster, cid, [app])
    refused(s, PermissionDenied, lambda: challenges.withdraw(s.uow(), s.gov, cid))
    with new_entries(s.sessions, "challenge.withdrawn") as logged:
        view = challenges.withdraw(s.uow(), s.poster, cid)
    assert view.challenge.status == "withdrawn"
    refunds = {r["party_id"]: r["amount"] for r in logged[0].body["data"]["refunds"]}
    assert refunds == ({s.poster.party_id: "300000.00", s.gov.party_id: "150000.01"} if confirm
                       else {s.poster.party_id: "300000.00"})
    assert (s.cash(s.poster), s.cash(s.gov)) == before and s.total() == total
    refused(s, Conflict, lambda: challenges.withdraw(s.uow(), s.poster, cid))
    assert_replays(s)


def test_expiry_without_award_refunds_every_hold(setup: Setup) -> None:
    s = setup
    total, before = s.total(), (s.cash(s.poster), s.cash(s.gov))
    shortlisted = opened(s)
    app = challenges.apply(s.uow(), s.alice, shortlisted, team(s), "p").application.id
    challenges.shortlist(s.uow(), s.poster, shortlisted, [app])
    unconfirmed = challenges.post_challenge(s.uow(), s.poster, body(s)).challenge.id
    later = challenges.post_challenge(s.uow(), s.poster, body(
        s, matching=None, deadline=DEADLINE + timedelta(days=1))).challenge.id
    done, _ = awarded(s)
    assert challenges.expire_due(s.uow) == []  # nothing is due before the deadline
    s.clock.now = DEADLINE
    refused(s, Conflict, lambda: challenges.award(s.uow(), s.poster, shortlisted, app),
            field="now")
    expired = challenges.expire_due(s.uow)
    assert sorted(v.challenge.id for v in expired) == sorted([shortlisted, unconfirmed])
    assert all(v.challenge.status == "expired" for v in expired)
    by_id = {v.challenge.id: v for v in expired}
    assert dict(by_id[unconfirmed].refunds) == {s.poster.party_id: 30_000_000}
    assert dict(by_id[shortlisted].refunds) == {s.poster.party_id: 30_000_000,
                                                s.gov.party_id: 15_000_001}
    assert challenges.expire_due(s.uow) == []
    for cid, status in ((later, "open"), (done, "awarded")):
        assert challenges.read_challenge(s.uow(), cid).challenge.status == status
    # What is still held: the later challenge's bounty and the awarded one's funds.
    assert s.cash(s.poster)[1] == 60_000_000 and s.cash(s.gov)[1] == 15_000_001
    assert s.cash(s.poster)[0] + 60_000_000 == before[0][0] and s.total() == total
    assert_replays(s)


def test_the_operator_cancels_an_awarded_challenge_after_the_deadline(setup: Setup) -> None:
    s = setup
    total = s.total()
    cid, _ = awarded(s)
    challenges.report_milestone(s.uow(), s.alice, cid, "pilot")
    paid = challenges.accept_milestone(s.uow(), s.poster, cid, "pilot")
    challenges.report_milestone(s.uow(), s.alice, cid, "lab-cell")  # reported, never decided
    refused(s, PermissionDenied, lambda: challenges.cancel(s.uow(), s.poster, cid, "slow"))
    refused(s, Conflict, lambda: challenges.cancel(s.uow(), s.operator, cid, "slow"),
            field="now")
    s.clock.now = DEADLINE + timedelta(days=365)
    with new_entries(s.sessions, "challenge.cancelled") as logged:
        view = challenges.cancel(s.uow(), s.operator, cid, "no delivery for a year")
    assert view.challenge.status == "cancelled"
    assert view.challenge.closing_reason == "no delivery for a year"
    assert logged[0].body["data"]["reason"] == "no delivery for a year"
    # 45.5% was paid (the government's odd minor unit went with it, largest remainder);
    # the rest of each hold returns to its funder.
    assert dict(view.refunds) == {s.poster.party_id: 16_350_000, s.gov.party_id: 8_175_000}
    assert sum(p.amount for p in paid.payments) + sum(view.refunds.values()) == 45_000_001
    assert s.cash(s.poster)[1] == 0 and s.cash(s.gov)[1] == 0 and s.total() == total
    refused(s, Conflict, lambda: challenges.accept_milestone(s.uow(), s.poster, cid,
                                                             "lab-cell"))
    refused(s, Conflict, lambda: challenges.cancel(s.uow(), s.operator, cid, "again"))
    assert_replays(s)


# --------------------------------------------------------------------------- refusals

def test_bad_input_changes_nothing(setup: Setup) -> None:
    s = setup
    # A government that never confirmed: no application, no award.
    pending = challenges.post_challenge(s.uow(), s.poster, body(s)).challenge.id
    refused(s, Conflict, lambda: challenges.apply(s.uow(), s.alice, pending, team(s), "p"),
            field="state")
    refused(s, PermissionDenied, lambda: challenges.confirm_matching(s.uow(), s.poster,
                                                                     pending))
    refused(s, InvalidInput, lambda: challenges.post_challenge(s.uow(), s.poster, body(
        s, matching={"party_id": s.uni.party_id,
                     "amount": {"amount": Decimal("1.00"), "currency": "HKD"}})),
            field="matching.party_id")
    refused(s, InsufficientFunds, lambda: challenges.post_challenge(s.uow(), s.poster, body(
        s, bounty={"amount": Decimal("2500000.00"), "currency": "HKD"})), field="bounty.amount")
    refused(s, InvalidInput, lambda: challenges.post_challenge(s.uow(), s.poster, body(
        s, deadline=START - timedelta(days=1))), field="deadline")
    refused(s, InvalidInput, lambda: challenges.post_challenge(s.uow(), s.poster, body(
        s, milestones=[{"key": "all", "title": "All", "percent": Decimal("99")}])),
            field="milestones")
    refused(s, PermissionDenied, lambda: challenges.post_challenge(s.uow(), s.uni, body(s)))
    refused(s, NotFound, lambda: challenges.read_challenge(s.uow(), "chl_nope"), field="id")
    # An award to a team that did not apply, or after the deadline.
    cid = opened(s)
    app = challenges.apply(s.uow(), s.alice, cid, team(s), "p").application.id
    refused(s, InvalidInput, lambda: challenges.shortlist(s.uow(), s.poster, cid, ["cta_x"]),
            field="team_ids[0]")
    challenges.shortlist(s.uow(), s.poster, cid, [app])
    refused(s, InvalidInput, lambda: challenges.award(s.uow(), s.poster, cid, "cta_ghost"),
            field="team_id")
    refused(s, PermissionDenied, lambda: challenges.award(s.uow(), s.alice, cid, app))
    refused(s, PermissionDenied, lambda: challenges.apply(s.uow(), s.bob, cid, {
        "members": [{"party": s.lab.party_id, "percent": Decimal("100")}]}, "p"))
    refused(s, InvalidInput, lambda: challenges.apply(s.uow(), s.lab, cid, {
        "members": [{"party": s.lab.party_id, "percent": Decimal("60")},
                    {"party": s.gov.party_id, "percent": Decimal("40")}],
        "university": s.lab.party_id}, "p"), field="team.members[1].party_id")
    s.clock.now = DEADLINE + timedelta(seconds=1)
    refused(s, Conflict, lambda: challenges.award(s.uow(), s.poster, cid, app), field="now")


def test_a_milestone_is_paid_once_and_never_more_than_is_held(setup: Setup,
                                                              database_url: str) -> None:
    s = setup
    cid, _ = awarded(s)
    refused(s, Conflict, lambda: challenges.accept_milestone(s.uow(), s.poster, cid, "pilot"))
    refused(s, PermissionDenied, lambda: challenges.report_milestone(s.uow(), s.lab, cid,
                                                                     "pilot"))
    refused(s, NotFound, lambda: challenges.report_milestone(s.uow(), s.alice, cid, "moon"),
            field="key")
    challenges.report_milestone(s.uow(), s.alice, cid, "pilot")
    refused(s, PermissionDenied, lambda: challenges.accept_milestone(s.uow(), s.alice, cid,
                                                                     "pilot"))
    refused(s, InvalidInput, lambda: challenges.reject_milestone(s.uow(), s.poster, cid,
                                                                 "pilot", " "), field="reason")
    challenges.accept_milestone(s.uow(), s.poster, cid, "pilot")
    error = refused(s, Conflict, lambda: challenges.accept_milestone(s.uow(), s.poster, cid,
                                                                     "pilot"))
    assert "already accepted" in error.detail
    # Paying out more than is held: suppose the escrow's books say most of the government's
    # hold is already gone; the next milestone's release is refused, and nothing moves.
    challenges.report_milestone(s.uow(), s.alice, cid, "lab-cell")
    with s.sessions() as session:
        session.execute(update(ChallengeFunder).where(
            ChallengeFunder.challenge_id == cid, ChallengeFunder.party_id == s.gov.party_id)
            .values(released_minor=ChallengeFunder.held_minor - 10))
        session.commit()
    refused(s, InsufficientFunds, lambda: challenges.accept_milestone(s.uow(), s.poster, cid,
                                                                      "lab-cell"))
    assert [e.kind for e in entries(s.sessions)][-1] == "challenge.milestone_reported"


def test_applications_are_seen_by_the_poster_and_their_team(setup: Setup) -> None:
    s = setup
    cid, team_id = awarded(s)
    assert len(challenges.list_applications(s.uow(), s.poster, cid)) == 2
    assert len(challenges.list_applications(s.uow(), s.operator, cid)) == 2
    mine = challenges.list_applications(s.uow(), s.bob, cid)
    assert [a.application.id for a in mine] == [team_id]
    assert challenges.list_applications(s.uow(), s.gov, cid) == []


def test_concurrent_acceptances_pay_a_milestone_once(setup: Setup) -> None:
    """Two requests accepting the same milestone at once (a double click, a retry without an
    Idempotency-Key): the challenge's row lock lets one pay; the other is refused."""
    s = setup
    cid, _ = awarded(s)
    challenges.report_milestone(s.uow(), s.alice, cid, "pilot")
    team_before = sum(sum(s.cash(p)) for p in (s.uni, s.alice, s.bob))
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def accept() -> None:
        barrier.wait()
        try:
            challenges.accept_milestone(s.uow(), s.poster, cid, "pilot")
            outcomes.append("paid")
        except Conflict:
            outcomes.append("refused")

    threads = [threading.Thread(target=accept) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["paid", "refused", "refused", "refused"]
    paid = sum(sum(s.cash(p)) for p in (s.uni, s.alice, s.bob)) - team_before
    assert paid == 13_650_000 + 6_825_001  # 45.5% of each hold, once
    assert_replays(s)
