"""Licences through the HTTP API: offers accepted by terms hash, conflict-free grants,
royalty reports that become invoices, and paid invoices distributed to the inventors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import Caller


def terms(grantor: str, asset: str, *, licensee: str | None = None,
          exclusivity: str = "exclusive", fields: tuple[str, ...] = ("diagnostics",),
          territory: tuple[str, ...] = ("HK",), **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schema": "ipx.licence-terms/1", "grantor": grantor, "assets": [asset],
        "exclusivity": exclusivity,
        "field_of_use": [{"code": f, "label": f.title()} for f in fields],
        "territory": list(territory), "start": "2026-01-01", "end": "2028-01-01",
        "currency": "HKD", "report_frequency": "quarterly",
        "royalty": {"tiers": [{"from": "0", "rate": "5"}, {"from": "1000000", "rate": "3"}],
                    "minimum_annual": "20000"},
        **extra,
    }
    if licensee:
        body["licensee"] = licensee
    return body


@pytest.fixture
def world(op: Caller, new_caller: Callable[..., Caller]) -> dict[str, Any]:
    uni, alice = new_caller("university"), new_caller("inventor")
    acme, beta = new_caller("company", "Acme"), new_caller("company", "Beta")
    asset = uni.post("/v1/assets", {
        "title": "Assay", "kind": "patent", "jurisdiction": "HK", "policy": "hku-2023",
        "inventors": [{"party_id": alice.party_id, "share": "1"}]}).json["id"]
    for who in (acme, beta):
        op.post("/v1/deposits", {"party_id": who.party_id, "reference": f"f-{who.party_id}",
                                 "amount": {"amount": "500000.00", "currency": "HKD"}})
    return {"op": op, "uni": uni, "alice": alice, "acme": acme, "beta": beta, "asset": asset}


def _grant(w: dict[str, Any], licensee: Caller, **kw: Any) -> Any:
    offer = w["uni"].post("/v1/licence-offers", {"terms": terms(
        w["uni"].party_id, w["asset"], licensee=licensee.party_id, **kw)})
    assert offer.status_code == 201, offer.json
    return licensee.post(f"/v1/licence-offers/{offer.json['id']}/accept",
                         {"terms_hash": offer.json["terms_hash"]})


def test_exclusive_then_a_refused_overlap_and_a_non_exclusive_elsewhere(
        world: dict[str, Any], client: Any) -> None:
    first = _grant(world, world["acme"], upfront_fee="50000.00")
    assert first.status_code == 200, first.json
    grant = first.json["grant"]
    assert grant["exclusivity"] == "exclusive" and first.json["offer"]["status"] == "executed"
    size = client.get("/v1/ledger/checkpoint").json["tree_size"]

    clash = _grant(world, world["beta"], fields=("diagnostics", "therapy"))
    assert clash.status_code == 409 and grant["id"] in clash.json["detail"]
    # Publishing the second offer was journalled; the refused acceptance wrote nothing.
    assert client.get("/v1/ledger/checkpoint").json["tree_size"] == size + 1

    elsewhere = _grant(world, world["beta"], exclusivity="non_exclusive", territory=("SG",))
    assert elsewhere.status_code == 200, elsewhere.json
    invoices = world["acme"].get("/v1/invoices").json
    assert [(i["kind"], i["amount"]["amount"]) for i in invoices] == [("upfront_fee",
                                                                         "50000.00")]
    odrl = world["acme"].get(f"/v1/licences/{grant['id']}/odrl").json
    assert odrl["@type"] == "Agreement"
    assert world["beta"].get(f"/v1/licences/{grant['id']}").status_code == 404


def test_a_stale_terms_hash_is_refused(world: dict[str, Any]) -> None:
    uni, acme = world["uni"], world["acme"]
    offer = uni.post("/v1/licence-offers", {"negotiable": True, "terms": terms(
        uni.party_id, world["asset"], licensee=acme.party_id)}).json
    revised = uni.client.put(f"/v1/licence-offers/{offer['id']}/terms", headers=uni.headers(),
                             json={"terms": terms(uni.party_id, world["asset"],
                                                  licensee=acme.party_id, upfront_fee="1.00")})
    assert revised.status_code == 200 and revised.json["terms_hash"] != offer["terms_hash"]
    stale = acme.post(f"/v1/licence-offers/{offer['id']}/accept",
                      {"terms_hash": offer["terms_hash"]})
    assert stale.status_code == 409 and "terms_hash" in stale.json["errors"]
    ok = acme.post(f"/v1/licence-offers/{offer['id']}/accept",
                   {"terms_hash": revised.json["terms_hash"]})
    assert ok.status_code == 200 and ok.json["grant"] is not None


def test_a_royalty_report_becomes_an_invoice_that_is_paid_and_distributed(
        world: dict[str, Any]) -> None:
    acme, alice = world["acme"], world["alice"]
    grant = _grant(world, acme).json["grant"]
    report = acme.post(f"/v1/licences/{grant['id']}/royalty-reports", {
        "period_start": "2026-01-01", "period_end": "2026-04-01",
        "lines": [{"territory": "HK", "product": "kit", "net_sales":
                   {"amount": "900000.00", "currency": "HKD"}},
                  {"territory": "HK", "product": "reader", "net_sales":
                   {"amount": "200000.00", "currency": "HKD"}}]})
    assert report.status_code == 201, report.json
    # 1,100,000 crosses the 1,000,000 tier: 5% of 1,000,000 + 3% of 100,000 = 53,000.
    assert report.json["breakdown"]["due"] == "53000.00"
    invoice = report.json["invoices"][0]
    again = acme.post(f"/v1/licences/{grant['id']}/royalty-reports", {
        "period_start": "2026-01-01", "period_end": "2026-04-01",
        "net_sales": {"amount": "1.00", "currency": "HKD"}})
    assert again.status_code == 409
    outside = acme.post(f"/v1/licences/{grant['id']}/royalty-reports", {
        "period_start": "2029-01-01", "period_end": "2029-04-01",
        "net_sales": {"amount": "1.00", "currency": "HKD"}})
    assert outside.status_code == 422 and "period" in outside.json["errors"]

    assert alice.post(f"/v1/invoices/{invoice['id']}/pay").status_code == 404
    paid = acme.post(f"/v1/invoices/{invoice['id']}/pay")
    assert paid.status_code == 200, paid.json
    assert paid.json["invoice"]["status"] == "paid"
    assert acme.post(f"/v1/invoices/{invoice['id']}/pay").status_code == 409
    # HKU-2023: inventors 70% of 53,000 = 37,100, all to alice (she holds every unit).
    assert alice.get("/v1/accounts").json[0]["available"] == "37100.00"
    assert acme.get("/v1/accounts").json[0]["available"] == "447000.00"


def test_sublicence_income_is_shared_with_the_grantor(world: dict[str, Any]) -> None:
    acme = world["acme"]
    grant = _grant(world, acme, sublicence_share="20").json["grant"]
    url = f"/v1/licences/{grant['id']}/sublicence-income"
    invoice = acme.post(url, {"income": {"amount": "12345.67", "currency": "HKD"},
                              "reference": "sub-1"})
    assert invoice.status_code == 201, invoice.json
    assert (invoice.json["kind"], invoice.json["amount"]["amount"]) == ("sublicence", "2469.13")
    wrong = acme.post(url, {"income": {"amount": "1.00", "currency": "USD"},
                            "reference": "sub-2"})
    assert wrong.status_code == 422
    assert world["uni"].post(url, {"income": {"amount": "1.00", "currency": "HKD"},
                                   "reference": "x"}).status_code == 403
