"""With the default `manual` provider, nothing about Stripe is reachable and withdrawals wait
for the operator, as before."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import World, assert_problem, money, tree_size
from tests.conftest import Caller


def test_card_payments_are_refused_with_the_manual_provider(world: World, client: Any) -> None:
    size = tree_size(client)
    response = world.investor.post("/v1/payments/stripe/deposits", {"amount": money("5.00")})
    assert_problem(response, 409, slug="conflict")
    assert "manual" in response.json["detail"]
    link = world.alice.post("/v1/payments/stripe/connected-account",
                            {"account_id": "acct_123456"})
    assert_problem(link, 409)
    assert tree_size(client) == size


def test_the_webhook_does_not_exist_with_the_manual_provider(client: Any) -> None:
    response = client.post("/v1/payments/stripe/webhook", data="{}",
                           headers={"Stripe-Signature": "t=1,v1=00"})
    assert_problem(response, 404)


def test_withdrawals_still_wait_for_the_operator(world: World, op: Caller) -> None:
    requested = world.investor.post("/v1/withdrawals", {"amount": money("10.00")})
    assert requested.status_code == 201 and requested.json["status"] == "requested"
    paid = op.post(f"/v1/withdrawals/{requested.json['id']}/paid")
    assert paid.status_code == 200 and paid.json["status"] == "paid"


def test_reconciliation_needs_a_provider_and_the_operator(world: World, op: Caller) -> None:
    window = {"from": "2026-01-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"}
    assert_problem(world.alice.get("/v1/payments/stripe/reconciliation",
                                   query_string=window), 403)
    assert_problem(op.get("/v1/payments/stripe/reconciliation", query_string=window), 409)
    assert_problem(op.get("/v1/payments/stripe/reconciliation",
                          query_string={"from": "yesterday", "to": "2026-02-01T00:00:00Z"}),
                   422, fields=["from"])
