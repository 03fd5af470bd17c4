"""Listing assets: policies, unit issuance, browsing, costs."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest
import rfc8785
from flask.testing import FlaskClient

from tests.api.conftest import (
    NEXT_LINK,
    World,
    assert_problem,
    assert_utc_timestamp,
    asset_body,
    by_class,
    holdings,
    list_asset,
    money,
    tree_size,
    units_of,
)
from tests.conftest import Caller

PRESET_CLASSES = {
    "hku-2023": ["inventor", "university"],
    "hk-legacy": ["inventor", "university"],
    "uc-1997": ["inventor", "research", "university"],
    "stanford-tiers": ["inventor", "department", "school", "university"],
}
MILLION = 1_000_000


def _policy_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(rfc8785.dumps(body)).hexdigest()


def _sorted(listing: dict[str, Any]) -> dict[str, Any]:
    """The listing with its instruments and inventors in a canonical order."""
    return {**listing,
            "instruments": sorted(listing["instruments"], key=lambda i: i["class"]),
            "inventors": sorted(listing["inventors"], key=lambda i: i["party_id"])}


@pytest.fixture
def uni(new_caller: Callable[..., Caller]) -> Caller:
    return new_caller("university", "HKU")


@pytest.fixture
def inventors(new_caller: Callable[..., Caller]) -> list[Caller]:
    return [new_caller("inventor", f"Inventor {n}") for n in range(3)]


@pytest.mark.parametrize("preset", sorted(PRESET_CLASSES))
def test_a_university_lists_an_asset_with_each_preset(
        client: FlaskClient, uni: Caller, inventors: list[Caller], preset: str) -> None:
    a, b = inventors[0], inventors[1]
    before = tree_size(client)
    response = uni.post("/v1/assets", asset_body([(a.party_id, "0.6"), (b.party_id, "0.4")],
                                                 preset))
    assert response.status_code == 201, response.json
    listing = response.json
    assert {"id", "owner_id", "policy", "instruments"} <= set(listing)
    assert listing["id"].startswith("ast_")
    assert listing["owner_id"] == uni.party_id
    assert (listing["title"], listing["kind"], listing["jurisdiction"]) == (
        "A method of making things", "patent", "HK")
    assert listing["application_number"] == "HK 12345678.9"
    assert listing["publication_number"] is None
    assert listing["currency"] == "HKD"
    assert_utc_timestamp(listing["created_at"])
    assert sorted(listing["inventors"], key=lambda i: i["share"]) == [
        {"party_id": b.party_id, "share": "0.4"}, {"party_id": a.party_id, "share": "0.6"}]

    policy = listing["policy"]
    assert {"id", "version", "hash"} <= set(policy)
    assert policy["id"].startswith("pol_")
    assert policy["version"] == 1
    assert policy["name"] == preset
    assert len(policy["hash"]) == 64 and int(policy["hash"], 16) >= 0

    assert [i["class"] for i in listing["instruments"]] == PRESET_CLASSES[preset]
    for instrument in listing["instruments"]:
        assert set(instrument) == {"id", "class", "total_units"}
        assert instrument["id"].startswith("ins_")
        assert instrument["total_units"] == MILLION
    # policy.registered + asset.listed
    assert tree_size(client) == before + 2

    # Units: the inventor class split by share, every other class to the owner.
    inventor_class = by_class(listing)["inventor"]["id"]
    assert units_of(a, inventor_class) == 600_000
    assert units_of(b, inventor_class) == 400_000
    assert units_of(uni, inventor_class) == 0
    uni_rows = {h["class"]: h for h in holdings(uni)}
    assert set(uni_rows) == set(PRESET_CLASSES[preset]) - {"inventor"}
    for cls, row in uni_rows.items():
        assert row == {"instrument_id": by_class(listing)[cls]["id"], "asset_id": listing["id"],
                       "class": cls, "units": MILLION, "held_units": 0}
    assert holdings(a) == [{"instrument_id": inventor_class, "asset_id": listing["id"],
                            "class": "inventor", "units": 600_000, "held_units": 0}]
    assert holdings(inventors[2]) == []

    # Anyone may read it back, and it is the same listing.
    fetched = client.get(f"/v1/assets/{listing['id']}")
    assert fetched.status_code == 200
    assert _sorted(fetched.json) == _sorted(listing)


def test_the_hku_preset_is_pinned_by_the_hash_of_its_canonical_body(
        op: Caller, uni: Caller, inventors: list[Caller]) -> None:
    listing = list_asset(uni, [(inventors[0].party_id, "1")], "hku-2023")
    expected = {
        "name": "hku-2023",
        "steps": [{"kind": "cost_recovery"}],
        "classes": ["inventor", "university"],
        "tiers": [{"from": "0", "shares": {"inventor": "70", "university": "30"}}],
        "residual_holder": "owner",
        "units_per_class": MILLION,
    }
    assert listing["policy"]["hash"] == _policy_hash(expected)


def test_an_awkward_split_sums_exactly_to_the_total(uni: Caller,
                                                    inventors: list[Caller]) -> None:
    shares = ["0.3333333333", "0.3333333333", "0.3333333334"]
    listing = list_asset(uni, [(c.party_id, s) for c, s in zip(inventors, shares, strict=True)])
    inventor_class = by_class(listing)["inventor"]["id"]
    units = [units_of(c, inventor_class) for c in inventors]
    # floors are 333333 each; the one leftover unit goes to the largest remainder (.3334)
    assert units == [333_333, 333_333, 333_334]
    assert sum(units) == MILLION


def test_an_even_split_of_an_odd_total_gives_the_leftover_to_the_first_listed(
        uni: Caller, inventors: list[Caller]) -> None:
    policy = {"name": "tiny", "classes": ["inventor", "university"], "units_per_class": 7,
              "tiers": [{"from": "0", "shares": {"inventor": "50", "university": "50"}}]}
    a, b = inventors[0], inventors[1]
    listing = list_asset(uni, [(b.party_id, "0.5"), (a.party_id, "0.5")], policy)
    assert {i["total_units"] for i in listing["instruments"]} == {7}
    inventor_class = by_class(listing)["inventor"]["id"]
    assert (units_of(b, inventor_class), units_of(a, inventor_class)) == (4, 3)
    assert units_of(uni, by_class(listing)["university"]["id"]) == 7


def test_a_custom_policy_object(op: Caller, client: FlaskClient, uni: Caller,
                                inventors: list[Caller]) -> None:
    policy = {
        "name": "lab-2024",
        "steps": [{"kind": "admin_fee", "percent": "10.0"}, {"kind": "cost_recovery"}],
        "classes": ["inventor", "lab", "university"],
        "tiers": [
            {"from": "0", "shares": {"inventor": "40", "lab": "20.50", "university": "39.5"}},
            {"from": "500000.00", "shares": {"inventor": "50", "lab": "10", "university": "40"}},
        ],
        "units_per_class": 2000,
    }
    listing = list_asset(uni, [(inventors[0].party_id, "0.25"), (inventors[1].party_id, "0.75")],
                         policy, currency="USD")
    assert listing["currency"] == "USD"
    assert listing["policy"]["name"] == "lab-2024"
    assert listing["policy"]["version"] == 1
    assert [(i["class"], i["total_units"]) for i in listing["instruments"]] == [
        ("inventor", 2000), ("lab", 2000), ("university", 2000)]
    inventor_class = by_class(listing)["inventor"]["id"]
    assert units_of(inventors[0], inventor_class) == 500
    assert units_of(inventors[1], inventor_class) == 1500
    assert units_of(uni, by_class(listing)["lab"]["id"]) == 2000

    # The registered policy is stored in canonical form, and its hash pins that form.
    canonical = {
        "name": "lab-2024",
        "steps": [{"kind": "admin_fee", "percent": "10"}, {"kind": "cost_recovery"}],
        "classes": ["inventor", "lab", "university"],
        "tiers": [
            {"from": "0", "shares": {"inventor": "40", "lab": "20.5", "university": "39.5"}},
            {"from": "500000", "shares": {"inventor": "50", "lab": "10", "university": "40"}},
        ],
        "residual_holder": "owner",
        "units_per_class": 2000,
    }
    assert listing["policy"]["hash"] == _policy_hash(canonical)
    size = tree_size(client)
    registered = op.get(f"/v1/ledger/entries/{size - 1}").json["body"]
    assert registered["kind"] == "policy.registered"
    assert registered["data"] == {"policy_id": listing["policy"]["id"], "name": "lab-2024",
                                  "version": 1, "hash": listing["policy"]["hash"],
                                  "policy": canonical}
    listed = op.get(f"/v1/ledger/entries/{size}").json["body"]
    assert listed["kind"] == "asset.listed"
    assert listed["data"]["asset_id"] == listing["id"]
    assert listed["data"]["policy"]["hash"] == listing["policy"]["hash"]

    # A changed policy of the same name is its next version.
    policy["units_per_class"] = 3000
    second = list_asset(uni, [(inventors[0].party_id, "1")], policy)
    assert second["policy"]["name"] == "lab-2024"
    assert second["policy"]["version"] == 2
    assert second["policy"]["id"] != listing["policy"]["id"]


def test_the_same_preset_twice_reuses_the_pinned_policy(client: FlaskClient, uni: Caller,
                                                        inventors: list[Caller],
                                                        new_caller: Callable[..., Caller]) -> None:
    first = list_asset(uni, [(inventors[0].party_id, "1")], "uc-1997")
    other = new_caller("university")
    before = tree_size(client)
    second = list_asset(other, [(inventors[1].party_id, "1")], "uc-1997")
    assert tree_size(client) == before + 1  # only asset.listed: no second policy.registered
    assert second["policy"] == first["policy"]
    assert second["id"] != first["id"]
    assert {i["id"] for i in second["instruments"]}.isdisjoint(
        {i["id"] for i in first["instruments"]})


@pytest.mark.parametrize("kind", ["inventor", "investor", "company", "startup", "government",
                                  "operator"])
def test_only_universities_list_assets(client: FlaskClient, op: Caller,
                                       new_caller: Callable[..., Caller],
                                       inventors: list[Caller], kind: str) -> None:
    caller = op if kind == "operator" else new_caller(kind)
    before = tree_size(client)
    refused = caller.post("/v1/assets", asset_body([(inventors[0].party_id, "1")]))
    assert_problem(refused, 403, slug="forbidden")
    assert tree_size(client) == before
    assert client.get("/v1/assets").json == []


def _follow(client: FlaskClient, url: str) -> tuple[list[list[str]], list[str]]:
    pages: list[list[str]] = []
    cursors: list[str] = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.json
        pages.append([a["id"] for a in response.json])
        link = response.headers.get("Link")
        if link is None:
            assert "X-Next-Cursor" not in response.headers
            break
        match = NEXT_LINK.match(link)
        assert match, link
        url = match.group(1)
        assert response.headers["X-Next-Cursor"] == pages[-1][-1]
        assert f"cursor={pages[-1][-1]}" in url
        cursors.append(response.headers["X-Next-Cursor"])
    return pages, cursors


def test_browsing_pages_through_every_asset_once(client: FlaskClient, uni: Caller,
                                                 inventors: list[Caller]) -> None:
    ids = [list_asset(uni, [(inventors[n % 3].party_id, "1")],
                      "hku-2023" if n % 2 else "hk-legacy")["id"] for n in range(7)]

    pages, cursors = _follow(client, "/v1/assets?limit=3")
    assert [len(p) for p in pages] == [3, 3, 1]
    assert len(cursors) == 2
    flat = [i for p in pages for i in p]
    assert flat == sorted(ids)  # stable order (by id), no duplicates, no gaps

    # The order is the same on every read, and a full page points at a (final) empty one.
    again, _ = _follow(client, "/v1/assets?limit=3")
    assert again == pages
    exact, _ = _follow(client, "/v1/assets?limit=7")
    assert exact == [sorted(ids), []]
    assert _follow(client, "/v1/assets")[0] == [sorted(ids)]  # default limit 50

    # A cursor from the middle resumes right after it.
    resumed = client.get(f"/v1/assets?limit=2&cursor={sorted(ids)[3]}")
    assert [a["id"] for a in resumed.json] == sorted(ids)[4:6]
    assert resumed.headers["X-Next-Cursor"] == sorted(ids)[5]

    # Each page item is a full listing.
    first = client.get("/v1/assets?limit=1").json[0]
    assert _sorted(first) == _sorted(client.get(f"/v1/assets/{first['id']}").json)


def test_an_asset_listed_between_pages_is_not_skipped_or_repeated(
        client: FlaskClient, uni: Caller, inventors: list[Caller]) -> None:
    for _ in range(4):
        list_asset(uni, [(inventors[0].party_id, "1")])
    first = client.get("/v1/assets?limit=2")
    seen = [a["id"] for a in first.json]
    list_asset(uni, [(inventors[1].party_id, "1")])
    rest, _ = _follow(client, NEXT_LINK.match(first.headers["Link"]).group(1))
    seen += [i for p in rest for i in p]
    everything = [a["id"] for a in client.get("/v1/assets?limit=500").json]
    assert len(seen) == len(set(seen))
    # Ids are random, so the new asset lands before or after the cursor: either way each
    # asset after the cursor is seen exactly once.
    assert set(seen) == {i for i in everything if i in seen[:2] or i > seen[1]}


def test_an_unknown_asset_is_404(client: FlaskClient, op: Caller) -> None:
    assert_problem(client.get("/v1/assets/ast_00000000000000000000"), 404, slug="not-found")
    assert_problem(client.get("/v1/assets/" + "x" * 300), 404, slug="not-found")


def test_the_owner_records_costs(client: FlaskClient, world: World) -> None:
    asset_id = world.asset["id"]
    before = tree_size(client)
    recorded = world.uni.post(f"/v1/assets/{asset_id}/costs",
                              {"amount": money("1234.5"), "description": "PCT filing fee"})
    assert recorded.status_code == 201, recorded.json
    body = recorded.json
    assert body["id"].startswith("cst_")
    assert body["asset_id"] == asset_id
    assert body["amount"] == {"amount": "1234.50", "currency": "HKD"}
    assert body["description"] == "PCT filing fee"
    assert body["journal_seq"] == before + 1 == tree_size(client)
    assert_utc_timestamp(body["created_at"])
    entry = world.uni.get(f"/v1/ledger/entries/{body['journal_seq']}").json["body"]
    assert entry["kind"] == "asset.cost_recorded"
    assert entry["data"] == {"cost_id": body["id"], "asset_id": asset_id, "amount": "1234.50",
                             "currency": "HKD", "description": "PCT filing fee"}


@pytest.mark.parametrize("who", ["other_uni", "alice", "investor", "op"])
def test_only_the_owner_records_costs(client: FlaskClient, world: World, who: str) -> None:
    before = tree_size(client)
    refused = getattr(world, who).post(f"/v1/assets/{world.asset['id']}/costs",
                                       {"amount": money("10.00"), "description": "fees"})
    assert_problem(refused, 403, slug="forbidden")
    assert tree_size(client) == before


def test_a_cost_must_be_in_the_assets_currency(client: FlaskClient, world: World,
                                               inventors: list[Caller]) -> None:
    before = tree_size(client)
    refused = world.uni.post(f"/v1/assets/{world.asset['id']}/costs",
                             {"amount": money("10.00", "USD"), "description": "fees"})
    assert_problem(refused, 422, fields=["amount.currency"])
    assert tree_size(client) == before

    yen = list_asset(world.uni, [(world.alice.party_id, "1")], currency="JPY")
    ok = world.uni.post(f"/v1/assets/{yen['id']}/costs",
                        {"amount": money("15000", "JPY"), "description": "fees"})
    assert ok.status_code == 201
    assert ok.json["amount"] == {"amount": "15000", "currency": "JPY"}
    refused = world.uni.post(f"/v1/assets/{yen['id']}/costs",
                             {"amount": money("15000.5", "JPY"), "description": "fees"})
    assert_problem(refused, 422, fields=["amount.amount"])
    assert_problem(world.uni.post("/v1/assets/ast_nope/costs",
                                  {"amount": money("1.00"), "description": "fees"}),
                   404, slug="not-found")


def test_holdings_are_per_party(world: World) -> None:
    asset_id = world.asset["id"]
    assert [(h["asset_id"], h["class"], h["units"]) for h in holdings(world.alice)] == sorted([
        (asset_id, "inventor", 600_000),
        (world.other_asset["id"], "inventor", MILLION),
    ])
    assert [(h["class"], h["units"]) for h in holdings(world.bob)] == [("inventor", 400_000)]
    assert [(h["class"], h["units"]) for h in holdings(world.uni)] == [("university", MILLION)]
    assert holdings(world.investor) == []
    assert holdings(world.op) == []
