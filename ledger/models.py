"""Relational tables of the system of record.

The journal tables (`journal_entries`, `journal_entry_parties`, `merkle_nodes`, `checkpoints`) are
append-only; every other table is a projection that a replay of the journal rebuilds.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ledger.db import Base, UtcDateTime

Id = String(40)
# Rows updated far more often than inserted (balances, holdings): free space in each page lets
# PostgreSQL update them in place without touching an index (migration 0009).
UPDATED_IN_PLACE = {"postgresql_with": {"fillfactor": 50}}


class Party(Base):
    __tablename__ = "parties"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    party_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class JournalEntry(Base):
    __tablename__ = "journal_entries"

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                     primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(60))
    body: Mapped[str] = mapped_column(Text)  # RFC 8785 canonical JSON, exactly as hashed
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    chain_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class JournalEntryParty(Base):
    """The parties an entry names other than through its postings (the actor, the parties of
    its unit moves, others it concerns): with the owners of the accounts it posts to, who may
    read it. The account owners are not repeated here: a distribution posts to 100,000."""

    __tablename__ = "journal_entry_parties"

    party_id: Mapped[str] = mapped_column(Id, primary_key=True)
    seq: Mapped[int] = mapped_column(ForeignKey("journal_entries.seq"), primary_key=True)


class MerkleNode(Base):
    """A perfect subtree hash of level >= 1: covers leaves [idx * 2**level, (idx+1) * 2**level)."""

    __tablename__ = "merkle_nodes"

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                     primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class JournalHead(Base):
    """The one row every writer locks to append: size, chain head and Merkle frontier."""

    __tablename__ = "journal_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInteger)
    chain_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    frontier: Mapped[bytes] = mapped_column(LargeBinary)


class Checkpoint(Base):
    __tablename__ = "checkpoints"

    tree_size: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                           primary_key=True, autoincrement=False)
    origin: Mapped[str] = mapped_column(String(200))
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    key_id: Mapped[bytes] = mapped_column(LargeBinary(4))
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Account(Base):
    """A money account in one currency. `code` is stable and names the account in the journal."""

    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint("allow_negative OR balance_minor >= 0", name="no_overdraft"),
        UPDATED_IN_PLACE,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(120), unique=True)
    party_id: Mapped[str | None] = mapped_column(ForeignKey("parties.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    purpose: Mapped[str] = mapped_column(String(20))
    balance_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    allow_negative: Mapped[bool] = mapped_column(Boolean, default=False)


class MoneyTransaction(Base):
    __tablename__ = "money_transactions"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    client_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(40))
    journal_seq: Mapped[int] = mapped_column(ForeignKey("journal_entries.seq"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Posting(Base):
    """Posting `line` of journal entry `journal_seq` (its place in the entry's "postings"): one
    amount to one account. Keyed by account first, the key is the one index: a party's postings
    (statements) and whether an entry posts to one of its accounts (read_entry) are ranges of
    it, and each posting costs one index insertion, with no row id or sequence to draw. The
    entry's money transaction is the one with its `journal_seq`. On PostgreSQL the two
    references are checked once per inserted statement, not per row, and postings, their
    entries and accounts are never deleted or re-keyed (migrations 0011, 0020); SQLite keeps
    per-row foreign keys."""

    __tablename__ = "postings"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    journal_seq: Mapped[int] = mapped_column(ForeignKey("journal_entries.seq"), primary_key=True)
    line: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    amount_minor: Mapped[int] = mapped_column(BigInteger)


class Withdrawal(Base):
    __tablename__ = "withdrawals"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    party_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Policy(Base):
    __tablename__ = "policies"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    body: Mapped[str] = mapped_column(Text)  # canonical JSON of the policy
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Asset(Base):
    __tablename__ = "assets"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    title: Mapped[str] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(20))
    jurisdiction: Mapped[str] = mapped_column(String(10))
    application_number: Mapped[str | None] = mapped_column(String(100))
    publication_number: Mapped[str | None] = mapped_column(String(100))
    currency: Mapped[str] = mapped_column(String(3))
    policy_id: Mapped[str] = mapped_column(ForeignKey("policies.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AssetInventor(Base):
    __tablename__ = "asset_inventors"

    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id"), primary_key=True)
    party_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), primary_key=True)
    share: Mapped[str] = mapped_column(String(40))  # exact decimal string


class AssetCost(Base):
    __tablename__ = "asset_costs"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    description: Mapped[str] = mapped_column(String(500))
    journal_seq: Mapped[int] = mapped_column(ForeignKey("journal_entries.seq"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Instrument(Base):
    """One class of an asset's revenue units: the register that holdings count against."""

    __tablename__ = "instruments"
    __table_args__ = (UniqueConstraint("asset_id", "unit_class"),)

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id"), index=True)
    unit_class: Mapped[str] = mapped_column(String(40))
    total_units: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))


class Holding(Base):
    __tablename__ = "holdings"
    __table_args__ = (
        CheckConstraint("held_units >= 0 AND held_units <= units", name="held_within_units"),
        UPDATED_IN_PLACE,
    )

    party_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), primary_key=True)
    instrument_id: Mapped[str] = mapped_column(ForeignKey("instruments.id"), primary_key=True,
                                               index=True)
    units: Mapped[int] = mapped_column(BigInteger, default=0)
    held_units: Mapped[int] = mapped_column(BigInteger, default=0)
    # The holder's available account in the instrument's currency, opened with the holding:
    # where the revenue on these units is paid. NULL for a holder who had none (migration
    # 0021); a distribution then reads that account by code.
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))


class Setting(Base):
    """Operator-set parameters (e.g. the platform fee), each change journalled."""

    __tablename__ = "settings"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class IdempotencyRecord(Base):
    """The first response to a state-changing request, replayed on a retry with the same key."""

    __tablename__ = "idempotency_records"

    party_id: Mapped[str] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    content_type: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Distribution(Base):
    """One receipt of an asset's revenue, split by the asset's pinned policy."""

    __tablename__ = "distributions"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id"), index=True)
    journal_seq: Mapped[int] = mapped_column(ForeignKey("journal_entries.seq"))
    currency: Mapped[str] = mapped_column(String(3))
    gross_minor: Mapped[int] = mapped_column(BigInteger)
    net_minor: Mapped[int] = mapped_column(BigInteger)
    cost_recovered_minor: Mapped[int] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(20))
    reference: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
