"""Deposits, balances, withdrawals and unit transfers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.api.conftest import (
    World,
    assert_problem,
    assert_utc_timestamp,
    balances,
    holdings,
    money,
    tree_size,
    units_of,
)
from tests.conftest import Caller


def _balance(caller: Caller, currency: str = "HKD") -> dict[str, Any]:
    rows = [b for b in balances(caller) if b["currency"] == currency]
    assert len(rows) == 1, balances(caller)
    return rows[0]


def _deposit(op: Caller, party: Caller, amount: str, currency: str = "HKD",
             reference: str = "ref") -> Any:
    return op.post("/v1/deposits", {"party_id": party.party_id,
                                    "amount": money(amount, currency), "reference": reference})


def test_a_deposit_credits_the_partys_available_balance(
        client: FlaskClient, op: Caller, new_caller: Callable[..., Caller]) -> None:
    ivy = new_caller("investor")
    assert balances(ivy) == []
    before = tree_size(client)
    made = _deposit(op, ivy, "1000.5", reference="bank-0001")
    assert made.status_code == 201, made.json
    assert made.json["id"].startswith("txn_")
    assert made.json["party_id"] == ivy.party_id
    assert made.json["amount"] == {"amount": "1000.50", "currency": "HKD"}
    assert made.json["reference"] == "bank-0001"
    assert made.json["journal_seq"] == before + 1 == tree_size(client)
    assert balances(ivy) == [{"currency": "HKD", "available": "1000.50", "held": "0.00",
                              "payout_pending": "0.00"}]

    entry = ivy.get(f"/v1/ledger/entries/{made.json['journal_seq']}").json["body"]
    assert entry["kind"] == "money.deposit"
    assert entry["data"] == {"party_id": ivy.party_id, "provider": "manual",
                             "reference": "bank-0001", "amount": "1000.50", "currency": "HKD"}
    assert sorted((p["account"], p["amount"]) for p in entry["postings"]) == sorted([
        ("ipx:HKD:clearing", "-1000.50"), (f"{ivy.party_id}:HKD:available", "1000.50")])


def test_balances_are_per_currency_with_each_currencys_places(
        op: Caller, new_caller: Callable[..., Caller]) -> None:
    ivy = new_caller("investor")
    assert _deposit(op, ivy, "1500", "JPY", "r-jpy").status_code == 201
    assert _deposit(op, ivy, "1.25", "KWD", "r-kwd").status_code == 201
    assert _deposit(op, ivy, "3", "USD", "r-usd").status_code == 201
    assert _deposit(op, ivy, "2.5", "USD", "r-usd-2").status_code == 201
    assert balances(ivy) == [
        {"currency": "JPY", "available": "1500", "held": "0", "payout_pending": "0"},
        {"currency": "KWD", "available": "1.250", "held": "0.000", "payout_pending": "0.000"},
        {"currency": "USD", "available": "5.50", "held": "0.00", "payout_pending": "0.00"},
    ]
    assert balances(op) == []  # the operator's clearing account is not a party balance


def test_the_same_reference_twice_credits_once(client: FlaskClient, op: Caller,
                                               new_caller: Callable[..., Caller]) -> None:
    ivy = new_caller("investor")
    first = _deposit(op, ivy, "250.00", reference="wire-42")
    size = tree_size(client)
    second = _deposit(op, ivy, "250.00", reference="wire-42")
    assert second.status_code == 201
    assert second.json == first.json
    assert tree_size(client) == size
    assert _balance(ivy)["available"] == "250.00"

    # The same reference for another amount is refused, and changes nothing.
    conflict = _deposit(op, ivy, "251.00", reference="wire-42")
    assert_problem(conflict, 422, slug="idempotency-conflict")
    assert tree_size(client) == size
    assert _balance(ivy)["available"] == "250.00"


def test_only_the_operator_deposits(client: FlaskClient, op: Caller,
                                    new_caller: Callable[..., Caller]) -> None:
    ivy = new_caller("investor")
    before = tree_size(client)
    assert_problem(_deposit(ivy, ivy, "10.00"), 403, slug="forbidden")
    assert_problem(op.post("/v1/deposits", {"party_id": "pty_nobody", "amount": money("1.00"),
                                            "reference": "r"}), 404, fields=["party_id"])
    assert tree_size(client) == before
    assert balances(ivy) == []


def test_a_withdrawal_moves_available_to_payout_pending(client: FlaskClient,
                                                        world: World) -> None:
    ivy = world.investor
    before = tree_size(client)
    made = ivy.post("/v1/withdrawals", {"amount": money("300")})
    assert made.status_code == 201, made.json
    body = made.json
    assert body["id"].startswith("wdr_")
    assert (body["party_id"], body["status"]) == (ivy.party_id, "requested")
    assert body["amount"] == {"amount": "300.00", "currency": "HKD"}
    assert_utc_timestamp(body["created_at"])
    assert tree_size(client) == before + 1
    assert _balance(ivy) == {"currency": "HKD", "available": "700.00", "held": "0.00",
                             "payout_pending": "300.00"}


@pytest.mark.parametrize(("amount", "currency"), [("1000.01", "HKD"), ("1", "USD"),
                                                  ("5", "JPY")])
def test_an_overdraw_is_refused_and_changes_nothing(client: FlaskClient, world: World,
                                                    amount: str, currency: str) -> None:
    ivy = world.investor
    before, was = tree_size(client), balances(ivy)
    refused = ivy.post("/v1/withdrawals", {"amount": money(amount, currency)})
    assert_problem(refused, 409, slug="insufficient-funds")
    assert tree_size(client) == before
    assert balances(ivy) == was
    # Exactly everything is fine.
    assert ivy.post("/v1/withdrawals", {"amount": money("1000")}).status_code == 201
    assert _balance(ivy)["available"] == "0.00"


def test_the_operator_marks_a_withdrawal_paid(client: FlaskClient, world: World) -> None:
    ivy, op = world.investor, world.op
    wid = ivy.post("/v1/withdrawals", {"amount": money("400.00")}).json["id"]
    before = tree_size(client)
    assert_problem(ivy.post(f"/v1/withdrawals/{wid}/paid"), 403, slug="forbidden")
    assert_problem(world.uni.post(f"/v1/withdrawals/{wid}/cancel"), 403, slug="forbidden")
    assert tree_size(client) == before

    paid = op.post(f"/v1/withdrawals/{wid}/paid")
    assert paid.status_code == 200, paid.json
    assert (paid.json["id"], paid.json["status"]) == (wid, "paid")
    assert paid.json["amount"] == {"amount": "400.00", "currency": "HKD"}
    assert tree_size(client) == before + 1
    assert _balance(ivy) == {"currency": "HKD", "available": "600.00", "held": "0.00",
                             "payout_pending": "0.00"}
    entry = ivy.get(f"/v1/ledger/entries/{before + 1}").json["body"]
    assert entry["kind"] == "money.withdrawal_paid"
    assert entry["data"]["withdrawal_id"] == wid

    # Settled is final.
    assert_problem(op.post(f"/v1/withdrawals/{wid}/paid"), 409, slug="conflict")
    assert_problem(op.post(f"/v1/withdrawals/{wid}/cancel"), 409, slug="conflict")
    assert tree_size(client) == before + 1
    assert_problem(op.post("/v1/withdrawals/wdr_nope/paid"), 404, slug="not-found")


def test_a_cancelled_withdrawal_returns_the_money(client: FlaskClient, world: World) -> None:
    ivy, op = world.investor, world.op
    wid = ivy.post("/v1/withdrawals", {"amount": money("999.99")}).json["id"]
    assert _balance(ivy)["available"] == "0.01"
    cancelled = op.post(f"/v1/withdrawals/{wid}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json["status"] == "cancelled"
    assert _balance(ivy) == {"currency": "HKD", "available": "1000.00", "held": "0.00",
                             "payout_pending": "0.00"}
    assert_problem(op.post(f"/v1/withdrawals/{wid}/paid"), 409, slug="conflict")
    assert _balance(ivy)["available"] == "1000.00"


def test_units_move_between_parties(client: FlaskClient, world: World) -> None:
    alice, ivy = world.alice, world.investor
    instrument = world.inventor_instrument
    before = tree_size(client)
    moved = alice.post("/v1/unit-transfers", {"instrument_id": instrument,
                                              "to_party_id": ivy.party_id, "units": 1234,
                                              "reference": "gift"})
    assert moved.status_code == 201, moved.json
    assert moved.json == {"journal_seq": before + 1}
    assert units_of(alice, instrument) == 600_000 - 1234
    assert holdings(ivy) == [{"instrument_id": instrument, "asset_id": world.asset["id"],
                              "class": "inventor", "units": 1234, "held_units": 0}]
    assert units_of(world.bob, instrument) == 400_000
    entry = ivy.get(f"/v1/ledger/entries/{before + 1}").json["body"]
    assert entry["kind"] == "units.transferred"
    assert entry["data"] == {"instrument_id": instrument, "from": alice.party_id,
                             "to": ivy.party_id, "units": 1234, "reference": "gift"}

    # All of what is left, then nothing more.
    rest = alice.post("/v1/unit-transfers", {"instrument_id": instrument,
                                             "to_party_id": world.bob.party_id,
                                             "units": 600_000 - 1234})
    assert rest.status_code == 201
    assert units_of(alice, instrument) == 0
    assert units_of(world.bob, instrument) == 1_000_000 - 1234


@pytest.mark.parametrize(("units", "holder"), [(600_001, "alice"), (10**30, "alice"),
                                               (1, "investor"), (1, "other_uni")])
def test_a_transfer_of_more_than_held_is_refused(client: FlaskClient, world: World,
                                                 units: int, holder: str) -> None:
    before = tree_size(client)
    caller = getattr(world, holder)
    refused = caller.post("/v1/unit-transfers", {"instrument_id": world.inventor_instrument,
                                                 "to_party_id": world.bob.party_id,
                                                 "units": units})
    assert_problem(refused, 409, slug="insufficient-units")
    assert tree_size(client) == before
    assert units_of(world.alice, world.inventor_instrument) == 600_000
    assert units_of(world.bob, world.inventor_instrument) == 400_000


def test_a_transfer_of_an_unknown_instrument_or_to_an_unknown_party_is_refused(
        client: FlaskClient, world: World) -> None:
    before = tree_size(client)
    assert_problem(world.alice.post("/v1/unit-transfers", {
        "instrument_id": "ins_nope", "to_party_id": world.bob.party_id, "units": 1}),
        404, fields=["instrument_id"])
    assert_problem(world.alice.post("/v1/unit-transfers", {
        "instrument_id": world.inventor_instrument, "to_party_id": "pty_nope", "units": 1}),
        422, fields=["to_party_id"])
    assert_problem(world.alice.post("/v1/unit-transfers", {
        "instrument_id": world.inventor_instrument, "to_party_id": world.alice.party_id,
        "units": 1}), 422, fields=["to_party_id"])
    assert tree_size(client) == before
    assert units_of(world.alice, world.inventor_instrument) == 600_000
