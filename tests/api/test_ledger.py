"""The public journal: signed checkpoints, entries and proofs, checked with nothing but the
standalone verifier (ledger/statement_verifier.py)."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from flask.testing import FlaskClient

from ledger.statement_verifier import (
    VerificationError,
    leaf_hash_of,
    verify_checkpoint_note,
    verify_consistency,
    verify_entry,
    verify_inclusion,
)
from tests.api.conftest import World, assert_problem, assert_utc_timestamp, money, tree_size
from tests.conftest import ORIGIN, Caller


def _checkpoint(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/v1/ledger/checkpoint")
    assert response.status_code == 200
    body: dict[str, Any] = response.json
    return body


def _public_key(client: FlaskClient) -> str:
    response = client.get("/v1/ledger/public-key")
    assert response.status_code == 200
    pem: str = response.json["public_key_pem"]
    return pem


def _inclusion(client: FlaskClient, seq: int, size: int) -> dict[str, Any]:
    response = client.get(f"/v1/ledger/proofs/inclusion?seq={seq}&tree_size={size}")
    assert response.status_code == 200, response.json
    body: dict[str, Any] = response.json
    return body


def _consistency(client: FlaskClient, first: int, second: int) -> list[bytes]:
    response = client.get(f"/v1/ledger/proofs/consistency?first={first}&second={second}")
    assert response.status_code == 200, response.json
    assert (response.json["first"], response.json["second"]) == (first, second)
    return [bytes.fromhex(h) for h in response.json["path"]]


def _activity(world: World) -> None:
    """A little of everything, so the journal holds entries of many kinds."""
    w = world
    assert w.uni.post(f"/v1/assets/{w.asset['id']}/costs",
                      {"amount": money("80.00"), "description": "fees"}).status_code == 201
    wid = w.investor.post("/v1/withdrawals", {"amount": money("10.00")}).json["id"]
    assert w.op.post(f"/v1/withdrawals/{wid}/cancel").status_code == 200
    assert w.alice.post("/v1/unit-transfers", {"instrument_id": w.inventor_instrument,
                                               "to_party_id": w.investor.party_id,
                                               "units": 5}).status_code == 201


def test_the_checkpoint_is_signed_by_the_published_key(client: FlaskClient,
                                                       world: World) -> None:
    _activity(world)
    checkpoint = _checkpoint(client)
    key = client.get("/v1/ledger/public-key").json
    assert key["algorithm"] == "Ed25519"
    assert key["origin"] == ORIGIN

    origin, size, root = verify_checkpoint_note(checkpoint["note"], key["public_key_pem"],
                                                origin=ORIGIN)
    assert origin == checkpoint["origin"] == ORIGIN
    assert size == checkpoint["tree_size"] > 20
    assert root.hex() == checkpoint["root_hash"]
    assert_utc_timestamp(checkpoint["timestamp"])

    # key_id is the first 4 bytes of SHA-256(origin || 0x0A || 0x01 || public key).
    raw = serialization.load_pem_public_key(key["public_key_pem"].encode()).public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    expected_id = hashlib.sha256(ORIGIN.encode() + b"\n\x01" + raw).digest()[:4]
    assert checkpoint["key_id"] == key["key_id"] == expected_id.hex()

    # The note's layout, and its signature line carrying key id || signature.
    text, signatures = checkpoint["note"].split("\n\n")
    assert text.split("\n") == [ORIGIN, str(size), base64.b64encode(root).decode()]
    assert signatures == (f"\u2014 {ORIGIN} "
                          + base64.b64encode(expected_id
                                             + base64.b64decode(checkpoint["signature"]))
                          .decode() + "\n")

    # Nothing written, nothing new: the same checkpoint again.
    assert _checkpoint(client)["note"] == checkpoint["note"]

    # A forged note does not verify.
    forged = checkpoint["note"].replace(f"\n{size}\n", f"\n{size + 1}\n", 1)
    with pytest.raises(VerificationError):
        verify_checkpoint_note(forged, key["public_key_pem"])


def test_every_entry_is_included_in_the_signed_tree(client: FlaskClient, world: World) -> None:
    _activity(world)
    checkpoint = _checkpoint(client)
    pem = _public_key(client)
    _, size, root = verify_checkpoint_note(checkpoint["note"], pem)
    kinds = set()
    for seq in range(1, size + 1):
        proof = _inclusion(client, seq, size)
        assert (proof["leaf_index"], proof["tree_size"]) == (seq - 1, size)
        entry = world.op.get(f"/v1/ledger/entries/{seq}")
        assert entry.status_code == 200, entry.json
        body, leaf_hash = entry.json["body"], entry.json["leaf_hash"]
        assert entry.json["seq"] == body["seq"] == seq
        assert entry.json["leaf_index"] == seq - 1
        assert leaf_hash_of(body).hex() == leaf_hash
        path = [bytes.fromhex(h) for h in proof["path"]]
        assert verify_inclusion(bytes.fromhex(leaf_hash), seq - 1, size, path, root)
        verify_entry(body, leaf_hash, seq - 1, proof["path"], checkpoint["note"], pem)
        kinds.add(body["kind"])
        if seq == 1:
            # ...and the same proof does not work for a neighbour or for an altered body.
            assert not verify_inclusion(bytes.fromhex(leaf_hash), 1, size, path, root)
            with pytest.raises(VerificationError):
                verify_entry({**body, "kind": "forged"}, leaf_hash, 0, proof["path"],
                             checkpoint["note"], pem)
    assert kinds >= {"party.created", "api_key.issued", "policy.registered", "asset.listed",
                     "money.deposit", "asset.cost_recorded", "money.withdrawal_requested",
                     "money.withdrawal_cancelled", "units.transferred"}


def test_entries_are_visible_to_the_operator_and_the_parties_they_name(
        client: FlaskClient, world: World) -> None:
    w = world
    deposit = w.op.post("/v1/deposits", {"party_id": w.bob.party_id, "amount": money("7.00"),
                                         "reference": "for-bob"}).json["journal_seq"]
    transfer = w.alice.post("/v1/unit-transfers", {"instrument_id": w.inventor_instrument,
                                                   "to_party_id": w.investor.party_id,
                                                   "units": 3}).json["journal_seq"]
    size = tree_size(client)
    listed = next(seq for seq in range(1, size + 1)
                  if w.op.get(f"/v1/ledger/entries/{seq}").json["body"]["kind"] == "asset.listed")

    def visible(caller: Caller, seq: int) -> bool:
        response = caller.get(f"/v1/ledger/entries/{seq}")
        if response.status_code == 404:
            assert_problem(response, 404, slug="not-found")
            return False
        assert response.status_code == 200, response.json
        assert response.json["seq"] == seq
        return True

    callers = {"op": w.op, "uni": w.uni, "other_uni": w.other_uni, "alice": w.alice,
               "bob": w.bob, "investor": w.investor}
    assert {n for n, c in callers.items() if visible(c, deposit)} == {"op", "bob"}
    assert {n for n, c in callers.items() if visible(c, transfer)} == {"op", "alice",
                                                                      "investor"}
    assert {n for n, c in callers.items() if visible(c, listed)} == {"op", "uni", "alice",
                                                                    "bob"}
    # Entries that do not exist look the same as those you may not see.
    for seq in (0, size + 1, 10**20):
        assert_problem(w.op.get(f"/v1/ledger/entries/{seq}"), 404, slug="not-found")
    assert_problem(w.op.get("/v1/ledger/entries/-1"), 404)
    assert_problem(w.op.get("/v1/ledger/entries/abc"), 404)
    # Entries need a key; the checkpoint and proofs do not.
    assert_problem(client.get(f"/v1/ledger/entries/{deposit}"), 401, slug="unauthenticated")


def test_later_checkpoints_are_consistent_with_earlier_ones(client: FlaskClient,
                                                           world: World) -> None:
    pem = _public_key(client)
    signed: list[tuple[int, bytes]] = []

    def sign() -> None:
        _, size, root = verify_checkpoint_note(_checkpoint(client)["note"], pem)
        signed.append((size, root))

    sign()
    w = world
    for n in range(6):
        w.op.post("/v1/deposits", {"party_id": w.bob.party_id, "amount": money("1.00"),
                                   "reference": f"c-{n}"})
        sign()
        if n % 2:
            w.op.post("/v1/parties", {"name": f"P{n}", "kind": "company"})
            w.op.post("/v1/parties", {"name": f"Q{n}", "kind": "company"})
            sign()
    sizes = [s for s, _ in signed]
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes) == 10

    for i, (first, first_root) in enumerate(signed):
        for second, second_root in signed[i:]:
            path = _consistency(client, first, second)
            assert verify_consistency(first, second, first_root, second_root, path), (first,
                                                                                      second)
            if first < second:
                assert not verify_consistency(first, second, second_root, first_root, path)
    # An old checkpoint still proves inclusion of the entries it covered.
    old_size, old_root = signed[0]
    for seq in (1, old_size // 2, old_size):
        proof = _inclusion(client, seq, old_size)
        leaf = bytes.fromhex(w.op.get(f"/v1/ledger/entries/{seq}").json["leaf_hash"])
        assert verify_inclusion(leaf, seq - 1, old_size,
                                [bytes.fromhex(h) for h in proof["path"]], old_root)


@pytest.mark.parametrize(("query", "fields"), [
    ("inclusion?seq=5&tree_size=4", ["seq"]),
    ("inclusion?seq=0&tree_size=4", ["seq"]),
    ("inclusion?seq=-1&tree_size=4", ["seq"]),
    ("inclusion?seq=1&tree_size={beyond}", ["tree_size"]),
    ("inclusion?seq={beyond}&tree_size={beyond}", ["tree_size"]),
    ("inclusion?seq=1&tree_size=0", ["tree_size"]),
    ("inclusion?seq=1&tree_size=99999999999999999999999", ["tree_size"]),
    ("inclusion?seq=1", ["tree_size"]),
    ("inclusion?tree_size=4", ["seq"]),
    ("inclusion", ["seq", "tree_size"]),
    ("inclusion?seq=one&tree_size=4", ["seq"]),
    ("inclusion?seq=1.5&tree_size=4", ["seq"]),
    ("consistency?first=5&second=4", ["first"]),
    ("consistency?first=0&second=4", ["first"]),
    ("consistency?first=1&second={beyond}", ["second"]),
    ("consistency?first=1", ["second"]),
    ("consistency?second=3", ["first"]),
    ("consistency", ["first", "second"]),
    ("consistency?first=x&second=3", ["first"]),
])
def test_bad_proof_queries_are_problems(client: FlaskClient, op: Caller, query: str,
                                        fields: list[str]) -> None:
    for n in range(4):
        op.post("/v1/parties", {"name": f"P{n}", "kind": "company"})
    size = tree_size(client)
    assert size == 6  # the operator's two entries and four party.created
    url = "/v1/ledger/proofs/" + query.format(beyond=size + 1)
    assert_problem(client.get(url), 422, fields=fields)
    assert tree_size(client) == size


def test_a_proof_for_the_current_size_matches_the_checkpoint(client: FlaskClient,
                                                            op: Caller) -> None:
    """The smallest journals: one entry (the proof is empty), and two."""
    checkpoint = _checkpoint(client)
    pem = _public_key(client)
    _, size, root = verify_checkpoint_note(checkpoint["note"], pem)
    assert size == 2  # the operator's party.created and api_key.issued
    assert _inclusion(client, 1, 1)["path"] == []
    one = op.get("/v1/ledger/entries/1").json
    assert one["body"]["kind"] == "party.created"
    two = op.get("/v1/ledger/entries/2").json
    assert _inclusion(client, 1, 2)["path"] == [two["leaf_hash"]]
    assert _inclusion(client, 2, 2)["path"] == [one["leaf_hash"]]
    node = hashlib.sha256(b"\x01" + bytes.fromhex(one["leaf_hash"])
                          + bytes.fromhex(two["leaf_hash"])).digest()
    assert node == root
    assert _consistency(client, 1, 2) == [bytes.fromhex(two["leaf_hash"])]
    assert _consistency(client, 2, 2) == []
