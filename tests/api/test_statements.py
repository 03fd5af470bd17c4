"""Revenue and statements through the HTTP API, checked offline as an inventor would."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ledger.statement_verifier import verify_statement
from tests.conftest import Caller


@pytest.fixture
def paid(op: Caller, new_caller: Callable[..., Caller]) -> dict[str, Any]:
    uni, alice, bob = new_caller("university"), new_caller("inventor"), new_caller("inventor")
    listed = uni.post("/v1/assets", {
        "title": "Sensor mesh", "kind": "patent", "jurisdiction": "HK", "policy": "hku-2023",
        "inventors": [{"party_id": alice.party_id, "share": "0.6"},
                      {"party_id": bob.party_id, "share": "0.4"}]})
    asset = listed.json["id"]
    cost = uni.post(f"/v1/assets/{asset}/costs",
                    {"amount": {"amount": "10000.00", "currency": "HKD"}, "description": "fees"})
    assert cost.status_code == 201
    received = op.post(f"/v1/assets/{asset}/revenue", {
        "amount": {"amount": "100000.00", "currency": "HKD"}, "source": "royalty",
        "reference": "Q3"})
    assert received.status_code == 201, received.json
    return {"uni": uni, "alice": alice, "bob": bob, "asset": asset,
            "distribution": received.json}


def _period(client: Any) -> str:
    """A period around now, whenever the tests run."""
    del client
    now = datetime.now(UTC)
    return (f"from={(now - timedelta(days=30)):%Y-%m-%dT%H:%M:%SZ}"
            f"&to={(now + timedelta(days=1)):%Y-%m-%dT%H:%M:%SZ}")


def test_the_distribution_is_exact(paid: dict[str, Any]) -> None:
    d = paid["distribution"]
    assert d["gross"] == {"amount": "100000.00", "currency": "HKD"}
    assert [(s["kind"], s["amount"]) for s in d["steps"]] == [
        ("platform_fee", "0.00"), ("cost_recovery", "10000.00")]
    lines = {(ln["party_id"], ln["class"]): (ln["units"], ln["amount"]) for ln in d["lines"]}
    assert lines == {(paid["alice"].party_id, "inventor"): (600_000, "37800.00"),
                     (paid["bob"].party_id, "inventor"): (400_000, "25200.00"),
                     (paid["uni"].party_id, "university"): (1_000_000, "27000.00")}
    # The 201's lines come from the journal entry's encoding, the GET's from the schema:
    # the same distribution either way.
    seen = paid["alice"].get(f"/v1/distributions/{d['id']}")
    assert seen.status_code == 200 and seen.json == d
    assert set(d) == {"id", "asset_id", "seq", "gross", "net", "source", "reference",
                      "created_at", "steps", "lines"}


def test_an_inventor_statement_verifies_offline(paid: dict[str, Any], client: Any,
                                                tmp_path: Path) -> None:
    alice = paid["alice"]
    got = alice.get(f"/v1/statements?{_period(client)}&currency=HKD")
    assert got.status_code == 200, got.json
    statement = got.json
    assert (statement["opening_balance"], statement["closing_balance"]) == ("0.00", "37800.00")
    assert [ln["kind"] for ln in statement["lines"]] == ["revenue.distributed"]
    key = client.get("/v1/ledger/public-key").json["public_key_pem"]
    report = verify_statement(statement, key)
    assert report.ok and report.key_supplied, report.failures

    path, pem = tmp_path / "statement.json", tmp_path / "ipx.pem"
    path.write_text(json.dumps(statement))
    pem.write_text(key)
    ok = subprocess.run([sys.executable, "-m", "api.cli", "verify-statement", str(path),
                         "--public-key", str(pem)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr

    tampered = json.loads(json.dumps(statement))
    tampered["lines"][0]["inclusion_proof"]["path"][0] = "00" * 32
    path.write_text(json.dumps(tampered))
    bad = subprocess.run([sys.executable, "-m", "api.cli", "verify-statement", str(path),
                          "--public-key", str(pem), "--workers", "2"],
                         capture_output=True, text=True)
    assert bad.returncode == 1
    assert "inclusion proof does not verify" in bad.stdout
    none = subprocess.run([sys.executable, "-m", "api.cli", "verify-statement", str(path),
                           "--workers", "0"], capture_output=True, text=True)
    assert none.returncode == 2 and "--workers" in none.stderr


def test_csv_and_pdf(paid: dict[str, Any], client: Any) -> None:
    alice = paid["alice"]
    got = alice.get(f"/v1/statements?{_period(client)}&format=csv")
    assert got.status_code == 200 and got.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(got.get_data(as_text=True))))
    assert [r["kind"] for r in rows] == ["opening_balance", "revenue.distributed",
                                         "closing_balance"]
    assert rows[1]["amount"] == "37800.00" and len(rows[1]["leaf_hash"]) == 64
    pdf = alice.get(f"/v1/statements?{_period(client)}&format=pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF") and len(pdf.data) > 2000


@pytest.mark.parametrize("query, field", [
    ("from=2027-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "to"),
    ("from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "to"),
    ("from=2026-01-01T00:00:00Z", "to"),
    ("from=2026-01-01&to=2026-02-01T00:00:00Z&currency=XYZ", "currency"),
    ("from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z&format=docx", "format"),
])
def test_bad_statement_queries(paid: dict[str, Any], query: str, field: str) -> None:
    got = paid["alice"].get(f"/v1/statements?{query}")
    assert got.status_code == 422 and got.content_type == "application/problem+json"
    assert field in got.json["errors"], got.json


def test_revenue_refusals(paid: dict[str, Any], op: Caller) -> None:
    asset, alice = paid["asset"], paid["alice"]
    for who, body in [
        (op, {"amount": {"amount": "10.00", "currency": "USD"}, "source": "royalty",
              "reference": "x"}),
        (op, {"amount": {"amount": "0", "currency": "HKD"}, "source": "royalty",
              "reference": "x"}),
        (op, {"amount": {"amount": "10.00", "currency": "HKD"}, "source": "gift",
              "reference": "x"}),
        (alice, {"amount": {"amount": "10.00", "currency": "HKD"}, "source": "royalty",
                 "reference": "x"}),
    ]:
        got = who.post(f"/v1/assets/{asset}/revenue", body)
        assert 400 <= got.status_code < 500 and got.content_type == "application/problem+json"
    assert op.client.put("/v1/settings/platform-fee", json={"platform_fee_bps": 50},
                         headers=alice.headers()).status_code == 403
    assert op.client.put("/v1/settings/platform-fee", json={"platform_fee_bps": 50},
                         headers=op.headers()).status_code == 200
