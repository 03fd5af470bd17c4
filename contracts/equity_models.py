"""Tables of equity-for-IP deals: start-ups' share capital, deals and their steps.

A start-up's cap table as recorded on IPX is the rows of ``startups`` (the issuer's legal
details and its option pool), ``startup_share_classes``, ``startup_stakeholders`` and
``startup_share_transactions`` (issuances and transfers, in ``position`` order); the pure
:class:`contracts.cap_table.CapTable` is rebuilt from them. Every row is written in the same
transaction as the journal entry that records it (``journal_seq``).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ledger.db import Base, UtcDateTime

Id = String(40)
StakeholderId = String(128)  # cap-table ids: parties' ids, or the start-up's own (founders)


class Startup(Base):
    """A start-up's registered share capital: its legal details and option pool."""

    __tablename__ = "startups"

    party_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), primary_key=True)
    legal_name: Mapped[str] = mapped_column(String(200))
    formation_date: Mapped[date] = mapped_column(Date)
    country_of_formation: Mapped[str] = mapped_column(String(2))
    currency: Mapped[str] = mapped_column(String(3))
    pool_class: Mapped[str | None] = mapped_column(String(40))
    pool_reserved: Mapped[int | None] = mapped_column(BigInteger)
    pool_name: Mapped[str | None] = mapped_column(String(200))
    journal_seq: Mapped[int] = mapped_column(ForeignKey("journal_entries.seq"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class StartupShareClass(Base):
    """A class of the start-up's shares. ``instrument_id`` is the ledger instrument whose
    units are this class's shares held on IPX, once a deal has issued some."""

    __tablename__ = "startup_share_classes"

    startup_id: Mapped[str] = mapped_column(ForeignKey("startups.party_id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    authorised: Mapped[int] = mapped_column(BigInteger)
    seniority: Mapped[int | None] = mapped_column(Integer)
    class_type: Mapped[str] = mapped_column(String(10))
    votes_per_share: Mapped[int] = mapped_column(Integer)
    instrument_id: Mapped[str | None] = mapped_column(ForeignKey("instruments.id"),
                                                      unique=True)


class StartupStakeholder(Base):
    """Someone who may hold the start-up's shares (an IPX party or, e.g., a founder)."""

    __tablename__ = "startup_stakeholders"

    startup_id: Mapped[str] = mapped_column(ForeignKey("startups.party_id"), primary_key=True)
    stakeholder_id: Mapped[str] = mapped_column(StakeholderId, primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(12))


class StartupShareTransaction(Base):
    """An issuance (``from_stakeholder`` None) or a transfer of the start-up's shares."""

    __tablename__ = "startup_share_transactions"

    startup_id: Mapped[str] = mapped_column(ForeignKey("startups.party_id"), primary_key=True)
    id: Mapped[str] = mapped_column(StakeholderId, primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(10))  # issuance | transfer
    share_class: Mapped[str] = mapped_column(String(40))
    from_stakeholder: Mapped[str | None] = mapped_column(StakeholderId)
    to_stakeholder: Mapped[str] = mapped_column(StakeholderId)
    shares: Mapped[int] = mapped_column(BigInteger)
    tx_date: Mapped[date] = mapped_column(Date)
    price_per_share: Mapped[str | None] = mapped_column(String(40))  # exact decimal string
    consideration: Mapped[str | None] = mapped_column(Text)
    deal_id: Mapped[str | None] = mapped_column(ForeignKey("equity_deals.id"))
    journal_seq: Mapped[int] = mapped_column(ForeignKey("journal_entries.seq"))


class EquityDeal(Base):
    """A deal: the start-up's shares (and optional cash, royalty) for a licence of an asset.

    ``terms`` is the canonical JSON of the deal terms on the table (made by ``offered_by``),
    ``licence_terms`` that of the licence they name; ``cap_*`` the cap that applied.
    """

    __tablename__ = "equity_deals"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    startup_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    university_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id"), index=True)
    state: Mapped[str] = mapped_column(String(20))
    terms: Mapped[str] = mapped_column(Text)
    terms_hash: Mapped[str] = mapped_column(String(64))
    licence_terms: Mapped[str] = mapped_column(Text)
    licence_terms_hash: Mapped[str] = mapped_column(String(64))
    offered_by: Mapped[str] = mapped_column(ForeignKey("parties.id"))
    cap_policy: Mapped[str] = mapped_column(String(100))
    cap_percent: Mapped[str] = mapped_column(String(40))
    grant_id: Mapped[str | None] = mapped_column(ForeignKey("licence_grants.id"))
    instrument_id: Mapped[str | None] = mapped_column(ForeignKey("instruments.id"))
    issuance_id: Mapped[str | None] = mapped_column(StakeholderId)
    journal_seq: Mapped[int] = mapped_column(ForeignKey("journal_entries.seq"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class EquityDealStep(Base):
    """One recorded step of a deal: who did what, when, on which terms (by hash)."""

    __tablename__ = "equity_deal_steps"

    deal_id: Mapped[str] = mapped_column(ForeignKey("equity_deals.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    event: Mapped[str] = mapped_column(String(20))
    by_party_id: Mapped[str] = mapped_column(ForeignKey("parties.id"))
    state: Mapped[str] = mapped_column(String(20))
    terms_hash: Mapped[str | None] = mapped_column(String(64))
    licence_terms_hash: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    journal_seq: Mapped[int] = mapped_column(ForeignKey("journal_entries.seq"))
    at: Mapped[datetime] = mapped_column(UtcDateTime())


class EquityProceeds(Base):
    """Money the university's equity from a deal brought in (a dividend, an exit, a sale of
    its units), distributed as revenue of the deal's asset (``distribution_id``)."""

    __tablename__ = "equity_proceeds"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    deal_id: Mapped[str] = mapped_column(ForeignKey("equity_deals.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # dividend | exit | sale
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    reference: Mapped[str] = mapped_column(String(200))
    distribution_id: Mapped[str] = mapped_column(ForeignKey("distributions.id"))
    journal_seq: Mapped[int] = mapped_column(ForeignKey("journal_entries.seq"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
