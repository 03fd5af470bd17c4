"""Whole-statement verification: valid statements pass, each kind of tampering is named.

The statements are built here with the server's own code (ledger.canonical, ledger.merkle,
ledger.checkpoint, ledger.waterfall), as the service would; the verifier imports none of it.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

import ledger.statement_verifier as sv
from ledger.canonical import canonical_bytes, leaf_hash
from ledger.checkpoint import key_id, public_key_pem, public_key_raw, sign_checkpoint
from ledger.currency import format_minor
from ledger.merkle import inclusion_proof, root_of
from ledger.policy import policy_hash, resolve_policy
from ledger.waterfall import Holder, WaterfallInput, WaterfallResult, run_waterfall
from tests.unit.test_waterfall import inputs

ORIGIN = "ipx.example/journal"
OWNER, OPERATOR = "pty_univ", "pty_operator"
INV_A, INV_B = "pty_inv_a", "pty_inv_b"
BUYER = "pty_buyer"


def hkd(minor: int) -> str:
    return format_minor(minor, "HKD")


def distribution_data(inp: WaterfallInput, result: WaterfallResult, *,
                      currency: str = "HKD") -> dict[str, Any]:
    """The entry data exactly as ledger.services.revenue writes it."""
    exp = inp.currency_exponent

    def fmt(minor: int) -> str:
        return sv.format_minor(minor, exp)

    return {
        "distribution_id": "dst_1", "asset_id": "ast_1", "owner_id": inp.owner_id,
        "operator_id": inp.operator_id, "gross": fmt(inp.gross), "currency": currency,
        "currency_exponent": exp, "source": "licence_fee", "reference": "LIC-7",
        "policy": {"id": "pol_1", "hash": policy_hash(inp.policy), "body": dict(inp.policy)},
        "platform_fee_bps": inp.platform_fee_bps,
        "unrecovered_costs_before": fmt(inp.unrecovered_costs),
        "cumulative_net_before": fmt(inp.cumulative_net_before),
        "steps": [{"kind": s.kind, "amount": fmt(s.amount), "party_id": s.party_id}
                  for s in result.steps],
        "net": fmt(result.net),
        "class_totals": {c: fmt(a) for c, a in result.class_totals.items()},
        "class_units": dict(result.class_units),
        "lines": [{"party_id": ln.party_id, "class": ln.unit_class, "units": ln.units,
                   "amount": fmt(ln.amount)} for ln in result.lines],
    }


def credit_postings(payer: str, data: dict[str, Any],
                    currency: str = "HKD") -> list[dict[str, Any]]:
    """The payer's debit and one credit per receiving party, as the service posts them."""
    exp = data["currency_exponent"]
    credits: dict[str, int] = defaultdict(int)
    for item in [*data["steps"], *data["lines"]]:
        credits[item["party_id"]] += sv._to_minor(item["amount"], exp, "amount")
    gross = sv._to_minor(data["gross"], exp, "gross")
    return [{"account": payer, "amount": sv.format_minor(-gross, exp), "currency": currency}] + [
        {"account": f"{p}:{currency}:available", "amount": sv.format_minor(a, exp),
         "currency": currency}
        for p, a in sorted(credits.items()) if a]


def hku_distribution(*, payer: str = "ipx:HKD:clearing") -> tuple[dict[str, Any], list[Any]]:
    """HKD 100,000.00 under hku-2023 with HKD 10,000.00 unrecovered (see test_waterfall)."""
    inp = WaterfallInput(
        gross=10_000_000, currency_exponent=2, policy=resolve_policy("hku-2023"),
        platform_fee_bps=0, unrecovered_costs=1_000_000, cumulative_net_before=0,
        holdings={"inventor": [Holder(INV_A, 600_000), Holder(INV_B, 400_000)],
                  "university": [Holder(OWNER, 1_000_000)]},
        owner_id=OWNER, operator_id=OPERATOR,
    )
    data = distribution_data(inp, run_waterfall(inp))
    return data, credit_postings(payer, data)


def posting(account: str, minor: int) -> dict[str, Any]:
    return {"account": account, "amount": hkd(minor), "currency": "HKD"}


def base_journal() -> list[dict[str, Any]]:
    """Entry bodies, seq 1.., before their seq/at are filled in."""
    data, postings = hku_distribution()
    owner_paid, owner_postings = hku_distribution(payer=f"{OWNER}:HKD:available")
    owner_paid["distribution_id"] = "dst_2"
    return [
        {"at": "2025-12-15T09:00:00Z", "kind": "deposit", "actor": OPERATOR,
         "data": {"reference": "wire 1"},
         "postings": [posting("ipx:HKD:clearing", -10_000), posting(f"{INV_A}:HKD:available",
                                                                     10_000)]},
        {"at": "2025-12-20T09:00:00Z", "kind": "deposit", "actor": OPERATOR,
         "data": {"reference": "wire 2"},
         "postings": [posting("ipx:HKD:clearing", -50_000_000),
                      posting(f"{OWNER}:HKD:available", 50_000_000)]},
        {"at": "2026-01-05T10:00:00Z", "kind": "party.created", "actor": OPERATOR,
         "data": {"party_id": BUYER}},
        {"at": "2026-01-10T12:00:00Z", "kind": "revenue.distributed", "actor": OPERATOR,
         "data": data, "postings": postings},
        {"at": "2026-01-12T08:30:00Z", "kind": "trade", "actor": INV_A,
         "data": {"trade_id": "trd_1", "price": "3.00", "quantity": 1000},
         "postings": [posting(f"{INV_A}:HKD:held", -300_000),
                      posting(f"{BUYER}:HKD:available", 300_000)],
         "units": [{"party": INV_A, "instrument": "ins_inv", "units": 1000, "held": 0}]},
        {"at": "2026-01-13T08:30:00Z", "kind": "order.placed", "actor": INV_A,
         "data": {"order_id": "ord_1"},
         "postings": [posting(f"{INV_A}:HKD:available", -300_000),
                      posting(f"{INV_A}:HKD:held", 300_000)]},
        {"at": "2026-01-20T16:00:00Z", "kind": "revenue.distributed", "actor": OWNER,
         "data": owner_paid, "postings": owner_postings},
        {"at": "2026-01-25T11:00:00Z", "kind": "payout.requested", "actor": INV_A,
         "data": {"payout_id": "pay_1"},
         "postings": [posting(f"{INV_A}:HKD:available", -2_000),
                      posting(f"{INV_A}:HKD:payout", 2_000)]},
        {"at": "2026-01-26T11:00:00Z", "kind": "payout.paid", "actor": OPERATOR,
         "data": {"payout_id": "pay_1"},
         "postings": [posting(f"{INV_A}:HKD:payout", -2_000),
                      posting("ipx:HKD:clearing", 2_000)]},
        {"at": "2026-02-02T09:00:00Z", "kind": "deposit", "actor": OPERATOR,
         "data": {"reference": "wire 3"},
         "postings": [posting("ipx:HKD:clearing", -700), posting(f"{INV_A}:HKD:available",
                                                                  700)]},
    ]


def numbered(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"seq": i, **body} for i, body in enumerate(raw, start=1)]


class Journal:
    """An in-memory journal with its Merkle tree and a signed checkpoint."""

    def __init__(self, bodies: list[dict[str, Any]], key: Ed25519PrivateKey) -> None:
        self.bodies = bodies
        self.leaves = [leaf_hash(canonical_bytes(b)) for b in bodies]
        self.size = len(bodies)
        self.root = root_of(self.leaves)
        self.key = key
        self.signed = sign_checkpoint(key, ORIGIN, self.size, self.root)
        self.pem = public_key_pem(key.public_key())

    def statement(self, party: str, start: str = "2026-01-01T00:00:00Z",
                  end: str = "2026-01-31T23:59:59Z") -> dict[str, Any]:
        """What GET /v1/statements returns: lines for entries touching the party's HKD."""

        def touches(body: dict[str, Any]) -> list[int]:
            return [int(p["amount"].replace(".", "")) for p in body.get("postings", [])
                    if p["account"].split(":")[0] == party and p["currency"] == "HKD"]

        opening = sum(sum(touches(b)) for b in self.bodies if b["at"] < start)
        lines = []
        for i, body in enumerate(self.bodies):
            amounts = touches(body)
            if not amounts or not start <= body["at"] <= end:
                continue
            lines.append({
                "seq": body["seq"], "at": body["at"], "kind": body["kind"],
                "amount": hkd(sum(amounts)), "description": body["kind"].replace(".", " "),
                "entry": copy.deepcopy(body), "leaf_hash": self.leaves[i].hex(),
                "inclusion_proof": {
                    "leaf_index": i, "tree_size": self.size,
                    "path": [h.hex() for h in inclusion_proof(i, self.size, self.leaves)],
                },
            })
        closing = opening + sum(int(ln["amount"].replace(".", "")) for ln in lines)
        return {
            "party_id": party, "from": start, "to": end, "currency": "HKD",
            "currency_exponent": 2, "opening_balance": hkd(opening),
            "closing_balance": hkd(closing), "lines": lines,
            "checkpoint": {"origin": ORIGIN, "tree_size": self.size,
                           "root_hash": self.root.hex(), "note": self.signed.note},
            "public_key": {"key_id": key_id(ORIGIN, public_key_raw(self.key.public_key())).hex(),
                           "public_key_pem": self.pem},
        }


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes(range(32, 64)))


@pytest.fixture(scope="module")
def other_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes(range(64, 96)))


@pytest.fixture(scope="module")
def journal(key: Ed25519PrivateKey) -> Journal:
    return Journal(numbered(base_journal()), key)


@pytest.fixture
def statement(journal: Journal) -> dict[str, Any]:
    return journal.statement(INV_A)


def failures(report: sv.StatementReport) -> str:
    return "\n".join(report.failures)


# --------------------------------------------------------------------------------------
# Valid statements
# --------------------------------------------------------------------------------------


def test_valid_statement_verifies(journal: Journal, statement: dict[str, Any]) -> None:
    # Opening 100.00 (December's deposit); January: the distribution (37,800.00), the trade
    # paid from held cash (-3,000.00), the order's hold (0.00: between A's own accounts), a
    # second distribution paid in by the owner (37,800.00), the payout request (0.00) and the
    # payout (-20.00). February's deposit is outside.
    assert statement["opening_balance"] == "100.00"
    assert [(ln["seq"], ln["amount"]) for ln in statement["lines"]] == [
        (4, "37800.00"), (5, "-3000.00"), (6, "0.00"), (7, "37800.00"), (8, "0.00"),
        (9, "-20.00")]
    assert statement["closing_balance"] == "72680.00"
    report = sv.verify_statement(statement, journal.pem)
    assert report.ok, failures(report)
    assert report.key_supplied
    assert [v.seq for v in report.lines] == [4, 5, 6, 7, 8, 9]
    assert all(v.ok for v in report.lines)
    assert report.lines[0].message == "line 1 (seq 4): revenue.distributed 37800.00 verifies"
    assert "opening 100.00 + lines 72580.00 = 72680.00" in [
        c.message for c in report.checks if c.name == "balances"][0]


@pytest.mark.parametrize("party", [INV_A, INV_B, OWNER, OPERATOR, BUYER])
def test_every_partys_statement_verifies(journal: Journal, party: str) -> None:
    # The owner receives cost recovery and the university class, and pays in the gross of
    # the second distribution from its own cash; the operator receives only 0.00 fees.
    report = sv.verify_statement(journal.statement(party), journal.pem)
    assert report.ok, failures(report)


def test_without_a_supplied_key_the_report_says_so(journal: Journal,
                                                    statement: dict[str, Any]) -> None:
    report = sv.verify_statement(statement)
    assert report.ok and not report.key_supplied
    key_check = next(c for c in report.checks if c.name == "public key")
    assert key_check.warning and "not independently supplied" in key_check.message
    assert "statement's own key" in sv.render_report(report)


# --------------------------------------------------------------------------------------
# Tampering
# --------------------------------------------------------------------------------------


def test_line_amount_changed(journal: Journal, statement: dict[str, Any]) -> None:
    statement["lines"][1]["amount"] = "-2900.00"
    report = sv.verify_statement(statement, journal.pem)
    assert not report.ok
    text = failures(report)
    assert ("line 2 (seq 5): amount -2900.00 but the entry's postings to the party sum to "
            "-3000.00") in text
    assert "balances: opening 100.00 + lines 72680.00 = 72780.00 but closing says 72680.00" in text
    assert not report.lines[1].ok and report.lines[0].ok


def test_posting_inside_an_entry_changed(journal: Journal, statement: dict[str, Any]) -> None:
    entry = statement["lines"][1]["entry"]
    entry["postings"][0]["amount"] = "-2900.00"
    report = sv.verify_statement(statement, journal.pem)
    text = failures(report)
    assert "line 2 (seq 5): leaf hash does not match the entry body" in text
    assert ("line 2 (seq 5): amount -3000.00 but the entry's postings to the party sum to "
            "-2900.00") in text
    # Recomputing the leaf hash too just moves the failure to the proof.
    statement["lines"][1]["leaf_hash"] = sv.leaf_hash_of(entry).hex()
    text = failures(sv.verify_statement(statement, journal.pem))
    assert "leaf hash" not in text
    assert "line 2 (seq 5): inclusion proof does not verify against the checkpoint root" in text


def test_proof_hash_changed(journal: Journal, statement: dict[str, Any]) -> None:
    path = statement["lines"][2]["inclusion_proof"]["path"]
    path[1] = ("0" if path[1][0] != "0" else "1") + path[1][1:]
    report = sv.verify_statement(statement, journal.pem)
    assert failures(report) == (
        "line 3 (seq 6): inclusion proof does not verify against the checkpoint root")


def test_proof_for_another_leaf_or_tree(journal: Journal, statement: dict[str, Any]) -> None:
    statement["lines"][0]["inclusion_proof"]["leaf_index"] = 4
    statement["lines"][1]["inclusion_proof"]["tree_size"] = 9
    text = failures(sv.verify_statement(statement, journal.pem))
    assert "line 1 (seq 4): inclusion proof is for leaf 4, but seq 4 is leaf 3" in text
    assert "line 2 (seq 5): inclusion proof is for tree size 9, but the checkpoint's is 10" in text


def test_line_removed(journal: Journal, statement: dict[str, Any]) -> None:
    del statement["lines"][5]
    report = sv.verify_statement(statement, journal.pem)
    assert failures(report) == (
        "balances: opening 100.00 + lines 72600.00 = 72700.00 but closing says 72680.00")
    assert all(v.ok for v in report.lines)


def test_closing_balance_changed(journal: Journal, statement: dict[str, Any]) -> None:
    statement["closing_balance"] = "72680.01"
    assert failures(sv.verify_statement(statement, journal.pem)) == (
        "balances: opening 100.00 + lines 72580.00 = 72680.00 but closing says 72680.01")


def test_signature_from_another_key(journal: Journal, statement: dict[str, Any],
                                    other_key: Ed25519PrivateKey) -> None:
    forged = sign_checkpoint(other_key, ORIGIN, journal.size, journal.root)
    statement["checkpoint"]["note"] = forged.note
    statement["public_key"]["public_key_pem"] = public_key_pem(other_key.public_key())
    # Against IPX's real key, the forgery fails...
    report = sv.verify_statement(statement, journal.pem)
    assert not report.ok
    assert failures(report).startswith(
        "checkpoint: signature does not verify: checkpoint note carries no signature from "
        "this key")
    # ...while the forger's embedded key "verifies" it, and the report says whose key it was.
    self_signed = sv.verify_statement(statement)
    assert self_signed.ok and not self_signed.key_supplied


def test_checkpoint_fields_must_match_the_note(journal: Journal,
                                               statement: dict[str, Any]) -> None:
    statement["checkpoint"]["tree_size"] = 11
    statement["checkpoint"]["root_hash"] = "00" * 32
    assert failures(sv.verify_statement(statement, journal.pem)) == (
        "checkpoint fields: tree_size 11 but the note says 10; root_hash does not match the "
        "note's root")


def test_order_duplicates_and_period(journal: Journal, statement: dict[str, Any]) -> None:
    lines = statement["lines"]
    lines[1], lines[2] = lines[2], lines[1]
    lines.append(copy.deepcopy(lines[-1]))
    statement["to"] = "2026-01-25T23:59:59Z"
    statement["closing_balance"] = "72660.00"
    text = failures(sv.verify_statement(statement, journal.pem))
    assert "line 3 (seq 5): is out of order: seq 5 comes after seq 6" in text
    assert "line 7 (seq 9): duplicates seq 9 of an earlier line" in text
    assert "line 6 (seq 9): entry time 2026-01-26T11:00:00Z is outside the statement period" in text
    assert "balances" not in text


def test_line_fields_must_match_the_entry(journal: Journal, statement: dict[str, Any]) -> None:
    statement["lines"][4]["kind"] = "deposit"
    assert failures(sv.verify_statement(statement, journal.pem)) == (
        "line 5 (seq 8): kind 'deposit' but the entry says 'payout.requested'")


def test_distribution_share_altered_in_entry_and_postings(journal: Journal,
                                                          statement: dict[str, Any]) -> None:
    line = statement["lines"][0]
    entry = line["entry"]
    mine = next(ln for ln in entry["data"]["lines"] if ln["party_id"] == INV_A)
    mine["amount"] = "37801.00"
    credit = next(p for p in entry["postings"] if p["account"] == f"{INV_A}:HKD:available")
    credit["amount"] = "37801.00"
    line["amount"] = "37801.00"
    statement["closing_balance"] = "72681.00"
    report = sv.verify_statement(statement, journal.pem)
    text = failures(report)
    assert "line 1 (seq 4): leaf hash does not match the entry body" in text
    assert ("line 1 (seq 4): distribution share 37801.00 differs from recomputed 37800.00 "
            "(class inventor: floor(63000.00 x 600000 / 1000000))") in text
    assert all(v.ok for v in report.lines[1:])


def forge(key: Ed25519PrivateKey, change: Any) -> Journal:
    """A journal, properly hashed and signed, whose first distribution was altered."""
    bodies = numbered(base_journal())
    change(bodies[3])
    return Journal(bodies, key)


def test_forged_class_totals_fail_the_waterfall_rerun(key: Ed25519PrivateKey) -> None:
    # The operator signs an entry giving inventors 80% instead of hku-2023's 70%, with
    # lines, postings and balances all consistent with the forged totals.
    def inflate(body: dict[str, Any]) -> None:
        data = body["data"]
        data["class_totals"] = {"inventor": "72000.00", "university": "18000.00"}
        amounts = {INV_A: "43200.00", INV_B: "28800.00", OWNER: "18000.00"}
        for ln in data["lines"]:
            ln["amount"] = amounts[ln["party_id"]]
        body["postings"] = credit_postings("ipx:HKD:clearing", data)

    forged = forge(key, inflate)
    report = sv.verify_statement(forged.statement(INV_A), forged.pem)
    # A's own line follows from the (forged) class total: only the re-run catches it.
    assert failures(report).split("\n") == [
        "line 1 (seq 4): distribution class total inventor 72000.00 differs from recomputed "
        "63000.00 (the policy's tiers do not give it)",
        "line 1 (seq 4): distribution class total university 18000.00 differs from "
        "recomputed 27000.00 (the policy's tiers do not give it)",
    ]


def test_forged_policy_body_fails_its_hash(key: Ed25519PrivateKey) -> None:
    def reshare(body: dict[str, Any]) -> None:
        body["data"]["policy"]["body"]["tiers"][0]["shares"] = {"inventor": "60",
                                                                "university": "40"}

    forged = forge(key, reshare)
    text = failures(sv.verify_statement(forged.statement(INV_A), forged.pem))
    assert "line 1 (seq 4): distribution policy body does not hash to its policy.hash" in text
    assert "class total inventor 63000.00 differs from recomputed 54000.00" in text


def test_forged_steps_units_and_residual(key: Ed25519PrivateKey) -> None:
    def skim(body: dict[str, Any]) -> None:
        data = body["data"]
        data["steps"][1]["amount"] = "10000.01"  # one cent more "cost recovery"
        data["class_units"]["inventor"] = 1_000_001
        data["lines"].append({"party_id": OPERATOR, "class": "residual", "units": 0,
                              "amount": "0.01"})

    forged = forge(key, skim)
    text = failures(sv.verify_statement(forged.statement(INV_B), forged.pem))
    assert ("distribution step cost_recovery 10000.01 differs from recomputed 10000.00"
            in text)
    assert "distribution class_units inventor says 1000001 but its lines hold 1000000" in text
    assert "distribution residual 0.01 differs from recomputed 0.00" in text
    assert "distribution residual goes to pty_operator, not to pty_univ" in text
    assert "distribution steps and lines sum to 100000.02, not the gross 100000.00" in text
    assert "distribution share 25200.00 differs from recomputed 25199.97" in text


def test_distribution_credit_must_match_postings(key: Ed25519PrivateKey) -> None:
    def underpay(body: dict[str, Any]) -> None:
        for p in body["postings"]:
            if p["account"] == f"{INV_B}:HKD:available":
                p["amount"] = "25000.00"
            if p["account"] == "ipx:HKD:clearing":
                p["amount"] = "-99800.00"

    forged = forge(key, underpay)
    text = failures(sv.verify_statement(forged.statement(INV_B), forged.pem))
    assert text == ("line 1 (seq 4): distribution credits the party 25200.00 (its lines and "
                    "steps) but the entry's postings to the party sum to 25000.00")


def test_malformed_input_is_reported_not_raised(journal: Journal,
                                                statement: dict[str, Any]) -> None:
    assert not sv.verify_statement("nonsense").ok  # type: ignore[arg-type]
    del statement["lines"][0]["entry"]["data"]["gross"]
    statement["lines"][1]["leaf_hash"] = "zz"
    statement["lines"][2]["inclusion_proof"] = None
    statement["lines"][3]["amount"] = 5
    statement["checkpoint"]["note"] = "garbage"
    text = failures(sv.verify_statement(statement, journal.pem))
    assert "distribution entry is malformed: missing field 'gross'" in text
    assert "line 2 (seq 5): leaf hash is not valid hex" in text
    assert "line 3 (seq 6): has no inclusion proof" in text
    assert "line 4 (seq 7): amount must be a decimal string" in text
    assert "checkpoint: signature does not verify" in text
    assert "inclusion proof cannot be checked: no usable checkpoint root" in text


# --------------------------------------------------------------------------------------
# The lines of a long statement checked by several processes
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("workers", [2, 3, 8])
def test_lines_checked_in_processes_give_the_same_report(
        journal: Journal, statement: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
        workers: int) -> None:
    monkeypatch.setattr(sv, "PARALLEL_FROM", 2)
    assert sv.verify_statement(statement, journal.pem, workers=workers).ok
    # Problems on both sides of every cut: order (checked against the lines before, in
    # another process), a duplicate at the end, an amount, an unreadable line.
    lines = statement["lines"]
    lines[1], lines[2] = lines[2], lines[1]
    lines.append(copy.deepcopy(lines[-1]))
    lines[0]["amount"] = "1.00"
    lines.insert(4, "not a line")
    alone = sv.verify_statement(copy.deepcopy(statement), journal.pem)
    shared = sv.verify_statement(statement, journal.pem, workers=workers)
    assert not alone.ok
    assert shared == alone
    assert sv.render_report(shared) == sv.render_report(alone)


def test_a_dead_checker_process_has_its_lines_checked_here(
        journal: Journal, statement: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    monkeypatch.setattr(sv, "PARALLEL_FROM", 2)

    def die(*_: Any) -> None:
        (tmp_path / "died").touch()
        os._exit(3)

    monkeypatch.setattr(sv, "_check_lines_and_send", die)
    report = sv.verify_statement(statement, journal.pem, workers=2)
    assert (tmp_path / "died").exists()
    assert report.ok and [v.seq for v in report.lines] == [4, 5, 6, 7, 8, 9]


def test_without_processes_to_fork_the_lines_are_checked_here(
        journal: Journal, statement: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sv, "PARALLEL_FROM", 2)

    def refuse(_: Any) -> None:
        raise OSError("Resource temporarily unavailable")

    monkeypatch.setattr(sv.multiprocessing.get_context("fork").Process, "start", refuse)
    report = sv.verify_statement(statement, journal.pem, workers=3)
    assert report.ok and [v.seq for v in report.lines] == [4, 5, 6, 7, 8, 9]


# --------------------------------------------------------------------------------------
# Any distribution that run_waterfall produces verifies for every party in it
# --------------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(case=inputs())
def test_every_waterfall_entry_verifies_for_each_party(case: WaterfallInput) -> None:
    result = run_waterfall(case)
    data = distribution_data(case, result)
    entry = {"seq": 1, "at": "2026-01-01T00:00:00Z", "kind": "revenue.distributed",
             "actor": OPERATOR, "data": data,
             "postings": credit_postings("ipx:HKD:clearing", data)}
    parties = {s.party_id for s in result.steps} | {ln.party_id for ln in result.lines}
    for party in parties:
        posted = sv._sum(sv._party_postings(entry, party, "HKD"), Decimal(0))
        assert sv._check_distribution(entry, party, "HKD", posted) == []


# --------------------------------------------------------------------------------------
# The command line, and the file copied elsewhere
# --------------------------------------------------------------------------------------


def test_main_prints_verdicts(journal: Journal, statement: dict[str, Any], tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(statement), encoding="utf-8")
    pem = tmp_path / "ipx.pem"
    pem.write_text(journal.pem, encoding="utf-8")
    assert sv.main([str(good), "--public-key", str(pem)]) == 0
    out = capsys.readouterr().out
    assert "\u2713 line 1 (seq 4): revenue.distributed 37800.00 verifies" in out
    assert out.rstrip().endswith("VERIFIED: all 6 lines and the balances check out")
    statement["lines"][1]["amount"] = "-2900.00"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(statement), encoding="utf-8")
    assert sv.main([str(bad), "--public-key", str(pem)]) == 1
    out = capsys.readouterr().out
    assert "\u2717 line 2 (seq 5): amount -2900.00 but" in out
    assert "NOT VERIFIED: 2 problem(s), 1 of 6 lines failing" in out
    assert sv.main([str(tmp_path / "missing.json")]) == 2


_BLOCKED_RUN = """
import importlib.abc, runpy, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("ledger", "rfc8785", "exchange", "api", "contracts", "tests"):
            raise ImportError(f"blocked: {name}")
        return None

sys.meta_path.insert(0, Block())
sys.argv = ["ipx_verify.py", *sys.argv[1:]]
runpy.run_path("ipx_verify.py", run_name="__main__")
"""


def test_copied_module_runs_as_a_script_without_ledger(journal: Journal,
                                                       statement: dict[str, Any],
                                                       tmp_path: Path) -> None:
    shutil.copy(sv.__file__, tmp_path / "ipx_verify.py")
    (tmp_path / "statement.json").write_text(json.dumps(statement), encoding="utf-8")
    (tmp_path / "ipx.pem").write_text(journal.pem, encoding="utf-8")
    tampered = copy.deepcopy(statement)
    tampered["lines"][0]["inclusion_proof"]["path"][0] = "ab" * 32
    (tmp_path / "tampered.json").write_text(json.dumps(tampered), encoding="utf-8")

    def run(*args: str, blocked: bool = True) -> subprocess.CompletedProcess[str]:
        command = ([sys.executable, "-I", "-c", _BLOCKED_RUN, *args] if blocked
                   else [sys.executable, "-I", "ipx_verify.py", *args])
        return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True,
                              timeout=60, encoding="utf-8", env={"PYTHONIOENCODING": "utf-8"})

    ok = run("statement.json", "--public-key", "ipx.pem")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "VERIFIED: all 6 lines" in ok.stdout
    bad = run("tampered.json", "--public-key", "ipx.pem")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert ("\u2717 line 1 (seq 4): inclusion proof does not verify against the checkpoint root"
            in bad.stdout)
    plain = run("statement.json", blocked=False)
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert "! public key: not independently supplied" in plain.stdout


# --------------------------------------------------------------------------------------
# The verifier's fast canonical JSON path
# --------------------------------------------------------------------------------------

_any_text = st.text(alphabet=st.characters(blacklist_categories=()), max_size=6)
_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**60), 2**60) | _any_text,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(_any_text, children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=500, deadline=None)
@given(body=st.dictionaries(_any_text, _values, max_size=5))
def test_fast_canonical_json_is_jcs_or_declines(body: dict[str, Any]) -> None:
    import rfc8785

    fast = sv._fast_jcs(body)
    try:
        expected = rfc8785.dumps(body)
    except Exception:
        assert fast is None
        return
    assert fast is None or fast == expected
    assert sv.canonical_json(body) == expected


def test_fast_canonical_json_edge_cases() -> None:
    import rfc8785

    body: dict[str, Any] = {"\u20ac": 1, "\r": [True, None], "s": 'q"\\\b\f\n\r\t\x00\x1f\x7f',
                            "\u2028": "\U0001f600", "n": -(2**53) + 1}
    assert sv._fast_jcs(body) == rfc8785.dumps(body)
    # Keys JCS orders by UTF-16 rather than by code point, and out-of-range integers,
    # are left to the careful path.
    assert sv._fast_jcs({"\ufb33": 1, "\U0001f600": 2}) is None
    assert sv._fast_jcs({"x": 2**53}) is None
    assert sv._fast_jcs({"x": 1.5}) is None
    assert sv._fast_jcs({"x": "\ud800"}) is None
