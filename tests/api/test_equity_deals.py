"""Equity-for-IP deals through the HTTP API: share capital, cap table and its OCF zip, a deal
proposed, countered, accepted (and so executed), its exit proceeds distributed; refusals as
problem+json naming the field; per-object authorisation; Idempotency-Key replays."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from typing import Any

import pytest

from contracts.ocf import MANIFEST_NAME, missing_fields, read_zip
from tests.api.conftest import (
    World,
    assert_problem,
    holdings,
    money,
    tree_size,
)
from tests.conftest import Caller

SHARE_CAPITAL = {
    "legal_name": "Volta Cells Limited", "formation_date": "2024-03-01",
    "country_of_formation": "HK", "currency": "HKD",
    "classes": [{"name": "ordinary", "authorised": 2_000_000},
                {"name": "preferred", "authorised": 10_000, "class_type": "preferred"}],
    "stakeholders": [{"id": "founder-a", "name": "Ada Founder"},
                     {"id": "founder-b", "name": "Ben Founder"}],
    "issuances": [
        {"id": "f-1", "stakeholder": "founder-a", "share_class": "ordinary", "shares": 600_000,
         "date": "2024-03-01", "price_per_share": "0.01"},
        {"id": "f-2", "stakeholder": "founder-b", "share_class": "ordinary", "shares": 400_000,
         "date": "2024-03-01"}],
    "option_pool": None,
}


def licence(world: World, startup: Caller) -> dict[str, Any]:
    return {"schema": "ipx.licence-terms/1", "grantor": world.uni.party_id,
            "licensee": startup.party_id, "assets": [world.asset["id"]],
            "exclusivity": "exclusive",
            "field_of_use": [{"code": "batteries", "label": "Batteries"}],
            "territory": ["HK"], "start": "2026-01-01", "end": "2036-01-01",
            "currency": "HKD", "report_frequency": "annual"}


def proposal(world: World, startup: Caller, shares: int, **extra: Any) -> dict[str, Any]:
    return {"university_id": world.uni.party_id, "asset_id": world.asset["id"],
            "licence_terms": licence(world, startup),
            "terms": {"shares": shares, "share_class": "ordinary", **extra}}


@pytest.fixture
def startup(world: World, new_caller: Callable[..., Caller]) -> Caller:
    s = new_caller("startup", "Volta Cells")
    registered = s.post(f"/v1/startups/{s.party_id}/share-capital", SHARE_CAPITAL)
    assert registered.status_code == 201, registered.json
    assert registered.json["fully_diluted"] == 1_000_000
    deposited = world.op.post("/v1/deposits", {"party_id": s.party_id,
                                               "amount": money("50000.00"),
                                               "reference": "seed-startup"})
    assert deposited.status_code == 201, deposited.json
    return s


def test_a_deal_over_http(world: World, startup: Caller, client: Any) -> None:
    s, uni = startup, world.uni
    size = tree_size(client)
    over = s.post("/v1/equity-deals", proposal(world, s, 60_000))
    body = assert_problem(over, 422, fields=["terms.shares"])
    assert "caps equity at 5%" in body["detail"]
    assert tree_size(client) == size

    created = s.post("/v1/equity-deals", proposal(world, s, 50_000,
                                                  cash=money("10000.00")),
                     headers={"Idempotency-Key": "deal-1"})
    assert created.status_code == 201, created.json
    deal = created.json
    assert (deal["state"], deal["awaiting"]) == ("proposed", uni.party_id)
    assert deal["equity_cap"] == {"policy": "hku-2023", "max_percent": "5"}
    assert deal["terms"]["cash"] == money("10000.00")
    assert deal["terms"]["licence_terms_hash"] == deal["licence_terms_hash"]
    replay = s.post("/v1/equity-deals", proposal(world, s, 50_000, cash=money("10000.00")),
                    headers={"Idempotency-Key": "deal-1"})
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.json == deal
    url = f"/v1/equity-deals/{deal['id']}"

    # Outsiders do not see the deal; the university does, and counters.
    assert_problem(world.investor.get(url), 404)
    assert world.uni.get(url).json == deal
    countered = uni.post(f"{url}/counter", {"terms": {"shares": 52_631,
                                                      "share_class": "ordinary"}})
    assert countered.status_code == 200, countered.json
    assert countered.json["state"] == "countered"
    assert countered.json["terms"]["cash"] is None

    # A stale hash, then one's own terms, then the right one.
    assert_problem(s.post(f"{url}/accept", {"terms_hash": deal["terms_hash"]}), 409,
                   fields=["terms_hash"])
    assert_problem(uni.post(f"{url}/accept", {"terms_hash": countered.json["terms_hash"]}), 409)
    assert_problem(s.post(f"{url}/accept", {"terms_hash": "nope"}), 422, fields=["terms_hash"])
    accepted = s.post(f"{url}/accept", {"terms_hash": countered.json["terms_hash"]})
    assert accepted.status_code == 200, accepted.json
    executed = accepted.json
    assert executed["state"] == "executed"
    assert [st["event"] for st in executed["steps"]] == ["propose", "counter", "accept",
                                                         "execute"]
    assert executed["grant_id"] and executed["instrument_id"]
    size = tree_size(client)
    assert_problem(s.post(f"{url}/accept", {"terms_hash": countered.json["terms_hash"]}), 409)
    assert tree_size(client) == size

    # The university holds the shares as units of the start-up's equity instrument, which
    # trades like any other.
    rows = [h for h in holdings(uni) if h["instrument_id"] == executed["instrument_id"]]
    assert [(r["units"], r["class"]) for r in rows] == [(52_631, "startup_equity_1")]
    instrument = client.get(f"/v1/instruments/{executed['instrument_id']}")
    assert instrument.status_code == 200, instrument.json
    licence_view = s.get(f"/v1/licences/{executed['grant_id']}")
    assert licence_view.json["licensee_id"] == s.party_id

    table = uni.get(f"/v1/startups/{s.party_id}/cap-table")
    assert table.status_code == 200, table.json
    assert table.json["fully_diluted"] == 1_052_631
    assert {"stakeholder_id": uni.party_id, "share_class": "ordinary", "shares": 52_631,
            "percent_of_fully_diluted": "4.9999477500"} in table.json["holdings"]
    ordinary = table.json["classes"][0]
    assert (ordinary["issued"], ordinary["instrument_id"]) == (1_052_631,
                                                               executed["instrument_id"])
    assert_problem(world.investor.get(f"/v1/startups/{s.party_id}/cap-table"), 404)

    zipped = s.get(f"/v1/startups/{s.party_id}/cap-table.ocf.zip")
    assert zipped.status_code == 200
    assert zipped.mimetype == "application/zip"
    assert zipfile.ZipFile(io.BytesIO(zipped.data)).testzip() is None
    files = read_zip(zipped.data)
    assert MANIFEST_NAME in files and missing_fields(files) == []

    # An exit: the operator records the proceeds, split by the asset's policy.
    assert_problem(uni.post(f"{url}/proceeds", {"kind": "exit", "amount": money("1.00"),
                                                "reference": "x"}), 403)
    assert_problem(world.op.post(f"{url}/proceeds", {"kind": "ipo", "amount": money("1.00"),
                                                     "reference": "x"}), 422, fields=["kind"])
    assert_problem(world.op.post(f"{url}/proceeds", {"kind": "exit",
                                                     "amount": money("1.00", "USD"),
                                                     "reference": "x"}), 422,
                   fields=["amount.currency"])
    exit_ = world.op.post(f"{url}/proceeds", {"kind": "exit", "amount": money("1000000.00"),
                                              "reference": "acquired by BigCo"})
    assert exit_.status_code == 201, exit_.json
    distribution = exit_.json["distribution"]
    assert distribution["source"] == "equity_proceeds"
    amounts = {ln["party_id"]: ln["amount"] for ln in distribution["lines"]}
    assert amounts[world.alice.party_id] == "420000.00"
    assert amounts[world.bob.party_id] == "280000.00"
    assert sum(float(a) for a in amounts.values()) == 1_000_000.0

    listed = s.get("/v1/equity-deals")
    assert [d["id"] for d in listed.json] == [deal["id"]]
    assert world.investor.get("/v1/equity-deals").json == []


def test_bad_input_is_a_problem_naming_the_field(world: World, startup: Caller,
                                                 client: Any) -> None:
    s = startup
    size = tree_size(client)
    cases: list[tuple[Any, int, list[str]]] = [
        (s.post("/v1/equity-deals", {"asset_id": world.asset["id"]}), 422, ["university_id"]),
        (s.post("/v1/equity-deals", {**proposal(world, s, 1), "terms": "many"}), 422,
         ["terms"]),
        (s.post("/v1/equity-deals", proposal(world, s, 0)), 422, ["terms.shares"]),
        (s.post("/v1/equity-deals", proposal(world, s, 1, shares_please=True)), 422,
         ["terms.shares_please"]),
        (s.post("/v1/equity-deals", {**proposal(world, s, 1),
                                     "asset_id": world.other_asset["id"]}), 422, ["asset_id"]),
        (s.post("/v1/equity-deals", {**proposal(world, s, 20_000),
                                     "terms": {"shares": 20_000, "share_class": "preferred"}}),
         422, ["terms.shares"]),
        (s.post("/v1/equity-deals", proposal(world, s, 1, cash={"amount": 5,
                                                                 "currency": "HKD"})),
         422, ["terms.cash.amount"]),
        (world.investor.post("/v1/equity-deals", proposal(world, s, 1)), 403, []),
        (s.post(f"/v1/startups/{s.party_id}/share-capital", SHARE_CAPITAL), 409, []),
        (world.investor.post(f"/v1/startups/{world.investor.party_id}/share-capital",
                             SHARE_CAPITAL), 422, ["id"]),
        (s.post(f"/v1/startups/{s.party_id}/share-capital",
                {**SHARE_CAPITAL, "classes": []}), 422, ["classes"]),
        (s.post("/v1/equity-deals/eqd_missing/accept", {"terms_hash": "0" * 64}), 404, []),
        (s.post("/v1/equity-deals/eqd_missing/withdraw"), 404, []),
        (s.get(f"/v1/startups/{world.investor.party_id}/cap-table"), 404, []),
    ]
    for response, status, fields in cases:
        assert_problem(response, status, fields=fields)
    assert tree_size(client) == size


def test_share_capital_is_validated(world: World, new_caller: Callable[..., Caller]) -> None:
    s = new_caller("startup", "Fresh")
    url = f"/v1/startups/{s.party_id}/share-capital"
    for change, field in [
        ({"currency": "XXY"}, "currency"),
        ({"country_of_formation": "ZZ"}, "country_of_formation"),
        ({"formation_date": "2999-01-01"}, "formation_date"),
        ({"option_pool": {"share_class": "ordinary", "reserved": 1_500_000}},
         "option_pool.reserved"),
        ({"issuances": [{"id": "x", "stakeholder": "nobody", "share_class": "ordinary",
                         "shares": 1, "date": "2024-03-01"}]}, "transactions[0].stakeholder"),
        ({"issuances": [{"id": "x", "stakeholder": "founder-a", "share_class": "ordinary",
                         "shares": 3_000_000, "date": "2024-03-01"}]}, "transactions[0].shares"),
    ]:
        assert_problem(s.post(url, {**SHARE_CAPITAL, **change}), 422, fields=[field])
    assert s.post(url, SHARE_CAPITAL).status_code == 201
