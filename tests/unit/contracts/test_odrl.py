"""ODRL 2.2 export: shape, constraints, duties, exclusivity, and JSON-LD term hygiene."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import rfc8785

from contracts.odrl import ODRL_CONTEXT, PROFILE, asset_iri, party_iri, to_odrl
from tests.unit.contracts.helpers import terms

# Terms of the ODRL 2.2 JSON-LD context (http://www.w3.org/ns/odrl.jsonld) that the export
# may use, split by how the context types them.
ID_TYPED = {"uid", "profile", "target", "assigner", "assignee", "compensatedParty",
            "informedParty"}
CONTAINERS = {"permission", "prohibition", "duty", "constraint", "refinement"}
VOCAB_TYPED = {"action", "operator", "leftOperand"}
LITERALS = {"rightOperand", "unit"}
VOCABULARY = {"Agreement", "Offer", "use", "grantUse", "reproduce", "distribute", "read",
              "compensate", "inform", "purpose", "spatial", "dateTime", "event", "payAmount",
              "percentage", "timeInterval", "delayPeriod", "eq", "gteq", "lt", "lteq",
              "isAnyOf"}
PREFIXES = {"odrl", "rdf", "xsd"}
ABSOLUTE_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")


def is_iri_or_curie(value: str) -> bool:
    return bool(ABSOLUTE_IRI.match(value))


def walk(node: Any, path: str = "$") -> Iterator[tuple[str, str, Any]]:
    """Every (path, key, value) in the document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield path, key, value
            yield from walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from walk(item, f"{path}[{i}]")


def check_json_ld_terms(doc: dict[str, Any]) -> None:
    """Every key and vocabulary value is a keyword, a context term, a CURIE or an IRI."""
    for path, key, value in walk(doc):
        if key in ("@context", "@value"):
            continue
        if key == "@type":
            assert value in VOCABULARY or value.split(":")[0] in PREFIXES, (path, value)
            continue
        if key == "@id":
            assert is_iri_or_curie(value), (path, value)
            continue
        if key == "rdf:value":
            continue
        values = value if isinstance(value, list) else [value]
        if key in ID_TYPED:
            assert all(isinstance(v, str) and is_iri_or_curie(v) for v in values), (path, key)
        elif key in VOCAB_TYPED:
            for v in values:
                if isinstance(v, dict):  # an action with refinements
                    assert set(v) == {"rdf:value", "refinement"}, (path, v)
                    assert v["rdf:value"]["@id"].startswith("odrl:")
                else:
                    assert v in VOCABULARY or v.startswith("urn:ipx:odrl:"), (path, key, v)
        elif key in CONTAINERS:
            assert all(isinstance(v, dict) for v in values), (path, key)
        elif key in LITERALS:
            pass
        else:
            assert key.startswith("urn:ipx:odrl:"), (path, key)


def constraints_by_left(rule: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for c in rule.get("constraint", []):
        out.setdefault(c["leftOperand"], []).append(c)
    return out


def compensations(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [d for d in doc["permission"][0]["duty"]
            if isinstance(d["action"], list) and d["action"][0]["rdf:value"]["@id"]
            == "odrl:compensate"]


def test_agreement_shape() -> None:
    doc = to_odrl(terms(), uid="grt_1")
    assert doc["@context"] == ODRL_CONTEXT
    assert doc["@type"] == "Agreement"
    assert doc["uid"] == "urn:ipx:licence:grt_1"
    assert doc["profile"] == PROFILE
    assert doc["assigner"] == party_iri("pty_uni") == "urn:ipx:party:pty_uni"
    assert doc["assignee"] == party_iri("pty_acme")
    assert doc["target"] == [asset_iri("ast_1")]
    main = doc["permission"][0]
    assert main["action"] == ["use", "reproduce", "distribute"]
    assert (main["assigner"], main["assignee"], main["target"]) == (
        doc["assigner"], doc["assignee"], doc["target"])
    check_json_ld_terms(doc)


def test_output_is_plain_json_without_floats() -> None:
    doc = to_odrl(terms(), uid="grt_1")
    assert json.loads(json.dumps(doc)) == doc
    rfc8785.dumps(doc)  # serialisable canonically, so it could be journalled as is
    assert not any(isinstance(v, float) for _, _, v in walk(doc))


def test_uid_that_is_already_an_iri_is_kept() -> None:
    assert to_odrl(terms(), uid="https://ipx.example/grants/1")["uid"] == (
        "https://ipx.example/grants/1")


def test_box_constraints() -> None:
    doc = to_odrl(terms(field_of_use=[{"code": "therapy", "label": "T"},
                                      {"code": "diagnostics", "label": "D"}]), uid="g")
    by_left = constraints_by_left(doc["permission"][0])
    assert by_left["purpose"] == [{"leftOperand": "purpose", "operator": "isAnyOf",
                                   "rightOperand": ["diagnostics", "therapy"]}]
    assert by_left["spatial"] == [{"leftOperand": "spatial", "operator": "isAnyOf",
                                   "rightOperand": ["CN", "HK"]}]
    assert by_left["dateTime"] == [
        {"leftOperand": "dateTime", "operator": "gteq",
         "rightOperand": {"@value": "2025-01-01", "@type": "xsd:date"}},
        {"leftOperand": "dateTime", "operator": "lt",
         "rightOperand": {"@value": "2030-01-01", "@type": "xsd:date"}},
    ]


def test_world_has_no_spatial_constraint() -> None:
    doc = to_odrl(terms(territory=["WORLD"]), uid="g")
    assert "spatial" not in constraints_by_left(doc["permission"][0])
    check_json_ld_terms(doc)


def test_payment_duties() -> None:
    doc = to_odrl(terms(), uid="g")
    duties = compensations(doc)
    unit = "urn:iso:std:iso:4217:HKD"

    def refinement(duty: dict[str, Any]) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = duty["action"][0]["refinement"]
        return result

    upfront = duties[0]
    assert refinement(upfront) == [{"leftOperand": "payAmount", "operator": "eq",
                                    "rightOperand": {"@value": "50000.00",
                                                     "@type": "xsd:decimal"}, "unit": unit}]
    assert upfront["constraint"] == [{"leftOperand": "event", "operator": "lt",
                                      "rightOperand": {"@id": "odrl:policyUsage"}}]
    assert upfront["assignee"] == party_iri("pty_acme")
    assert upfront["compensatedParty"] == party_iri("pty_uni")

    tier0, tier1 = duties[1], duties[2]
    assert refinement(tier0)[0]["rightOperand"] == {"@value": "5", "@type": "xsd:decimal"}
    assert refinement(tier1)[0]["rightOperand"] == {"@value": "3", "@type": "xsd:decimal"}
    left = {c["leftOperand"] for c in refinement(tier0)}
    assert left == {"percentage", "urn:ipx:odrl:stackingDeduction", "urn:ipx:odrl:stackingFloor"}
    sales0 = constraints_by_left(tier0)["urn:ipx:odrl:cumulativeNetSales"]
    assert [(c["operator"], c["rightOperand"]["@value"]) for c in sales0] == [
        ("gteq", "0.00"), ("lt", "1000000.00")]
    sales1 = constraints_by_left(tier1)["urn:ipx:odrl:cumulativeNetSales"]
    assert [(c["operator"], c["rightOperand"]["@value"]) for c in sales1] == [
        ("gteq", "1000000.00")]
    assert constraints_by_left(tier0)["timeInterval"][0]["rightOperand"]["@value"] == "P3M"

    minimum = duties[3]
    assert refinement(minimum)[0]["operator"] == "gteq"
    assert refinement(minimum)[0]["rightOperand"]["@value"] == "20000.00"
    assert minimum["constraint"][0]["rightOperand"]["@value"] == "P1Y"

    milestones = duties[4:6]
    assert [(m["constraint"][0]["rightOperand"]["@id"],
             refinement(m)[0]["rightOperand"]["@value"]) for m in milestones] == [
        ("urn:ipx:event:first_sale", "25000.00"),
        ("urn:ipx:event:regulatory_approval", "100000.50")]

    sublicence, equity = duties[6], duties[7]
    assert refinement(sublicence)[0]["leftOperand"] == "percentage"
    assert sublicence["constraint"][0]["rightOperand"]["@id"] == (
        "urn:ipx:event:sublicence-income")
    assert {c["leftOperand"]: c["rightOperand"] for c in refinement(equity)} == {
        "urn:ipx:odrl:shares": {"@value": "50000", "@type": "xsd:integer"},
        "urn:ipx:odrl:shareClass": "ordinary",
        "urn:ipx:odrl:issuer": {"@id": party_iri("pty_acme")},
    }
    assert len(duties) == 8


def test_reporting_duty_and_audit_permission() -> None:
    doc = to_odrl(terms(report_frequency="semiannual"), uid="g")
    inform = [d for d in doc["permission"][0]["duty"] if d["action"] == "inform"]
    assert inform == [{"assignee": party_iri("pty_acme"), "action": "inform",
                       "informedParty": party_iri("pty_uni"),
                       "constraint": [{"leftOperand": "timeInterval", "operator": "eq",
                                       "rightOperand": {"@value": "P6M",
                                                        "@type": "xsd:duration"}}]}]
    audit = doc["permission"][1]
    assert audit["action"] == "read"
    assert audit["target"] == "urn:ipx:licence:g#records"
    assert (audit["assigner"], audit["assignee"]) == (party_iri("pty_acme"),
                                                      party_iri("pty_uni"))
    assert audit["constraint"][0]["rightOperand"] == {"@value": "P30D", "@type": "xsd:duration"}
    assert len(to_odrl(terms(audit=...), uid="g")["permission"]) == 1


def test_free_terms_have_only_the_reporting_duty() -> None:
    t = terms(upfront_fee=..., royalty=..., milestones=..., sublicence_share=..., equity=...)
    doc = to_odrl(t, uid="g")
    assert compensations(doc) == []
    assert [d["action"] for d in doc["permission"][0]["duty"]] == ["inform"]


@pytest.mark.parametrize(("exclusivity", "actions"), [
    ("exclusive", ["grantUse", "use"]),
    ("sole", ["grantUse"]),
    ("non_exclusive", None),
])
def test_exclusivity(exclusivity: str, actions: list[str] | None) -> None:
    doc = to_odrl(terms(exclusivity=exclusivity), uid="g")
    assert doc["urn:ipx:odrl:exclusivity"] == exclusivity
    if actions is None:
        assert "prohibition" not in doc
        return
    [prohibition] = doc["prohibition"]
    assert prohibition["action"] == actions
    assert prohibition["assignee"] == prohibition["assigner"] == party_iri("pty_uni")
    assert prohibition["target"] == doc["target"]
    assert prohibition["constraint"] == doc["permission"][0]["constraint"]
    check_json_ld_terms(doc)


def test_open_offer_exports_as_offer_without_assignee() -> None:
    doc = to_odrl(terms(licensee=None, exclusivity="non_exclusive"), uid="g")
    assert doc["@type"] == "Offer"
    assert not any(key == "assignee" and value != party_iri("pty_uni")
                   for _, key, value in walk(doc))
    check_json_ld_terms(doc)
