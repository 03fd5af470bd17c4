"""Tables of payment providers: intents, connected accounts, transfers and processed events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ledger.db import Base, UtcDateTime
from ledger.models import Id


class PaymentIntent(Base):
    """Money a party pays in through the provider: a deposit to its account, or an invoice."""

    __tablename__ = "payment_intents"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    party_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(10))  # deposit | invoice
    # One intent per invoice: retries and new payment methods reuse it.
    invoice_id: Mapped[str | None] = mapped_column(ForeignKey("invoices.id"), unique=True)
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    provider: Mapped[str] = mapped_column(String(20))
    provider_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    # creating -> open -> succeeded (-> refunded) ; open -> failed -> succeeded on a retry
    status: Mapped[str] = mapped_column(String(20))
    failure: Mapped[str | None] = mapped_column(String(500))
    journal_seq: Mapped[int | None] = mapped_column(BigInteger)  # the credit, once received
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ConnectedAccount(Base):
    """A party's account at the provider that its withdrawals are transferred to."""

    __tablename__ = "payment_connected_accounts"

    party_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    provider_account_id: Mapped[str] = mapped_column(String(255), unique=True)
    payouts_status: Mapped[str] = mapped_column(String(20))  # ok | failing
    last_failure: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class PayoutTransfer(Base):
    """A withdrawal paid out as a transfer to the party's connected account."""

    __tablename__ = "payment_transfers"

    withdrawal_id: Mapped[str] = mapped_column(ForeignKey("withdrawals.id"), primary_key=True)
    party_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    destination: Mapped[str] = mapped_column(String(255))
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    reversed_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    provider_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    # pending -> paid (-> reversed) | failed ; pending stays pending when the outcome is unknown
    status: Mapped[str] = mapped_column(String(20))
    failure: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ProviderEvent(Base):
    """A webhook event processed (at most once: the primary key, in the same transaction as
    whatever the event changed)."""

    __tablename__ = "payment_events"

    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    type: Mapped[str] = mapped_column(String(100))
    outcome: Mapped[str] = mapped_column(String(200))
    journal_seq: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())  # when the provider made it
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
