"""`Idempotency-Key` on state-changing requests: a retry gets the first response back."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from ledger.models import IdempotencyRecord
from ledger.services import money as money_service
from tests.api.conftest import World, assert_problem, asset_body, balances, money, tree_size

REPLAYED = "Idempotent-Replayed"


@dataclass
class Write:
    """One state-changing request: who sends it, where, a body, and another body."""

    who: str
    method: str
    url: Callable[[World], str]
    body: Callable[[World], Any]
    other_body: Callable[[World], Any] | None
    status: int


WRITES: dict[str, Write] = {
    "create party": Write(
        "op", "POST", lambda w: "/v1/parties", lambda w: {"name": "New Co", "kind": "company"},
        lambda w: {"name": "New Co", "kind": "startup"}, 201),
    "list asset": Write(
        "uni", "POST", lambda w: "/v1/assets",
        lambda w: asset_body([(w.alice.party_id, "1")], "stanford-tiers"),
        lambda w: asset_body([(w.alice.party_id, "1")], "hk-legacy"), 201),
    "record cost": Write(
        "uni", "POST", lambda w: f"/v1/assets/{w.asset['id']}/costs",
        lambda w: {"amount": money("99.00"), "description": "renewal"},
        lambda w: {"amount": money("99.01"), "description": "renewal"}, 201),
    "deposit": Write(
        "op", "POST", lambda w: "/v1/deposits",
        lambda w: {"party_id": w.bob.party_id, "amount": money("10.00"), "reference": "d-1"},
        lambda w: {"party_id": w.bob.party_id, "amount": money("10.00"), "reference": "d-2"},
        201),
    "withdrawal": Write(
        "investor", "POST", lambda w: "/v1/withdrawals",
        lambda w: {"amount": money("100.00")}, lambda w: {"amount": money("100.10")}, 201),
    "unit transfer": Write(
        "alice", "POST", lambda w: "/v1/unit-transfers",
        lambda w: {"instrument_id": w.inventor_instrument, "to_party_id": w.bob.party_id,
                   "units": 10},
        lambda w: {"instrument_id": w.inventor_instrument, "to_party_id": w.bob.party_id,
                   "units": 11}, 201),
    "withdrawal paid": Write(
        "op", "POST", lambda w: f"/v1/withdrawals/{w.extra['withdrawal']}/paid",
        lambda w: None, None, 200),
    "revoke key": Write(
        "investor", "DELETE", lambda w: f"/v1/api-keys/{w.extra['spare_key']}",
        lambda w: None, None, 204),
}


def _send(world: World, write: Write, body: Any, key: str | None) -> Any:
    caller = getattr(world, write.who)
    headers = {} if key is None else {"Idempotency-Key": key}
    if write.method == "DELETE":
        return caller.delete(write.url(world), headers=headers)
    return caller.post(write.url(world), body, headers=headers)


@pytest.fixture
def prepared(world: World) -> World:
    withdrawal = world.investor.post("/v1/withdrawals", {"amount": money("50.00")})
    world.extra["withdrawal"] = withdrawal.json["id"]
    spare = world.investor.post(f"/v1/parties/{world.investor.party_id}/api-keys")
    world.extra["spare_key"] = spare.json["id"]
    return world


@pytest.mark.parametrize("name", list(WRITES))
def test_a_retry_replays_the_first_response_and_writes_nothing(
        client: FlaskClient, prepared: World, name: str) -> None:
    write = WRITES[name]
    body = write.body(prepared)
    first = _send(prepared, write, body, "retry-me-1")
    assert first.status_code == write.status, first.get_data(as_text=True)
    assert REPLAYED not in first.headers
    size = tree_size(client)
    investor_balances = balances(prepared.investor)

    for _ in range(2):
        again = _send(prepared, write, body, "retry-me-1")
        assert again.status_code == first.status_code
        assert again.get_data() == first.get_data()
        assert again.mimetype == first.mimetype
        assert again.headers[REPLAYED] == "true"
    assert tree_size(client) == size
    assert balances(prepared.investor) == investor_balances


@pytest.mark.parametrize("name", [n for n, w in WRITES.items() if w.other_body is not None])
def test_the_same_key_with_another_body_is_refused(client: FlaskClient, prepared: World,
                                                   name: str) -> None:
    write = WRITES[name]
    assert write.other_body is not None
    first = _send(prepared, write, write.body(prepared), "reused")
    assert first.status_code == write.status
    size = tree_size(client)
    refused = _send(prepared, write, write.other_body(prepared), "reused")
    assert_problem(refused, 422, slug="idempotency-conflict", fields=["Idempotency-Key"])
    assert REPLAYED not in refused.headers
    assert tree_size(client) == size
    # The original request can still be replayed.
    assert _send(prepared, write, write.body(prepared), "reused").headers[REPLAYED] == "true"


def test_the_same_key_on_another_endpoint_is_refused(client: FlaskClient, world: World) -> None:
    assert world.op.post("/v1/parties", {"name": "A", "kind": "company"},
                         headers={"Idempotency-Key": "k"}).status_code == 201
    size = tree_size(client)
    refused = world.op.post("/v1/deposits", {"party_id": world.bob.party_id,
                                             "amount": money("1.00"), "reference": "x"},
                            headers={"Idempotency-Key": "k"})
    assert_problem(refused, 422, slug="idempotency-conflict")
    assert tree_size(client) == size


def test_keys_are_per_party(client: FlaskClient, world: World) -> None:
    world.op.post("/v1/deposits", {"party_id": world.bob.party_id, "amount": money("500.00"),
                                   "reference": "bob-1"})
    size = tree_size(client)
    body = {"amount": money("100.00")}
    mine = world.investor.post("/v1/withdrawals", body, headers={"Idempotency-Key": "shared"})
    theirs = world.bob.post("/v1/withdrawals", body, headers={"Idempotency-Key": "shared"})
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert REPLAYED not in mine.headers and REPLAYED not in theirs.headers
    assert mine.json["party_id"] == world.investor.party_id
    assert theirs.json["party_id"] == world.bob.party_id
    assert mine.json["id"] != theirs.json["id"]
    assert tree_size(client) == size + 2


def test_without_a_key_each_request_counts(client: FlaskClient, world: World) -> None:
    size = tree_size(client)
    ids = {world.investor.post("/v1/withdrawals", {"amount": money("1.00")}).json["id"]
           for _ in range(3)}
    assert len(ids) == 3
    assert tree_size(client) == size + 3
    assert balances(world.investor)[0]["payout_pending"] == "3.00"


def test_a_refusal_is_replayed_too(client: FlaskClient, world: World) -> None:
    key = {"Idempotency-Key": "too-much"}
    refused = world.investor.post("/v1/withdrawals", {"amount": money("5000.00")}, headers=key)
    assert_problem(refused, 409, slug="insufficient-funds")
    world.op.post("/v1/deposits", {"party_id": world.investor.party_id,
                                   "amount": money("5000.00"), "reference": "top-up"})
    size = tree_size(client)
    again = world.investor.post("/v1/withdrawals", {"amount": money("5000.00")}, headers=key)
    assert again.status_code == 409
    assert again.get_data() == refused.get_data()
    assert again.headers[REPLAYED] == "true"
    assert tree_size(client) == size
    # A fresh key makes a fresh attempt.
    fresh = world.investor.post("/v1/withdrawals", {"amount": money("5000.00")},
                                headers={"Idempotency-Key": "second-try"})
    assert fresh.status_code == 201


@pytest.mark.parametrize("key", ["", "x" * 201, "tab\there", "bell\x07"])
def test_a_malformed_key_is_refused(client: FlaskClient, world: World, key: str) -> None:
    size = tree_size(client)
    refused = world.investor.post("/v1/withdrawals", {"amount": money("1.00")},
                                  headers={"Idempotency-Key": key})
    assert_problem(refused, 422, fields=["Idempotency-Key"])
    assert tree_size(client) == size


def test_reads_ignore_the_key(world: World) -> None:
    first = world.investor.get("/v1/accounts", headers={"Idempotency-Key": "read"})
    world.op.post("/v1/deposits", {"party_id": world.investor.party_id,
                                   "amount": money("1.00"), "reference": "later"})
    second = world.investor.get("/v1/accounts", headers={"Idempotency-Key": "read"})
    assert REPLAYED not in second.headers
    assert first.json[0]["available"] == "1000.00"
    assert second.json[0]["available"] == "1001.00"


def test_a_retried_key_issuance_issues_one_key_and_never_stores_the_secret(
        client: FlaskClient, world: World, app: Any) -> None:
    headers = {"Idempotency-Key": "issue-once"}
    url = f"/v1/parties/{world.investor.party_id}/api-keys"
    first = world.investor.post(url, headers=headers)
    again = world.investor.post(url, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json["key"].startswith("ipx_")
    assert again.json["id"] == first.json["id"] and again.json["key"] is None
    assert again.headers["Idempotent-Replayed"] == "true"
    with app.extensions["ipx"].sessions() as session:
        stored = session.execute(select(IdempotencyRecord.response_body)).scalars().all()
    assert stored and not any(first.json["key"] in body for body in stored)


@pytest.mark.parametrize("orig", [psycopg.errors.DeadlockDetected("deadlock detected"),
                                  psycopg.errors.SerializationFailure("could not serialize")])
def test_a_request_that_lost_a_race_can_be_retried_with_its_key(
        client: FlaskClient, world: World, monkeypatch: pytest.MonkeyPatch,
        orig: Exception) -> None:
    """PostgreSQL aborted it for a concurrent transaction: a 409 to retry, and the retry with
    the same key runs (a lost race is not a result to replay)."""
    def aborted(*_: Any, **__: Any) -> None:
        raise OperationalError("INSERT INTO accounts ...", {}, orig)

    key = {"Idempotency-Key": "raced"}
    body = {"party_id": world.bob.party_id, "amount": money("7.00"), "reference": "raced"}
    size = tree_size(client)
    with monkeypatch.context() as patch:
        patch.setattr(money_service, "deposit", aborted)
        lost = world.op.post("/v1/deposits", body, headers=key)
    assert_problem(lost, 409, slug="concurrent-conflict")
    assert tree_size(client) == size
    retried = world.op.post("/v1/deposits", body, headers=key)
    assert retried.status_code == 201, retried.json
    assert REPLAYED not in retried.headers
    assert world.op.post("/v1/deposits", body, headers=key).headers[REPLAYED] == "true"
    assert tree_size(client) == size + 1


def test_other_database_failures_are_a_500_that_can_be_retried(
        client: FlaskClient, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    def failed(*_: Any, **__: Any) -> None:
        raise OperationalError("COMMIT", {}, sqlite3.OperationalError("disk I/O error"))

    key = {"Idempotency-Key": "io"}
    body = {"party_id": world.bob.party_id, "amount": money("7.00"), "reference": "io"}
    with monkeypatch.context() as patch:
        patch.setattr(money_service, "deposit", failed)
        assert_problem(world.op.post("/v1/deposits", body, headers=key), 500,
                       slug="internal-error")
    assert world.op.post("/v1/deposits", body, headers=key).status_code == 201
