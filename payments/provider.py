"""The payment provider interface: what IPX asks of whoever moves money outside it.

Services in payments/ speak only to this interface; which provider runs is chosen once, from
configuration, by the application factory or the command line (`payments.config`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from ledger.errors import DomainError


class BadWebhook(DomainError):
    """An incoming webhook that is unsigned, wrongly signed, stale or malformed (HTTP 400)."""

    slug = "bad-webhook"


class TransferDeclined(Exception):
    """The provider refused a transfer for good: nothing moved, the withdrawal can be undone."""


class ProviderUnavailable(DomainError):
    """The provider could not be reached or failed: the outcome is unknown, retry later with the
    same idempotency key (HTTP 503)."""

    slug = "provider-unavailable"


@dataclass(frozen=True)
class IntentRequest:
    amount: int  # in the provider's integer units (payments.amounts)
    currency: str  # ISO 4217, upper case
    idempotency_key: str
    transfer_group: str
    metadata: Mapping[str, str]
    description: str


@dataclass(frozen=True)
class CreatedIntent:
    id: str
    client_secret: str
    amount: int
    currency: str
    status: str


@dataclass(frozen=True)
class TransferRequest:
    amount: int
    currency: str
    destination: str
    idempotency_key: str
    transfer_group: str
    metadata: Mapping[str, str]


@dataclass(frozen=True)
class CreatedTransfer:
    id: str
    amount: int
    currency: str


@dataclass(frozen=True)
class Event:
    """A verified webhook event."""

    id: str
    type: str
    created: datetime
    object: Mapping[str, Any]
    account: str | None = None  # the connected account it happened on, if any


@dataclass(frozen=True)
class BalanceMovement:
    """One of the provider's balance transactions: money in (+) or out (-) of IPX's balance."""

    id: str
    type: str
    source: str | None
    origin: str | None  # the charge or transfer the source belongs to (itself, or refunded)
    amount: int
    fee: int
    currency: str  # ISO 4217, upper case
    created: datetime


@dataclass(frozen=True)
class ConnectedAccountInfo:
    id: str
    payouts_enabled: bool
    details: Mapping[str, Any] = field(default_factory=dict)


class PaymentProvider(Protocol):
    """What a provider does for IPX. `manual` does none of it: the operator does it by hand."""

    name: str

    def require_collection(self) -> None:
        """Raise Conflict unless this provider collects payments itself."""

    def create_payment_intent(self, request: IntentRequest) -> CreatedIntent: ...

    def retrieve_payment_intent(self, intent_id: str) -> CreatedIntent: ...

    def parse_event(self, payload: bytes, signature: str | None) -> Event: ...

    def retrieve_connected_account(self, account_id: str) -> ConnectedAccountInfo: ...

    def create_transfer(self, request: TransferRequest) -> CreatedTransfer: ...

    def balance_movements(self, start: datetime, end: datetime) -> Sequence[BalanceMovement]: ...
