"""The `manual` provider: the operator records receipts (`POST /v1/deposits`) and payouts
(`POST /v1/withdrawals/{id}/paid`) by hand, so there is nothing to call."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ledger.errors import Conflict, NotFound
from payments.provider import (
    BalanceMovement,
    ConnectedAccountInfo,
    CreatedIntent,
    CreatedTransfer,
    Event,
    IntentRequest,
    TransferRequest,
)

_WHY = ("payments run through the manual provider: the operator records deposits and "
        "payouts by hand")


class ManualProvider:
    name = "manual"

    def require_collection(self) -> None:
        raise Conflict(_WHY)

    def create_payment_intent(self, request: IntentRequest) -> CreatedIntent:
        raise Conflict(_WHY)

    def retrieve_payment_intent(self, intent_id: str) -> CreatedIntent:
        raise Conflict(_WHY)

    def parse_event(self, payload: bytes, signature: str | None) -> Event:
        raise NotFound("no webhooks are taken: " + _WHY)

    def retrieve_connected_account(self, account_id: str) -> ConnectedAccountInfo:
        raise Conflict(_WHY)

    def create_transfer(self, request: TransferRequest) -> CreatedTransfer:
        raise Conflict(_WHY)

    def balance_movements(self, start: datetime, end: datetime) -> Sequence[BalanceMovement]:
        raise Conflict(_WHY)
