"""Payments through Stripe over HTTP: the app configured with `stripe` against localstripe
(PaymentIntents, charges) and recorded Connect responses; webhooks signed as Stripe signs."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import stripe
from flask import Flask

from api.app import create_app
from api.config import Settings
from payments.config import PaymentSettings
from tests.api.conftest import World, assert_problem, balances, money, tree_size
from tests.conftest import ORIGIN, Caller
from tests.stripe_fakes import LocalStripe, RecordedConnect, event_payload, sign_webhook

SECRET = "whsec_api_test_secret"
WEBHOOK = "/v1/payments/stripe/webhook"


@pytest.fixture(scope="module")
def localstripe() -> Iterator[str]:
    with LocalStripe() as url:
        yield url


@pytest.fixture
def connect(localstripe: str) -> RecordedConnect:
    return RecordedConnect(delegate_base=localstripe)


@pytest.fixture
def app(sqlite_url: str, home: Path, localstripe: str,
        connect: RecordedConnect) -> Iterator[Flask]:
    """The application with IPX_PAYMENTS_PROVIDER=stripe (overrides tests/conftest.py's)."""
    application = create_app(Settings(
        database_url=sqlite_url, home=home, origin=ORIGIN,
        payments=PaymentSettings(provider="stripe", stripe_secret_key="sk_test_ipx",
                                 stripe_webhook_secret=SECRET, stripe_api_base=localstripe,
                                 stripe_http_client=connect)))
    application.config["TESTING"] = True
    yield application
    application.extensions["ipx"].dispose()


@pytest.fixture
def customer(localstripe: str) -> stripe.StripeClient:
    return stripe.StripeClient("sk_test_customer", base_addresses={"api": localstripe})


def confirm(customer: stripe.StripeClient, intent_id: str) -> dict[str, Any]:
    method = customer.v1.payment_methods.create({"type": "card", "card": {
        "number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}})
    customer.v1.payment_intents.update(intent_id, {"payment_method": method.id})
    customer.v1.payment_intents.confirm(intent_id)
    intent: dict[str, Any] = json.loads(json.dumps(
        customer.v1.payment_intents.retrieve(intent_id).to_dict()))
    return intent


def post_event(client: Any, payload: str, header: str | None) -> Any:
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["Stripe-Signature"] = header
    return client.post(WEBHOOK, data=payload, headers=headers)


def available(caller: Caller, currency: str = "HKD") -> str:
    return next((b["available"] for b in balances(caller) if b["currency"] == currency), "0")


def reconciliation(op: Caller) -> dict[str, Any]:
    response = op.get("/v1/payments/stripe/reconciliation",
                      query_string={"from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"})
    assert response.status_code == 200, response.json
    body: dict[str, Any] = response.json
    return body


def pay_by_card(client: Any, customer: stripe.StripeClient, created: dict[str, Any]) -> Any:
    intent = confirm(customer, created["provider_id"])
    payload = event_payload("payment_intent.succeeded", intent)
    response = post_event(client, payload, sign_webhook(payload, SECRET))
    assert response.status_code == 200, response.json
    return payload


def test_fund_pay_an_invoice_withdraw_and_reconcile(
        world: World, client: Any, customer: stripe.StripeClient, connect: RecordedConnect,
        new_caller: Callable[..., Caller]) -> None:
    # An investor funds their account by card.
    created = world.investor.post("/v1/payments/stripe/deposits",
                                  {"amount": money("500.00")})
    assert created.status_code == 201, created.json
    body = created.json
    assert body["amount"] == money("500.00") and body["status"] == "open"
    assert body["client_secret"].startswith(body["provider_id"])
    assert available(world.investor) == "1000.00"  # the manual seed deposit only, so far
    payload = pay_by_card(client, customer, body)
    assert available(world.investor) == "1500.00"
    # Stripe delivers the event again: acknowledged, and nothing changes.
    size = tree_size(client)
    again = post_event(client, payload, sign_webhook(payload, SECRET))
    assert again.status_code == 200 and again.json["duplicate"] is True
    assert tree_size(client) == size and available(world.investor) == "1500.00"
    seen = world.investor.get(f"/v1/payments/{body['id']}")
    assert seen.status_code == 200 and seen.json["status"] == "succeeded"
    assert world.alice.get(f"/v1/payments/{body['id']}").status_code == 404

    # A licensee pays an invoice by card; it is distributed to the asset's holders.
    acme = new_caller("company", "Acme")
    offer = world.uni.post("/v1/licence-offers", {"terms": {
        "schema": "ipx.licence-terms/1", "grantor": world.uni.party_id,
        "assets": [world.asset["id"]], "licensee": acme.party_id,
        "exclusivity": "non_exclusive",
        "field_of_use": [{"code": "wearables", "label": "Wearables"}], "territory": ["HK"],
        "start": "2026-01-01", "end": "2027-01-01", "currency": "HKD",
        "report_frequency": "annual", "upfront_fee": "200.00"}})
    assert offer.status_code == 201, offer.json
    accepted = acme.post(f"/v1/licence-offers/{offer.json['id']}/accept",
                         {"terms_hash": offer.json["terms_hash"]})
    assert accepted.status_code == 200, accepted.json
    (invoice,) = acme.get("/v1/invoices").json
    started = acme.post("/v1/payments/stripe/invoice-payments", {"invoice_id": invoice["id"]})
    assert started.status_code == 201, started.json
    assert started.json["amount"] == money("200.00")
    pay_by_card(client, customer, started.json)
    assert [i["status"] for i in acme.get("/v1/invoices").json] == ["paid"]
    assert available(world.alice) == "84.00"  # 70% to inventors, alice holds 60% of them
    assert available(world.bob) == "56.00"
    assert available(world.uni) == "60.00"

    # An inventor links a connected account and withdraws to it.
    connect.add_account("acct_1AliceApi")
    linked = world.alice.post("/v1/payments/stripe/connected-account",
                              {"account_id": "acct_1AliceApi"})
    assert linked.status_code == 200, linked.json
    assert linked.json["account_id"] == "acct_1AliceApi"
    withdrawn = world.alice.post("/v1/withdrawals", {"amount": money("80.00")})
    assert withdrawn.status_code == 201, withdrawn.json
    assert withdrawn.json["status"] == "paid"
    assert connect.idempotency_keys("/v1/transfers") == [withdrawn.json["id"]]
    assert available(world.alice) == "4.00"
    assert world.op.post(f"/v1/withdrawals/{withdrawn.json['id']}/paid").status_code == 409

    # Stripe's balance and the ledger's Stripe clearing account agree.
    report = reconciliation(world.op)
    assert report["differences"] == []
    assert (report["ledger_movements"], report["provider_movements"]) == (3, 3)
    assert_problem(world.alice.get("/v1/payments/stripe/reconciliation", query_string={
        "from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"}), 403)


@pytest.mark.parametrize("case", ["wrong secret", "stale", "unsigned", "not json"])
def test_bad_webhooks_get_400_and_change_nothing(case: str, world: World, client: Any,
                                                 customer: stripe.StripeClient) -> None:
    created = world.investor.post("/v1/payments/stripe/deposits", {"amount": money("5.00")})
    intent = confirm(customer, created.json["provider_id"])
    payload = event_payload("payment_intent.succeeded", intent)
    header: str | None = {
        "wrong secret": sign_webhook(payload, "whsec_wrong"),
        "stale": sign_webhook(payload, SECRET, int(time.time()) - 600),
        "unsigned": None,
        "not json": sign_webhook("{not json", SECRET),
    }[case]
    if case == "not json":
        payload = "{not json"
    size = tree_size(client)
    response = post_event(client, payload, header)
    assert_problem(response, 400, slug="bad-webhook")
    assert tree_size(client) == size and available(world.investor) == "1000.00"


def test_an_unknown_event_is_acknowledged(world: World, client: Any) -> None:
    payload = event_payload("invoice.finalized", {"id": "in_1", "object": "invoice"})
    size = tree_size(client)
    response = post_event(client, payload, sign_webhook(payload, SECRET))
    assert response.status_code == 200, response.json
    assert response.json["outcome"].startswith("ignored") and not response.json["duplicate"]
    assert tree_size(client) == size


@pytest.mark.parametrize(("path", "body", "status", "field"), [
    ("/v1/payments/stripe/deposits", {"amount": money("0.5", "JPY")}, 422, "amount.amount"),
    # ISO 4217 gives MGA two places, Stripe none; Stripe presents no CLF at all.
    ("/v1/payments/stripe/deposits", {"amount": money("0.50", "MGA")}, 422, "amount.amount"),
    ("/v1/payments/stripe/deposits", {"amount": money("1.0000", "CLF")}, 422,
     "amount.currency"),
    ("/v1/payments/stripe/deposits", {"amount": money("-1.00")}, 422, "amount.amount"),
    ("/v1/payments/stripe/deposits", {"amount": 5}, 422, "amount"),
    ("/v1/payments/stripe/invoice-payments", {"invoice_id": "inv_nope"}, 404, "invoice_id"),
    ("/v1/payments/stripe/connected-account", {"account_id": "bank_123456"}, 422,
     "account_id"),
    ("/v1/payments/stripe/connected-account", {"account_id": "acct_unknown"}, 422,
     "account_id"),
])
def test_bad_requests_name_the_field_and_change_nothing(
        world: World, client: Any, path: str, body: dict[str, Any], status: int,
        field: str) -> None:
    size = tree_size(client)
    response = world.investor.post(path, body)
    assert_problem(response, status, fields=[field])
    assert tree_size(client) == size


def test_withdrawing_without_a_connected_account_is_refused(world: World, client: Any) -> None:
    size = tree_size(client)
    response = world.investor.post("/v1/withdrawals", {"amount": money("10.00")})
    assert_problem(response, 409, fields=["amount"])
    assert tree_size(client) == size and available(world.investor) == "1000.00"
