"""Licence units through the HTTP API: a tranche is issued, subscribed with held cash, sold
out and paid to the inventors, its units traded on the exchange and burned by production."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ledger.statement_verifier import verify_statement
from tests.api.conftest import assert_problem, tree_size
from tests.conftest import Caller

TRANCHES = "/v1/licence-unit-tranches"


def unit_terms(grantor: str, asset: str, **extra: Any) -> dict[str, Any]:
    return {"schema": "ipx.licence-terms/1", "grantor": grantor, "assets": [asset],
            "exclusivity": "non_exclusive",
            "field_of_use": [{"code": "consumer_devices", "label": "Consumer devices"}],
            "territory": ["WORLD"], "start": "2026-01-01", "end": "2040-01-01",
            "currency": "HKD", "report_frequency": "annual", **extra}


def later(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


def tranche_body(w: dict[str, Any], **over: Any) -> dict[str, Any]:
    body = {"terms": unit_terms(w["uni"].party_id, w["asset"]), "units": 10,
            "products_per_unit": 100, "price": {"amount": "1000.00", "currency": "HKD"},
            "closes_at": later(days=7)}
    body.update(over)
    return body


@pytest.fixture
def w(op: Caller, new_caller: Callable[..., Caller]) -> dict[str, Any]:
    uni, other_uni = new_caller("university", "HKU"), new_caller("university", "Other")
    alice, bob = new_caller("inventor", "Alice"), new_caller("inventor", "Bob")
    acme, beta = new_caller("company", "Acme"), new_caller("company", "Beta")
    listed = uni.post("/v1/assets", {
        "title": "Battery anode", "kind": "patent", "jurisdiction": "HK", "policy": "hku-2023",
        "inventors": [{"party_id": alice.party_id, "share": "0.6"},
                      {"party_id": bob.party_id, "share": "0.4"}]})
    assert listed.status_code == 201, listed.json
    for who, amount in ((acme, "50000.00"), (beta, "50000.00")):
        paid_in = op.post("/v1/deposits", {"party_id": who.party_id, "reference": who.party_id,
                                           "amount": {"amount": amount, "currency": "HKD"}})
        assert paid_in.status_code == 201, paid_in.json
    return {"op": op, "uni": uni, "other_uni": other_uni, "alice": alice, "bob": bob,
            "acme": acme, "beta": beta, "asset": listed.json["id"]}


def balance(caller: Caller) -> tuple[str, str]:
    rows = {r["currency"]: r for r in caller.get("/v1/accounts").json}
    hkd = rows.get("HKD", {"available": "0.00", "held": "0.00"})
    return hkd["available"], hkd["held"]


def units_of(caller: Caller, instrument_id: str) -> tuple[int, int] | None:
    rows = [h for h in caller.get("/v1/holdings").json if h["instrument_id"] == instrument_id]
    return (rows[0]["units"], rows[0]["held_units"]) if rows else None


def issue(w: dict[str, Any], **over: Any) -> dict[str, Any]:
    made = w["uni"].post(TRANCHES, tranche_body(w, **over))
    assert made.status_code == 201, made.json
    tranche: dict[str, Any] = made.json
    return tranche


def test_the_licence_unit_lifecycle(w: dict[str, Any], client: Any) -> None:
    uni, alice, bob, acme, beta = w["uni"], w["alice"], w["bob"], w["acme"], w["beta"]
    size = tree_size(client)
    tranche = issue(w)
    assert tree_size(client) == size + 1
    assert (tranche["status"], tranche["units"], tranche["sold"], tranche["remaining"]) == (
        "open", 10, 0, 10)
    assert tranche["price"] == {"amount": "1000.00", "currency": "HKD"}
    assert tranche["class"] == "licence_units_1" and tranche["total_units"] == 10
    assert len(tranche["terms_hash"]) == 64 and tranche["terms"]["exclusivity"] == "non_exclusive"
    tid, instrument = tranche["id"], tranche["instrument_id"]
    public = client.get(f"{TRANCHES}/{tid}")  # no key needed
    assert public.status_code == 200 and public.json == tranche
    listed = client.get(f"/v1/instruments/{instrument}").json
    assert (listed["asset_id"], listed["class"]) == (w["asset"], "licence_units_1")

    # Two buyers subscribe; their cash is held, nobody has units yet.
    first = acme.post(f"{TRANCHES}/{tid}/subscriptions", {"units": 4})
    assert first.status_code == 201, first.json
    assert first.json["amount"] == {"amount": "4000.00", "currency": "HKD"}
    assert first.json["status"] == "held" and first.json["tranche"]["status"] == "open"
    assert first.json["tranche"]["remaining"] == 6
    assert balance(acme) == ("46000.00", "4000.00")
    assert units_of(acme, instrument) is None

    # The second takes the rest: the tranche sells out and closes in the same request.
    second = beta.post(f"{TRANCHES}/{tid}/subscriptions", {"units": 6})
    assert second.status_code == 201, second.json
    closed = second.json["tranche"]
    assert second.json["status"] == "paid"
    assert (closed["status"], closed["sold"], closed["remaining"]) == ("closed", 10, 0)
    assert closed["total_units"] == 10 and len(closed["distribution_ids"]) == 2
    assert balance(acme) == ("46000.00", "0.00")
    assert balance(beta) == ("44000.00", "0.00")
    # HKU-2023, no costs: 70% of 10,000 to the inventors (60/40), 30% to the university.
    assert balance(alice) == ("4200.00", "0.00")
    assert balance(bob) == ("2800.00", "0.00")
    assert balance(uni) == ("3000.00", "0.00")
    grosses = sorted(alice.get(f"/v1/distributions/{d}").json["gross"]["amount"]
                     for d in closed["distribution_ids"])  # one per subscriber
    assert grosses == ["4000.00", "6000.00"]
    assert units_of(acme, instrument) == (4, 0) and units_of(beta, instrument) == (6, 0)
    again = client.get(f"{TRANCHES}/{tid}").json
    assert again["status"] == "closed" and again["closed_seq"] is not None
    assert acme.post(f"{TRANCHES}/{tid}/subscriptions", {"units": 1}).status_code == 409

    # The units trade like any instrument: acme sells two to beta.
    sell = acme.post("/v1/orders", {"instrument_id": instrument, "side": "sell",
                                    "type": "limit", "price": "1200.00", "quantity": 2})
    assert sell.status_code == 201 and sell.json["status"] == "open", sell.json
    buy = beta.post("/v1/orders", {"instrument_id": instrument, "side": "buy",
                                   "type": "limit", "price": "1200.00", "quantity": 2})
    assert buy.status_code == 201 and buy.json["status"] == "filled", buy.json
    assert units_of(acme, instrument) == (2, 0) and units_of(beta, instrument) == (8, 0)
    assert balance(acme) == ("48400.00", "0.00")
    assert balance(beta) == ("41600.00", "0.00")

    # beta reports production: 250 products use 3 units of 100; 50 more fit in the third.
    used = beta.post(f"{TRANCHES}/{tid}/consumptions", {"products": 250})
    assert used.status_code == 201, used.json
    assert (used.json["units_consumed"], used.json["units_held"], used.json["total_units"]) == (
        3, 5, 7)
    fits = beta.post(f"{TRANCHES}/{tid}/consumptions", {"products": 50})
    assert fits.status_code == 201
    assert (fits.json["units_consumed"], fits.json["products_total"]) == (0, 300)
    one_more = beta.post(f"{TRANCHES}/{tid}/consumptions", {"products": 1})
    assert (one_more.json["units_consumed"], one_more.json["units_consumed_total"]) == (1, 4)
    assert units_of(beta, instrument) == (4, 0)
    after = client.get(f"{TRANCHES}/{tid}").json
    assert (after["burned"], after["total_units"]) == (4, 6)
    assert client.get(f"/v1/instruments/{instrument}").json["total_units"] == 6
    entry = w["op"].get(f"/v1/ledger/entries/{one_more.json['journal_seq']}").json
    assert entry["body"]["kind"] == "licence_units.consumed"
    assert entry["body"]["units"] == [{"party": beta.party_id, "instrument": instrument,
                                       "units": -1, "held": 0}]
    assert "postings" not in entry["body"]  # the units were paid for at the sale

    # Consuming more than the free units is refused, and changes nothing.
    size = tree_size(client)
    too_many = beta.post(f"{TRANCHES}/{tid}/consumptions", {"products": 1000})
    assert_problem(too_many, 422, fields=["products"])
    resting = acme.post("/v1/orders", {"instrument_id": instrument, "side": "sell",
                                       "type": "limit", "price": "1500.00", "quantity": 2})
    assert resting.status_code == 201 and resting.json["status"] == "open"
    size = tree_size(client)
    in_orders = acme.post(f"{TRANCHES}/{tid}/consumptions", {"products": 1})
    body = assert_problem(in_orders, 422, fields=["products"])
    assert "held for open orders" in body["detail"]
    assert tree_size(client) == size
    assert units_of(acme, instrument) == (2, 2)

    # The buyers' and the inventors' statements still verify offline.
    now = datetime.now(UTC)
    period = (f"from={(now - timedelta(days=1)):%Y-%m-%dT%H:%M:%SZ}"
              f"&to={(now + timedelta(days=1)):%Y-%m-%dT%H:%M:%SZ}&currency=HKD")
    key = client.get("/v1/ledger/public-key").json["public_key_pem"]
    for who in (acme, beta, alice):
        statement = who.get(f"/v1/statements?{period}").json
        report = verify_statement(statement, key)
        assert report.ok, report.failures


def test_a_second_tranche_gets_its_own_class(w: dict[str, Any]) -> None:
    first, second = issue(w), issue(w, units=5)
    assert (first["class"], second["class"]) == ("licence_units_1", "licence_units_2")
    assert first["instrument_id"] != second["instrument_id"]


def test_closing_before_the_end_is_refused(w: dict[str, Any], client: Any) -> None:
    tranche = issue(w)
    tid = tranche["id"]
    size = tree_size(client)
    assert_problem(w["uni"].post(f"{TRANCHES}/{tid}/close"), 409, slug="conflict")
    assert_problem(w["acme"].post(f"{TRANCHES}/{tid}/close"), 403)
    assert_problem(w["op"].post(f"{TRANCHES}/{tid}/close"), 409)
    assert_problem(w["acme"].post(f"{TRANCHES}/{tid}/consumptions", {"products": 1}), 409)
    assert tree_size(client) == size


def _bad_tranches(w: dict[str, Any]) -> list[tuple[Caller, dict[str, Any], int, str]]:
    uni, asset = w["uni"], w["asset"]
    terms = unit_terms(uni.party_id, asset)
    return [
        (uni, tranche_body(w, terms={**terms, "exclusivity": "exclusive"}), 422,
         "terms.exclusivity"),
        (uni, tranche_body(w, terms={**terms, "licensee": w["acme"].party_id}), 422,
         "terms.licensee"),
        (uni, tranche_body(w, terms={**terms, "territory": ["XX"]}), 422, "terms.territory[0]"),
        (uni, tranche_body(w, terms={**terms, "assets": ["ast_missing"]}), 422,
         "terms.assets[0]"),
        (uni, tranche_body(w, price={"amount": "10.00", "currency": "USD"}), 422,
         "price.currency"),
        (uni, tranche_body(w, price={"amount": "0", "currency": "HKD"}), 422, "price.amount"),
        (uni, tranche_body(w, price={"amount": "1.001", "currency": "HKD"}), 422,
         "price.amount"),
        (uni, tranche_body(w, units=0), 422, "units"),
        (uni, tranche_body(w, units="10"), 422, "units"),
        (uni, tranche_body(w, products_per_unit=0), 422, "products_per_unit"),
        (uni, tranche_body(w, units=10**12, price={"amount": "100000000.00",
                                                   "currency": "HKD"}), 422, "units"),
        (uni, tranche_body(w, closes_at=later(days=-1)), 422, "closes_at"),
        (uni, tranche_body(w, closes_at="2030-01-01T00:00:00"), 422, "closes_at"),
        (uni, tranche_body(w, closes_at="2045-01-01T00:00:00Z"), 422, "closes_at"),
        (uni, {**tranche_body(w), "extra": 1}, 422, "extra"),
        (w["other_uni"], tranche_body(w, terms=unit_terms(w["other_uni"].party_id, asset)),
         403, ""),
        (w["acme"], tranche_body(w), 403, ""),
    ]


def test_bad_tranches_are_refused_and_change_nothing(w: dict[str, Any], client: Any) -> None:
    size = tree_size(client)
    for who, body, status, field in _bad_tranches(w):
        got = who.post(TRANCHES, body)
        assert_problem(got, status, fields=[field] if field else [])
    assert tree_size(client) == size


def test_bad_subscriptions_are_refused_and_change_nothing(w: dict[str, Any],
                                                          client: Any) -> None:
    tid = issue(w)["id"]
    poor = w["op"].post("/v1/parties", {"name": "Poor Co", "kind": "company"}).json
    poor_key = w["op"].post(f"/v1/parties/{poor['id']}/api-keys").json["key"]
    poor_co = Caller(client, poor["id"], "company", poor_key)
    size = tree_size(client)
    for who, units, status, slug in [
        (w["acme"], 11, 409, "insufficient-units"),
        (w["acme"], 0, 422, None),
        (poor_co, 1, 409, "insufficient-funds"),
        (w["alice"], 1, 403, None),  # an inventor takes no licence
        (w["uni"], 1, 403, None),  # nor does the grantor buy its own units
    ]:
        got = who.post(f"{TRANCHES}/{tid}/subscriptions", {"units": units})
        assert_problem(got, status, slug=slug, fields=["units"] if status != 403 else [])
    assert_problem(w["acme"].post(f"{TRANCHES}/lut_missing/subscriptions", {"units": 1}), 404)
    assert_problem(client.get(f"{TRANCHES}/lut_missing"), 404)
    assert_problem(client.post(f"{TRANCHES}/{tid}/subscriptions", json={"units": 1}), 401)
    assert tree_size(client) == size
    assert balance(w["acme"]) == ("50000.00", "0.00")
    assert client.get(f"{TRANCHES}/{tid}").json["sold"] == 0
