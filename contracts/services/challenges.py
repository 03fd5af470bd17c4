"""Challenges (揭榜掛帥): posting with held bounties, government matching funds, applications,
shortlist, award, milestones paid from the holds, withdrawal, expiry, cancellation, and the
asset a completed challenge produced.

The rules are :mod:`contracts.challenges` (pure); each function here loads a challenge's rows
into a :class:`contracts.challenges.Challenge` under the challenge's row lock, applies one
rule, and writes the rows, the postings and the journal entry back in one transaction.

Money (see :mod:`ledger.accounts`): the escrow of a challenge is its funders' ``held``
accounts. Posting holds the bounty (poster: available -> held); the government confirming
its matching funds holds them (government: available -> held), and only then does the
challenge open: nobody can commit another party's money. An accepted milestone pays its share
of every funder's hold to the team's parties by their percentages (funder held -> party
available). Withdrawal, expiry and cancellation refund what is still held (held ->
available). The ``challenge_funders`` rows mirror what each hold received and gave out, so
``held - released - refunded`` is what the funder's held account still carries for it.

Who may act: the poster shortlists, awards, accepts, rejects and withdraws; a member of the
awarded team reports a milestone; the named government confirms its matching funds; the
operator cancels an awarded challenge after its deadline (the team never delivered), with a
reason; the owner the IP terms name registers the resulting asset. Challenges are public
listings; an application is visible to the poster, the operator and the team's members.

Lock order: the challenge row, then accounts (one sorted batch, in ``post_transaction``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

from sqlalchemy import select

from contracts import challenges as core
from contracts.challenge_models import (
    Challenge,
    ChallengeApplication,
    ChallengeAward,
    ChallengeFunder,
    ChallengeMilestone,
    ChallengeMilestoneEvent,
    ChallengeResult,
    ChallengeTeamMember,
)
from contracts.lifecycle import ChallengeState, MilestoneEvent, MilestoneState
from ledger.account_codes import AVAILABLE, HELD, party_account
from ledger.accounts import post_transaction
from ledger.actor import Actor
from ledger.canonical import canonical_bytes
from ledger.clock import isoformat
from ledger.currency import format_minor, positive_minor
from ledger.errors import (
    Conflict,
    DomainError,
    InsufficientFunds,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from ledger.ids import new_id
from ledger.models import Party
from ledger.postings import Posting
from ledger.services.assets import ASSET_KINDS, AssetListing, issue_asset
from ledger.unit_of_work import UnitOfWork

POSTER_KINDS = ("company", "startup", "government")
MATCHING_KIND = "government"
POSTER, MATCHING = "poster", "matching"
BEFORE_AWARD = (ChallengeState.AWAITING_MATCHING, ChallengeState.OPEN,
                ChallengeState.SHORTLISTED)
DEFAULT_POLICY = "hku-2023"
# The API body carries money as {amount, currency} and parties as party_id: name those.
_BODY_FIELDS = {"bounty": "bounty.amount", "currency": "bounty.currency",
                "matching.amount": "matching.amount.amount",
                "matching.party": "matching.party_id"}


# --------------------------------------------------------------------------- views

@dataclass(frozen=True)
class MilestoneView:
    row: ChallengeMilestone
    rejections: tuple[str, ...]


@dataclass(frozen=True)
class AwardView:
    row: ChallengeAward
    application: ChallengeApplication
    members: tuple[ChallengeTeamMember, ...]


@dataclass(frozen=True)
class ChallengeView:
    """A challenge and its escrow, milestones, shortlist and award; ``entry_seq``,
    ``payments`` and ``refunds`` describe the operation that returned it, if any."""

    challenge: Challenge
    funders: tuple[ChallengeFunder, ...]
    milestones: tuple[MilestoneView, ...]
    shortlist: tuple[str, ...]
    applications: int
    award: AwardView | None
    result: ChallengeResult | None
    entry_seq: int | None = None
    payments: tuple[core.Payment, ...] = ()
    refunds: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ApplicationView:
    application: ChallengeApplication
    members: tuple[ChallengeTeamMember, ...]


@dataclass(frozen=True)
class ResultView:
    result: ChallengeResult
    ip_terms: str
    asset: AssetListing


# --------------------------------------------------------------------------- loading

@dataclass
class _Rows:
    challenge: Challenge
    funders: list[ChallengeFunder]
    milestones: list[ChallengeMilestone]
    events: list[ChallengeMilestoneEvent]
    applications: list[ChallengeApplication]
    members: dict[str, list[ChallengeTeamMember]]
    award: ChallengeAward | None


def _challenge_row(uow: UnitOfWork, challenge_id: str, *, lock: bool) -> Challenge:
    row = uow.session.get(Challenge, challenge_id, with_for_update=lock)
    if row is None:
        raise NotFound(f"no challenge '{challenge_id}'", field="id")
    return row


def _rows(uow: UnitOfWork, challenge_id: str, *, lock: bool) -> _Rows:
    s = uow.session
    row = _challenge_row(uow, challenge_id, lock=lock)
    funders = list(s.execute(select(ChallengeFunder).where(
        ChallengeFunder.challenge_id == row.id).order_by(ChallengeFunder.position)).scalars())
    milestones = list(s.execute(select(ChallengeMilestone).where(
        ChallengeMilestone.challenge_id == row.id).order_by(ChallengeMilestone.position))
        .scalars())
    events = list(s.execute(select(ChallengeMilestoneEvent).where(
        ChallengeMilestoneEvent.challenge_id == row.id)
        .order_by(ChallengeMilestoneEvent.journal_seq)).scalars())
    applications = list(s.execute(select(ChallengeApplication).where(
        ChallengeApplication.challenge_id == row.id)
        .order_by(ChallengeApplication.journal_seq)).scalars())
    members: dict[str, list[ChallengeTeamMember]] = {a.id: [] for a in applications}
    if applications:
        for m in s.execute(select(ChallengeTeamMember).where(
                ChallengeTeamMember.application_id.in_(list(members)))
                .order_by(ChallengeTeamMember.position)).scalars():
            members[m.application_id].append(m)
    return _Rows(row, funders, milestones, events, applications, members,
                 s.get(ChallengeAward, row.id))


def _team(app: ChallengeApplication, members: Sequence[ChallengeTeamMember]) -> core.Team:
    return core.Team(tuple(core.TeamMember(m.party_id, Decimal(m.percent)) for m in members),
                     app.university_id)


def _rejections(rows: _Rows, key: str) -> tuple[str, ...]:
    return tuple(e.reason or "" for e in rows.events
                 if e.milestone_key == key and e.event == MilestoneEvent.REJECT)


def _domain(rows: _Rows) -> core.Challenge:
    """The pure challenge these rows record."""
    c = rows.challenge
    matching = next((core.MatchingFunds(f.party_id, f.committed_minor) for f in rows.funders
                     if f.role == MATCHING), None)
    spec = core.ChallengeSpec(
        poster=c.poster_id, title=c.title, problem=c.problem, field=c.field,
        deadline=c.deadline, currency=c.currency, bounty=c.bounty_minor,
        milestones=tuple(core.ChallengeMilestone(m.key, m.title, Decimal(m.percent))
                         for m in rows.milestones),
        ip_terms=core.IpTerms(c.ip_terms), matching=matching)
    held = [f for f in rows.funders if f.hold_seq is not None]
    escrow = core.Escrow(c.currency, {f.party_id: f.held_minor for f in held},
                         {f.party_id: f.released_minor for f in held},
                         {f.party_id: f.refunded_minor for f in held})
    progress = tuple(core.MilestoneProgress(m.key, m.status, m.reports,
                                            _rejections(rows, m.key), m.released_minor)
                     for m in rows.milestones)
    applications = tuple(core.Application(a.id, _team(a, rows.members[a.id]), a.proposal)
                         for a in rows.applications)
    shortlist = tuple(a.id for a in sorted(
        (a for a in rows.applications if a.shortlist_position is not None),
        key=lambda a: a.shortlist_position or 0))
    return core.Challenge(spec, c.status, escrow, progress, applications, shortlist,
                          rows.award.application_id if rows.award is not None else None)


def _view(uow: UnitOfWork, rows: _Rows, **outcome: Any) -> ChallengeView:
    award = None
    if rows.award is not None:
        app = next(a for a in rows.applications if a.id == rows.award.application_id)
        award = AwardView(rows.award, app, tuple(rows.members[app.id]))
    shortlist = tuple(a.id for a in sorted(
        (a for a in rows.applications if a.shortlist_position is not None),
        key=lambda a: a.shortlist_position or 0))
    return ChallengeView(
        rows.challenge, tuple(rows.funders),
        tuple(MilestoneView(m, _rejections(rows, m.key)) for m in rows.milestones),
        shortlist, len(rows.applications), award,
        uow.session.get(ChallengeResult, rows.challenge.id), **outcome)


def _summary(uow: UnitOfWork, row: Challenge) -> ChallengeView:
    return _view(uow, _rows(uow, row.id, lock=False))


# --------------------------------------------------------------------------- helpers

def _digest(data: Any) -> str:
    return hashlib.sha256(canonical_bytes(data)).hexdigest()


def _field(error: DomainError, prefix: str) -> DomainError:
    """The same error naming the API body's field rather than the core's dotted path."""
    name = error.field or ""
    if prefix and name.startswith(prefix + "."):
        name = name[len(prefix) + 1:]
    name = _BODY_FIELDS.get(name, name) if prefix == "challenge" else name
    name = re.sub(r"\.party$", ".party_id", name)
    return type(error)(error.detail, field=name or None)


def _rule(prefix: str, call: Callable[[], Any]) -> Any:
    try:
        return call()
    except DomainError as error:
        raise _field(error, prefix) from None


def _money(amounts: Mapping[str, int], currency: str) -> list[dict[str, str]]:
    return [{"party_id": p, "amount": format_minor(a, currency)} for p, a in amounts.items()]


def _move(uow: UnitOfWork, *, kind: str, postings: list[Posting], data: dict[str, Any],
          actor: str | None, parties: Sequence[str]) -> int:
    """Post the challenge's money movement with its journal entry; an entry alone when no
    minor unit moves (tiny amounts can leave a milestone or a refund empty)."""
    postings = [p for p in postings if p.amount]
    parties = sorted(set(parties) - {actor} if actor else set(parties))
    if not postings:
        return uow.journal.append(kind, data, actor=actor, parties=parties).seq
    return post_transaction(uow, kind=kind, postings=postings, data=data, actor=actor,
                            parties=parties).journal_seq


def _refund_postings(refunds: Mapping[str, int], currency: str) -> list[Posting]:
    out = []
    for funder, amount in refunds.items():
        out += [Posting(party_account(funder, currency, HELD), currency, -amount),
                Posting(party_account(funder, currency, AVAILABLE), currency, amount)]
    return out


def _everyone(rows: _Rows) -> list[str]:
    """The parties a challenge's closing concerns: its funders and its awarded team."""
    team = (rows.members[rows.award.application_id] if rows.award is not None else [])
    return [f.party_id for f in rows.funders] + [m.party_id for m in team]


def _close(uow: UnitOfWork, rows: _Rows, updated: core.Challenge, refunds: Mapping[str, int],
           *, kind: str, actor: str | None, extra: dict[str, Any]) -> ChallengeView:
    """Refund what is still held, record the new state, journal ``kind``."""
    c = rows.challenge
    seq = _move(uow, kind=kind, postings=_refund_postings(refunds, c.currency),
                data={"challenge_id": c.id, "status": str(updated.state), "currency": c.currency,
                      "refunds": _money(refunds, c.currency), **extra},
                actor=actor, parties=_everyone(rows))
    for f in rows.funders:
        f.refunded_minor += refunds.get(f.party_id, 0)
    c.status, c.closed_seq, c.updated_at = updated.state, seq, uow.now
    return _view(uow, rows, entry_seq=seq, refunds=dict(refunds))


# --------------------------------------------------------------------------- posting

def spec_json(spec: core.ChallengeSpec) -> dict[str, Any]:
    """The challenge as journalled (its hash is ``spec_hash``)."""
    return {
        "poster": spec.poster, "title": spec.title, "problem": spec.problem,
        "field": spec.field, "deadline": isoformat(spec.deadline), "currency": spec.currency,
        "bounty": format_minor(spec.bounty, spec.currency),
        "matching": (None if spec.matching is None else
                     {"party_id": spec.matching.party,
                      "amount": format_minor(spec.matching.amount, spec.currency)}),
        "milestones": [{"key": m.key, "title": m.title, "percent": str(m.percent)}
                       for m in spec.milestones],
        "ip_terms": str(spec.ip_terms),
    }


def _spec(actor: Actor, body: Mapping[str, Any]) -> core.ChallengeSpec:
    bounty = body["bounty"]
    currency = bounty["currency"]
    deadline = body["deadline"]
    if not isinstance(deadline, datetime) or deadline.utcoffset() is None:
        raise InvalidInput("must be a date and time with a UTC offset", field="deadline")
    matching = None
    if body.get("matching") is not None:
        m = body["matching"]
        if m["amount"]["currency"] != currency:
            raise InvalidInput(f"must be in the bounty's currency, {currency}",
                               field="matching.amount.currency")
        matching = core.MatchingFunds(m["party_id"], positive_minor(
            m["amount"]["amount"], currency, field="matching.amount.amount"))
    try:
        ip_terms = core.IpTerms(body["ip_terms"])
    except ValueError:
        raise InvalidInput("must be one of assign, exclusive_licence, shared",
                           field="ip_terms") from None
    spec = core.ChallengeSpec(
        poster=actor.party_id, title=body["title"], problem=body["problem"],
        field=body["field"], deadline=deadline.astimezone(UTC), currency=currency,
        bounty=positive_minor(bounty["amount"], currency, field="bounty.amount"),
        milestones=tuple(core.ChallengeMilestone(m["key"], m["title"], m["percent"])
                         for m in body["milestones"]),
        ip_terms=ip_terms, matching=matching)
    return spec


def post_challenge(uow: UnitOfWork, actor: Actor, body: Mapping[str, Any]) -> ChallengeView:
    """A company, start-up or government body posts a challenge; its bounty is held from its
    available cash now. With matching funds the challenge awaits the named government's
    confirmation (:func:`confirm_matching`) before it opens."""
    if actor.kind not in POSTER_KINDS:
        raise PermissionDenied(f"a party of kind '{actor.kind}' cannot post a challenge; "
                               f"posters are {', '.join(POSTER_KINDS)}")
    spec = _spec(actor, body)
    posted = _rule("challenge", lambda: core.post_challenge(spec))
    with uow:
        s = uow.session
        if spec.deadline <= uow.now:
            raise InvalidInput("must be in the future", field="deadline")
        if spec.matching is not None:
            party = s.get(Party, spec.matching.party)
            if party is None or party.kind != MATCHING_KIND:
                raise InvalidInput(f"'{spec.matching.party}' is not a government party",
                                   field="matching.party_id")
        data = spec_json(spec)
        row = Challenge(
            id=new_id("chl"), poster_id=spec.poster, title=spec.title, problem=spec.problem,
            field=spec.field, deadline=spec.deadline, currency=spec.currency,
            bounty_minor=spec.bounty, ip_terms=str(spec.ip_terms), status=str(posted.state),
            spec_hash=_digest(data), closing_reason=None, journal_seq=0, closed_seq=None,
            created_at=uow.now, updated_at=uow.now)
        currency = spec.currency
        try:
            seq = post_transaction(
                uow, kind="challenge.posted",
                postings=[Posting(party_account(spec.poster, currency, AVAILABLE), currency,
                                  -spec.bounty),
                          Posting(party_account(spec.poster, currency, HELD), currency,
                                  spec.bounty)],
                data={"challenge_id": row.id, "challenge": data, "spec_hash": row.spec_hash,
                      "status": str(posted.state)},
                actor=actor.party_id,
                parties=[spec.matching.party] if spec.matching else []).journal_seq
        except InsufficientFunds:
            raise InsufficientFunds(
                f"the bounty of {format_minor(spec.bounty, currency)} {currency} is more than "
                "your available cash", field="bounty.amount") from None
        row.journal_seq = seq
        s.add(row)
        s.flush()
        s.add_all([ChallengeMilestone(challenge_id=row.id, key=m.key, position=i, title=m.title,
                                      percent=str(m.percent), status=MilestoneState.PENDING,
                                      reports=0, released_minor=0, accepted_seq=None)
                   for i, m in enumerate(spec.milestones)])
        s.add(ChallengeFunder(challenge_id=row.id, party_id=spec.poster, role=POSTER,
                              position=0, committed_minor=spec.bounty, held_minor=spec.bounty,
                              released_minor=0, refunded_minor=0, hold_seq=seq,
                              confirmed_at=uow.now))
        if spec.matching is not None:
            s.add(ChallengeFunder(challenge_id=row.id, party_id=spec.matching.party,
                                  role=MATCHING, position=1,
                                  committed_minor=spec.matching.amount, held_minor=0,
                                  released_minor=0, refunded_minor=0, hold_seq=None,
                                  confirmed_at=None))
        s.flush()
        view = _view(uow, _rows(uow, row.id, lock=False), entry_seq=seq)
        uow.commit()
        return view


def confirm_matching(uow: UnitOfWork, actor: Actor, challenge_id: str) -> ChallengeView:
    """The government party named for matching funds commits them: they are held from its
    available cash, and the challenge opens for applications."""
    with uow:
        rows = _rows(uow, challenge_id, lock=True)
        updated, amount = core.confirm_matching(_domain(rows), by=actor.party_id, now=uow.now)
        c, currency = rows.challenge, rows.challenge.currency
        try:
            seq = post_transaction(
                uow, kind="challenge.matching_confirmed",
                postings=[Posting(party_account(actor.party_id, currency, AVAILABLE), currency,
                                  -amount),
                          Posting(party_account(actor.party_id, currency, HELD), currency,
                                  amount)],
                data={"challenge_id": c.id, "party_id": actor.party_id,
                      "amount": format_minor(amount, currency), "currency": currency,
                      "status": str(updated.state)},
                actor=actor.party_id, parties=[c.poster_id]).journal_seq
        except InsufficientFunds:
            raise InsufficientFunds(
                f"the matching funds of {format_minor(amount, currency)} {currency} are more "
                "than your available cash", field="matching.amount") from None
        funder = next(f for f in rows.funders if f.party_id == actor.party_id)
        funder.held_minor, funder.hold_seq, funder.confirmed_at = amount, seq, uow.now
        c.status, c.updated_at = updated.state, uow.now
        view = _view(uow, rows, entry_seq=seq)
        uow.commit()
        return view


def read_challenge(uow: UnitOfWork, challenge_id: str) -> ChallengeView:
    """Challenges are public listings: what a team reads before applying."""
    with uow:
        return _view(uow, _rows(uow, challenge_id, lock=False))


def browse_challenges(uow: UnitOfWork, after: str | None, limit: int, *,
                      status: str | None = None, field_code: str | None = None
                      ) -> list[ChallengeView]:
    """Challenges by id, ``limit`` after the cursor ``after``, optionally of one status or
    field."""
    with uow:
        query = select(Challenge).order_by(Challenge.id).limit(limit)
        if after is not None:
            query = query.where(Challenge.id > after)
        if status is not None:
            query = query.where(Challenge.status == status)
        if field_code is not None:
            query = query.where(Challenge.field == field_code)
        return [_summary(uow, row) for row in uow.session.execute(query).scalars()]


# --------------------------------------------------------------------------- applications

def _check_members(uow: UnitOfWork, team: core.Team) -> None:
    kinds = dict(uow.session.execute(  # one query, however large the team
        select(Party.id, Party.kind).where(Party.id.in_(team.parties))).all())
    for i, party_id in enumerate(team.parties):
        if kinds.get(party_id) in (None, "operator"):
            raise InvalidInput(f"no party '{party_id}' that can be on a team",
                               field=f"team.members[{i}].party_id")
    if team.university is not None and kinds[team.university] != "university":
        raise InvalidInput(f"'{team.university}' is a {kinds[team.university]}, not a "
                           "university", field="team.university")


def apply(uow: UnitOfWork, actor: Actor, challenge_id: str, team_raw: Mapping[str, Any],
          proposal: str) -> ApplicationView:
    """A team applies with its proposal and its agreed payout percentages; the caller must
    be one of its members. Its id is the team's id in the shortlist and the award."""
    team: core.Team = _rule("", lambda: core.parse_team(team_raw, field="team"))
    if actor.party_id not in team.parties:
        raise PermissionDenied("you apply as a member of the team: list yourself in it",
                               field="team.members")
    with uow:
        s = uow.session
        _check_members(uow, team)
        rows = _rows(uow, challenge_id, lock=True)
        application = core.Application(new_id("cta"), team, proposal)
        _rule("application", lambda: core.apply_to_challenge(
            _domain(rows), application, now=uow.now))
        c = rows.challenge
        entry = uow.journal.append(
            "challenge.applied",
            {"challenge_id": c.id, "application_id": application.team_id,
             "applicant": actor.party_id, "university": team.university,
             "team": [{"party_id": p, "percent": str(pct)} for p, pct in team.shares],
             # The proposal may be confidential to the poster: the journal commits to it.
             "proposal_sha256": hashlib.sha256(proposal.encode()).hexdigest()},
            actor=actor.party_id, parties=sorted({c.poster_id, *team.parties} - {actor.party_id}))
        row = ChallengeApplication(
            id=application.team_id, challenge_id=c.id, applicant_id=actor.party_id,
            university_id=team.university, proposal=proposal, shortlist_position=None,
            journal_seq=entry.seq, created_at=uow.now)
        s.add(row)
        s.flush()
        members = [ChallengeTeamMember(application_id=row.id, party_id=m.party, position=i,
                                       percent=str(m.percent))
                   for i, m in enumerate(team.members)]
        s.add_all(members)
        c.updated_at = uow.now
        uow.commit()
        return ApplicationView(row, tuple(members))


def list_applications(uow: UnitOfWork, actor: Actor, challenge_id: str
                      ) -> list[ApplicationView]:
    """Every application for the poster and the operator; a team member sees its own."""
    with uow:
        rows = _rows(uow, challenge_id, lock=False)
        sees_all = actor.is_operator or actor.party_id == rows.challenge.poster_id
        return [ApplicationView(a, tuple(rows.members[a.id])) for a in rows.applications
                if sees_all or actor.party_id in {m.party_id for m in rows.members[a.id]}]


def shortlist(uow: UnitOfWork, actor: Actor, challenge_id: str,
              team_ids: Sequence[str]) -> ChallengeView:
    """The poster adds applicants to the shortlist, before the deadline."""
    with uow:
        rows = _rows(uow, challenge_id, lock=True)
        before = _domain(rows)
        updated = core.shortlist_teams(before, list(team_ids), by=actor.party_id, now=uow.now)
        added = [t for t in updated.shortlist if t not in before.shortlist]
        c = rows.challenge
        by_id = {a.id: a for a in rows.applications}
        for position, team_id in enumerate(updated.shortlist):
            by_id[team_id].shortlist_position = position
        entry = uow.journal.append(
            "challenge.shortlisted",
            {"challenge_id": c.id, "added": added, "shortlist": list(updated.shortlist),
             "status": str(updated.state)},
            actor=actor.party_id,
            parties=sorted({m.party_id for t in added for m in rows.members[t]}))
        c.status, c.updated_at = updated.state, uow.now
        view = _view(uow, rows, entry_seq=entry.seq)
        uow.commit()
        return view


def award(uow: UnitOfWork, actor: Actor, challenge_id: str, team_id: str) -> ChallengeView:
    """The poster awards the challenge to a shortlisted team before the deadline; the award
    signs the IP terms (who will own and license the result) into the journal."""
    with uow:
        rows = _rows(uow, challenge_id, lock=True)
        updated = core.award_challenge(_domain(rows), team_id, by=actor.party_id, now=uow.now)
        team = updated.team
        assert team is not None  # an award names a team that applied
        c = rows.challenge
        arrangement = core.ip_arrangement(core.IpTerms(c.ip_terms), c.poster_id, team)
        terms = {
            "challenge_id": c.id, "spec_hash": c.spec_hash, "ip_terms": c.ip_terms,
            "poster": c.poster_id, "team_id": team_id, "university": team.university,
            "team": [{"party_id": p, "percent": str(pct)} for p, pct in team.shares],
            "result": {"owners": list(arrangement.owners), "licensee": arrangement.licensee,
                       "exclusivity": (None if arrangement.exclusivity is None
                                       else str(arrangement.exclusivity))},
        }
        digest = _digest(terms)
        entry = uow.journal.append(
            "challenge.awarded", {"terms": terms, "terms_hash": digest,
                                  "status": str(updated.state)},
            actor=actor.party_id, parties=sorted(set(_everyone(rows)) | set(team.parties)))
        rows.award = ChallengeAward(challenge_id=c.id, application_id=team_id,
                                    ip_terms=c.ip_terms, terms_hash=digest,
                                    journal_seq=entry.seq, awarded_at=uow.now)
        uow.session.add(rows.award)
        c.status, c.updated_at = updated.state, uow.now
        uow.session.flush()
        view = _view(uow, rows, entry_seq=entry.seq)
        uow.commit()
        return view


# --------------------------------------------------------------------------- milestones

def _milestone(rows: _Rows, key: str) -> ChallengeMilestone:
    found = next((m for m in rows.milestones if m.key == key), None)
    if found is None:
        raise NotFound(f"this challenge has no milestone '{key}'", field="key")
    return found


def _event(uow: UnitOfWork, rows: _Rows, key: str, event: MilestoneEvent, actor: str,
           seq: int, *, reason: str | None = None, amount: int | None = None) -> None:
    row = ChallengeMilestoneEvent(
        id=new_id("cme"), challenge_id=rows.challenge.id, milestone_key=key, event=str(event),
        party_id=actor, reason=reason, amount_minor=amount, journal_seq=seq,
        created_at=uow.now)
    uow.session.add(row)
    rows.events.append(row)


def report_milestone(uow: UnitOfWork, actor: Actor, challenge_id: str,
                     key: str) -> ChallengeView:
    """A member of the awarded team reports milestone ``key`` done (again after a
    rejection); the poster then accepts or rejects it."""
    with uow:
        rows = _rows(uow, challenge_id, lock=True)
        milestone = _milestone(rows, key)
        updated = core.report_milestone(_domain(rows), key, by=actor.party_id)
        progress = updated.milestone(key)
        c = rows.challenge
        entry = uow.journal.append(
            "challenge.milestone_reported",
            {"challenge_id": c.id, "milestone": key, "reports": progress.reports},
            actor=actor.party_id, parties=sorted(set(_everyone(rows)) - {actor.party_id}))
        milestone.status, milestone.reports = progress.state, progress.reports
        _event(uow, rows, key, MilestoneEvent.REPORT, actor.party_id, entry.seq)
        c.updated_at = uow.now
        uow.session.flush()
        view = _view(uow, rows, entry_seq=entry.seq)
        uow.commit()
        return view


def reject_milestone(uow: UnitOfWork, actor: Actor, challenge_id: str, key: str,
                     reason: str) -> ChallengeView:
    """The poster rejects a reported milestone with a reason; the team may report it
    again. Nothing is paid."""
    with uow:
        rows = _rows(uow, challenge_id, lock=True)
        milestone = _milestone(rows, key)
        updated = core.reject_milestone(_domain(rows), key, by=actor.party_id, reason=reason)
        c = rows.challenge
        entry = uow.journal.append(
            "challenge.milestone_rejected",
            {"challenge_id": c.id, "milestone": key, "reason": reason},
            actor=actor.party_id, parties=sorted(set(_everyone(rows)) - {actor.party_id}))
        milestone.status = updated.milestone(key).state
        _event(uow, rows, key, MilestoneEvent.REJECT, actor.party_id, entry.seq, reason=reason)
        c.updated_at = uow.now
        uow.session.flush()
        view = _view(uow, rows, entry_seq=entry.seq)
        uow.commit()
        return view


def accept_milestone(uow: UnitOfWork, actor: Actor, challenge_id: str,
                     key: str) -> ChallengeView:
    """The poster accepts a reported milestone: its share of every funder's hold is paid to
    the team's parties by their percentages (funder held -> party available), once. The last
    one completes the challenge."""
    with uow:
        rows = _rows(uow, challenge_id, lock=True)
        milestone = _milestone(rows, key)
        updated, payout = core.accept_milestone(_domain(rows), key, by=actor.party_id)
        c, currency = rows.challenge, rows.challenge.currency
        postings = [Posting(party_account(f, currency, HELD), currency, -amount)
                    for f, amount in payout.by_funder.items()]
        postings += [Posting(party_account(p.party, currency, AVAILABLE), currency, p.amount)
                     for p in payout.payments]
        seq = _move(
            uow, kind="challenge.milestone_accepted", postings=postings,
            data={"challenge_id": c.id, "milestone": key, "currency": currency,
                  "released": _money(payout.by_funder, currency),
                  "payments": [{"funder": p.funder, "party_id": p.party,
                                "amount": format_minor(p.amount, currency)}
                               for p in payout.payments],
                  "status": str(updated.state)},
            actor=actor.party_id, parties=_everyone(rows))
        for f in rows.funders:
            f.released_minor += payout.by_funder.get(f.party_id, 0)
        milestone.status, milestone.released_minor = MilestoneState.ACCEPTED, payout.total
        milestone.accepted_seq = seq
        _event(uow, rows, key, MilestoneEvent.ACCEPT, actor.party_id, seq, amount=payout.total)
        c.status, c.updated_at = updated.state, uow.now
        if updated.state == ChallengeState.COMPLETED:
            c.closed_seq = seq
        uow.session.flush()
        view = _view(uow, rows, entry_seq=seq, payments=payout.payments)
        uow.commit()
        return view


# --------------------------------------------------------------------------- endings

def withdraw(uow: UnitOfWork, actor: Actor, challenge_id: str) -> ChallengeView:
    """The poster withdraws the challenge before any award: every hold is refunded."""
    with uow:
        rows = _rows(uow, challenge_id, lock=True)
        updated, refunds = core.withdraw_challenge(_domain(rows), by=actor.party_id)
        view = _close(uow, rows, updated, refunds, kind="challenge.withdrawn",
                      actor=actor.party_id, extra={})
        uow.commit()
        return view


def cancel(uow: UnitOfWork, actor: Actor, challenge_id: str, reason: str) -> ChallengeView:
    """The operator cancels an awarded challenge after its deadline, with a reason (the team
    did not deliver): accepted milestones stay paid, and what is still held goes back to
    each funder, pro rata to what it put in."""
    actor.require_operator("cancel an awarded challenge")
    with uow:
        rows = _rows(uow, challenge_id, lock=True)
        updated, refunds = core.cancel_challenge(_domain(rows), reason=reason, now=uow.now)
        rows.challenge.closing_reason = reason
        view = _close(uow, rows, updated, refunds, kind="challenge.cancelled",
                      actor=actor.party_id, extra={"reason": reason})
        uow.commit()
        return view


def expire_due(new_uow: Callable[[], UnitOfWork]) -> list[ChallengeView]:
    """Expire every challenge whose deadline passed without an award (or without confirmed
    matching funds), refunding its holds, each in its own transaction (run it from cron or a
    timer: ``ipx challenges expire-due``)."""
    with new_uow() as uow:
        due = list(uow.session.execute(
            select(Challenge.id).where(Challenge.status.in_([str(s) for s in BEFORE_AWARD]),
                                       Challenge.deadline <= uow.now)
            .order_by(Challenge.deadline, Challenge.id)).scalars())
    expired = []
    for challenge_id in due:
        with new_uow() as uow:
            rows = _rows(uow, challenge_id, lock=True)
            if rows.challenge.status not in BEFORE_AWARD:
                continue  # awarded or withdrawn meanwhile
            updated, refunds = core.expire_challenge(_domain(rows), now=uow.now)
            view = _close(uow, rows, updated, refunds, kind="challenge.expired", actor=None,
                          extra={})
            uow.commit()
            expired.append(view)
    return expired


# --------------------------------------------------------------------------- the result

def _default_inventors(uow: UnitOfWork, team: core.Team) -> list[dict[str, str]]:
    """The team's inventors, sharing in proportion to their payout percentages (exact to
    six places; the first takes the rounding)."""
    inventors = [(p, pct) for p, pct in team.shares
                 if uow.session.get_one(Party, p).kind == "inventor"]
    if not inventors:
        raise InvalidInput("the awarded team has no inventor: name the result's inventors",
                           field="inventors")
    total = sum((pct for _, pct in inventors), Decimal(0))
    shares = [(pct / total).quantize(Decimal("0.000001"), rounding=ROUND_DOWN)
              for _, pct in inventors]
    shares[0] += Decimal(1) - sum(shares, Decimal(0))
    return [{"party_id": p, "share": str(s.normalize())}
            for (p, _), s in zip(inventors, shares, strict=True)]


def register_result(uow: UnitOfWork, actor: Actor, challenge_id: str, *, title: str,
                    kind: str, jurisdiction: str, inventors: Sequence[Mapping[str, Any]] | None,
                    policy: str | Mapping[str, Any] = DEFAULT_POLICY,
                    application_number: str | None = None,
                    publication_number: str | None = None) -> ResultView:
    """Register the IP a completed challenge produced as an asset, once: owned as its IP
    terms say (the poster under ``assign``, the team's university otherwise), its inventors
    from the awarded team, each class's units issued as for any listing, and linked to the
    challenge. Only the owner the terms name may register it."""
    if kind not in ASSET_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(ASSET_KINDS)}", field="kind")
    with uow:
        s = uow.session
        rows = _rows(uow, challenge_id, lock=True)
        c = rows.challenge
        domain = _domain(rows)
        arrangement = core.result_ip(domain)
        team = domain.team
        assert team is not None  # a completed challenge was awarded
        owner = arrangement.owners[0]
        if actor.party_id != owner:
            raise PermissionDenied(f"under '{c.ip_terms}' terms the result is {owner}'s to "
                                   "register")
        existing = s.get(ChallengeResult, c.id)
        if existing is not None:
            raise Conflict(f"the result is already registered as asset '{existing.asset_id}'",
                           field="id")
        named = list(inventors) if inventors is not None else _default_inventors(uow, team)
        for i, inv in enumerate(named):
            if inv.get("party_id") not in team.parties:
                raise InvalidInput("an inventor of the result is a member of the awarded team",
                                   field=f"inventors[{i}].party_id")
        listing = issue_asset(
            uow, owner_id=owner, title=title, kind=kind, jurisdiction=jurisdiction,
            inventors=named, policy=policy, currency=c.currency,
            application_number=application_number, publication_number=publication_number,
            listed_data={"challenge_id": c.id})
        asset = listing.asset
        exclusivity = None if arrangement.exclusivity is None else str(arrangement.exclusivity)
        entry = uow.journal.append(
            "challenge.result_registered",
            {"challenge_id": c.id, "asset_id": asset.id, "ip_terms": c.ip_terms,
             "award_terms_hash": rows.award.terms_hash if rows.award else None,
             "owner": owner, "licensee": arrangement.licensee, "exclusivity": exclusivity},
            actor=actor.party_id, parties=sorted(set(_everyone(rows)) - {actor.party_id}))
        result = ChallengeResult(challenge_id=c.id, asset_id=asset.id, owner_id=owner,
                                 licensee_id=arrangement.licensee, exclusivity=exclusivity,
                                 journal_seq=entry.seq, created_at=uow.now)
        s.add(result)
        c.updated_at = uow.now
        uow.commit()
        return ResultView(result, c.ip_terms, listing)

