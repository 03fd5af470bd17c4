"""OCF export: every file and required field, securities that replay to the cap table, zips."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from contracts.cap_table import (
    CapTable,
    ClassType,
    Issuance,
    OptionPool,
    ShareClass,
    Stakeholder,
    StakeholderKind,
    Transfer,
    holdings_by_stakeholder,
)
from contracts.ocf import (
    FILE_NAMES,
    MANIFEST_NAME,
    OCF_MANIFEST_FILE,
    OCF_STAKEHOLDERS_FILE,
    OCF_STOCK_CLASSES_FILE,
    OCF_STOCK_PLANS_FILE,
    OCF_TRANSACTIONS_FILE,
    OCF_VERSION,
    REQUIRED_FIELDS,
    OcfIssuer,
    export_zip,
    missing_fields,
    ocf_files,
    read_zip,
)
from ledger.errors import InvalidInput

ISSUER = OcfIssuer("Harbour Photonics Limited", date(2023, 5, 2), "HK")

# The OCF schemas' required properties, written out here independently of the module:
# Object primitive (id, object_type) + Transaction (date) + SecurityTransaction (security_id)
# + Issuance (custom_id, stakeholder_id, security_law_exemptions) + Transfer
# (resulting_security_ids) + each object's own list.
SCHEMA_REQUIRED: dict[str, set[str]] = {
    "ISSUER": {"id", "object_type", "legal_name", "formation_date", "country_of_formation"},
    "STAKEHOLDER": {"id", "object_type", "name", "stakeholder_type"},
    "STOCK_CLASS": {"id", "object_type", "name", "class_type", "default_id_prefix",
                    "initial_shares_authorized", "votes_per_share", "seniority"},
    "STOCK_PLAN": {"id", "object_type", "plan_name", "initial_shares_reserved"},
    "TX_STOCK_ISSUANCE": {"id", "object_type", "date", "security_id", "custom_id",
                          "stakeholder_id", "security_law_exemptions", "stock_class_id",
                          "share_price", "quantity", "stock_legend_ids"},
    "TX_STOCK_TRANSFER": {"id", "object_type", "date", "security_id", "quantity",
                          "resulting_security_ids"},
}
MANIFEST_REQUIRED = {"ocf_version", "file_type", "issuer", "as_of", "generated_at",
                     "stock_plans_files", "stock_legend_templates_files", "stock_classes_files",
                     "vesting_terms_files", "valuations_files", "transactions_files",
                     "stakeholders_files"}
# Properties each object type allows (additionalProperties is false in every schema).
ALLOWED_EXTRA = {"TX_STOCK_ISSUANCE": {"consideration_text"},
                 "TX_STOCK_TRANSFER": {"consideration_text", "balance_security_id"},
                 "STOCK_PLAN": {"stock_class_ids"}}
NUMERIC = re.compile(r"^[+-]?[0-9]+(\.[0-9]{1,10})?$")
DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def seeded() -> CapTable:
    """A start-up with founders, a preferred round, a pool, the university's equity, a
    partial transfer and a transfer that spans two securities."""
    return CapTable(
        "pty_photonics", "HKD",
        (ShareClass("ordinary", 2_000_000),
         ShareClass("Series A", 400_000, seniority=2, class_type=ClassType.PREFERRED)),
        (Stakeholder("pty_ann", "Ann Chan", StakeholderKind.INDIVIDUAL),
         Stakeholder("pty_bob", "Bob Lee", StakeholderKind.INDIVIDUAL),
         Stakeholder("pty_fund", "Harbour Ventures Fund I"),
         Stakeholder("pty_hku", "The University of Hong Kong")),
        (
            Issuance("iss_1", "pty_ann", "ordinary", 600_000, date(2023, 5, 2),
                     Decimal("0.0001")),
            Issuance("iss_2", "pty_bob", "ordinary", 300_000, date(2023, 5, 2),
                     Decimal("0.0001")),
            Issuance("iss_3", "pty_fund", "Series A", 100_000, date(2024, 1, 10),
                     Decimal("12.5"), "Series A round"),
            Issuance("iss_4", "pty_hku", "ordinary", 52_631, date(2024, 3, 1), Decimal(0),
                     "licence of ast_1"),
            Issuance("iss_5", "pty_ann", "ordinary", 10_000, date(2024, 3, 2)),
            Transfer("trf_1", "pty_bob", "pty_fund", "ordinary", 50_000, date(2024, 4, 1),
                     Decimal("3"), "secondary sale"),
            Transfer("trf_2", "pty_ann", "pty_bob", "ordinary", 605_000, date(2024, 5, 1)),
        ),
        OptionPool("ordinary", 100_000, "2023 Share Option Scheme"),
    )


def test_every_file_is_there_and_referenced() -> None:
    files = ocf_files(seeded(), ISSUER)
    assert set(files) == {MANIFEST_NAME, *FILE_NAMES.values()}
    manifest = files[MANIFEST_NAME]
    assert set(manifest) == MANIFEST_REQUIRED
    assert manifest["file_type"] == OCF_MANIFEST_FILE and manifest["ocf_version"] == OCF_VERSION
    assert manifest["as_of"] == "2024-05-01"
    assert manifest["generated_at"] == "2024-05-01T00:00:00Z"
    for key in MANIFEST_REQUIRED:
        if key.endswith("_files"):
            (ref,) = manifest[key]
            assert set(ref) == {"filepath", "md5"} and ref["filepath"] in files
            assert re.fullmatch(r"[0-9a-f]{32}", ref["md5"])
    for file_type, name in FILE_NAMES.items():
        doc = files[name]
        assert set(doc) == {"file_type", "items"} and doc["file_type"] == file_type
    assert missing_fields(files) == []


def test_every_object_carries_the_required_fields() -> None:
    files = ocf_files(seeded(), ISSUER)
    objects: list[Mapping[str, Any]] = [files[MANIFEST_NAME]["issuer"]]
    for name in FILE_NAMES.values():
        objects.extend(files[name]["items"])
    seen_types = set()
    ids: list[str] = []
    for obj in objects:
        kind = obj["object_type"]
        seen_types.add(kind)
        assert SCHEMA_REQUIRED[kind] <= set(obj), kind
        assert set(obj) <= SCHEMA_REQUIRED[kind] | ALLOWED_EXTRA.get(kind, set()), kind
        assert set(obj) >= set(REQUIRED_FIELDS[kind])
        ids.append(obj["id"])
        for key in ("quantity", "initial_shares_authorized", "votes_per_share", "seniority",
                    "initial_shares_reserved"):
            if key in obj:
                assert NUMERIC.match(obj[key]), (kind, key, obj[key])
        for key in ("date", "formation_date"):
            if key in obj:
                assert DATE.match(obj[key])
        if "share_price" in obj:
            assert set(obj["share_price"]) == {"amount", "currency"}
            assert NUMERIC.match(obj["share_price"]["amount"])
            assert obj["share_price"]["currency"] == "HKD"
    assert seen_types == set(SCHEMA_REQUIRED)
    assert len(ids) == len(set(ids)), "object ids are unique"


def test_stakeholders_classes_and_plan() -> None:
    files = ocf_files(seeded(), ISSUER)
    people = {s["id"]: s for s in files[FILE_NAMES[OCF_STAKEHOLDERS_FILE]]["items"]}
    assert people["pty_ann"]["stakeholder_type"] == "INDIVIDUAL"
    assert people["pty_hku"]["stakeholder_type"] == "INSTITUTION"
    assert people["pty_hku"]["name"] == {"legal_name": "The University of Hong Kong"}
    classes = {c["id"]: c for c in files[FILE_NAMES[OCF_STOCK_CLASSES_FILE]]["items"]}
    assert classes["ordinary"]["class_type"] == "COMMON"
    assert classes["ordinary"]["initial_shares_authorized"] == "2000000"
    assert classes["Series A"]["class_type"] == "PREFERRED"
    assert classes["Series A"]["seniority"] == "2"
    assert classes["ordinary"]["default_id_prefix"] != classes["Series A"]["default_id_prefix"]
    (plan,) = files[FILE_NAMES[OCF_STOCK_PLANS_FILE]]["items"]
    assert plan["initial_shares_reserved"] == "100000"
    assert plan["stock_class_ids"] == ["ordinary"]
    issuer = files[MANIFEST_NAME]["issuer"]
    assert issuer["id"] == "pty_photonics" and issuer["country_of_formation"] == "HK"


def _replay(transactions: list[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """Holdings from OCF securities: an issuance opens a security, a transfer closes one."""
    open_: dict[str, tuple[str, str, int]] = {}
    for tx in transactions:
        if tx["object_type"] == "TX_STOCK_ISSUANCE":
            assert tx["security_id"] not in open_
            open_[tx["security_id"]] = (tx["stakeholder_id"], tx["stock_class_id"],
                                        int(tx["quantity"]))
        else:
            _, _, had = open_.pop(tx["security_id"])
            assert 0 < int(tx["quantity"]) <= had
    out: dict[str, dict[str, int]] = {}
    for who, cls, shares in open_.values():
        out.setdefault(who, {})
        out[who][cls] = out[who].get(cls, 0) + shares
    return out


def test_transactions_replay_to_the_cap_table() -> None:
    table = seeded()
    items = ocf_files(table, ISSUER)[FILE_NAMES[OCF_TRANSACTIONS_FILE]]["items"]
    assert _replay(items) == holdings_by_stakeholder(table)
    by_id = {t["id"]: t for t in items}
    # The partial transfer: Bob's 300,000 security gives 50,000 and a 250,000 balance.
    partial = by_id["trf_1"]
    assert partial["security_id"] == "iss_2.security" and partial["quantity"] == "50000"
    assert partial["resulting_security_ids"] == ["trf_1.security"]
    assert partial["balance_security_id"] == "trf_1.balance.security"
    assert by_id["trf_1.issuance"]["stakeholder_id"] == "pty_fund"
    assert by_id["trf_1.issuance"]["share_price"]["amount"] == "3"
    assert by_id["trf_1.balance.issuance"]["quantity"] == "250000"
    # Ann's 605,000 spans her 600,000 and 10,000 securities, oldest first.
    assert by_id["trf_2.1"]["security_id"] == "iss_1.security"
    assert by_id["trf_2.1"]["quantity"] == "600000" and "balance_security_id" not in by_id[
        "trf_2.1"]
    assert by_id["trf_2.2"]["security_id"] == "iss_5.security"
    assert by_id["trf_2.2"]["quantity"] == "5000"
    assert by_id["trf_2.2.balance.issuance"]["quantity"] == "5000"
    assert by_id["trf_2.1.issuance"]["share_price"]["amount"] == "0.0001"  # original price
    # Transactions stay in date order; issuance ids and custom ids are unique.
    dates = [t["date"] for t in items]
    assert dates == sorted(dates)
    customs = [t["custom_id"] for t in items if t["object_type"] == "TX_STOCK_ISSUANCE"]
    assert len(customs) == len(set(customs))
    assert by_id["iss_3"]["consideration_text"] == "Series A round"


def test_zip_round_trip_and_determinism() -> None:
    table = seeded()
    data = export_zip(table, ISSUER)
    assert data == export_zip(table, ISSUER)
    assert read_zip(data) == ocf_files(table, ISSUER)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = zf.namelist()
        assert names == sorted(names) == sorted([MANIFEST_NAME, *FILE_NAMES.values()])
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert zf.testzip() is None
        manifest = read_zip(data)[MANIFEST_NAME]
        for key, refs in manifest.items():
            if key.endswith("_files"):
                for ref in refs:
                    body = zf.read(ref["filepath"])
                    assert hashlib.md5(body, usedforsecurity=False).hexdigest() == ref["md5"]
    changed = export_zip(table, ISSUER, generated_at=datetime(2025, 1, 2, 3, 4, tzinfo=UTC))
    assert read_zip(changed)[MANIFEST_NAME]["generated_at"] == "2025-01-02T03:04:00Z"
    assert changed != data


def test_an_empty_table_exports() -> None:
    table = CapTable("pty_photonics", "HKD", (ShareClass("ordinary", 1000),))
    files = ocf_files(table, ISSUER)
    assert files[MANIFEST_NAME]["as_of"] == "2023-05-02"
    assert files[FILE_NAMES[OCF_TRANSACTIONS_FILE]]["items"] == []
    assert files[FILE_NAMES[OCF_STOCK_PLANS_FILE]]["items"] == []
    assert missing_fields(files) == []


@pytest.mark.parametrize(("issuer", "kwargs", "field"), [
    (OcfIssuer("X", date(2023, 1, 1), "XX"), {}, "issuer.country_of_formation"),
    (OcfIssuer("X", date(2023, 1, 1), "hk"), {}, "issuer.country_of_formation"),
    (OcfIssuer(" ", date(2023, 1, 1), "HK"), {}, "issuer.legal_name"),
    (OcfIssuer("X", date(2023, 1, 1), "HK", id="pty_other"), {}, "issuer.id"),
    (ISSUER, {"as_of": date(2024, 4, 30)}, "as_of"),
    (ISSUER, {"generated_at": datetime(2024, 6, 1)}, "generated_at"),
])
def test_bad_export_requests(issuer: OcfIssuer, kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        export_zip(seeded(), issuer, **kwargs)
    assert caught.value.field == field


def test_missing_fields_reports_what_is_missing() -> None:
    files = ocf_files(seeded(), ISSUER)
    del files[MANIFEST_NAME]["issuer"]["legal_name"]
    del files[FILE_NAMES[OCF_TRANSACTIONS_FILE]]["items"][0]["security_id"]
    del files[FILE_NAMES[OCF_STAKEHOLDERS_FILE]]
    problems = missing_fields(files)
    assert "Manifest.ocf.json: issuer legal_name" in problems
    assert "Transactions.ocf.json: items[0] security_id" in problems
    assert any("names a missing file" in p for p in problems)
