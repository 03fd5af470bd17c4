"""The Exchange section of the contract, through the Flask test client."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import Caller


@pytest.fixture
def market(op: Caller, new_caller: Callable[..., Caller]) -> dict[str, Any]:
    uni, alice, fund = new_caller("university"), new_caller("inventor"), new_caller("investor")
    listed = uni.post("/v1/assets", {
        "title": "Sensor mesh", "kind": "patent", "jurisdiction": "HK",
        "inventors": [{"party_id": alice.party_id, "share": "1"}], "policy": "hku-2023"})
    assert listed.status_code == 201, listed.json
    instrument = next(i["id"] for i in listed.json["instruments"] if i["class"] == "inventor")
    deposit = op.post("/v1/deposits", {"party_id": fund.party_id, "reference": "wire-1",
                                       "amount": {"amount": "10000.00", "currency": "HKD"}})
    assert deposit.status_code == 201, deposit.json
    return {"op": op, "alice": alice, "fund": fund, "instrument": instrument}


def _order(who: Caller, instrument: str, **fields: Any) -> Any:
    return who.post("/v1/orders", {"instrument_id": instrument, "type": "limit",
                                   "time_in_force": "GTC", **fields})


def test_instrument_listing_shows_trading_rules(market: dict[str, Any], client: Any) -> None:
    got = client.get(f"/v1/instruments/{market['instrument']}")
    assert got.status_code == 200
    assert {k: got.json[k] for k in ("class", "currency", "tick_size", "lot_size",
                                     "market_model", "last_price")} == {
        "class": "inventor", "currency": "HKD", "tick_size": "0.01", "lot_size": 1,
        "market_model": "continuous", "last_price": None}
    listed = client.get("/v1/instruments?limit=500")
    assert market["instrument"] in [i["id"] for i in listed.json]


def test_an_order_fills_and_market_data_follows(market: dict[str, Any], client: Any) -> None:
    alice, fund, instrument = market["alice"], market["fund"], market["instrument"]
    sell = _order(alice, instrument, side="sell", price="3.00", quantity=1000)
    assert sell.status_code == 201, sell.json
    assert (sell.json["status"], sell.json["filled_quantity"]) == ("open", 0)
    book = client.get(f"/v1/instruments/{instrument}/book").json
    assert book["asks"] == [{"price": "3.00", "quantity": 1000}] and book["bids"] == []

    buy = _order(fund, instrument, side="buy", price="3.10", quantity=400)
    assert buy.status_code == 201, buy.json
    assert buy.json["status"] == "filled"
    assert [(f["price"], f["quantity"]) for f in buy.json["fills"]] == [("3.00", 400)]
    trades = client.get(f"/v1/instruments/{instrument}/trades").json
    assert [(t["price"], t["quantity"]) for t in trades] == [("3.00", 400)]
    assert client.get(f"/v1/instruments/{instrument}").json["last_price"] == "3.00"
    assert fund.get("/v1/accounts").json[0]["available"] == "8800.00"
    entry = fund.get(f"/v1/ledger/entries/{trades[0]['journal_seq']}")
    assert entry.status_code == 200 and entry.json["body"]["kind"] == "order.placed"
    assert [t["trade_id"] for t in entry.json["body"]["data"]["trades"]] == [trades[0]["id"]]

    mine = alice.get(f"/v1/orders/{sell.json['id']}").json
    assert (mine["status"], mine["filled_quantity"]) == ("partially_filled", 400)
    assert [o["id"] for o in alice.get("/v1/orders?open=true").json] == [sell.json["id"]]
    cancelled = alice.delete(f"/v1/orders/{sell.json['id']}")
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
    assert alice.get("/v1/holdings").json[0]["held_units"] == 0


@pytest.mark.parametrize("fields, field", [
    ({"side": "buy", "price": "3.001", "quantity": 1}, "price"),
    ({"side": "buy", "price": 3.0, "quantity": 1}, "price"),
    ({"side": "buy", "price": "3.00", "quantity": 0}, "quantity"),
    ({"side": "buy", "price": "3.00", "quantity": "5"}, "quantity"),
    ({"side": "hold", "price": "3.00", "quantity": 1}, "side"),
    ({"side": "buy", "quantity": 1}, "price"),
    ({"side": "buy", "price": "3.00", "quantity": 1, "time_in_force": "GTD"}, "expires_at"),
    ({"side": "buy", "price": "3.00", "quantity": 1, "time_in_force": "GTD",
      "expires_at": "2001-01-01T00:00:00+00:00"}, "expires_at"),
    ({"side": "buy", "price": "3.00", "quantity": 100_000}, "quantity"),
    ({"side": "sell", "price": "3.00", "quantity": 1}, "quantity"),
    ({"side": "buy", "price": "3.00", "quantity": 1, "time_in_force": "FOK"}, "time_in_force"),
    ({"side": "buy", "price": "3.00", "quantity": 1, "colour": "red"}, "colour"),
])
def test_bad_orders_are_problems_and_change_nothing(
        market: dict[str, Any], client: Any, fields: dict[str, Any], field: str | None) -> None:
    fund = market["fund"]
    size = client.get("/v1/ledger/checkpoint").json["tree_size"]
    got = _order(fund, market["instrument"], **fields)
    assert 400 <= got.status_code < 500, got.json
    assert got.content_type == "application/problem+json"
    if field is not None:
        assert field in " ".join(got.json.get("errors", {})) or field in got.json["detail"]
    # Reading the checkpoint signs one; nothing else may have been written.
    assert client.get("/v1/ledger/checkpoint").json["tree_size"] == size
    assert fund.get("/v1/accounts").json[0] == {
        "currency": "HKD", "available": "10000.00", "held": "0.00", "payout_pending": "0.00"}


def test_unknown_instrument_and_someone_elses_order(market: dict[str, Any]) -> None:
    fund, alice = market["fund"], market["alice"]
    unknown = _order(fund, "ins_nope", side="buy", price="1.00", quantity=1)
    assert unknown.status_code == 404
    sell = _order(alice, market["instrument"], side="sell", price="3.00", quantity=10)
    assert fund.delete(f"/v1/orders/{sell.json['id']}").status_code == 404
    assert fund.get(f"/v1/orders/{sell.json['id']}").status_code == 404


def test_only_the_operator_configures_markets_and_runs_auctions(
        market: dict[str, Any], client: Any) -> None:
    op, fund, alice = market["op"], market["fund"], market["alice"]
    instrument = market["instrument"]
    assert fund.client.patch(f"/v1/instruments/{instrument}/market", json={"fee_bps": 5},
                             headers=fund.headers()).status_code == 403
    assert fund.post(f"/v1/instruments/{instrument}/auction").status_code == 403
    configured = op.client.patch(f"/v1/instruments/{instrument}/market",
                                 json={"market_model": "call"}, headers=op.headers())
    assert configured.status_code == 200 and configured.json["market_model"] == "call"
    _order(alice, instrument, side="sell", price="2.00", quantity=100)
    bid = _order(fund, instrument, side="buy", price="2.50", quantity=60)
    assert bid.json["status"] == "open"
    auction = op.post(f"/v1/instruments/{instrument}/auction")
    assert auction.status_code == 200, auction.json
    assert (auction.json["price"], auction.json["quantity"]) == ("2.00", 60)
    assert fund.get(f"/v1/orders/{bid.json['id']}").json["status"] == "filled"


def test_one_order_is_one_entry_and_both_sides_statements_verify(
        market: dict[str, Any], client: Any) -> None:
    """An order that sweeps two resting orders journals itself, both trades, both makers'
    closures and the net postings in ONE entry; each side's statement still verifies."""
    from datetime import UTC, datetime, timedelta

    from ledger.statement_verifier import verify_statement

    alice, fund, op, instrument = (market["alice"], market["fund"], market["op"],
                                   market["instrument"])
    op.client.patch(f"/v1/instruments/{instrument}/market", json={"fee_bps": 100},
                    headers=op.headers())
    first = _order(alice, instrument, side="sell", price="3.00", quantity=100).json
    second = _order(alice, instrument, side="sell", price="3.10", quantity=100).json
    size = client.get("/v1/ledger/checkpoint").json["tree_size"]
    buy = _order(fund, instrument, side="buy", price="3.20", quantity=150)
    assert buy.status_code == 201 and buy.json["status"] == "filled", buy.json
    assert client.get("/v1/ledger/checkpoint").json["tree_size"] == size + 1

    trades = client.get(f"/v1/instruments/{instrument}/trades").json
    assert {t["journal_seq"] for t in trades} == {size + 1}
    body = fund.get(f"/v1/ledger/entries/{size + 1}").json["body"]
    data = body["data"]
    assert (body["kind"], data["order_id"], data["hold"]) == ("order.placed", buy.json["id"],
                                                              "484.80")  # 3.20 x 150 + 1%
    assert [(t["price"], t["quantity"], t["sell_order_id"]) for t in data["trades"]] == [
        ("3.00", 100, first["id"]), ("3.10", 50, second["id"])]
    assert [(c["order_id"], c["status"]) for c in data["closed"]] == [
        (first["id"], "filled"), (buy.json["id"], "filled")]
    # Net postings, one per account: fund paid 300 + 155 + 1% fees, alice got the same less
    # her 1%, the operator both fees; the fund's held account nets to nothing and is left out.
    postings = {p["account"].split(":", 1)[0] + ":" + p["account"].rsplit(":", 1)[1]: p["amount"]
                for p in body["postings"]}
    assert postings == {f"{fund.party_id}:available": "-459.55",
                        f"{alice.party_id}:available": "450.45", "ipx:fees": "9.10"}
    assert body["units"] == [
        {"party": alice.party_id, "instrument": instrument, "units": -150, "held": -150},
        {"party": fund.party_id, "instrument": instrument, "units": 150, "held": 0}]
    assert alice.get(f"/v1/ledger/entries/{size + 1}").status_code == 200  # a named party

    now = datetime.now(UTC)
    period = (f"from={(now - timedelta(days=1)):%Y-%m-%dT%H:%M:%SZ}"
              f"&to={(now + timedelta(days=1)):%Y-%m-%dT%H:%M:%SZ}")
    key = client.get("/v1/ledger/public-key").json["public_key_pem"]
    for who, closing in ((alice, "450.45"), (fund, "9540.45")):
        statement = who.get(f"/v1/statements?{period}&currency=HKD").json
        assert statement["closing_balance"] == closing, statement
        assert statement["lines"][-1]["seq"] == size + 1
        assert statement["lines"][-1]["description"] == f"Trades in {instrument}: " + (
            "sold 100 at 3.00, sold 50 at 3.10" if who is alice
            else "bought 100 at 3.00, bought 50 at 3.10")
        report = verify_statement(statement, key)
        assert report.ok, report.failures
