"""The `stripe` provider: PaymentIntents to collect, Connect transfers to pay out ("separate
charges and transfers"), signed webhooks, balance transactions for reconciliation.

The only module that imports the Stripe SDK. Every call that creates something carries an
idempotency key derived from the IPX object, so a retry can never pay or collect twice.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stripe

from ledger.errors import Conflict, InvalidInput
from payments.amounts import normalise_currency
from payments.provider import (
    BadWebhook,
    BalanceMovement,
    ConnectedAccountInfo,
    CreatedIntent,
    CreatedTransfer,
    Event,
    IntentRequest,
    ProviderUnavailable,
    TransferDeclined,
    TransferRequest,
)

WEBHOOK_TOLERANCE_SECONDS = 300


@dataclass(frozen=True)
class StripeSettings:
    secret_key: str
    webhook_secret: str
    api_base: str | None = None  # a local fake in tests; Stripe's own address otherwise
    connect_base: str | None = None
    max_network_retries: int = 2


def _unavailable(error: stripe.StripeError) -> bool:
    """Errors whose outcome is unknown or passing (retry with the same key), as opposed to a
    request Stripe understood and refused."""
    return isinstance(error, stripe.APIConnectionError | stripe.RateLimitError
                      | stripe.AuthenticationError) or (
        isinstance(error, stripe.APIError) and not isinstance(
            error, stripe.InvalidRequestError | stripe.CardError | stripe.PermissionError))


def _at(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


class StripeProvider:
    name = "stripe"

    def __init__(self, settings: StripeSettings,
                 http_client: stripe.HTTPClient | None = None) -> None:
        self._settings = settings
        bases: dict[str, str] = {}
        if settings.api_base:
            bases["api"] = settings.api_base
        if settings.connect_base:
            bases["connect"] = settings.connect_base
        self._client = stripe.StripeClient(
            settings.secret_key, base_addresses=bases,  # type: ignore[arg-type]
            http_client=http_client,
            max_network_retries=settings.max_network_retries,
        )

    # --- collecting ----------------------------------------------------------------------

    def require_collection(self) -> None:
        return None

    def create_payment_intent(self, request: IntentRequest) -> CreatedIntent:
        params: dict[str, Any] = {
            "amount": request.amount,
            "currency": request.currency.lower(),
            "metadata": dict(request.metadata),
            "transfer_group": request.transfer_group,
            "description": request.description,
            "payment_method_types": ["card"],
        }
        try:
            intent = self._client.v1.payment_intents.create(
                params,  # type: ignore[arg-type]
                {"idempotency_key": request.idempotency_key})
        except stripe.StripeError as error:
            if _unavailable(error):
                raise ProviderUnavailable(str(error)) from error
            raise Conflict(f"Stripe refused the payment: {error.user_message or error}",
                           field="amount") from error
        return CreatedIntent(intent.id, intent.client_secret or "", intent.amount,
                             normalise_currency(intent.currency), intent.status)

    def retrieve_payment_intent(self, intent_id: str) -> CreatedIntent:
        try:
            intent = self._client.v1.payment_intents.retrieve(intent_id)
        except stripe.StripeError as error:
            raise ProviderUnavailable(str(error)) from error
        return CreatedIntent(intent.id, intent.client_secret or "", intent.amount,
                             normalise_currency(intent.currency), intent.status)

    # --- webhooks ------------------------------------------------------------------------

    def parse_event(self, payload: bytes, signature: str | None) -> Event:
        try:
            stripe.WebhookSignature.verify_header(
                payload, signature, self._settings.webhook_secret,
                tolerance=WEBHOOK_TOLERANCE_SECONDS)
        except stripe.SignatureVerificationError as error:
            raise BadWebhook(str(error).split(";")[0], field="Stripe-Signature") from None
        except UnicodeDecodeError:
            raise BadWebhook("the body is not UTF-8", field="body") from None
        try:
            body = json.loads(payload)
            obj = body["data"]["object"]
            event = Event(id=body["id"], type=body["type"], created=_at(int(body["created"])),
                          object=obj, account=body.get("account"))
        except (ValueError, KeyError, TypeError, OverflowError, OSError):
            raise BadWebhook("the body is not a Stripe event", field="body") from None
        if not (isinstance(event.id, str) and event.id and isinstance(event.type, str)
                and isinstance(obj, dict)):
            raise BadWebhook("the body is not a Stripe event", field="body")
        return event

    # --- paying out ----------------------------------------------------------------------

    def retrieve_connected_account(self, account_id: str) -> ConnectedAccountInfo:
        try:
            account = self._client.v1.accounts.retrieve(account_id)
        except stripe.StripeError as error:
            if _unavailable(error):
                raise ProviderUnavailable(str(error)) from error
            raise InvalidInput(f"Stripe knows no account '{account_id}'",
                               field="account_id") from error
        fields = account.to_dict()
        return ConnectedAccountInfo(account.id, bool(fields.get("payouts_enabled")), fields)

    def create_transfer(self, request: TransferRequest) -> CreatedTransfer:
        params: dict[str, Any] = {
            "amount": request.amount,
            "currency": request.currency.lower(),
            "destination": request.destination,
            "transfer_group": request.transfer_group,
            "metadata": dict(request.metadata),
        }
        try:
            transfer = self._client.v1.transfers.create(
                params,  # type: ignore[arg-type]
                {"idempotency_key": request.idempotency_key})
        except stripe.StripeError as error:
            if _unavailable(error):
                raise ProviderUnavailable(str(error)) from error
            raise TransferDeclined(error.user_message or str(error)) from error
        return CreatedTransfer(transfer.id, transfer.amount, normalise_currency(transfer.currency))

    # --- reconciliation ------------------------------------------------------------------

    def balance_movements(self, start: datetime, end: datetime) -> Sequence[BalanceMovement]:
        params: dict[str, Any] = {"created": {"gte": int(start.timestamp()),
                                              "lt": int(end.timestamp())},
                                  "limit": 100, "expand": ["data.source"]}
        try:
            page = self._client.v1.balance_transactions.list(params)  # type: ignore[arg-type]
            rows = list(page.auto_paging_iter())
        except stripe.StripeError as error:
            raise ProviderUnavailable(str(error)) from error
        movements = []
        for row in rows:
            bt = row.to_dict()  # StripeObjects are not dicts; expanded sources become dicts
            movements.append(BalanceMovement(
                id=bt["id"], type=bt["type"], source=_id(bt.get("source")), origin=_origin(bt),
                amount=int(bt["amount"]), fee=int(bt.get("fee") or 0),
                currency=normalise_currency(bt["currency"]), created=_at(int(bt["created"]))))
        return movements


def _id(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return str(value["id"])


def _origin(bt: dict[str, Any]) -> str | None:
    """The charge a refund refunds, the transfer a reversal reverses; else the source."""
    source = bt.get("source")
    if source is None or isinstance(source, str):
        return source
    for parent in ("charge", "transfer"):
        if source.get("object") in ("refund", "transfer_reversal") and source.get(parent):
            return _id(source[parent])
    return str(source["id"])
