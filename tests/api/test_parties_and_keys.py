"""Parties, API keys and authentication."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from ledger.actor import PARTY_KINDS
from tests.api.conftest import assert_problem, assert_utc_timestamp, tree_size
from tests.conftest import Caller

CHALLENGE = 'Bearer realm="ipx"'


@pytest.mark.parametrize("kind", PARTY_KINDS)
def test_operator_creates_a_party_of_every_kind(op: Caller, client: FlaskClient,
                                                kind: str) -> None:
    before = tree_size(client)
    created = op.post("/v1/parties", {"name": f"  The {kind}  ", "kind": kind})
    assert created.status_code == 201, created.json
    body = created.json
    assert set(body) == {"id", "name", "kind", "created_at"}
    assert body["id"].startswith("pty_")
    assert body["name"] == f"The {kind}"  # surrounding blanks are trimmed
    assert body["kind"] == kind
    assert_utc_timestamp(body["created_at"])
    assert tree_size(client) == before + 1  # one party.created entry

    fetched = op.get(f"/v1/parties/{body['id']}")
    assert fetched.status_code == 200
    assert fetched.json == body


@pytest.mark.parametrize("kind", ["university", "inventor", "investor", "company", "startup",
                                  "government"])
def test_only_the_operator_creates_parties(new_caller: Callable[..., Caller],
                                           client: FlaskClient, kind: str) -> None:
    someone = new_caller(kind)
    before = tree_size(client)
    refused = someone.post("/v1/parties", {"name": "sneaky", "kind": "operator"})
    assert_problem(refused, 403, slug="forbidden")
    assert tree_size(client) == before


def test_a_party_is_visible_to_itself_and_the_operator_only(
        op: Caller, new_caller: Callable[..., Caller]) -> None:
    ann, ben = new_caller("investor", "Ann"), new_caller("investor", "Ben")
    assert ann.get(f"/v1/parties/{ann.party_id}").json["name"] == "Ann"
    assert op.get(f"/v1/parties/{ann.party_id}").json["name"] == "Ann"
    assert_problem(ben.get(f"/v1/parties/{ann.party_id}"), 404, slug="not-found")
    assert_problem(op.get("/v1/parties/pty_does_not_exist"), 404, slug="not-found")


def test_me_is_the_calling_party(op: Caller, new_caller: Callable[..., Caller]) -> None:
    uni = new_caller("university", "HKU")
    me = uni.get("/v1/me")
    assert me.status_code == 200
    assert set(me.json) == {"id", "name", "kind", "created_at"}
    assert (me.json["id"], me.json["name"], me.json["kind"]) == (uni.party_id, "HKU",
                                                                 "university")
    assert_utc_timestamp(me.json["created_at"])
    assert op.get("/v1/me").json["id"] == op.party_id
    assert op.get("/v1/me").json["kind"] == "operator"


def test_a_party_issues_itself_a_key_that_works(client: FlaskClient,
                                                new_caller: Callable[..., Caller]) -> None:
    inv = new_caller("investor")
    before = tree_size(client)
    issued = inv.post(f"/v1/parties/{inv.party_id}/api-keys")
    assert issued.status_code == 201, issued.json
    assert set(issued.json) == {"id", "party_id", "key", "created_at"}
    assert issued.json["party_id"] == inv.party_id
    assert issued.json["id"].startswith("key_")
    assert issued.json["key"].startswith("ipx_") and len(issued.json["key"]) > 40
    assert issued.json["key"] != inv.key
    assert_utc_timestamp(issued.json["created_at"])
    assert tree_size(client) == before + 1  # api_key.issued
    second = Caller(client, inv.party_id, "investor", issued.json["key"])
    assert second.get("/v1/me").json["id"] == inv.party_id
    assert inv.get("/v1/me").status_code == 200  # the first key still works


def test_the_operator_issues_keys_for_any_party(op: Caller, client: FlaskClient,
                                                new_caller: Callable[..., Caller]) -> None:
    uni = new_caller("university")
    issued = op.post(f"/v1/parties/{uni.party_id}/api-keys")
    assert issued.status_code == 201
    assert issued.json["party_id"] == uni.party_id
    key = Caller(client, uni.party_id, "university", issued.json["key"])
    assert key.get("/v1/me").json["id"] == uni.party_id
    assert_problem(op.post("/v1/parties/pty_nobody/api-keys"), 404, slug="not-found")


def test_a_party_cannot_issue_keys_for_another(client: FlaskClient,
                                               new_caller: Callable[..., Caller]) -> None:
    ann, ben = new_caller("investor"), new_caller("company")
    before = tree_size(client)
    assert_problem(ann.post(f"/v1/parties/{ben.party_id}/api-keys"), 403, slug="forbidden")
    assert tree_size(client) == before


def test_revoking_a_key_locks_it_out(client: FlaskClient,
                                     new_caller: Callable[..., Caller]) -> None:
    inv = new_caller("investor")
    spare = inv.post(f"/v1/parties/{inv.party_id}/api-keys").json
    spare_caller = Caller(client, inv.party_id, "investor", spare["key"])
    assert spare_caller.get("/v1/me").status_code == 200

    before = tree_size(client)
    revoked = inv.delete(f"/v1/api-keys/{spare['id']}")
    assert revoked.status_code == 204
    assert revoked.get_data() == b""
    assert tree_size(client) == before + 1  # api_key.revoked

    refused = spare_caller.get("/v1/me")
    assert_problem(refused, 401, slug="unauthenticated")
    assert refused.headers["WWW-Authenticate"] == CHALLENGE
    assert_problem(spare_caller.post("/v1/withdrawals", {"amount": {"amount": "1",
                                                                      "currency": "HKD"}}),
                   401, slug="unauthenticated")
    assert inv.get("/v1/me").status_code == 200  # the party's other key is untouched

    # Revoking again changes nothing more.
    assert inv.delete(f"/v1/api-keys/{spare['id']}").status_code == 204
    assert tree_size(client) == before + 1


def test_a_party_cannot_revoke_another_partys_key(op: Caller, client: FlaskClient,
                                                  new_caller: Callable[..., Caller]) -> None:
    ann, ben = new_caller("investor"), new_caller("investor")
    bens_key = op.post(f"/v1/parties/{ben.party_id}/api-keys").json
    before = tree_size(client)
    assert_problem(ann.delete(f"/v1/api-keys/{bens_key['id']}"), 404, slug="not-found")
    assert_problem(ann.delete("/v1/api-keys/key_does_not_exist"), 404, slug="not-found")
    assert tree_size(client) == before
    assert Caller(client, ben.party_id, "investor", bens_key["key"]).get("/v1/me").status_code \
        == 200

    # The operator may revoke anyone's key.
    assert op.delete(f"/v1/api-keys/{bens_key['id']}").status_code == 204
    locked = Caller(client, ben.party_id, "investor", bens_key["key"]).get("/v1/me")
    assert_problem(locked, 401, slug="unauthenticated")


@pytest.mark.parametrize("authorization", [
    None,
    "",
    "Bearer",
    "Bearer    ",
    "Basic dXNlcjpwYXNz",
    "Token ipx_abc",
    "Bearer not-an-ipx-key",
    "Bearer ipx_" + "A" * 43,
    "Bearer ipx_",
])
def test_missing_garbage_or_unknown_tokens_are_401(op: Caller, client: FlaskClient,
                                                   authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    before = tree_size(client)
    for response in (
        client.get("/v1/me", headers=headers),
        client.get("/v1/accounts", headers=headers),
        client.post("/v1/parties", json={"name": "x", "kind": "investor"}, headers=headers),
        client.delete("/v1/api-keys/key_x", headers=headers),
    ):
        assert_problem(response, 401, slug="unauthenticated")
        assert response.headers["WWW-Authenticate"] == CHALLENGE
    assert tree_size(client) == before


def test_the_scheme_name_is_case_insensitive(op: Caller, client: FlaskClient) -> None:
    response = client.get("/v1/me", headers={"Authorization": f"bearer {op.key}"})
    assert response.status_code == 200
    assert response.json["id"] == op.party_id


def test_public_endpoints_need_no_key(op: Caller, client: FlaskClient) -> None:
    for url in ("/v1/assets", "/v1/ledger/checkpoint", "/v1/ledger/public-key", "/healthz"):
        assert client.get(url).status_code == 200, url
    # ...but a bad key on a public endpoint is still refused rather than ignored.
    refused = client.get("/v1/assets", headers={"Authorization": "Bearer ipx_nope"})
    assert_problem(refused, 401, slug="unauthenticated")
