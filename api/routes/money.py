"""Balances, holdings, deposits, withdrawals and unit transfers."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_smorest import Blueprint

from api import auth
from api.context import caller, read_uow, uow
from api.schemas.money import (
    BalanceSchema,
    DepositCreateSchema,
    DepositSchema,
    HoldingSchema,
    UnitTransferCreateSchema,
    UnitTransferSchema,
    WithdrawalCreateSchema,
    WithdrawalSchema,
)
from ledger.services import assets, money
from ledger.services.money import PayoutRoute

blp = Blueprint("money", __name__, url_prefix="/v1", description="Money and units")

# Where the app factory puts the payment provider's payout route (None: paid by hand).
PAYOUT_ROUTE = "ipx_payout_route"


def _payout_route() -> PayoutRoute | None:
    route: PayoutRoute | None = current_app.extensions.get(PAYOUT_ROUTE)
    return route


@blp.route("/accounts", methods=["GET"])
@blp.response(200, BalanceSchema(many=True))
@auth.required
def accounts() -> Any:
    """The caller's balances per currency."""
    return money.account_balances(read_uow(), caller())


@blp.route("/holdings", methods=["GET"])
@blp.response(200, HoldingSchema(many=True))
@auth.required
def holdings() -> Any:
    """The caller's units per instrument, and how many of them are held."""
    return assets.holdings_of(read_uow(), caller())


@blp.route("/deposits", methods=["POST"])
@blp.arguments(DepositCreateSchema)
@blp.response(201, DepositSchema)
@auth.required
def deposit(body: dict[str, Any]) -> Any:
    """The operator records money received for a party (manual provider).

    The `reference` is the deposit's client id: the same reference twice records one deposit.
    """
    amount = body["amount"]
    return money.deposit(uow(), caller(), body["party_id"], amount["amount"], amount["currency"],
                         body["reference"], client_id=f"deposit:{body['reference']}")


@blp.route("/withdrawals", methods=["POST"])
@blp.arguments(WithdrawalCreateSchema)
@blp.response(201, WithdrawalSchema)
@auth.required
def withdraw(body: dict[str, Any]) -> Any:
    """Ask to be paid out: the amount leaves the available balance at once."""
    amount = body["amount"]
    return money.request_withdrawal(uow(), caller(), amount["amount"], amount["currency"],
                                    route=_payout_route())


@blp.route("/withdrawals/<withdrawal_id>/paid", methods=["POST"])
@blp.response(200, WithdrawalSchema)
@auth.required
def withdrawal_paid(withdrawal_id: str) -> Any:
    """The operator confirms the payout was made."""
    return money.settle_withdrawal(uow(), caller(), withdrawal_id, paid=True,
                                   route=_payout_route())


@blp.route("/withdrawals/<withdrawal_id>/cancel", methods=["POST"])
@blp.response(200, WithdrawalSchema)
@auth.required
def withdrawal_cancel(withdrawal_id: str) -> Any:
    """The operator cancels a payout; the money returns to the party's available balance."""
    return money.settle_withdrawal(uow(), caller(), withdrawal_id, paid=False,
                                   route=_payout_route())


@blp.route("/unit-transfers", methods=["POST"])
@blp.arguments(UnitTransferCreateSchema)
@blp.response(201, UnitTransferSchema)
@auth.required
def transfer_units(body: dict[str, Any]) -> Any:
    """Give units you hold to another party, off-exchange."""
    seq = assets.transfer_units(uow(), caller(), body["instrument_id"], body["to_party_id"],
                                body["units"], body["reference"])
    return {"journal_seq": seq}
