"""Payments through Stripe on a real database (SQLite, and PostgreSQL in CI), with the real
`stripe` SDK talking to localstripe (PaymentIntents, charges, refunds) and to recorded Connect
responses (accounts, transfers, reversals, balance transactions). Webhooks are signed as
Stripe signs them. After every scenario the ledger's Stripe clearing account reconciles with
the balance Stripe reports."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stripe
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from contracts.services import licences
from ledger import replay
from ledger.actor import Actor
from ledger.errors import Conflict
from ledger.models import Account, Withdrawal
from ledger.services import money
from ledger.unit_of_work import UnitOfWork
from payments.models import ConnectedAccount, PaymentIntent, PayoutTransfer, ProviderEvent
from payments.provider import BadWebhook
from payments.services import collect, payouts, reconciliation, webhooks
from payments.services.webhooks import EventReceipt
from payments.stripe_adapter import StripeProvider, StripeSettings
from tests.integration.conftest import World
from tests.integration.helpers import head_size, snapshot
from tests.stripe_fakes import LocalStripe, RecordedConnect, event_payload, sign_webhook

SECRET = "whsec_test_ipx_0123456789"
CARD_OK = "4242424242424242"
CARD_DECLINED = "4000000000000341"  # attaches, then the charge is declined


@pytest.fixture(scope="module")
def localstripe() -> Iterator[str]:
    with LocalStripe() as url:
        yield url


@pytest.fixture
def connect(localstripe: str) -> RecordedConnect:
    return RecordedConnect(delegate_base=localstripe)


@pytest.fixture
def provider(localstripe: str, connect: RecordedConnect) -> StripeProvider:
    return StripeProvider(StripeSettings(secret_key="sk_test_ipx", webhook_secret=SECRET,
                                         api_base=localstripe, max_network_retries=0),
                          http_client=connect)


@pytest.fixture
def customer(localstripe: str) -> stripe.StripeClient:
    """The payer's side (Stripe.js in a browser): confirms intents with a card."""
    return stripe.StripeClient("sk_test_customer", base_addresses={"api": localstripe})


@pytest.fixture
def stripe_payouts(provider: StripeProvider) -> payouts.ProviderPayouts:
    """Withdrawals go through Stripe, as the application factory arranges."""
    return payouts.ProviderPayouts(provider)


def confirm(customer: stripe.StripeClient, intent_id: str, card: str = CARD_OK
            ) -> dict[str, Any]:
    method = customer.v1.payment_methods.create({"type": "card", "card": {
        "number": card, "exp_month": 12, "exp_year": 2030, "cvc": "123"}})
    customer.v1.payment_intents.update(intent_id, {"payment_method": method.id})
    with contextlib.suppress(stripe.CardError):  # a declined card: the intent says so
        customer.v1.payment_intents.confirm(intent_id)
    intent: dict[str, Any] = customer.v1.payment_intents.retrieve(intent_id).to_dict()
    return json.loads(json.dumps(intent))  # plain JSON, as a webhook carries it


def deliver(uow: UnitOfWork, provider: StripeProvider, type_: str, obj: dict[str, Any],
            **kw: Any) -> EventReceipt:
    payload = event_payload(type_, obj, **kw)
    return webhooks.receive_event(uow, provider, payload.encode(), sign_webhook(payload, SECRET))


def balance(sessions: sessionmaker[Session], code: str) -> int:
    with sessions() as session:
        found = session.execute(select(Account.balance_minor).where(Account.code == code))
        return int(found.scalar_one_or_none() or 0)


def available(sessions: sessionmaker[Session], party: Actor, currency: str = "HKD") -> int:
    return balance(sessions, f"{party.party_id}:{currency}:available")


def assert_reconciled(world: World, provider: StripeProvider, connect: RecordedConnect) -> None:
    """The ledger's Stripe clearing account equals, movement by movement, what Stripe reports."""
    now = datetime.now(UTC)
    result = reconciliation.reconcile(world.uow(), provider, world.operator,
                                      now - timedelta(days=1), now + timedelta(days=1))
    assert result.differences == []
    # And in total: the clearing account mirrors Stripe's balance (money in is a debit).
    reported = connect._balance_transactions({})["data"]
    total = sum(bt["amount"] for bt in reported)
    assert -balance(world.sessions, "ipx:HKD:stripe") == total
    # The balances are still what the journal alone says they are.
    with world.sessions() as session:
        assert replay.compare(session) == []


def fund_by_card(world: World, provider: StripeProvider, customer: stripe.StripeClient,
                 party: Actor, amount: str) -> dict[str, Any]:
    view = collect.start_deposit(world.uow(), provider, party, amount, "HKD")
    intent = confirm(customer, view.provider_id)
    assert intent["status"] == "succeeded"
    receipt = deliver(world.uow(), provider, "payment_intent.succeeded", intent)
    assert receipt.outcome == "credited" and not receipt.duplicate
    return intent


# --- collecting ---------------------------------------------------------------------------

def test_an_investor_funds_their_account_once(world: World, provider: StripeProvider,
                                              connect: RecordedConnect,
                                              customer: stripe.StripeClient) -> None:
    view = collect.start_deposit(world.uow(), provider, world.investor, "250.00", "HKD")
    assert (view.amount, view.currency, view.status) == ("250.00", "HKD", "open")
    assert view.client_secret.startswith(view.provider_id + "_secret_")
    # What Stripe was asked: the amount from the ledger, metadata linking the party.
    at_stripe = customer.v1.payment_intents.retrieve(view.provider_id).to_dict()
    assert (at_stripe["amount"], at_stripe["currency"]) == (25000, "hkd")
    assert at_stripe["metadata"]["ipx_party_id"] == world.investor.party_id
    assert at_stripe["metadata"]["ipx_payment_id"] == view.id
    (created,) = [c for c in connect.calls if c.path == "/v1/payment_intents"]
    assert created.idempotency_key == f"ipx-payment-{view.id}"  # derived from the IPX object
    assert created.form["transfer_group"] == f"ipx-{view.id}"
    assert available(world.sessions, world.investor) == 0  # nothing before Stripe says so

    intent = confirm(customer, view.provider_id)
    payload = event_payload("payment_intent.succeeded", intent)
    header = sign_webhook(payload, SECRET)
    first = webhooks.receive_event(world.uow(), provider, payload.encode(), header)
    assert (first.outcome, first.duplicate) == ("credited", False)
    assert available(world.sessions, world.investor) == 25000
    assert_reconciled(world, provider, connect)

    # Stripe delivers the same event again: acknowledged, nothing changes.
    before = snapshot(world.sessions)
    again = webhooks.receive_event(world.uow(), provider, payload.encode(), header)
    assert again.duplicate and again.outcome == "credited"
    assert snapshot(world.sessions) == before
    # Another event for the same intent (Stripe may send one twice under new ids): no credit.
    other = deliver(world.uow(), provider, "payment_intent.succeeded", intent)
    assert other.outcome == "ignored: payment already credited"
    assert available(world.sessions, world.investor) == 25000
    assert_reconciled(world, provider, connect)


def test_a_declined_card_then_a_good_one(world: World, provider: StripeProvider,
                                         connect: RecordedConnect,
                                         customer: stripe.StripeClient) -> None:
    view = collect.start_deposit(world.uow(), provider, world.investor, "40.00", "HKD")
    declined = confirm(customer, view.provider_id, CARD_DECLINED)
    assert declined["status"] == "requires_payment_method"
    receipt = deliver(world.uow(), provider, "payment_intent.payment_failed", declined)
    assert receipt.outcome == "recorded: payment failed"
    payment = collect.read_payment(world.uow(), world.investor, view.id)
    assert payment.status == "failed" and payment.failure
    assert available(world.sessions, world.investor) == 0
    assert_reconciled(world, provider, connect)

    # localstripe cannot confirm a declined intent again (Stripe can): a new deposit then.
    fund_by_card(world, provider, customer, world.investor, "40.00")
    assert available(world.sessions, world.investor) == 4000
    assert_reconciled(world, provider, connect)


def _invoice(world: World, company: Actor, fee: str) -> Any:
    terms = {"schema": "ipx.licence-terms/1", "grantor": world.university.party_id,
             "assets": [world.listing.asset.id], "licensee": company.party_id,
             "exclusivity": "non_exclusive",
             "field_of_use": [{"code": "wearables", "label": "Wearables"}],
             "territory": ["HK"], "start": "2026-01-01", "end": "2027-01-01",
             "currency": "HKD", "report_frequency": "annual", "upfront_fee": fee}
    offer = licences.publish_offer(world.uow(), world.university, terms, negotiable=False)
    licences.accept_offer(world.uow(), company, offer.id, offer.terms_hash)
    (invoice,) = licences.list_invoices(world.uow(), company)
    return invoice


def test_a_licensee_pays_an_invoice_that_is_distributed(
        world: World, provider: StripeProvider, connect: RecordedConnect,
        customer: stripe.StripeClient, make_party: Callable[..., Actor]) -> None:
    company = make_party("company", "Acme")
    invoice = _invoice(world, company, "1000.00")
    view = collect.start_invoice_payment(world.uow(), provider, company, invoice.id)
    assert (view.amount, view.invoice_id) == ("1000.00", invoice.id)
    at_stripe = customer.v1.payment_intents.retrieve(view.provider_id).to_dict()
    assert at_stripe["metadata"]["ipx_invoice_id"] == invoice.id
    assert at_stripe["metadata"]["ipx_transfer_group"] == f"ipx-{invoice.id}"
    # Asking again gives the same intent: one per invoice.
    assert collect.start_invoice_payment(world.uow(), provider, company,
                                         invoice.id).provider_id == view.provider_id
    with pytest.raises(Exception, match="only the licensee"):
        collect.start_invoice_payment(world.uow(), provider, world.university, invoice.id)

    intent = confirm(customer, view.provider_id)
    receipt = deliver(world.uow(), provider, "payment_intent.succeeded", intent)
    assert receipt.outcome == "credited, invoice paid and distributed"
    (paid,) = licences.list_invoices(world.uow(), company)
    assert paid.status == "paid"
    # Distributed by HKU-2023 (no costs): inventors 70% (alice 60%, bob 40% of it), uni 30%.
    assert available(world.sessions, world.alice) == 42000
    assert available(world.sessions, world.bob) == 28000
    assert available(world.sessions, world.university) == 30000
    assert available(world.sessions, company) == 0  # it passed through the payer's account
    assert_reconciled(world, provider, connect)
    with pytest.raises(Conflict):
        collect.start_invoice_payment(world.uow(), provider, company, invoice.id)


def test_a_refund_takes_the_money_back(world: World, provider: StripeProvider,
                                       connect: RecordedConnect,
                                       customer: stripe.StripeClient) -> None:
    intent = fund_by_card(world, provider, customer, world.investor, "100.00")
    charge_id = intent["latest_charge"]["id"]
    customer.v1.refunds.create({"charge": charge_id, "amount": 3000})
    charge = json.loads(json.dumps(customer.v1.charges.retrieve(charge_id).to_dict()))
    receipt = deliver(world.uow(), provider, "charge.refunded", charge)
    assert receipt.outcome == "refund recorded"
    assert available(world.sessions, world.investor) == 7000
    assert_reconciled(world, provider, connect)
    # The same refund reported again (another event): nothing more is taken.
    assert deliver(world.uow(), provider, "charge.refunded", charge).outcome.startswith("ignored")
    assert available(world.sessions, world.investor) == 7000


# --- webhooks that are refused or only acknowledged -----------------------------------------

@pytest.mark.parametrize("case", ["wrong secret", "stale", "unsigned", "garbled header",
                                  "tampered body", "not an event"])
def test_bad_deliveries_are_refused_and_change_nothing(
        case: str, world: World, provider: StripeProvider, customer: stripe.StripeClient,
        connect: RecordedConnect) -> None:
    view = collect.start_deposit(world.uow(), provider, world.investor, "10.00", "HKD")
    intent = confirm(customer, view.provider_id)
    payload = event_payload("payment_intent.succeeded", intent)
    header: str | None = sign_webhook(payload, SECRET)
    if case == "wrong secret":
        header = sign_webhook(payload, "whsec_someone_else")
    elif case == "stale":
        header = sign_webhook(payload, SECRET, int(time.time()) - 301)
    elif case == "unsigned":
        header = None
    elif case == "garbled header":
        header = "t=yesterday,v1=zz"
    elif case == "tampered body":
        tampered = payload.replace('"amount": 1000', '"amount": 100000')
        assert tampered != payload
        payload = tampered
    elif case == "not an event":
        payload = '{"hello": "world"}'
        header = sign_webhook(payload, SECRET)
    before = snapshot(world.sessions)
    with pytest.raises(BadWebhook):
        webhooks.receive_event(world.uow(), provider, payload.encode(), header)
    assert snapshot(world.sessions) == before
    # Stripe holds money the ledger has not seen: reconciliation says so, until Stripe's
    # own (valid) delivery arrives.
    now = datetime.now(UTC)
    missing = reconciliation.reconcile(world.uow(), provider, world.operator,
                                       now - timedelta(days=1), now + timedelta(days=1))
    assert [(d.reason, d.provider) for d in missing.differences] == [
        ("missing from the ledger", 1000)]
    deliver(world.uow(), provider, "payment_intent.succeeded", intent)
    assert_reconciled(world, provider, connect)


def test_an_unknown_event_type_is_acknowledged_and_recorded(
        world: World, provider: StripeProvider, connect: RecordedConnect) -> None:
    size = head_size(world.sessions)
    receipt = deliver(world.uow(), provider, "customer.created",
                      {"id": "cus_1", "object": "customer"}, event_id="evt_unknown_1")
    assert receipt.outcome == "ignored: not an event IPX acts on" and not receipt.duplicate
    assert head_size(world.sessions) == size
    with world.sessions() as session:
        assert session.get_one(ProviderEvent, "evt_unknown_1").type == "customer.created"
    assert_reconciled(world, provider, connect)


def test_two_concurrent_deliveries_of_one_event_credit_once(
        world: World, provider: StripeProvider, connect: RecordedConnect,
        customer: stripe.StripeClient) -> None:
    view = collect.start_deposit(world.uow(), provider, world.investor, "75.00", "HKD")
    intent = confirm(customer, view.provider_id)
    payload = event_payload("payment_intent.succeeded", intent)
    header = sign_webhook(payload, SECRET)
    start = threading.Barrier(4)
    receipts: list[EventReceipt] = []
    errors: list[BaseException] = []

    def deliver_once() -> None:
        start.wait()
        try:
            receipts.append(webhooks.receive_event(world.uow(), provider, payload.encode(),
                                                   header))
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=deliver_once) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(r.duplicate for r in receipts) == [False, True, True, True]
    assert available(world.sessions, world.investor) == 7500
    with world.sessions() as session:
        assert session.execute(select(func.count()).select_from(ProviderEvent)).scalar_one() == 1
    assert_reconciled(world, provider, connect)


# --- paying out ----------------------------------------------------------------------------

def _linked(world: World, provider: StripeProvider, connect: RecordedConnect,
            party: Actor, account: str = "acct_1AliceConnect") -> None:
    connect.add_account(account)
    linked = payouts.link_connected_account(world.uow(), provider, party, account)
    assert linked.provider_account_id == account


def test_an_inventor_withdraws_to_a_connected_account(stripe_payouts: payouts.ProviderPayouts,
        world: World, provider: StripeProvider, connect: RecordedConnect,
        customer: stripe.StripeClient) -> None:
    fund_by_card(world, provider, customer, world.alice, "300.00")
    _linked(world, provider, connect, world.alice)
    withdrawal = money.request_withdrawal(world.uow(), world.alice, "120.00", "HKD",
                                          route=stripe_payouts)
    assert withdrawal.status == "paid"
    (call,) = [c for c in connect.calls if c.path == "/v1/transfers"]
    assert call.idempotency_key == withdrawal.id  # a retry can never pay twice
    assert call.form["amount"] == "12000" and call.form["currency"] == "hkd"
    assert call.form["destination"] == "acct_1AliceConnect"
    assert call.form["transfer_group"] == f"ipx-{withdrawal.id}"
    assert available(world.sessions, world.alice) == 18000
    assert balance(world.sessions, f"{world.alice.party_id}:HKD:payout") == 0
    with world.sessions() as session:
        row = session.get_one(PayoutTransfer, withdrawal.id)
        assert row.status == "paid" and row.provider_id in connect.transfers
    assert_reconciled(world, provider, connect)
    # The operator cannot settle it by hand too.
    with pytest.raises(Conflict):
        money.settle_withdrawal(world.uow(), world.operator, withdrawal.id, paid=True,
                                route=stripe_payouts)


def test_a_declined_transfer_restores_the_money(stripe_payouts: payouts.ProviderPayouts,
                                                world: World, provider: StripeProvider,
                                                connect: RecordedConnect,
                                                customer: stripe.StripeClient) -> None:
    fund_by_card(world, provider, customer, world.alice, "50.00")
    _linked(world, provider, connect, world.alice)
    connect.decline_next_transfer = "Your destination account needs to have at least one of " \
                                    "the following capabilities enabled: transfers"
    withdrawal = money.request_withdrawal(world.uow(), world.alice, "50.00", "HKD",
                                          route=stripe_payouts)
    assert withdrawal.status == "cancelled"
    assert available(world.sessions, world.alice) == 5000
    with world.sessions() as session:
        row = session.get_one(PayoutTransfer, withdrawal.id)
        assert row.status == "failed" and "capabilities" in (row.failure or "")
    assert_reconciled(world, provider, connect)


def test_an_unknown_outcome_waits_and_a_retry_pays_once(stripe_payouts: payouts.ProviderPayouts,
        world: World, provider: StripeProvider, connect: RecordedConnect,
        customer: stripe.StripeClient) -> None:
    fund_by_card(world, provider, customer, world.alice, "50.00")
    _linked(world, provider, connect, world.alice)
    connect.fail_next_transfer = True
    withdrawal = money.request_withdrawal(world.uow(), world.alice, "20.00", "HKD",
                                          route=stripe_payouts)
    assert withdrawal.status == "requested"  # held on `payout` until the outcome is known
    assert balance(world.sessions, f"{world.alice.party_id}:HKD:payout") == 2000
    retried = payouts.retry_payout(world.uow(), provider, world.operator, withdrawal.id)
    assert retried.status == "paid"
    again = payouts.retry_payout(world.uow(), provider, world.operator, withdrawal.id)
    assert again.status == "paid"
    assert connect.idempotency_keys("/v1/transfers") == [withdrawal.id, withdrawal.id]
    assert len(connect.transfers) == 1
    assert available(world.sessions, world.alice) == 3000
    assert_reconciled(world, provider, connect)


def test_a_reversed_transfer_returns_to_available(stripe_payouts: payouts.ProviderPayouts,
                                                  world: World, provider: StripeProvider,
                                                  connect: RecordedConnect,
                                                  customer: stripe.StripeClient) -> None:
    fund_by_card(world, provider, customer, world.alice, "80.00")
    _linked(world, provider, connect, world.alice)
    withdrawal = money.request_withdrawal(world.uow(), world.alice, "80.00", "HKD",
                                          route=stripe_payouts)
    with world.sessions() as session:
        transfer_id = session.get_one(PayoutTransfer, withdrawal.id).provider_id
    assert transfer_id is not None
    reversed_transfer = connect.reverse(transfer_id, 3000)
    receipt = deliver(world.uow(), provider, "transfer.reversed", reversed_transfer)
    assert receipt.outcome == "reversal returned to the party's available balance"
    assert available(world.sessions, world.alice) == 3000
    assert_reconciled(world, provider, connect)
    assert deliver(world.uow(), provider, "transfer.reversed",
                   reversed_transfer).outcome.startswith("ignored")
    assert available(world.sessions, world.alice) == 3000


def test_withdrawing_without_a_connected_account_changes_nothing(
        stripe_payouts: payouts.ProviderPayouts,
        world: World, provider: StripeProvider, customer: stripe.StripeClient) -> None:
    fund_by_card(world, provider, customer, world.bob, "10.00")
    before = snapshot(world.sessions)
    with pytest.raises(Conflict, match="connected account"):
        money.request_withdrawal(world.uow(), world.bob, "5.00", "HKD",
                                 route=stripe_payouts)
    assert snapshot(world.sessions) == before


def test_a_failed_payout_of_a_connected_account_is_recorded(
        world: World, provider: StripeProvider, connect: RecordedConnect) -> None:
    _linked(world, provider, connect, world.alice, "acct_1AlicePayouts")
    payout = {"id": "po_1", "object": "payout", "amount": 5000, "currency": "hkd",
              "status": "failed", "failure_code": "account_closed",
              "failure_message": "The bank account has been closed"}
    receipt = deliver(world.uow(), provider, "payout.failed", payout,
                      account="acct_1AlicePayouts")
    assert receipt.outcome == "recorded: the party's payouts are failing"
    with world.sessions() as session:
        linked = session.get_one(ConnectedAccount, world.alice.party_id)
        assert linked.payouts_status == "failing"
        assert linked.last_failure == "The bank account has been closed"
    assert_reconciled(world, provider, connect)


# --- reconciliation ------------------------------------------------------------------------

def test_reconciliation_lists_every_difference(world: World, provider: StripeProvider,
                                               connect: RecordedConnect,
                                               customer: stripe.StripeClient) -> None:
    fund_by_card(world, provider, customer, world.investor, "10.00")
    now = int(time.time())
    connect.extra_balance_transactions.append({
        "id": "txn_stray", "object": "balance_transaction", "amount": 999, "fee": 0,
        "net": 999, "currency": "hkd", "created": now, "available_on": now,
        "type": "charge", "status": "available", "reporting_category": "charge",
        "source": {"id": "ch_not_in_the_ledger", "object": "charge"}})
    connect.extra_balance_transactions.append({
        "id": "txn_po", "object": "balance_transaction", "amount": -500, "fee": 0,
        "net": -500, "currency": "hkd", "created": now, "available_on": now,
        "type": "payout", "status": "available", "reporting_category": "payout",
        "source": {"id": "po_platform", "object": "payout"}})
    start = datetime.now(UTC) - timedelta(hours=1)
    result = reconciliation.reconcile(world.uow(), provider, world.operator, start,
                                      start + timedelta(hours=2))
    assert [(d.key, d.reason, d.ledger, d.provider) for d in result.differences] == [
        ("ch_not_in_the_ledger", "missing from the ledger", 0, 999)]
    assert (result.ledger_movements, result.provider_movements, result.not_mirrored) == (1, 2, 1)


def test_payments_with_no_webhook_yet_are_open(world: World, provider: StripeProvider) -> None:
    view = collect.start_deposit(world.uow(), provider, world.investor, "1.00", "HKD")
    with world.sessions() as session:
        payment = session.get_one(PaymentIntent, view.id)
        assert (payment.status, payment.provider_id) == ("open", view.provider_id)
        assert session.execute(select(func.count()).select_from(Withdrawal)).scalar_one() == 0


def test_the_reconcile_command_exits_non_zero_on_a_difference(
        world: World, provider: StripeProvider, connect: RecordedConnect,
        customer: stripe.StripeClient, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    import payments.config
    from api import cli

    fund_by_card(world, provider, customer, world.investor, "10.00")
    monkeypatch.setenv("IPX_DATABASE_URL", database_url)
    # The command imports make_provider when it runs.
    monkeypatch.setattr(payments.config, "make_provider", lambda settings: provider)
    window = ["--from", "2000-01-01", "--to", "2100-01-01T00:00:00+00:00"]
    clean = CliRunner().invoke(cli.main, ["payments", "reconcile", *window])
    assert clean.exit_code == 0, clean.output
    assert "1 ledger movements, 1 Stripe balance transactions" in clean.output
    assert "0 differences" in clean.output
    connect.extra_balance_transactions.append({
        "id": "txn_stray", "object": "balance_transaction", "amount": 250, "fee": 0, "net": 250,
        "currency": "hkd", "created": int(time.time()), "type": "charge",
        "source": {"id": "ch_stray", "object": "charge"}})
    found = CliRunner().invoke(cli.main, ["payments", "reconcile", *window])
    assert found.exit_code == 1, found.output
    assert "ch_stray" in found.output and "missing from the ledger" in found.output
    assert "1 differences" in found.output


def test_a_delivery_racing_an_unfinished_one_waits_and_changes_nothing(
        world: World, provider: StripeProvider, connect: RecordedConnect,
        customer: stripe.StripeClient, monkeypatch: pytest.MonkeyPatch,
        database_url: str) -> None:
    """The worst interleaving, forced: the second delivery starts while the first has recorded
    the event but not committed (on PostgreSQL both have passed the "seen before?" read; the
    key makes the second wait, then fail; on SQLite the writer lock makes it wait)."""
    view = collect.start_deposit(world.uow(), provider, world.investor, "33.00", "HKD")
    intent = confirm(customer, view.provider_id)
    payload = event_payload("payment_intent.succeeded", intent)
    header = sign_webhook(payload, SECRET)
    applying, release = threading.Event(), threading.Event()
    original = webhooks._HANDLERS["payment_intent.succeeded"]

    def slow(uow: UnitOfWork, event: Any) -> webhooks.Applied:
        applying.set()
        assert release.wait(10)
        return original(uow, event)

    monkeypatch.setitem(webhooks._HANDLERS, "payment_intent.succeeded", slow)
    receipts: dict[str, EventReceipt] = {}

    def first() -> None:
        receipts["first"] = webhooks.receive_event(world.uow(), provider, payload.encode(),
                                                   header)

    def second() -> None:
        receipts["second"] = webhooks.receive_event(world.uow(), provider, payload.encode(),
                                                    header)

    one = threading.Thread(target=first)
    one.start()
    assert applying.wait(10)
    two = threading.Thread(target=second)
    two.start()
    time.sleep(0.5)  # the second is now waiting on the first's row (or the writer lock)
    assert "second" not in receipts
    release.set()
    one.join(10)
    two.join(10)
    assert not receipts["first"].duplicate and receipts["second"].duplicate
    # PostgreSQL: the second read nothing, inserted, and failed on the key after the commit.
    assert receipts["second"].outcome == ("already processed" if
                                          database_url.startswith("postgresql") else "credited")
    assert available(world.sessions, world.investor) == 3300
    assert_reconciled(world, provider, connect)


def test_refunding_spent_money_leaves_a_receivable(world: World, provider: StripeProvider,
                                                  connect: RecordedConnect,
                                                  customer: stripe.StripeClient) -> None:
    intent = fund_by_card(world, provider, customer, world.investor, "100.00")
    money.request_withdrawal(world.uow(), world.investor, "80.00", "HKD")  # by hand: waits
    charge_id = intent["latest_charge"]["id"]
    customer.v1.refunds.create({"charge": charge_id})
    charge = json.loads(json.dumps(customer.v1.charges.retrieve(charge_id).to_dict()))
    assert deliver(world.uow(), provider, "charge.refunded", charge).outcome == "refund recorded"
    assert available(world.sessions, world.investor) == 0
    assert balance(world.sessions, "ipx:HKD:receivable") == -8000  # to recover from the party
    with world.sessions() as session:
        payment = session.execute(select(PaymentIntent)).scalar_one()
        assert (payment.status, payment.refunded_minor) == ("refunded", 10000)
    assert_reconciled(world, provider, connect)


def test_a_refunded_invoice_payment_is_the_operators_to_recover(
        world: World, provider: StripeProvider, connect: RecordedConnect,
        customer: stripe.StripeClient, make_party: Callable[..., Actor]) -> None:
    company = make_party("company", "Acme")
    invoice = _invoice(world, company, "10.00")
    view = collect.start_invoice_payment(world.uow(), provider, company, invoice.id)
    intent = confirm(customer, view.provider_id)
    deliver(world.uow(), provider, "payment_intent.succeeded", intent)
    charge_id = intent["latest_charge"]["id"]
    customer.v1.refunds.create({"charge": charge_id, "amount": 400})
    charge = json.loads(json.dumps(customer.v1.charges.retrieve(charge_id).to_dict()))
    deliver(world.uow(), provider, "charge.refunded", charge)
    # The distribution stands; the operator must recover the refund from the payees.
    assert balance(world.sessions, "ipx:HKD:receivable") == -400
    assert available(world.sessions, world.alice) == 420
    assert_reconciled(world, provider, connect)
