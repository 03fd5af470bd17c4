"""Bad input, table-driven: every refusal is a 4xx problem+json naming what is wrong, and
nothing reaches the journal."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.api.conftest import World, assert_problem, asset_body, balances, holdings, tree_size

W = World
GOOD_POLICY: dict[str, Any] = {
    "classes": ["inventor", "university"],
    "tiers": [{"from": "0", "shares": {"inventor": "60", "university": "40"}}],
}


@dataclass
class Case:
    who: str
    url: Callable[[W], str]
    body: Callable[[W], Any]
    status: int
    fields: list[str] = field(default_factory=list)
    method: str = "POST"
    raw: bytes | None = None  # sent as is, with `content_type`
    content_type: str = "application/json"


def party(body: Any, status: int = 422, *fields: str) -> Case:
    return Case("op", lambda w: "/v1/parties", lambda w: body, status, list(fields))


def asset(change: Callable[[W, dict[str, Any]], Any], status: int = 422, *fields: str,
          who: str = "uni") -> Case:
    def body(w: W) -> Any:
        good = asset_body([(w.alice.party_id, "0.6"), (w.bob.party_id, "0.4")])
        return change(w, good)

    return Case(who, lambda w: "/v1/assets", body, status, list(fields))


def with_(**changes: Any) -> Callable[[W, dict[str, Any]], dict[str, Any]]:
    return lambda w, good: {**good, **changes}


def without(name: str) -> Callable[[W, dict[str, Any]], dict[str, Any]]:
    return lambda w, good: {k: v for k, v in good.items() if k != name}


def inventors(make: Callable[[W], list[dict[str, Any]]]) -> Callable[[W, dict[str, Any]], Any]:
    return lambda w, good: {**good, "inventors": make(w)}


def policy(change: Callable[[dict[str, Any]], Any]) -> Callable[[W, dict[str, Any]], Any]:
    return lambda w, good: {**good, "policy": change(json.loads(json.dumps(GOOD_POLICY)))}


def tiers(*t: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda p: {**p, "tiers": list(t)}


def money_case(who: str, url: Callable[[W], str], extra: Callable[[W], dict[str, Any]],
               amount: Any, status: int = 422, *fields: str) -> Case:
    default = ["amount.amount"] if status == 422 else []
    return Case(who, url, lambda w: {**extra(w), "amount": amount}, status,
                list(fields) or default)


def deposit(amount: Any, status: int = 422, *fields: str) -> Case:
    return money_case("op", lambda w: "/v1/deposits",
                      lambda w: {"party_id": w.investor.party_id, "reference": "r-1"},
                      amount, status, *fields)


def withdrawal(amount: Any, status: int = 422, *fields: str) -> Case:
    return money_case("investor", lambda w: "/v1/withdrawals", lambda w: {}, amount, status,
                      *fields)


def cost(amount: Any, status: int = 422, *fields: str) -> Case:
    return money_case("uni", lambda w: f"/v1/assets/{w.asset['id']}/costs",
                      lambda w: {"description": "filing fee"}, amount, status, *fields)


def transfer(change: Callable[[W], dict[str, Any]], status: int = 422, *fields: str,
             who: str = "alice") -> Case:
    def body(w: W) -> dict[str, Any]:
        good = {"instrument_id": w.inventor_instrument, "to_party_id": w.investor.party_id,
                "units": 10}
        return {k: v for k, v in {**good, **change(w)}.items() if v is not ...}

    return Case(who, lambda w: "/v1/unit-transfers", body, status, list(fields))


def m(amount: Any, currency: Any = "HKD") -> dict[str, Any]:
    return {"amount": amount, "currency": currency}


def share(party: str, value: Any) -> Callable[[W], dict[str, Any]]:
    return lambda w: {"party_id": getattr(w, party).party_id, "share": value}


def shares(*pairs: tuple[str, Any]) -> Callable[[W], list[dict[str, Any]]]:
    return lambda w: [share(p, v)(w) for p, v in pairs]


CASES: dict[str, Case] = {
    # --- parties ---------------------------------------------------------------------------
    "party/name-not-a-string": party({"name": 5, "kind": "investor"}, 422, "name"),
    "party/name-null": party({"name": None, "kind": "investor"}, 422, "name"),
    "party/name-blank": party({"name": "   ", "kind": "investor"}, 422, "name"),
    "party/name-too-long": party({"name": "n" * 201, "kind": "investor"}, 422, "name"),
    "party/missing-kind": party({"name": "x"}, 422, "kind"),
    "party/missing-everything": party({}, 422, "name", "kind"),
    "party/unknown-kind": party({"name": "x", "kind": "alien"}, 422, "kind"),
    "party/kind-wrong-case": party({"name": "x", "kind": "Investor"}, 422, "kind"),
    "party/unknown-field": party({"name": "x", "kind": "investor", "admin": True}, 422, "admin"),
    "party/array-body": party([{"name": "x", "kind": "investor"}], 422, "body"),
    "party/string-body": party("investor", 422, "body"),
    "party/number-body": party(42, 422, "body"),
    # --- assets ----------------------------------------------------------------------------
    "asset/title-not-a-string": asset(with_(title=["t"]), 422, "title"),
    "asset/title-empty": asset(with_(title=""), 422, "title"),
    "asset/missing-title": asset(without("title"), 422, "title"),
    "asset/missing-policy": asset(without("policy"), 422, "policy"),
    "asset/missing-inventors": asset(without("inventors"), 422, "inventors"),
    "asset/unknown-field": asset(with_(price="10"), 422, "price"),
    "asset/unknown-kind": asset(with_(kind="trademark"), 422, "kind"),
    "asset/bad-jurisdiction": asset(with_(jurisdiction="hk"), 422, "jurisdiction"),
    "asset/jurisdiction-number": asset(with_(jurisdiction=852), 422, "jurisdiction"),
    "asset/unknown-currency": asset(with_(currency="XYZ"), 422, "currency"),
    "asset/currency-lowercase": asset(with_(currency="hkd"), 422, "currency"),
    "asset/inventors-empty": asset(with_(inventors=[]), 422, "inventors"),
    "asset/inventors-object": asset(with_(inventors={"a": "1"}), 422, "inventors"),
    "asset/inventor-not-object": asset(with_(inventors=["pty_x"]), 422, "inventors[0]"),
    "asset/share-float": asset(inventors(shares(("alice", 0.6), ("bob", "0.4"))), 422,
                               "inventors[0].share"),
    "asset/share-int": asset(inventors(shares(("alice", 1))), 422, "inventors[0].share"),
    "asset/share-not-decimal": asset(inventors(shares(("alice", "six tenths"),
                                                      ("bob", "0.4"))),
                                     422, "inventors[0].share"),
    "asset/share-exponent": asset(inventors(shares(("alice", "6E-1"), ("bob", "0.4"))), 422,
                                  "inventors[0].share"),
    "asset/share-nan": asset(inventors(shares(("alice", "NaN"), ("bob", "0.4"))), 422,
                             "inventors[0].share"),
    "asset/share-zero": asset(inventors(shares(("alice", "0"), ("bob", "1"))), 422,
                              "inventors[0].share"),
    "asset/share-negative": asset(inventors(shares(("alice", "-0.5"), ("bob", "1.5"))), 422,
                                  "inventors[0].share"),
    "asset/shares-sum-below-1": asset(inventors(shares(("alice", "0.5"), ("bob", "0.4"))),
                                      422, "inventors"),
    "asset/shares-sum-above-1": asset(inventors(shares(("alice", "0.6"), ("bob", "0.4000001"))),
                                      422, "inventors"),
    "asset/missing-share": asset(inventors(lambda w: [{"party_id": w.alice.party_id}]), 422,
                                 "inventors[0].share"),
    "asset/inventor-extra-field": asset(inventors(lambda w: [{**share("alice", "1")(w),
                                                              "role": "lead"}]),
                                        422, "inventors[0].role"),
    "asset/investor-as-inventor": asset(inventors(shares(("alice", "0.5"), ("investor", "0.5"))),
                                        422, "inventors[1].party_id"),
    "asset/university-as-inventor": asset(inventors(shares(("uni", "1"))), 422,
                                          "inventors[0].party_id"),
    "asset/duplicate-inventor": asset(inventors(shares(("alice", "0.5"), ("alice", "0.5"))),
                                      422, "inventors[1].party_id"),
    "asset/unknown-inventor": asset(inventors(lambda w: [{"party_id": "pty_nobody",
                                                          "share": "1"}]),
                                    422, "inventors[0].party_id"),
    "asset/unknown-preset": asset(with_(policy="mit-1990"), 422, "policy"),
    "asset/policy-number": asset(with_(policy=7), 422, "policy"),
    "asset/policy-list": asset(with_(policy=["hku-2023"]), 422, "policy"),
    "asset/policy-shares-sum-99": asset(policy(tiers(
        {"from": "0", "shares": {"inventor": "60", "university": "39"}})),
        422, "policy.tiers[0].shares"),
    "asset/policy-shares-sum-101": asset(policy(tiers(
        {"from": "0", "shares": {"inventor": "61", "university": "40"}})),
        422, "policy.tiers[0].shares"),
    "asset/policy-share-over-100": asset(policy(tiers(
        {"from": "0", "shares": {"inventor": "150", "university": "-50"}})),
        422, "policy.tiers[0].shares.inventor"),
    "asset/policy-tiers-not-ascending": asset(policy(tiers(
        {"from": "0", "shares": {"inventor": "60", "university": "40"}},
        {"from": "1000", "shares": {"inventor": "50", "university": "50"}},
        {"from": "500", "shares": {"inventor": "40", "university": "60"}})),
        422, "policy.tiers[2].from"),
    "asset/policy-tiers-repeated": asset(policy(tiers(
        {"from": "0", "shares": {"inventor": "60", "university": "40"}},
        {"from": "0", "shares": {"inventor": "50", "university": "50"}})),
        422, "policy.tiers[1].from"),
    "asset/policy-first-tier-not-0": asset(policy(tiers(
        {"from": "10", "shares": {"inventor": "60", "university": "40"}})),
        422, "policy.tiers[0].from"),
    "asset/policy-tier-from-huge": asset(policy(tiers(
        {"from": "0", "shares": {"inventor": "60", "university": "40"}},
        {"from": "1E+1000000", "shares": {"inventor": "50", "university": "50"}})),
        422, "policy.tiers[1].from"),
    "asset/policy-unknown-class-in-shares": asset(policy(tiers(
        {"from": "0", "shares": {"inventor": "60", "dean": "40"}})),
        422, "policy.tiers[0].shares"),
    "asset/policy-class-missing-from-shares": asset(policy(tiers(
        {"from": "0", "shares": {"inventor": "100"}})),
        422, "policy.tiers[0].shares"),
    "asset/policy-no-tiers": asset(policy(tiers()), 422, "policy.tiers"),
    "asset/policy-no-classes": asset(policy(lambda p: {**p, "classes": []}), 422,
                                     "policy.classes"),
    "asset/policy-bad-class-name": asset(policy(lambda p: {**p, "classes": ["Inventor"]}), 422,
                                         "policy.classes[0]"),
    "asset/policy-duplicate-class": asset(policy(lambda p: {**p, "classes": ["inventor",
                                                                             "inventor"]}),
                                          422, "policy.classes"),
    "asset/policy-unknown-step-kind": asset(policy(lambda p: {**p, "steps": [
        {"kind": "dean_fee", "percent": "5"}]}), 422, "policy.steps[0]"),
    "asset/policy-step-twice": asset(policy(lambda p: {**p, "steps": [
        {"kind": "cost_recovery"}, {"kind": "cost_recovery"}]}), 422, "policy.steps[1]"),
    "asset/policy-fee-percent-float": asset(policy(lambda p: {**p, "steps": [
        {"kind": "admin_fee", "percent": 15.5}]}), 422, "policy.steps[0].percent"),
    "asset/policy-fee-percent-over-100": asset(policy(lambda p: {**p, "steps": [
        {"kind": "admin_fee", "percent": "101"}]}), 422, "policy.steps[0].percent"),
    "asset/policy-unknown-field": asset(policy(lambda p: {**p, "vesting": "4y"}), 422,
                                        "policy.vesting"),
    "asset/policy-units-zero": asset(policy(lambda p: {**p, "units_per_class": 0}), 422,
                                     "policy.units_per_class"),
    "asset/policy-units-string": asset(policy(lambda p: {**p, "units_per_class": "1000"}), 422,
                                       "policy.units_per_class"),
    "asset/policy-unknown-residual-holder": asset(
        policy(lambda p: {**p, "residual_holder": "pty_nobody"}), 422,
        "policy.residual_holder"),
    "asset/policy-bad-name": asset(policy(lambda p: {**p, "name": "My Policy!"}), 422,
                                   "policy.name"),
    "asset/by-an-investor": asset(with_(), 403, who="investor"),
    # --- costs -----------------------------------------------------------------------------
    "cost/amount-float": cost(m(12.5)),
    "cost/amount-int": cost(m(12)),
    "cost/amount-zero": cost(m("0.00")),
    "cost/amount-negative": cost(m("-5.00")),
    "cost/amount-words": cost(m("twelve")),
    "cost/amount-empty": cost(m("")),
    "cost/too-many-decimals": cost(m("12.345")),
    "cost/other-currency": cost(m("12.00", "USD"), 422, "amount.currency"),
    "cost/unknown-currency": cost(m("12.00", "ZZZ"), 422, "amount.currency"),
    "cost/amount-not-an-object": cost("12.00", 422, "amount"),
    "cost/missing-currency": cost({"amount": "12.00"}, 422, "amount.currency"),
    "cost/missing-description": Case(
        "uni", lambda w: f"/v1/assets/{w.asset['id']}/costs",
        lambda w: {"amount": m("12.00")}, 422, ["description"]),
    "cost/unknown-asset": Case(
        "uni", lambda w: "/v1/assets/ast_00000000000000000000/costs",
        lambda w: {"amount": m("12.00"), "description": "x"}, 404),
    "cost/someone-elses-asset": Case(
        "uni", lambda w: f"/v1/assets/{w.other_asset['id']}/costs",
        lambda w: {"amount": m("12.00"), "description": "x"}, 403),
    # --- deposits --------------------------------------------------------------------------
    "deposit/amount-float": deposit(m(12.5)),
    "deposit/amount-int": deposit(m(12)),
    "deposit/amount-bool": deposit(m(True)),
    "deposit/amount-null": deposit(m(None)),
    "deposit/amount-zero": deposit(m("0")),
    "deposit/amount-negative": deposit(m("-100.00")),
    "deposit/amount-words": deposit(m("ten dollars")),
    "deposit/amount-exponent": deposit(m("1e3")),
    "deposit/amount-huge-exponent": deposit(m("1E+999990")),
    "deposit/amount-nan": deposit(m("NaN")),
    "deposit/amount-infinity": deposit(m("Infinity")),
    "deposit/amount-hex": deposit(m("0x10")),
    "deposit/amount-thousands-separator": deposit(m("1,000.00")),
    "deposit/amount-too-large": deposit(m("99999999999999999999")),
    "deposit/amount-too-many-digits": deposit(m("123456789012345678901234567890")),
    "deposit/hkd-3-decimals": deposit(m("1.001")),
    "deposit/jpy-decimals": deposit(m("100.5", "JPY")),
    "deposit/jpy-decimal-zero": deposit(m("100.50", "JPY")),
    "deposit/kwd-4-decimals": deposit(m("1.2345", "KWD")),
    "deposit/unknown-currency": deposit(m("1.00", "ABC"), 422, "amount.currency"),
    "deposit/currency-lowercase": deposit(m("1.00", "usd"), 422, "amount.currency"),
    "deposit/currency-number": deposit(m("1.00", 840), 422, "amount.currency"),
    "deposit/amount-extra-field": deposit({**m("1.00"), "rate": "1"}, 422, "amount.rate"),
    "deposit/missing-amount": Case("op", lambda w: "/v1/deposits",
                                   lambda w: {"party_id": w.investor.party_id,
                                              "reference": "r"}, 422, ["amount"]),
    "deposit/missing-reference": Case("op", lambda w: "/v1/deposits",
                                      lambda w: {"party_id": w.investor.party_id,
                                                 "amount": m("1.00")}, 422, ["reference"]),
    "deposit/empty-reference": Case("op", lambda w: "/v1/deposits",
                                    lambda w: {"party_id": w.investor.party_id,
                                               "amount": m("1.00"), "reference": ""},
                                    422, ["reference"]),
    "deposit/unknown-party": Case("op", lambda w: "/v1/deposits",
                                  lambda w: {"party_id": "pty_nobody", "amount": m("1.00"),
                                             "reference": "r"}, 404, ["party_id"]),
    "deposit/by-a-party": Case("investor", lambda w: "/v1/deposits",
                               lambda w: {"party_id": w.investor.party_id,
                                          "amount": m("1.00"), "reference": "r"}, 403),
    # --- withdrawals -----------------------------------------------------------------------
    "withdrawal/amount-float": withdrawal(m(10.5)),
    "withdrawal/amount-zero": withdrawal(m("0.00")),
    "withdrawal/amount-negative": withdrawal(m("-10.00")),
    "withdrawal/amount-words": withdrawal(m("all of it")),
    "withdrawal/too-many-decimals": withdrawal(m("10.005")),
    "withdrawal/unknown-currency": withdrawal(m("10.00", "HKX"), 422, "amount.currency"),
    "withdrawal/missing-amount": Case("investor", lambda w: "/v1/withdrawals", lambda w: {},
                                      422, ["amount"]),
    "withdrawal/extra-field": Case("investor", lambda w: "/v1/withdrawals",
                                   lambda w: {"amount": m("1.00"), "iban": "HK00"}, 422,
                                   ["iban"]),
    "withdrawal/overdraw": withdrawal(m("1000.01"), 409),
    "withdrawal-paid/unknown": Case("op", lambda w: "/v1/withdrawals/wdr_nope/paid",
                                    lambda w: None, 404),
    # --- unit transfers --------------------------------------------------------------------
    "transfer/units-string": transfer(lambda w: {"units": "10"}, 422, "units"),
    "transfer/units-float": transfer(lambda w: {"units": 10.0}, 422, "units"),
    "transfer/units-fraction": transfer(lambda w: {"units": 1.5}, 422, "units"),
    "transfer/units-bool": transfer(lambda w: {"units": True}, 422, "units"),
    "transfer/units-zero": transfer(lambda w: {"units": 0}, 422, "units"),
    "transfer/units-negative": transfer(lambda w: {"units": -10}, 422, "units"),
    "transfer/missing-units": transfer(lambda w: {"units": ...}, 422, "units"),
    "transfer/missing-instrument": transfer(lambda w: {"instrument_id": ...}, 422,
                                            "instrument_id"),
    "transfer/instrument-number": transfer(lambda w: {"instrument_id": 5}, 422,
                                           "instrument_id"),
    "transfer/extra-field": transfer(lambda w: {"price": "1"}, 422, "price"),
    "transfer/unknown-instrument": transfer(lambda w: {"instrument_id": "ins_nope"}, 404,
                                            "instrument_id"),
    "transfer/asset-id-as-instrument": transfer(lambda w: {"instrument_id": w.asset["id"]},
                                                404, "instrument_id"),
    "transfer/unknown-party": transfer(lambda w: {"to_party_id": "pty_nobody"}, 422,
                                       "to_party_id"),
    "transfer/to-self": transfer(lambda w: {"to_party_id": w.alice.party_id}, 422,
                                 "to_party_id"),
    "transfer/more-than-held": transfer(lambda w: {"units": 600_001}, 409),
    "transfer/someone-elses-units": transfer(lambda w: {"to_party_id": w.bob.party_id}, 409,
                                             who="investor"),
    # --- keys ------------------------------------------------------------------------------
    "key/for-another-party": Case("investor", lambda w: f"/v1/parties/{w.bob.party_id}/api-keys",
                                  lambda w: None, 403),
    "key/for-unknown-party": Case("op", lambda w: "/v1/parties/pty_nobody/api-keys",
                                  lambda w: None, 404),
    "key/revoke-unknown": Case("op", lambda w: "/v1/api-keys/key_nope", lambda w: None, 404,
                               method="DELETE"),
    # --- raw bodies ------------------------------------------------------------------------
    "raw/not-json": Case("op", lambda w: "/v1/parties", lambda w: None, 400, ["body"],
                         raw=b"name=x&kind=investor"),
    "raw/truncated-json": Case("op", lambda w: "/v1/parties", lambda w: None, 400, ["body"],
                               raw=b'{"name": "x", "kind": "inv'),
    "raw/json-with-nan": Case("op", lambda w: "/v1/deposits", lambda w: None, 422,
                              ["amount.amount"],
                              raw=b'{"party_id": "x", "reference": "r", '
                                  b'"amount": {"amount": NaN, "currency": "HKD"}}'),
    "raw/not-utf8": Case("op", lambda w: "/v1/parties", lambda w: None, 400, ["body"],
                         raw=b'{"name": "\xff\xfe", "kind": "investor"}'),
    "raw/empty-json-body": Case("op", lambda w: "/v1/parties", lambda w: None, 422,
                                ["name", "kind"], raw=b""),
    "raw/form-encoded": Case("op", lambda w: "/v1/parties", lambda w: None, 422,
                             ["name", "kind"], raw=b"name=x&kind=investor",
                             content_type="application/x-www-form-urlencoded"),
    "raw/text-plain": Case("op", lambda w: "/v1/parties", lambda w: None, 422,
                           ["name", "kind"], raw=b'{"name": "x", "kind": "investor"}',
                           content_type="text/plain"),
    "raw/over-1-mib": Case("op", lambda w: "/v1/parties", lambda w: None, 413,
                           raw=json.dumps({"name": "x" * (1 << 20), "kind": "investor"})
                           .encode()),
    "raw/over-1-mib-asset": Case("uni", lambda w: "/v1/assets", lambda w: None, 413,
                                 raw=b'{"title": "' + b"t" * (1 << 20) + b'"}'),
}


def _send(world: World, case: Case) -> Any:
    caller = getattr(world, case.who)
    url = case.url(world)
    if case.raw is not None:
        return caller.client.open(url, method=case.method, data=case.raw,
                                  headers=caller.headers({"Content-Type": case.content_type}))
    if case.method == "DELETE":
        return caller.delete(url)
    return caller.post(url, case.body(world))


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_a_problem_and_writes_nothing(shared_world: World, name: str) -> None:
    case, world = CASES[name], shared_world
    client = world.op.client
    size = tree_size(client)
    was = {who: (balances(getattr(world, who)), holdings(getattr(world, who)))
           for who in ("investor", "alice", "bob", "uni")}
    response = _send(world, case)
    assert response.status_code < 500, response.get_data(as_text=True)
    body = assert_problem(response, case.status, fields=case.fields)
    if case.status in (400, 422):
        assert body["errors"], body
    assert tree_size(client) == size
    assert {who: (balances(getattr(world, who)), holdings(getattr(world, who)))
            for who in was} == was


def test_a_body_of_exactly_the_limit_is_read(client: FlaskClient, op: Any) -> None:
    """1 MiB is allowed (and then refused for its content); 1 MiB + 1 is 413."""
    padding = (1 << 20) - len(b'{"name": "", "kind": "investor"}')
    exact = json.dumps({"name": "x" * padding, "kind": "investor"}).encode()
    assert len(exact) == 1 << 20
    at_limit = op.client.post("/v1/parties", data=exact,
                              headers=op.headers({"Content-Type": "application/json"}))
    assert_problem(at_limit, 422, fields=["name"])
    over = op.client.post("/v1/parties", data=exact + b" ",
                          headers=op.headers({"Content-Type": "application/json"}))
    assert_problem(over, 413, slug="body-too-large")


@pytest.mark.parametrize(("url", "status", "fields"), [
    ("/v1/assets?limit=0", 422, ["limit"]),
    ("/v1/assets?limit=501", 422, ["limit"]),
    ("/v1/assets?limit=ten", 422, ["limit"]),
    ("/v1/assets?limit=-1", 422, ["limit"]),
    ("/v1/assets?cursor=" + "c" * 101, 422, ["cursor"]),
    ("/v1/assets/ast_nope", 404, []),
    ("/v1/nothing-here", 404, []),
])
def test_bad_queries_are_problems(client: FlaskClient, op: Any, url: str, status: int,
                                  fields: list[str]) -> None:
    assert_problem(client.get(url), status, fields=fields)


def test_a_wrong_method_is_a_problem(client: FlaskClient, op: Any) -> None:
    assert_problem(op.client.put("/v1/parties", json={}, headers=op.headers()), 405,
                   slug="method-not-allowed")
    assert_problem(op.delete("/v1/assets"), 405, slug="method-not-allowed")
