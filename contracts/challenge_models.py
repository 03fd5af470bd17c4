"""Tables of challenges: postings, funders and their holds, applications, awards, milestones,
and the asset a completed challenge produced.

The rules live in :mod:`contracts.challenges`; these rows are what the service loads into a
:class:`contracts.challenges.Challenge` and writes back. Money is integer minor units of the
challenge's currency; percentages are exact decimal strings.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ledger.db import Base, UtcDateTime

Id = String(40)


class Challenge(Base):
    """A posted problem with a bounty (揭榜掛帥). ``status`` is a state of
    :data:`contracts.lifecycle.CHALLENGE`; the escrow is in :class:`ChallengeFunder`."""

    __tablename__ = "challenges"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    poster_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    problem: Mapped[str] = mapped_column(Text)
    field: Mapped[str] = mapped_column(String(64), index=True)
    deadline: Mapped[datetime] = mapped_column(UtcDateTime())
    currency: Mapped[str] = mapped_column(String(3))
    bounty_minor: Mapped[int] = mapped_column(BigInteger)
    ip_terms: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), index=True)
    spec_hash: Mapped[str] = mapped_column(String(64))  # of the spec as journalled
    closing_reason: Mapped[str | None] = mapped_column(Text)  # why the operator cancelled
    journal_seq: Mapped[int] = mapped_column(ForeignKey("journal_entries.seq"))
    closed_seq: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ChallengeMilestone(Base):
    """One milestone: accepting it releases ``percent`` of every funder's hold."""

    __tablename__ = "challenge_milestones"

    challenge_id: Mapped[str] = mapped_column(ForeignKey("challenges.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    percent: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))  # CHALLENGE_MILESTONE states
    reports: Mapped[int] = mapped_column(Integer, default=0)
    released_minor: Mapped[int] = mapped_column(BigInteger, default=0)  # paid to the team
    accepted_seq: Mapped[int | None] = mapped_column(BigInteger)


class ChallengeMilestoneEvent(Base):
    """What happened to a milestone, in order: reported, rejected (with the reason),
    accepted and paid (with the amount)."""

    __tablename__ = "challenge_milestone_events"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    challenge_id: Mapped[str] = mapped_column(ForeignKey("challenges.id"), index=True)
    milestone_key: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(20))
    party_id: Mapped[str] = mapped_column(ForeignKey("parties.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    journal_seq: Mapped[int] = mapped_column(ForeignKey("journal_entries.seq"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ChallengeFunder(Base):
    """A funder of a challenge and its hold: the poster's bounty (held at posting) or a
    government's matching funds (``committed_minor``, held only once it confirms).

    ``held_minor - released_minor - refunded_minor`` is what is still held from it.
    """

    __tablename__ = "challenge_funders"

    challenge_id: Mapped[str] = mapped_column(ForeignKey("challenges.id"), primary_key=True)
    party_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), primary_key=True,
                                          index=True)
    role: Mapped[str] = mapped_column(String(20))  # poster, matching
    position: Mapped[int] = mapped_column(Integer)  # the poster first
    committed_minor: Mapped[int] = mapped_column(BigInteger)
    held_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    released_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    hold_seq: Mapped[int | None] = mapped_column(BigInteger)
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class ChallengeApplication(Base):
    """A team's application: its id is the team's id within the challenge."""

    __tablename__ = "challenge_applications"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    challenge_id: Mapped[str] = mapped_column(ForeignKey("challenges.id"), index=True)
    applicant_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    university_id: Mapped[str | None] = mapped_column(ForeignKey("parties.id"))
    proposal: Mapped[str] = mapped_column(Text)
    shortlist_position: Mapped[int | None] = mapped_column(Integer)  # None: not shortlisted
    journal_seq: Mapped[int] = mapped_column(ForeignKey("journal_entries.seq"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ChallengeTeamMember(Base):
    """A party of a team and its agreed percentage of every payout."""

    __tablename__ = "challenge_team_members"

    application_id: Mapped[str] = mapped_column(ForeignKey("challenge_applications.id"),
                                                primary_key=True)
    party_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), primary_key=True,
                                          index=True)
    position: Mapped[int] = mapped_column(Integer)
    percent: Mapped[str] = mapped_column(String(40))


class ChallengeAward(Base):
    """The award: the team, and the IP terms signed into the journal with it."""

    __tablename__ = "challenge_awards"

    challenge_id: Mapped[str] = mapped_column(ForeignKey("challenges.id"), primary_key=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("challenge_applications.id"),
                                                unique=True)
    ip_terms: Mapped[str] = mapped_column(String(20))
    terms_hash: Mapped[str] = mapped_column(String(64))  # of the terms as journalled
    journal_seq: Mapped[int] = mapped_column(ForeignKey("journal_entries.seq"))
    awarded_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ChallengeResult(Base):
    """The asset a completed challenge produced, registered by the IP terms: the link from
    the asset to its challenge (one asset per challenge)."""

    __tablename__ = "challenge_results"
    __table_args__ = (UniqueConstraint("asset_id"),)

    challenge_id: Mapped[str] = mapped_column(ForeignKey("challenges.id"), primary_key=True)
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id"))
    owner_id: Mapped[str] = mapped_column(ForeignKey("parties.id"))
    licensee_id: Mapped[str | None] = mapped_column(ForeignKey("parties.id"))
    exclusivity: Mapped[str | None] = mapped_column(String(20))
    journal_seq: Mapped[int] = mapped_column(ForeignKey("journal_entries.seq"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
