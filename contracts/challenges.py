"""Demand-driven challenges (揭榜掛帥), pure: posting, applications, award, milestones, money.

A company or government body posts a technical problem with a **bounty** held from its cash;
a government party may add **matching funds**, also held. The funds are released in
**milestones**, each releasing a percentage of *every* funder's held amount (percentages sum to
100). The poster declares the **IP terms** for the result: ``assign`` (the poster owns it),
``exclusive_licence`` (the team's university owns it and licenses it exclusively to the
poster) or ``shared`` (the team's university owns it; the poster gets a non-exclusive
licence). Teams of one or several parties apply with agreed payout percentages (summing to
100); the poster shortlists and awards one before the **deadline** (the last moment to apply,
shortlist or award). A team member reports a milestone done; the poster accepts it (its funds
are paid to the team) or rejects it with a reason (the team may report it again). When every
milestone is accepted the challenge is completed. Withdrawal before the award, or expiry at
the deadline without one, refunds every hold. States: :data:`contracts.lifecycle.CHALLENGE`
and :data:`contracts.lifecycle.CHALLENGE_MILESTONE`.

**Matching funds are committed by the government itself.** Nobody can hold another party's
money: a challenge posted with matching funds holds only the poster's bounty and waits
(``awaiting_matching``) until the government party confirms, which holds its amount; only
then does it open for applications. The poster may withdraw meanwhile, and a challenge whose
matching funds were never confirmed expires at its deadline, refunding the bounty.

**Cancelling an awarded challenge.** An award has no withdrawal (the team relies on it), but a
team may never deliver: once the deadline has passed, the operator may cancel an awarded
challenge with a recorded reason. Every milestone already accepted stays paid; what is still
held goes back to each funder. Each accepted milestone released the same percentage of every
funder's hold, so what remains is each funder's pro-rata share of the unpaid funds.

**Money** is integer minor units of the challenge's currency, and is conserved exactly:
every minor unit held is, in the end, either paid to a team party or refunded to its funder.
An :class:`Escrow` tracks, per funder, what was held, released and refunded, and refuses
(``InsufficientFunds``) to release or refund more than remains.

**Remainder rule** (one rule everywhere: largest remainder, deterministic): to split a whole
amount by percentages, each part first gets the floor of its exact share; the minor units
left over (fewer than the number of parts) go one each to the parts with the largest
fractional remainders, ties to the part listed first. So every part is within one minor unit
of its exact share and the parts sum to the amount exactly.

* :func:`release_schedule` splits each funder's held amount across the milestones (listed in
  the challenge's order), so the milestones release exactly what was held whatever order
  they are accepted in. :func:`milestone_release` is one milestone's row of that schedule.
* :func:`team_payout` splits an amount between a team's parties (in the team's listed order).
  A milestone's release is split funder by funder, so each payment has one funder and one
  party (a ledger posting each).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Any

from contracts.lifecycle import (
    CHALLENGE,
    CHALLENGE_MILESTONE,
    ChallengeEvent,
    ChallengeState,
    MilestoneEvent,
    MilestoneState,
    transition,
)
from contracts.terms import Exclusivity
from ledger.currency import CURRENCIES, MAX_MINOR, parse_amount, to_minor
from ledger.errors import Conflict, InsufficientFunds, InvalidInput, PermissionDenied

__all__ = [
    "Application",
    "Challenge",
    "ChallengeMilestone",
    "ChallengeSpec",
    "Escrow",
    "IpTerms",
    "MatchingFunds",
    "MilestoneProgress",
    "MilestonePayout",
    "Payment",
    "ResultIp",
    "Team",
    "TeamMember",
    "accept_milestone",
    "apply_to_challenge",
    "award_challenge",
    "cancel_challenge",
    "confirm_matching",
    "expire_challenge",
    "ip_arrangement",
    "milestone_release",
    "parse_challenge",
    "parse_team",
    "post_challenge",
    "refund_on_withdrawal_or_expiry",
    "reject_milestone",
    "release_schedule",
    "report_milestone",
    "result_ip",
    "shortlist_teams",
    "team_payout",
    "withdraw_challenge",
]

_HUNDRED = Decimal(100)
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
_CODE = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,63}$")
_PLAIN_DECIMAL = re.compile(r"^[0-9]{1,18}(\.[0-9]{1,18})?$")
_MAX_TITLE = 200
_MAX_TEXT = 10_000
_MAX_REASON = 1000
_MAX_MILESTONES = 50
_MAX_MEMBERS = 50


class IpTerms(StrEnum):
    """Who gets the IP the challenge produces (see the module docstring)."""

    ASSIGN = "assign"
    EXCLUSIVE_LICENCE = "exclusive_licence"
    SHARED = "shared"


# --------------------------------------------------------------------------- helpers

def _identifier(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise InvalidInput("must be an id: 1-128 letters, digits, '_', '.', ':' or '-'",
                           field=where)
    return value


def _code(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _CODE.match(value):
        raise InvalidInput("must be a code: 1-64 lowercase letters, digits, '_', '.', ':' or "
                           "'-'", field=where)
    return value


def _text(value: Any, where: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise InvalidInput(f"must be a non-blank string of at most {limit} characters",
                           field=where)
    return value


def _percent(value: Any, where: str) -> Decimal:
    """A percentage more than 0 and at most 100, from a plain decimal string or a Decimal."""
    if isinstance(value, str):
        if not _PLAIN_DECIMAL.match(value):
            raise InvalidInput('must be a plain decimal string such as "40" or "12.5"',
                               field=where)
        value = Decimal(value)
    if not isinstance(value, Decimal) or not value.is_finite() or not 0 < value <= _HUNDRED:
        raise InvalidInput("a percentage must be more than 0 and at most 100", field=where)
    return value


def _minor(value: Any, where: str, *, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= MAX_MINOR:
        raise InvalidInput(f"must be a whole number of minor units from {low} to {MAX_MINOR}",
                           field=where)
    return value


def _amount(raw: Any, currency: str, where: str) -> int:
    if not isinstance(raw, str) or not _PLAIN_DECIMAL.match(raw):
        raise InvalidInput('must be a plain decimal string such as "250000.00"', field=where)
    return _minor(to_minor(parse_amount(raw, currency, field=where), currency), where)


def _utc(value: Any, where: str) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() != timedelta(0):
        raise InvalidInput("must be a UTC date and time", field=where)
    return value


def _object(raw: Any, where: str, required: Sequence[str], optional: Sequence[str] = ()
            ) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise InvalidInput("must be an object", field=where)
    for key in raw:
        if key not in required and key not in optional:
            raise InvalidInput(f"unknown field '{key}'", field=f"{where}.{key}")
    for key in required:
        if key not in raw:
            raise InvalidInput("is required", field=f"{where}.{key}")
    return raw


def _list(raw: Any, where: str, limit: int) -> list[Any]:
    if not isinstance(raw, list) or not raw:
        raise InvalidInput("must be a non-empty list", field=where)
    if len(raw) > limit:
        raise InvalidInput(f"must have at most {limit} items", field=where)
    return raw


def _split(total: int, weights: Sequence[tuple[str, Fraction]]) -> dict[str, int]:
    """``total`` split by ``weights`` (summing to 1) with the largest-remainder rule."""
    exact = [(key, total * w) for key, w in weights]
    parts = {key: int(x) for key, x in exact}  # floor: every x is non-negative
    left = total - sum(parts.values())
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i][1] - int(exact[i][1])), i))
    for i in order[:left]:
        parts[exact[i][0]] += 1
    return parts


# --------------------------------------------------------------------------- the spec

@dataclass(frozen=True)
class ChallengeMilestone:
    """A milestone: accepting it releases ``percent`` percent of every funder's hold."""

    key: str
    title: str
    percent: Decimal


@dataclass(frozen=True)
class MatchingFunds:
    """``amount`` minor units held from government party ``party`` beside the bounty."""

    party: str
    amount: int


@dataclass(frozen=True)
class ChallengeSpec:
    """What the poster publishes. Build with :func:`parse_challenge` (or construct and let
    :func:`post_challenge` validate). ``deadline`` is UTC; amounts are minor units."""

    poster: str
    title: str
    problem: str
    field: str
    deadline: datetime
    currency: str
    bounty: int
    milestones: tuple[ChallengeMilestone, ...]
    ip_terms: IpTerms
    matching: MatchingFunds | None = None

    @property
    def funds(self) -> dict[str, int]:
        """What is held from each funder: the poster's bounty first, then matching funds."""
        out = {self.poster: self.bounty}
        if self.matching is not None:
            out[self.matching.party] = self.matching.amount
        return out

    @property
    def total(self) -> int:
        """Every minor unit held for the challenge."""
        return sum(self.funds.values())


def _check_spec(spec: Any, f: str) -> ChallengeSpec:
    if not isinstance(spec, ChallengeSpec):
        raise InvalidInput("must be a challenge", field=f)
    _identifier(spec.poster, f"{f}.poster")
    _text(spec.title, f"{f}.title", _MAX_TITLE)
    _text(spec.problem, f"{f}.problem", _MAX_TEXT)
    _code(spec.field, f"{f}.field")
    _utc(spec.deadline, f"{f}.deadline")
    if not isinstance(spec.currency, str) or spec.currency not in CURRENCIES:
        raise InvalidInput("must be an ISO 4217 currency code such as 'HKD'",
                           field=f"{f}.currency")
    _minor(spec.bounty, f"{f}.bounty")
    if spec.matching is not None:
        if not isinstance(spec.matching, MatchingFunds):
            raise InvalidInput("must be matching funds", field=f"{f}.matching")
        _identifier(spec.matching.party, f"{f}.matching.party")
        if spec.matching.party == spec.poster:
            raise InvalidInput("matching funds come from another party than the poster; "
                               "raise the bounty instead", field=f"{f}.matching.party")
        _minor(spec.matching.amount, f"{f}.matching.amount")
    if spec.total > MAX_MINOR:
        raise InvalidInput("the bounty and matching funds together are too large",
                           field=f"{f}.bounty")
    if not isinstance(spec.ip_terms, IpTerms):
        raise InvalidInput("must be one of assign, exclusive_licence, shared",
                           field=f"{f}.ip_terms")
    if not isinstance(spec.milestones, tuple) or not spec.milestones:
        raise InvalidInput("must list at least one milestone", field=f"{f}.milestones")
    if len(spec.milestones) > _MAX_MILESTONES:
        raise InvalidInput(f"must have at most {_MAX_MILESTONES} milestones",
                           field=f"{f}.milestones")
    keys: set[str] = set()
    for i, m in enumerate(spec.milestones):
        where = f"{f}.milestones[{i}]"
        if not isinstance(m, ChallengeMilestone):
            raise InvalidInput("must be a milestone", field=where)
        _code(m.key, f"{where}.key")
        if m.key in keys:
            raise InvalidInput(f"duplicate milestone '{m.key}'", field=f"{where}.key")
        keys.add(m.key)
        _text(m.title, f"{where}.title", _MAX_TITLE)
        _percent(m.percent, f"{where}.percent")
    total = sum((m.percent for m in spec.milestones), Decimal(0))
    if total != _HUNDRED:
        raise InvalidInput(f"milestone percentages sum to {total.normalize():f}, not 100",
                           field=f"{f}.milestones")
    return spec


def parse_challenge(raw: Mapping[str, Any], *, field: str = "challenge") -> ChallengeSpec:
    """Validate a challenge's JSON form and return a :class:`ChallengeSpec`::

        {"poster": "pty_co", "title": "...", "problem": "...", "field": "battery-materials",
         "deadline": "2026-06-30T00:00:00Z", "currency": "HKD", "bounty": "1000000.00",
         "matching": {"party": "pty_gov", "amount": "500000.00"},        # optional
         "milestones": [{"key": "prototype", "title": "...", "percent": "40"}, ...],
         "ip_terms": "assign" | "exclusive_licence" | "shared"}

    Raises ``InvalidInput`` naming the first problem with a dotted path below ``field``.
    """
    f = field
    top = _object(raw, f, ("poster", "title", "problem", "field", "deadline", "currency",
                           "bounty", "milestones", "ip_terms"), ("matching",))
    currency = top["currency"]
    if not isinstance(currency, str) or currency not in CURRENCIES:
        raise InvalidInput("must be an ISO 4217 currency code such as 'HKD'",
                           field=f"{f}.currency")
    deadline_raw = top["deadline"]
    try:
        if not isinstance(deadline_raw, str):
            raise ValueError
        deadline = datetime.fromisoformat(deadline_raw)
    except ValueError:
        raise InvalidInput("must be an ISO 8601 date and time with an offset, such as "
                           "2026-06-30T00:00:00Z", field=f"{f}.deadline") from None
    if deadline.utcoffset() is None:
        raise InvalidInput("must have a UTC offset", field=f"{f}.deadline")
    deadline = deadline.astimezone(UTC)
    matching = None
    if top.get("matching") is not None:
        m = _object(top["matching"], f"{f}.matching", ("party", "amount"))
        matching = MatchingFunds(_identifier(m["party"], f"{f}.matching.party"),
                                 _amount(m["amount"], currency, f"{f}.matching.amount"))
    milestones = []
    for i, item in enumerate(_list(top["milestones"], f"{f}.milestones", _MAX_MILESTONES)):
        where = f"{f}.milestones[{i}]"
        obj = _object(item, where, ("key", "title", "percent"))
        milestones.append(ChallengeMilestone(_code(obj["key"], f"{where}.key"),
                                             _text(obj["title"], f"{where}.title", _MAX_TITLE),
                                             _percent(obj["percent"], f"{where}.percent")))
    try:
        ip_terms = IpTerms(top["ip_terms"])
    except (ValueError, TypeError):
        raise InvalidInput("must be one of assign, exclusive_licence, shared",
                           field=f"{f}.ip_terms") from None
    spec = ChallengeSpec(
        poster=_identifier(top["poster"], f"{f}.poster"),
        title=top["title"], problem=top["problem"], field=top["field"], deadline=deadline,
        currency=currency, bounty=_amount(top["bounty"], currency, f"{f}.bounty"),
        milestones=tuple(milestones), ip_terms=ip_terms, matching=matching)
    return _check_spec(spec, f)


# --------------------------------------------------------------------------- teams

@dataclass(frozen=True)
class TeamMember:
    """A party of a team and its agreed percentage of every payout."""

    party: str
    percent: Decimal


@dataclass(frozen=True)
class Team:
    """One or several parties with payout percentages summing to 100; ``university`` (one
    of the members) owns the result under ``exclusive_licence`` and ``shared`` IP terms."""

    members: tuple[TeamMember, ...]
    university: str | None = None

    @property
    def parties(self) -> tuple[str, ...]:
        """The members' party ids, in the team's order."""
        return tuple(m.party for m in self.members)

    @property
    def shares(self) -> tuple[tuple[str, Decimal], ...]:
        """``(party, percent)`` pairs, in the team's order (for :func:`team_payout`)."""
        return tuple((m.party, m.percent) for m in self.members)


def _check_team(team: Any, f: str) -> Team:
    if not isinstance(team, Team):
        raise InvalidInput("must be a team", field=f)
    if not isinstance(team.members, tuple) or not team.members:
        raise InvalidInput("a team has at least one member", field=f"{f}.members")
    if len(team.members) > _MAX_MEMBERS:
        raise InvalidInput(f"a team has at most {_MAX_MEMBERS} members", field=f"{f}.members")
    seen: set[str] = set()
    for i, m in enumerate(team.members):
        where = f"{f}.members[{i}]"
        if not isinstance(m, TeamMember):
            raise InvalidInput("must be a team member", field=where)
        _identifier(m.party, f"{where}.party")
        if m.party in seen:
            raise InvalidInput(f"'{m.party}' is listed twice", field=f"{where}.party")
        seen.add(m.party)
        _percent(m.percent, f"{where}.percent")
    total = sum((m.percent for m in team.members), Decimal(0))
    if total != _HUNDRED:
        raise InvalidInput(f"payout percentages sum to {total.normalize():f}, not 100",
                           field=f"{f}.members")
    if team.university is not None and team.university not in seen:
        raise InvalidInput("the university must be one of the team's members",
                           field=f"{f}.university")
    return team


def parse_team(raw: Mapping[str, Any], *, field: str = "team") -> Team:
    """Validate a team's JSON form::

        {"members": [{"party": "pty_uni", "percent": "40"},
                     {"party": "pty_prof", "percent": "60"}],
         "university": "pty_uni"}                                   # optional
    """
    top = _object(raw, field, ("members",), ("university",))
    members = []
    for i, item in enumerate(_list(top["members"], f"{field}.members", _MAX_MEMBERS)):
        where = f"{field}.members[{i}]"
        obj = _object(item, where, ("party", "percent"))
        members.append(TeamMember(_identifier(obj["party"], f"{where}.party"),
                                  _percent(obj["percent"], f"{where}.percent")))
    university = top.get("university")
    if university is not None:
        _identifier(university, f"{field}.university")
    return _check_team(Team(tuple(members), university), field)


@dataclass(frozen=True)
class Application:
    """Team ``team_id``'s application: the team and its proposal."""

    team_id: str
    team: Team
    proposal: str


# --------------------------------------------------------------------------- money

@dataclass(frozen=True)
class Escrow:
    """What is held for a challenge, per funder, and what has left the hold.

    ``remaining(f) = held[f] - released[f] - refunded[f]`` is never negative.
    """

    currency: str
    held: Mapping[str, int]
    released: Mapping[str, int]
    refunded: Mapping[str, int]

    @classmethod
    def hold(cls, currency: str, funds: Mapping[str, int]) -> Escrow:
        """A new escrow holding ``funds`` (funder -> minor units), nothing released."""
        return cls(currency, dict(funds), dict.fromkeys(funds, 0), dict.fromkeys(funds, 0))

    def remaining(self, funder: str) -> int:
        """What is still held from ``funder``."""
        return self.held[funder] - self.released[funder] - self.refunded[funder]

    @property
    def total_held(self) -> int:
        """Everything ever held."""
        return sum(self.held.values())

    @property
    def total_released(self) -> int:
        """Everything paid out to teams."""
        return sum(self.released.values())

    @property
    def total_refunded(self) -> int:
        """Everything returned to funders."""
        return sum(self.refunded.values())

    @property
    def total_remaining(self) -> int:
        """Everything still held."""
        return sum(self.remaining(f) for f in self.held)

    def release(self, amounts: Mapping[str, int], *, field: str = "amount") -> Escrow:
        """The escrow after paying ``amounts`` (funder -> minor units) out of the hold.

        Raises ``InsufficientFunds`` when an amount is more than remains held from that
        funder, ``InvalidInput`` for an unknown funder or a negative amount. All or nothing.
        """
        released = dict(self.released)
        for funder, amount in amounts.items():
            self._check(funder, amount, field)
            if amount > self.remaining(funder):
                raise InsufficientFunds(
                    f"cannot release {amount} minor units of {self.currency} held from "
                    f"{funder}: only {self.remaining(funder)} remain held", field=field)
            released[funder] += amount
        return replace(self, released=released)

    def add(self, funder: str, amount: int) -> Escrow:
        """The escrow after holding ``amount`` more minor units from a new ``funder`` (the
        government confirming its matching funds). ``InvalidInput`` if it already holds."""
        if funder in self.held:
            raise InvalidInput(f"'{funder}' already holds funds for this challenge",
                               field="funder")
        _minor(amount, "amount")
        return replace(self, held={**self.held, funder: amount},
                       released={**self.released, funder: 0},
                       refunded={**self.refunded, funder: 0})

    def refund_all(self) -> tuple[Escrow, dict[str, int]]:
        """Return everything still held to its funder: the new escrow and the refunds."""
        refunds = refund_on_withdrawal_or_expiry(self)
        refunded = {f: self.refunded[f] + refunds[f] for f in self.held}
        return replace(self, refunded=refunded), refunds

    def _check(self, funder: str, amount: int, field: str) -> None:
        if funder not in self.held:
            raise InvalidInput(f"'{funder}' holds nothing for this challenge", field=field)
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
            raise InvalidInput("must be a whole number of minor units, 0 or more", field=field)


def refund_on_withdrawal_or_expiry(escrow: Escrow) -> dict[str, int]:
    """What goes back to each funder (in the escrow's funder order) when the challenge is
    withdrawn or expires: everything still held from it (before an award, all it put in)."""
    return {f: escrow.remaining(f) for f in escrow.held}


def _milestone_pairs(milestones: Sequence[ChallengeMilestone] | Sequence[tuple[str, Decimal]]
                     ) -> list[tuple[str, Decimal]]:
    pairs = [(m.key, m.percent) if isinstance(m, ChallengeMilestone) else (m[0], m[1])
             for m in milestones]
    if not pairs or len({k for k, _ in pairs}) != len(pairs):
        raise InvalidInput("milestones must be a non-empty list with distinct keys",
                           field="milestones")
    for i, (_, p) in enumerate(pairs):
        _percent(p, f"milestones[{i}].percent")
    if sum((p for _, p in pairs), Decimal(0)) != _HUNDRED:
        raise InvalidInput("milestone percentages must sum to 100", field="milestones")
    return pairs


def release_schedule(total_held_by_funder: Mapping[str, int],
                     milestones: Sequence[ChallengeMilestone] | Sequence[tuple[str, Decimal]]
                     ) -> dict[str, dict[str, int]]:
    """``{milestone key: {funder: minor units}}``: each funder's held amount split across the
    milestones by their percentages (largest remainder, ties to the earlier milestone).

    For every funder the milestones' amounts sum to exactly what it holds, and each is
    within one minor unit of ``held x percent / 100``, in whatever order they are accepted.
    """
    pairs = _milestone_pairs(milestones)
    weights = [(k, Fraction(p) / 100) for k, p in pairs]
    out: dict[str, dict[str, int]] = {k: {} for k, _ in pairs}
    for funder, held in total_held_by_funder.items():
        _minor(held, f"held.{funder}", low=0)
        for key, amount in _split(held, weights).items():
            out[key][funder] = amount
    return out


def milestone_release(total_held_by_funder: Mapping[str, int],
                      milestones: Sequence[ChallengeMilestone] | Sequence[tuple[str, Decimal]],
                      key: str) -> dict[str, int]:
    """What accepting milestone ``key`` releases from each funder: its row of
    :func:`release_schedule`. The whole milestone list is needed so that the remainders land
    the same way whichever milestone is accepted first."""
    schedule = release_schedule(total_held_by_funder, milestones)
    if key not in schedule:
        raise InvalidInput(f"no milestone '{key}'", field="milestone")
    return schedule[key]


def team_payout(amount: int, team_shares: Mapping[str, Decimal]
                | Sequence[tuple[str, Decimal]]) -> dict[str, int]:
    """``amount`` minor units split between parties by percentages summing to 100, exactly
    (largest remainder, ties to the party listed first); keys in the listed order."""
    _minor(amount, "amount", low=0)
    pairs = list(team_shares.items()) if isinstance(team_shares, Mapping) else list(team_shares)
    if not pairs or len({p for p, _ in pairs}) != len(pairs):
        raise InvalidInput("team shares must be a non-empty list of distinct parties",
                           field="team_shares")
    for i, (_, percent) in enumerate(pairs):
        if not isinstance(percent, Decimal) or not percent.is_finite() \
                or not 0 <= percent <= _HUNDRED:
            raise InvalidInput("a percentage must be from 0 to 100",
                               field=f"team_shares[{i}]")
    if sum((p for _, p in pairs), Decimal(0)) != _HUNDRED:
        raise InvalidInput("team shares must sum to 100", field="team_shares")
    return _split(amount, [(party, Fraction(p) / 100) for party, p in pairs])


# --------------------------------------------------------------------------- the challenge

@dataclass(frozen=True)
class MilestoneProgress:
    """Where one milestone stands: its state, how often it was reported, the reasons of its
    rejections (in order), and the minor units it released once accepted."""

    key: str
    state: str = MilestoneState.PENDING
    reports: int = 0
    rejections: tuple[str, ...] = ()
    released: int = 0


@dataclass(frozen=True)
class Payment:
    """``amount`` minor units from ``funder``'s hold to team party ``party``."""

    funder: str
    party: str
    amount: int


@dataclass(frozen=True)
class MilestonePayout:
    """What accepting a milestone paid: per funder, each payment, and per party."""

    milestone: str
    by_funder: Mapping[str, int]
    payments: tuple[Payment, ...]
    by_party: Mapping[str, int]

    @property
    def total(self) -> int:
        """Everything this milestone released."""
        return sum(self.by_funder.values())


@dataclass(frozen=True)
class Challenge:
    """A posted challenge and everything that happened to it. Change it only through this
    module's functions, which return new values."""

    spec: ChallengeSpec
    state: str
    escrow: Escrow
    milestones: tuple[MilestoneProgress, ...]
    applications: tuple[Application, ...] = ()
    shortlist: tuple[str, ...] = ()
    awarded_to: str | None = None

    def application(self, team_id: str) -> Application | None:
        """Team ``team_id``'s application, or None."""
        return next((a for a in self.applications if a.team_id == team_id), None)

    def milestone(self, key: str) -> MilestoneProgress:
        """The progress of milestone ``key``; ``InvalidInput`` (field ``milestone``) if none."""
        found = next((m for m in self.milestones if m.key == key), None)
        if found is None:
            raise InvalidInput(f"this challenge has no milestone '{key}'", field="milestone")
        return found

    @property
    def team(self) -> Team | None:
        """The awarded team, once there is one."""
        if self.awarded_to is None:
            return None
        app = self.application(self.awarded_to)
        return app.team if app is not None else None


def _poster(challenge: Challenge, by: str) -> None:
    _identifier(by, "by")
    if by != challenge.spec.poster:
        raise PermissionDenied("only the poster of the challenge may do this", field="by")


def _before_deadline(challenge: Challenge, now: datetime, what: str) -> None:
    _utc(now, "now")
    if now >= challenge.spec.deadline:
        raise Conflict(f"the deadline {challenge.spec.deadline.isoformat()} has passed: "
                       f"{what} is no longer possible; the challenge can only expire",
                       field="now")


def post_challenge(spec: ChallengeSpec) -> Challenge:
    """A new challenge with the poster's bounty held: open, or, with matching funds, awaiting
    the government's confirmation (:func:`confirm_matching`), which holds its funds."""
    _check_spec(spec, "challenge")
    state = CHALLENGE.initial if spec.matching is None else ChallengeState.AWAITING_MATCHING
    return Challenge(spec, state, Escrow.hold(spec.currency, {spec.poster: spec.bounty}),
                     tuple(MilestoneProgress(m.key) for m in spec.milestones))


def confirm_matching(challenge: Challenge, *, by: str, now: datetime
                     ) -> tuple[Challenge, int]:
    """The government party named for matching funds confirms them, before the deadline:
    they are held and the challenge opens. Returns the challenge and the amount held.

    Refuses (``PermissionDenied``) anyone but that party, and (``Conflict``) a challenge not
    awaiting matching funds or past its deadline.
    """
    _identifier(by, "by")
    matching = challenge.spec.matching
    if matching is None or by != matching.party:
        raise PermissionDenied("only the government party named for the matching funds may "
                               "confirm them", field="by")
    state = transition(CHALLENGE, challenge.state, ChallengeEvent.CONFIRM_MATCHING)
    _before_deadline(challenge, now, "confirming matching funds")
    escrow = challenge.escrow.add(matching.party, matching.amount)
    return replace(challenge, state=state, escrow=escrow), matching.amount


def apply_to_challenge(challenge: Challenge, application: Application, *,
                       now: datetime) -> Challenge:
    """Record a team's application (open or shortlisted challenge, before the deadline).

    Refuses a team id already used (``Conflict``), a funder of the challenge on the team, and
    a team without a university when the IP terms give the result to the team's university.
    """
    f = "application"
    if challenge.state == ChallengeState.AWAITING_MATCHING:
        raise Conflict("the challenge opens once the government party has confirmed its "
                       "matching funds", field="state")
    if challenge.state not in (ChallengeState.OPEN, ChallengeState.SHORTLISTED):
        raise Conflict(f"applications are closed: the challenge is '{challenge.state}'",
                       field="state")
    _before_deadline(challenge, now, "applying")
    if not isinstance(application, Application):
        raise InvalidInput("must be an application", field=f)
    _identifier(application.team_id, f"{f}.team_id")
    _check_team(application.team, f"{f}.team")
    _text(application.proposal, f"{f}.proposal", _MAX_TEXT)
    if challenge.application(application.team_id) is not None:
        raise Conflict(f"team '{application.team_id}' has already applied",
                       field=f"{f}.team_id")
    for i, party in enumerate(application.team.parties):
        if party in challenge.spec.funds:
            raise InvalidInput(f"'{party}' funds this challenge and cannot be on a team",
                               field=f"{f}.team.members[{i}].party")
    if challenge.spec.ip_terms is not IpTerms.ASSIGN and application.team.university is None:
        raise InvalidInput(f"under '{challenge.spec.ip_terms}' IP terms the team's university "
                           "owns the result: name it", field=f"{f}.team.university")
    return replace(challenge, applications=(*challenge.applications, application))


def shortlist_teams(challenge: Challenge, team_ids: Sequence[str], *, by: str,
                    now: datetime) -> Challenge:
    """The poster adds applicants to the shortlist (before the deadline)."""
    _poster(challenge, by)
    state = transition(CHALLENGE, challenge.state, ChallengeEvent.SHORTLIST)
    _before_deadline(challenge, now, "shortlisting")
    if isinstance(team_ids, str) or not isinstance(team_ids, Sequence) or not team_ids:
        raise InvalidInput("must be a non-empty list of team ids", field="team_ids")
    shortlist = list(challenge.shortlist)
    for i, team_id in enumerate(team_ids):
        if not isinstance(team_id, str) or challenge.application(team_id) is None:
            raise InvalidInput(f"team '{team_id}' did not apply to this challenge",
                               field=f"team_ids[{i}]")
        if team_id not in shortlist:
            shortlist.append(team_id)
    return replace(challenge, state=state, shortlist=tuple(shortlist))


def award_challenge(challenge: Challenge, team_id: str, *, by: str,
                    now: datetime) -> Challenge:
    """The poster awards the challenge to a shortlisted team, before the deadline.

    Refuses (``Conflict``) an award in any state but shortlisted or at/after the deadline,
    and (``InvalidInput``, field ``team_id``) a team that did not apply or is not shortlisted.
    """
    _poster(challenge, by)
    state = transition(CHALLENGE, challenge.state, ChallengeEvent.AWARD)
    _before_deadline(challenge, now, "an award")
    if not isinstance(team_id, str) or challenge.application(team_id) is None:
        raise InvalidInput(f"team '{team_id}' did not apply to this challenge", field="team_id")
    if team_id not in challenge.shortlist:
        raise InvalidInput(f"team '{team_id}' is not on the shortlist; shortlist it first",
                           field="team_id")
    return replace(challenge, state=state, awarded_to=team_id)


def _milestone_step(challenge: Challenge, key: str, event: MilestoneEvent
                    ) -> tuple[MilestoneProgress, str]:
    progress = challenge.milestone(key)
    if event is MilestoneEvent.ACCEPT and progress.state == MilestoneState.ACCEPTED:
        raise Conflict(f"milestone '{key}' was already accepted and paid; a milestone is "
                       "accepted once", field="milestone")
    if challenge.state != ChallengeState.AWARDED:
        raise Conflict(f"milestones move only on an awarded challenge; this one is "
                       f"'{challenge.state}'", field="state")
    return progress, transition(CHALLENGE_MILESTONE, progress.state, event)


def _with_progress(challenge: Challenge, progress: MilestoneProgress) -> Challenge:
    return replace(challenge, milestones=tuple(progress if m.key == progress.key else m
                                               for m in challenge.milestones))


def report_milestone(challenge: Challenge, key: str, *, by: str) -> Challenge:
    """A member of the awarded team reports milestone ``key`` done (again, after a
    rejection)."""
    _identifier(by, "by")
    team = challenge.team
    if team is None or by not in team.parties:
        raise PermissionDenied("only a member of the awarded team may report a milestone",
                               field="by")
    progress, state = _milestone_step(challenge, key, MilestoneEvent.REPORT)
    return _with_progress(challenge, replace(progress, state=state,
                                             reports=progress.reports + 1))


def reject_milestone(challenge: Challenge, key: str, *, by: str, reason: str) -> Challenge:
    """The poster rejects a reported milestone; ``reason`` is required and recorded."""
    _poster(challenge, by)
    progress, state = _milestone_step(challenge, key, MilestoneEvent.REJECT)
    text = _text(reason, "reason", _MAX_REASON)
    return _with_progress(challenge, replace(progress, state=state,
                                             rejections=(*progress.rejections, text)))


def accept_milestone(challenge: Challenge, key: str, *, by: str
                     ) -> tuple[Challenge, MilestonePayout]:
    """The poster accepts a reported milestone: its share of every funder's hold is released
    and paid to the team's parties by their percentages. When it is the last one, the
    challenge is completed.

    Refuses (``Conflict``) a milestone already accepted or not reported, and
    (``InsufficientFunds``) a release of more than remains held.
    """
    _poster(challenge, by)
    progress, state = _milestone_step(challenge, key, MilestoneEvent.ACCEPT)
    team = challenge.team
    if team is None:  # cannot happen: an awarded challenge has its team
        raise Conflict("the challenge has no awarded team", field="state")
    by_funder = milestone_release(challenge.escrow.held, challenge.spec.milestones, key)
    escrow = challenge.escrow.release(by_funder, field="milestone")
    payments: list[Payment] = []
    by_party = dict.fromkeys(team.parties, 0)
    for funder, amount in by_funder.items():
        for party, share in team_payout(amount, team.shares).items():
            if share:
                payments.append(Payment(funder, party, share))
                by_party[party] += share
    payout = MilestonePayout(key, by_funder, tuple(payments), by_party)
    updated = _with_progress(replace(challenge, escrow=escrow),
                             replace(progress, state=state, released=payout.total))
    if all(m.state == MilestoneState.ACCEPTED for m in updated.milestones):
        updated = replace(updated, state=transition(CHALLENGE, updated.state,
                                                    ChallengeEvent.COMPLETE))
    return updated, payout


def withdraw_challenge(challenge: Challenge, *, by: str) -> tuple[Challenge, dict[str, int]]:
    """The poster withdraws the challenge before any award; every hold is refunded.

    Returns the challenge and the refunds by funder.
    """
    _poster(challenge, by)
    state = transition(CHALLENGE, challenge.state, ChallengeEvent.WITHDRAW)
    escrow, refunds = challenge.escrow.refund_all()
    return replace(challenge, state=state, escrow=escrow), refunds


def expire_challenge(challenge: Challenge, *, now: datetime) -> tuple[Challenge, dict[str, int]]:
    """The deadline passed without an award (or without confirmed matching funds): the
    challenge expires and every hold is refunded. Refuses (``Conflict``) before the
    deadline."""
    _utc(now, "now")
    state = transition(CHALLENGE, challenge.state, ChallengeEvent.EXPIRE)
    if now < challenge.spec.deadline:
        raise Conflict(f"the deadline is {challenge.spec.deadline.isoformat()}; the challenge "
                       "cannot expire before it", field="now")
    escrow, refunds = challenge.escrow.refund_all()
    return replace(challenge, state=state, escrow=escrow), refunds


def cancel_challenge(challenge: Challenge, *, reason: str, now: datetime
                     ) -> tuple[Challenge, dict[str, int]]:
    """Cancel an awarded challenge whose team has not delivered, once the deadline has
    passed (the operator decides; see the module docstring). Accepted milestones stay paid;
    everything still held is refunded to its funder. Returns the challenge and the refunds.

    Refuses (``Conflict``) before the deadline and in any state but awarded, and
    (``InvalidInput``, field ``reason``) a blank reason.
    """
    _utc(now, "now")
    state = transition(CHALLENGE, challenge.state, ChallengeEvent.CANCEL)
    _text(reason, "reason", _MAX_REASON)
    if now < challenge.spec.deadline:
        raise Conflict(f"the deadline is {challenge.spec.deadline.isoformat()}; an awarded "
                       "challenge can be cancelled only after it", field="now")
    escrow, refunds = challenge.escrow.refund_all()
    return replace(challenge, state=state, escrow=escrow), refunds


# --------------------------------------------------------------------------- the result

@dataclass(frozen=True)
class ResultIp:
    """Who gets the IP a completed challenge produced: its ``owners``, the ``licensee`` (the
    poster, under ``exclusive_licence`` and ``shared``) and the licence's ``exclusivity``;
    ``team`` lists the team's parties, among whom the inventors are."""

    ip_terms: IpTerms
    owners: tuple[str, ...]
    licensee: str | None
    exclusivity: Exclusivity | None
    team: tuple[str, ...]


def result_ip(challenge: Challenge) -> ResultIp:
    """The ownership and licence of the result, by the challenge's IP terms (completed
    challenges only; ``Conflict`` otherwise)."""
    team = challenge.team
    if challenge.state != ChallengeState.COMPLETED or team is None:
        raise Conflict(f"the result is registered once the challenge is completed; this one "
                       f"is '{challenge.state}'", field="state")
    return ip_arrangement(challenge.spec.ip_terms, challenge.spec.poster, team)


def ip_arrangement(terms: IpTerms, poster: str, team: Team) -> ResultIp:
    """Who will own and who will license the result under ``terms``, for the poster and an
    awarded ``team``: what the award signs into the journal and :func:`result_ip` applies."""
    if terms is IpTerms.ASSIGN:
        return ResultIp(terms, (poster,), None, None, team.parties)
    if team.university is None:  # cannot happen: required at application under these terms
        raise Conflict("the awarded team names no university to own the result",
                       field="team.university")
    exclusivity = (Exclusivity.EXCLUSIVE if terms is IpTerms.EXCLUSIVE_LICENCE
                   else Exclusivity.NON_EXCLUSIVE)
    return ResultIp(terms, (team.university,), poster, exclusivity, team.parties)
