"""Tables of agreements: licence offers, grants, royalty reports and invoices."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ledger.db import Base, UtcDateTime

Id = String(40)


class LicenceOffer(Base):
    """Terms a grantor publishes; fixed (accept as is) or open to negotiation."""

    __tablename__ = "licence_offers"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    grantor_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    licensee_id: Mapped[str | None] = mapped_column(ForeignKey("parties.id"))
    terms: Mapped[str] = mapped_column(Text)  # canonical JSON of the current terms
    terms_hash: Mapped[str] = mapped_column(String(64))
    negotiable: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(30))
    grantor_accepted_hash: Mapped[str | None] = mapped_column(String(64))
    licensee_accepted_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class LicenceGrant(Base):
    __tablename__ = "licence_grants"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    offer_id: Mapped[str] = mapped_column(ForeignKey("licence_offers.id"), index=True)
    grantor_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    licensee_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    exclusivity: Mapped[str] = mapped_column(String(20))
    terms: Mapped[str] = mapped_column(Text)
    terms_hash: Mapped[str] = mapped_column(String(64))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20))
    cumulative_sales_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    journal_seq: Mapped[int] = mapped_column(ForeignKey("journal_entries.seq"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class GrantAsset(Base):
    """The assets a grant covers: where conflict checks look."""

    __tablename__ = "licence_grant_assets"

    grant_id: Mapped[str] = mapped_column(ForeignKey("licence_grants.id"), primary_key=True)
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id"), primary_key=True,
                                          index=True)


class RoyaltyReport(Base):
    __tablename__ = "royalty_reports"
    __table_args__ = (UniqueConstraint("grant_id", "period_start"),)

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    grant_id: Mapped[str] = mapped_column(ForeignKey("licence_grants.id"), index=True)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    net_sales_minor: Mapped[int] = mapped_column(BigInteger)
    third_party_minor: Mapped[int] = mapped_column(BigInteger)
    royalty_minor: Mapped[int] = mapped_column(BigInteger)
    breakdown: Mapped[str] = mapped_column(Text)  # JSON of the computation
    journal_seq: Mapped[int] = mapped_column(ForeignKey("journal_entries.seq"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Invoice(Base):
    """Money a licensee owes under a grant; paying it is revenue of the grant's assets."""

    __tablename__ = "invoices"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    grant_id: Mapped[str] = mapped_column(ForeignKey("licence_grants.id"), index=True)
    payer_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    payee_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    source: Mapped[str] = mapped_column(String(20))  # the revenue source when paid
    description: Mapped[str] = mapped_column(String(300))
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(10))
    journal_seq: Mapped[int] = mapped_column(ForeignKey("journal_entries.seq"))
    paid_seq: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class LicenceUnitTranche(Base):
    """A tranche of licence units: ``units`` rights of ``products_per_unit`` products each
    under one standard non-exclusive licence, sold at a fixed price until ``closes_at``.

    Its units are the ledger instrument ``instrument_id`` (no units exist until the close).
    ``sold`` counts subscribed units; ``burned`` counts units consumed since.
    """

    __tablename__ = "licence_unit_tranches"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    grantor_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id"), index=True)
    instrument_id: Mapped[str] = mapped_column(ForeignKey("instruments.id"), unique=True)
    terms: Mapped[str] = mapped_column(Text)  # canonical JSON of the licence terms
    terms_hash: Mapped[str] = mapped_column(String(64))
    units: Mapped[int] = mapped_column(BigInteger)
    products_per_unit: Mapped[int] = mapped_column(BigInteger)
    price_minor: Mapped[int] = mapped_column(BigInteger)  # per unit
    currency: Mapped[str] = mapped_column(String(3))
    closes_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sold: Mapped[int] = mapped_column(BigInteger, default=0)
    burned: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(20), index=True)
    journal_seq: Mapped[int] = mapped_column(ForeignKey("journal_entries.seq"))
    closed_seq: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class LicenceUnitSubscription(Base):
    """Units a buyer subscribed for; its cash is held until the tranche closes."""

    __tablename__ = "licence_unit_subscriptions"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    tranche_id: Mapped[str] = mapped_column(ForeignKey("licence_unit_tranches.id"), index=True)
    party_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    units: Mapped[int] = mapped_column(BigInteger)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(10))  # held, then paid at the close
    journal_seq: Mapped[int] = mapped_column(ForeignKey("journal_entries.seq"))
    paid_seq: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class LicenceUnitProduction(Base):
    """What one holder has reported making under a tranche's licence, and the units it burned."""

    __tablename__ = "licence_unit_production"

    tranche_id: Mapped[str] = mapped_column(ForeignKey("licence_unit_tranches.id"),
                                            primary_key=True)
    party_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), primary_key=True)
    products: Mapped[int] = mapped_column(BigInteger)
    units_consumed: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
