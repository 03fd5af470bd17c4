"""Challenges over HTTP: the whole path from posting to the registered result, per-object
authorisation, Idempotency-Key retries, and bad input answered with problem+json."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.api.conftest import assert_problem, balances, money, tree_size
from tests.conftest import Caller


@dataclass
class Parties:
    op: Caller
    poster: Caller
    gov: Caller
    uni: Caller
    alice: Caller
    bob: Caller
    lab: Caller


@pytest.fixture
def p(op: Caller, new_caller: Callable[..., Caller]) -> Parties:
    parties = Parties(op, new_caller("company", "Acme Cells"), new_caller("government", "ITC"),
                      new_caller("university", "HKU"), new_caller("inventor", "Alice"),
                      new_caller("inventor", "Bob"), new_caller("university", "Lab U"))
    for who, amount in ((parties.poster, "500000.00"), (parties.gov, "200000.00")):
        done = op.post("/v1/deposits", {"party_id": who.party_id, "amount": money(amount),
                                        "reference": f"seed-{who.party_id}"})
        assert done.status_code == 201, done.json
    return parties


def deadline(days: int = 30) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat().replace("+00:00", "Z")


def challenge_body(p: Parties, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Solid-state electrolyte stable above 80 C",
        "problem": "Our cells lose capacity at 80 C; find an electrolyte that does not.",
        "field": "battery-materials", "deadline": deadline(),
        "bounty": money("200000.00"),
        "matching": {"party_id": p.gov.party_id, "amount": money("100000.00")},
        "milestones": [{"key": "prototype", "title": "Prototype cell", "percent": "40"},
                       {"key": "transfer", "title": "Process transfer", "percent": "60"}],
        "ip_terms": "shared",
    }
    body.update(overrides)
    return body


def team_body(p: Parties) -> dict[str, Any]:
    return {"team": {"members": [{"party_id": p.uni.party_id, "percent": "50"},
                                 {"party_id": p.alice.party_id, "percent": "30"},
                                 {"party_id": p.bob.party_id, "percent": "20"}],
                     "university": p.uni.party_id},
            "proposal": "A sulfide route, with a pilot line in Tai Po."}


def cash(caller: Caller) -> tuple[str, str]:
    row = next((b for b in balances(caller) if b["currency"] == "HKD"), None)
    return (row["available"], row["held"]) if row else ("0.00", "0.00")


def ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    body: dict[str, Any] = response.json
    return body


def test_a_challenge_from_posting_to_its_registered_result(p: Parties,
                                                           client: FlaskClient) -> None:
    posted = ok(p.poster.post("/v1/challenges", challenge_body(p)), 201)
    cid = posted["id"]
    assert posted["status"] == "awaiting_matching"
    assert posted["bounty"] == money("200000.00")
    funders = {f["role"]: f for f in posted["funders"]}
    assert funders["poster"]["held"] == money("200000.00")
    assert funders["matching"]["confirmed"] is False
    assert cash(p.poster) == ("300000.00", "200000.00")
    assert cash(p.gov) == ("200000.00", "0.00")
    listed = client.get("/v1/challenges?status=awaiting_matching")  # public, no key
    assert [c["id"] for c in ok(listed)] == [cid]
    assert_problem(p.alice.post(f"/v1/challenges/{cid}/applications", team_body(p)), 409,
                   fields=["state"])
    assert_problem(p.poster.post(f"/v1/challenges/{cid}/matching-funds"), 403)
    opened = ok(p.gov.post(f"/v1/challenges/{cid}/matching-funds"))
    assert opened["status"] == "open" and cash(p.gov) == ("100000.00", "100000.00")
    applied = ok(p.alice.post(f"/v1/challenges/{cid}/applications", team_body(p)), 201)
    team_id = applied["id"]
    assert [m["percent"] for m in applied["members"]] == ["50", "30", "20"]
    rival = ok(p.lab.post(f"/v1/challenges/{cid}/applications", {
        "team": {"members": [{"party_id": p.lab.party_id, "percent": "100"}],
                 "university": p.lab.party_id}, "proposal": "A polymer route."}), 201)
    assert len(ok(p.poster.get(f"/v1/challenges/{cid}/applications"))) == 2
    assert [a["id"] for a in ok(p.lab.get(f"/v1/challenges/{cid}/applications"))] == [
        rival["id"]]
    assert ok(p.gov.get(f"/v1/challenges/{cid}/applications")) == []
    ok(p.poster.post(f"/v1/challenges/{cid}/shortlist", {"team_ids": [team_id, rival["id"]]}))
    assert_problem(p.alice.post(f"/v1/challenges/{cid}/award", {"team_id": team_id}), 403)
    # The award, retried with the same Idempotency-Key, is answered once.
    key = {"Idempotency-Key": "award-1"}
    first = p.poster.post(f"/v1/challenges/{cid}/award", {"team_id": team_id}, headers=key)
    awarded = ok(first)
    size = tree_size(client)
    again = p.poster.post(f"/v1/challenges/{cid}/award", {"team_id": team_id}, headers=key)
    assert again.status_code == 200 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.json == awarded and tree_size(client) == size
    assert awarded["status"] == "awarded" and awarded["award"]["team_id"] == team_id
    assert_problem(p.poster.post(f"/v1/challenges/{cid}/withdraw"), 409)
    # Milestones: reported, rejected with a reason, reported again, accepted and paid.
    base = f"/v1/challenges/{cid}/milestones/prototype"
    assert_problem(p.lab.post(f"{base}/report"), 403)
    ok(p.bob.post(f"{base}/report"))
    rejected = ok(p.poster.post(f"{base}/reject", {"reason": "only 80 cycles shown"}))
    assert rejected["milestones"][0]["rejections"] == ["only 80 cycles shown"]
    ok(p.alice.post(f"{base}/report"))
    paid = ok(p.poster.post(f"{base}/accept"))
    assert sum(int(x["amount"]["amount"].replace(".", "")) for x in paid["payments"]) == \
        12_000_000  # 40% of 200,000.00 + 100,000.00
    assert cash(p.uni) == ("60000.00", "0.00") and cash(p.alice) == ("36000.00", "0.00")
    assert_problem(p.poster.post(f"{base}/accept"), 409)  # accepted once
    ok(p.uni.post(f"/v1/challenges/{cid}/milestones/transfer/report"))
    done = ok(p.poster.post(f"/v1/challenges/{cid}/milestones/transfer/accept"))
    assert done["status"] == "completed"
    assert cash(p.poster) == ("300000.00", "0.00") and cash(p.gov) == ("100000.00", "0.00")
    assert cash(p.uni)[0] == "150000.00" and cash(p.bob)[0] == "60000.00"
    # The result: the university owns it (shared terms), the poster has a licence.
    result_body = {"title": "Sulfide electrolyte for sodium-ion cells", "kind": "patent",
                   "jurisdiction": "HK"}
    assert_problem(p.poster.post(f"/v1/challenges/{cid}/result-asset", result_body), 403)
    result = ok(p.uni.post(f"/v1/challenges/{cid}/result-asset", result_body), 201)
    assert (result["owner_id"], result["licensee_id"], result["exclusivity"]) == (
        p.uni.party_id, p.poster.party_id, "non_exclusive")
    asset = ok(client.get(f"/v1/assets/{result['asset']['id']}"))
    assert asset["owner_id"] == p.uni.party_id
    assert {i["party_id"]: i["share"] for i in asset["inventors"]} == {
        p.alice.party_id: "0.6", p.bob.party_id: "0.4"}
    read = ok(client.get(f"/v1/challenges/{cid}"))
    assert read["result"]["asset_id"] == result["asset"]["id"]
    assert_problem(p.uni.post(f"/v1/challenges/{cid}/result-asset", result_body), 409)


def test_withdrawal_refunds_and_cancel_is_the_operators(p: Parties) -> None:
    cid = ok(p.poster.post("/v1/challenges", challenge_body(p)), 201)["id"]
    ok(p.gov.post(f"/v1/challenges/{cid}/matching-funds"))
    assert_problem(p.gov.post(f"/v1/challenges/{cid}/withdraw"), 403)
    assert_problem(p.poster.post(f"/v1/challenges/{cid}/cancel", {"reason": "x"}), 403)
    assert_problem(p.op.post(f"/v1/challenges/{cid}/cancel", {"reason": "x"}), 409)
    withdrawn = ok(p.poster.post(f"/v1/challenges/{cid}/withdraw"))
    assert withdrawn["status"] == "withdrawn"
    assert {r["party_id"]: r["amount"]["amount"] for r in withdrawn["refunds"]} == {
        p.poster.party_id: "200000.00", p.gov.party_id: "100000.00"}
    assert cash(p.poster) == ("500000.00", "0.00") and cash(p.gov) == ("200000.00", "0.00")


@pytest.mark.parametrize(("overrides", "status", "field"), [
    ({"bounty": {"amount": 200000.0, "currency": "HKD"}}, 422, "bounty.amount"),
    ({"bounty": money("9000000.00")}, 409, "bounty.amount"),
    ({"bounty": money("-1.00")}, 422, "bounty.amount"),
    ({"bounty": money("1.001")}, 422, "bounty.amount"),
    ({"deadline": "2020-01-01T00:00:00Z"}, 422, "deadline"),
    ({"deadline": "2030-01-01T00:00:00"}, 422, "deadline"),
    ({"milestones": [{"key": "a", "title": "A", "percent": "99"}]}, 422, "milestones"),
    ({"milestones": [{"key": "A B", "title": "A", "percent": "100"}]}, 422,
     "milestones[0].key"),
    ({"ip_terms": "sell"}, 422, "ip_terms"),
    ({"field": "Battery Materials"}, 422, "field"),
    ({"matching": {"party_id": "pty_nobody", "amount": money("1.00")}}, 422,
     "matching.party_id"),
    ({"matching": {"party_id": "x", "amount": money("1.00", "USD")}}, 422,
     "matching.amount.currency"),
    ({"surprise": 1}, 422, "surprise"),
])
def test_bad_challenges_are_refused_with_the_field(p: Parties, client: FlaskClient,
                                                   overrides: dict[str, Any], status: int,
                                                   field: str) -> None:
    size, before = tree_size(client), cash(p.poster)
    assert_problem(p.poster.post("/v1/challenges", challenge_body(p, **overrides)), status,
                   fields=[field])
    assert tree_size(client) == size and cash(p.poster) == before


def test_bad_applications_and_awards(p: Parties, client: FlaskClient) -> None:
    cid = ok(p.poster.post("/v1/challenges", challenge_body(p, matching=None)), 201)["id"]
    assert_problem(p.uni.post("/v1/challenges", challenge_body(p)), 403)
    assert_problem(client.get("/v1/challenges/chl_nope"), 404)
    bad_team = team_body(p)
    bad_team["team"]["members"][0]["percent"] = "40"
    size = tree_size(client)
    assert_problem(p.alice.post(f"/v1/challenges/{cid}/applications", bad_team), 422,
                   fields=["team.members"])
    no_uni = team_body(p)
    del no_uni["team"]["university"]
    assert_problem(p.alice.post(f"/v1/challenges/{cid}/applications", no_uni), 422,
                   fields=["team.university"])
    assert_problem(p.lab.post(f"/v1/challenges/{cid}/applications", team_body(p)), 403)
    funder = {"team": {"members": [{"party_id": p.poster.party_id, "percent": "50"},
                                   {"party_id": p.lab.party_id, "percent": "50"}],
                       "university": p.lab.party_id}, "proposal": "p"}
    assert_problem(p.lab.post(f"/v1/challenges/{cid}/applications", funder), 422,
                   fields=["team.members[0].party_id"])
    assert tree_size(client) == size
    team_id = ok(p.alice.post(f"/v1/challenges/{cid}/applications", team_body(p)), 201)["id"]
    assert_problem(p.poster.post(f"/v1/challenges/{cid}/award", {"team_id": team_id}), 409)
    assert_problem(p.poster.post(f"/v1/challenges/{cid}/shortlist", {"team_ids": ["cta_x"]}),
                   422, fields=["team_ids[0]"])
    ok(p.poster.post(f"/v1/challenges/{cid}/shortlist", {"team_ids": [team_id]}))
    assert_problem(p.poster.post(f"/v1/challenges/{cid}/award", {"team_id": "cta_ghost"}),
                   422, fields=["team_id"])
    assert_problem(p.poster.post(f"/v1/challenges/{cid}/milestones/prototype/accept"), 409)
    assert_problem(p.poster.post(f"/v1/challenges/{cid}/milestones/prototype/reject",
                                 {"reason": ""}), 422, fields=["reason"])


def test_browsing_pages_and_filters(p: Parties, client: FlaskClient) -> None:
    by_field = {f"field-{i}": ok(p.poster.post("/v1/challenges", challenge_body(
        p, matching=None, field=f"field-{i}", bounty=money("1000.00"))), 201)["id"]
        for i in range(3)}
    ids = sorted(by_field.values())
    first = client.get("/v1/challenges?limit=2")
    assert [c["id"] for c in ok(first)] == ids[:2]
    second = client.get(first.headers["Link"].split(">")[0].lstrip("<"))
    assert [c["id"] for c in ok(second)] == ids[2:]
    assert [c["id"] for c in ok(client.get("/v1/challenges?field=field-1"))] == [
        by_field["field-1"]]
    assert ok(client.get("/v1/challenges?status=awarded")) == []
    assert_problem(client.get("/v1/challenges?status=bogus"), 422, fields=["status"])
