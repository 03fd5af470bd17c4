"""Licence terms: the validation table, the canonical form, and hash stability."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.terms import (
    SCHEMA,
    AuditRight,
    Exclusivity,
    ReportFrequency,
    bind_licensee,
    is_territory_code,
    parse_terms,
    terms_hash,
    terms_json,
    verify_terms_hash,
)
from ledger.errors import Conflict, InvalidInput
from tests.unit.contracts.helpers import raw, terms

Mutation = Callable[[dict[str, Any]], None]


def setter(path: str, value: Any) -> Mutation:
    """A mutation that sets (or, for ..., deletes) the value at a dotted path with [i] parts."""

    def mutate(doc: dict[str, Any]) -> None:
        parts: list[str | int] = []
        for part in path.split("."):
            name, *indices = part.replace("]", "").split("[")
            parts.append(name)
            parts.extend(int(i) for i in indices)
        node: Any = doc
        for step in parts[:-1]:
            node = node[step]
        if value is ...:
            del node[parts[-1]]
        else:
            node[parts[-1]] = value

    return mutate


def _replace_all(doc: dict[str, Any], new: dict[str, Any]) -> None:
    doc.clear()
    doc.update(new)


def case(id: str, mutation: Mutation, field: str, fragment: str) -> Any:
    return pytest.param(mutation, field, fragment, id=id)


BAD: list[Any] = [
    case("only-unknown-fields", lambda d: _replace_all(d, {"x": 1}), "terms.x",
         "unknown field"),
    case("unknown-top-field", setter("colour", "blue"), "terms.colour", "unknown field 'colour'"),
    case("missing-grantor", setter("grantor", ...), "terms.grantor", "required"),
    case("missing-end", setter("end", ...), "terms.end", "required"),
    case("wrong-schema", setter("schema", "ipx.licence-terms/2"), "terms.schema", SCHEMA),
    case("bad-party-id", setter("grantor", "pty uni"), "terms.grantor", "must be an id"),
    case("licensee-is-grantor", setter("licensee", "pty_uni"), "terms.licensee", "grantor"),
    case("no-assets", setter("assets", []), "terms.assets", "at least 1"),
    case("assets-not-list", setter("assets", "ast_1"), "terms.assets", "must be a list"),
    case("duplicate-assets", setter("assets", ["ast_1", "ast_2", "ast_1"]), "terms.assets[2]",
         "duplicate asset"),
    case("bad-exclusivity", setter("exclusivity", "semi"), "terms.exclusivity", "one of"),
    case("no-fields", setter("field_of_use", []), "terms.field_of_use", "at least 1"),
    case("duplicate-fields", setter("field_of_use", [{"code": "a", "label": "A"},
                                                     {"code": "a", "label": "Also A"}]),
         "terms.field_of_use[1]", "duplicate field of use 'a'"),
    case("field-code-upper", setter("field_of_use[0].code", "Diagnostics"),
         "terms.field_of_use[0].code", "lowercase"),
    case("field-blank-label", setter("field_of_use[0].label", "  "),
         "terms.field_of_use[0].label", "non-blank"),
    case("field-missing-label", setter("field_of_use[0].label", ...),
         "terms.field_of_use[0].label", "required"),
    case("field-unknown-key", setter("field_of_use[0].parent", "x"),
         "terms.field_of_use[0].parent", "unknown field"),
    case("territory-does-not-exist", setter("territory", ["HK", "XX"]), "terms.territory[1]",
         "'XX' is not an ISO 3166-1"),
    case("territory-uk-is-not-iso", setter("territory", ["UK"]), "terms.territory[0]",
         "not an ISO 3166-1"),
    case("territory-user-assigned", setter("territory", ["XK"]), "terms.territory[0]",
         "not an ISO 3166-1"),
    case("territory-lower-case", setter("territory", ["hk"]), "terms.territory[0]", "'HK'"),
    case("territory-alpha3", setter("territory", ["HKG"]), "terms.territory[0]", "alpha-2"),
    case("territory-world-mixed", setter("territory", ["HK", "WORLD"]), "terms.territory",
         "WORLD must be the only"),
    case("territory-duplicate", setter("territory", ["HK", "HK"]), "terms.territory[1]",
         "duplicate territory"),
    case("territory-empty", setter("territory", []), "terms.territory", "at least 1"),
    case("territory-not-string", setter("territory", [344]), "terms.territory[0]", "alpha-2"),
    case("end-before-start", setter("end", "2024-12-31"), "terms.end", "after the start"),
    case("end-equals-start", setter("end", "2025-01-01"), "terms.end", "after the start"),
    case("not-a-calendar-date", setter("start", "2025-02-30"), "terms.start", "calendar date"),
    case("basic-iso-date", setter("start", "20250101"), "terms.start", "YYYY-MM-DD"),
    case("datetime-not-date", setter("start", "2025-01-01T00:00:00Z"), "terms.start",
         "YYYY-MM-DD"),
    case("bad-currency", setter("currency", "HKX"), "terms.currency", "ISO 4217"),
    case("amount-as-float", setter("upfront_fee", 50000.0), "terms.upfront_fee",
         "decimal string"),
    case("amount-as-int", setter("upfront_fee", 50000), "terms.upfront_fee", "decimal string"),
    case("amount-negative", setter("upfront_fee", "-1"), "terms.upfront_fee", "decimal string"),
    case("amount-exponent", setter("upfront_fee", "5E4"), "terms.upfront_fee", "decimal string"),
    case("amount-too-precise", setter("upfront_fee", "1.001"), "terms.upfront_fee",
         "2 decimal places"),
    case("royalty-unknown-key", setter("royalty.cap", "5"), "terms.royalty.cap",
         "unknown field"),
    case("royalty-no-tiers", setter("royalty.tiers", []), "terms.royalty.tiers", "at least 1"),
    case("tiers-not-ascending", setter("royalty.tiers", [
        {"from": "0", "rate": "5"}, {"from": "500", "rate": "4"}, {"from": "400", "rate": "3"}]),
        "terms.royalty.tiers[2].from", "ascending"),
    case("tiers-equal-from", setter("royalty.tiers[1].from", "0.00"),
         "terms.royalty.tiers[1].from", "ascending"),
    case("first-tier-not-zero", setter("royalty.tiers[0].from", "1"),
         "terms.royalty.tiers[0].from", "from 0"),
    case("rate-over-100", setter("royalty.tiers[1].rate", "100.01"),
         "terms.royalty.tiers[1].rate", "between 0 and 100"),
    case("rate-negative", setter("royalty.tiers[0].rate", "-1"), "terms.royalty.tiers[0].rate",
         "decimal string"),
    case("rate-as-number", setter("royalty.tiers[0].rate", 5), "terms.royalty.tiers[0].rate",
         "decimal string"),
    case("tier-unknown-key", setter("royalty.tiers[0].to", "100"), "terms.royalty.tiers[0].to",
         "unknown field"),
    case("tier-missing-rate", setter("royalty.tiers[1].rate", ...),
         "terms.royalty.tiers[1].rate", "required"),
    case("minimum-bad", setter("royalty.minimum_annual", "lots"),
         "terms.royalty.minimum_annual", "decimal string"),
    case("stacking-floor-over-100", setter("royalty.stacking.floor", "101"),
         "terms.royalty.stacking.floor", "between 0 and 100"),
    case("stacking-missing-floor", setter("royalty.stacking.floor", ...),
         "terms.royalty.stacking.floor", "required"),
    case("stacking-deduction-over-100", setter("royalty.stacking.deduction", "150"),
         "terms.royalty.stacking.deduction", "between 0 and 100"),
    case("milestones-not-list", setter("milestones", {"event": "x"}), "terms.milestones",
         "must be a list"),
    case("milestone-duplicate-event", setter("milestones[1].event", "first_sale"),
         "terms.milestones[1]", "duplicate milestone event"),
    case("milestone-zero", setter("milestones[0].amount", "0.00"),
         "terms.milestones[0].amount", "more than 0"),
    case("milestone-unknown-key", setter("milestones[0].due", "2026-01-01"),
         "terms.milestones[0].due", "unknown field"),
    case("sublicence-over-100", setter("sublicence_share", "100.5"), "terms.sublicence_share",
         "between 0 and 100"),
    case("equity-zero-shares", setter("equity.shares", 0), "terms.equity.shares", "1 to"),
    case("equity-bool-shares", setter("equity.shares", True), "terms.equity.shares",
         "whole number"),
    case("equity-string-shares", setter("equity.shares", "5000"), "terms.equity.shares",
         "whole number"),
    case("equity-missing-startup", setter("equity.startup_id", ...),
         "terms.equity.startup_id", "required"),
    case("bad-frequency", setter("report_frequency", "monthly"), "terms.report_frequency",
         "quarterly, semiannual, annual"),
    case("audit-not-bool", setter("audit.allowed", "yes"), "terms.audit.allowed",
         "true or false"),
    case("audit-without-notice", setter("audit.notice_days", ...), "terms.audit.notice_days",
         "required"),
    case("audit-notice-when-refused", lambda d: d.update(
        {"audit": {"allowed": False, "notice_days": 10}}), "terms.audit.notice_days",
        "only when"),
    case("audit-notice-too-long", setter("audit.notice_days", 400), "terms.audit.notice_days",
         "0 to 365"),
]


@pytest.mark.parametrize(("mutation", "field", "fragment"), BAD)
def test_bad_terms_are_refused_naming_the_field(mutation: Mutation, field: str,
                                                fragment: str) -> None:
    doc = raw()
    mutation(doc)
    with pytest.raises(InvalidInput) as caught:
        parse_terms(doc)
    assert caught.value.field == field
    assert fragment in caught.value.detail


def test_non_mapping_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_terms(["not", "terms"])  # type: ignore[arg-type]
    assert caught.value.field == "terms"


def test_field_prefix_is_the_callers() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_terms(raw(territory=["ZZ"]), field="offer.terms")
    assert caught.value.field == "offer.terms.territory[0]"


def test_jpy_has_no_minor_places() -> None:
    doc = raw(currency="JPY", upfront_fee="1.5")
    with pytest.raises(InvalidInput) as caught:
        parse_terms(doc)
    assert caught.value.field == "terms.upfront_fee"


def test_valid_terms_parse_to_minor_units_and_sorted_sets() -> None:
    t = terms(territory=["HK", "CN", "SG"], assets=["ast_b", "ast_a"])
    assert t.grantor == "pty_uni" and t.licensee == "pty_acme"
    assert t.assets == ("ast_a", "ast_b")
    assert t.territory == ("CN", "HK", "SG")
    assert t.exclusivity is Exclusivity.EXCLUSIVE
    assert (t.start, t.end) == (date(2025, 1, 1), date(2030, 1, 1))
    assert t.upfront_fee == 5_000_000
    assert [(x.start, x.rate) for x in t.royalty_tiers] == [(0, Decimal(5)),
                                                            (100_000_000, Decimal(3))]
    assert t.minimum_annual_royalty == 2_000_000
    assert t.stacking is not None
    assert (t.stacking.floor, t.stacking.deduction) == (Decimal(2), Decimal(50))
    assert [(m.event, m.amount) for m in t.milestones] == [
        ("first_sale", 2_500_000), ("regulatory_approval", 10_000_050)]
    assert t.sublicence_share == Decimal(20)
    assert t.equity is not None and t.equity.shares == 50_000
    assert t.report_frequency is ReportFrequency.QUARTERLY
    assert t.audit == AuditRight(True, 30)
    assert not t.is_worldwide


def test_minimal_terms_take_the_documented_defaults() -> None:
    t = terms(licensee=..., upfront_fee=..., royalty=..., milestones=..., sublicence_share=...,
              equity=..., audit=..., territory=["WORLD"], exclusivity="non_exclusive")
    assert t.licensee is None
    assert t.is_worldwide
    assert t.upfront_fee == 0 and t.minimum_annual_royalty == 0
    assert [(x.start, x.rate) for x in t.royalty_tiers] == [(0, Decimal(0))]
    assert t.stacking is None and t.milestones == () and t.equity is None
    assert t.audit == AuditRight(False, 0)
    body = terms_json(t)
    assert body["licensee"] is None and body["equity"] is None
    assert body["royalty"] == {"tiers": [{"from": "0.00", "rate": "0"}],
                               "minimum_annual": "0.00", "stacking": None}


def test_stacking_deduction_defaults_to_everything() -> None:
    doc = raw()
    del doc["royalty"]["stacking"]["deduction"]
    t = parse_terms(doc)
    assert t.stacking is not None and t.stacking.deduction == 100


def test_dates_may_be_date_objects() -> None:
    assert terms(start=date(2025, 1, 1)) == terms()


def test_territory_codes_come_from_iso3166() -> None:
    assert is_territory_code("HK") and is_territory_code("GB") and is_territory_code("CN")
    assert not is_territory_code("UK") and not is_territory_code("WORLD")
    assert not is_territory_code("XK") and not is_territory_code("hk")


# --------------------------------------------------------------------------- canonical form

# The canonical bytes of helpers.BASE under schema v1, written out so a change is visible.
GOLDEN_JCS = (
    b'{"assets":["ast_1"],"audit":{"allowed":true,"notice_days":30},"currency":"HKD",'
    b'"end":"2030-01-01","equity":{"share_class":"ordinary","shares":50000,'
    b'"startup_id":"pty_acme"},"exclusivity":"exclusive","field_of_use":[{"code":"diagnostics",'
    b'"label":"Human diagnostics"}],"grantor":"pty_uni","licensee":"pty_acme","milestones":'
    b'[{"amount":"25000.00","event":"first_sale"},{"amount":"100000.50",'
    b'"event":"regulatory_approval"}],"report_frequency":"quarterly","royalty":'
    b'{"minimum_annual":"20000.00","stacking":{"deduction":"50","floor":"2"},"tiers":'
    b'[{"from":"0.00","rate":"5"},{"from":"1000000.00","rate":"3"}]},'
    b'"schema":"ipx.licence-terms/1","start":"2025-01-01","sublicence_share":"20",'
    b'"territory":["CN","HK"],"upfront_fee":"50000.00"}'
)
GOLDEN_HASH = "ee1d66e95bc6775c12a6f06979d460bcc1480a3c3456b4618aab9864de8c6527"


def test_terms_json_is_canonical_and_round_trips() -> None:
    t = terms()
    body = terms_json(t)
    assert body["upfront_fee"] == "50000.00"
    assert body["royalty"]["tiers"] == [{"from": "0.00", "rate": "5"},
                                        {"from": "1000000.00", "rate": "3"}]
    assert body["milestones"][1] == {"event": "regulatory_approval", "amount": "100000.50"}
    assert body["territory"] == ["CN", "HK"]
    assert parse_terms(body) == t
    assert terms_json(parse_terms(body)) == body


def test_hash_is_sha256_of_jcs() -> None:
    t = terms()
    expected = hashlib.sha256(rfc8785.dumps(terms_json(t))).hexdigest()
    assert terms_hash(t) == expected


def test_golden_hash_pins_schema_v1() -> None:
    # If this changes, stored offers' hashes no longer verify: bump the schema instead.
    assert rfc8785.dumps(terms_json(terms())) == GOLDEN_JCS
    assert hashlib.sha256(GOLDEN_JCS).hexdigest() == GOLDEN_HASH
    assert terms_hash(terms()) == GOLDEN_HASH


def _reverse_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reverse_keys(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reverse_keys(v) for v in value]
    return value


def test_hash_ignores_key_order_list_order_and_decimal_spelling() -> None:
    base = terms_hash(terms())
    assert terms_hash(parse_terms(_reverse_keys(raw()))) == base

    doc = raw(territory=["CN", "HK"], upfront_fee="50000", sublicence_share="20.000")
    doc["royalty"]["tiers"] = [{"rate": "5.00", "from": "0.0"},
                               {"from": "1000000.00", "rate": "3.0"}]
    doc["royalty"]["minimum_annual"] = "20000.0"
    doc["royalty"]["stacking"] = {"deduction": "50.0", "floor": "2.00"}
    doc["milestones"] = list(reversed(doc["milestones"]))
    doc["milestones"][0]["amount"] = "100000.5"
    assert terms_hash(parse_terms(doc)) == base

    doc = raw(field_of_use=[{"code": "therapy", "label": "Therapy"},
                            {"code": "diagnostics", "label": "Human diagnostics"}])
    doc2 = copy.deepcopy(doc)
    doc2["field_of_use"].reverse()
    assert terms_hash(parse_terms(doc)) == terms_hash(parse_terms(doc2))


def test_hash_ignores_explicit_defaults() -> None:
    implicit = terms(licensee=..., sublicence_share=..., audit=..., milestones=..., equity=...)
    explicit = terms(licensee=None, sublicence_share="0", audit={"allowed": False},
                     milestones=[], equity=None)
    assert terms_hash(implicit) == terms_hash(explicit)
    doc = raw()
    doc["royalty"]["stacking"] = None
    doc2 = raw()
    del doc2["royalty"]["stacking"]
    assert terms_hash(parse_terms(doc)) == terms_hash(parse_terms(doc2))


@pytest.mark.parametrize("overrides", [
    {"licensee": "pty_other"},
    {"upfront_fee": "50000.01"},
    {"territory": ["HK"]},
    {"end": "2030-01-02"},
    {"exclusivity": "sole"},
    {"field_of_use": [{"code": "diagnostics", "label": "Diagnostics"}]},
    {"report_frequency": "annual"},
    {"currency": "USD"},
])
def test_hash_changes_with_any_term(overrides: dict[str, Any]) -> None:
    assert terms_hash(terms(**overrides)) != terms_hash(terms())


def test_rate_change_changes_hash() -> None:
    doc = raw()
    doc["royalty"]["tiers"][0]["rate"] = "5.01"
    assert terms_hash(parse_terms(doc)) != terms_hash(terms())


# --------------------------------------------------------------------------- acceptance

def test_verify_terms_hash() -> None:
    t = terms()
    verify_terms_hash(t, terms_hash(t))
    with pytest.raises(Conflict) as stale:
        verify_terms_hash(t, terms_hash(terms(upfront_fee="1")))
    assert stale.value.field == "terms_hash" and terms_hash(t) in stale.value.detail
    for bad in ("", "abc", terms_hash(t).upper(), 42):
        with pytest.raises(InvalidInput):
            verify_terms_hash(t, bad)  # type: ignore[arg-type]


def test_bind_licensee() -> None:
    offer = terms(licensee=...)
    bound = bind_licensee(offer, "pty_acme")
    assert bound == terms()
    assert bind_licensee(bound, "pty_acme") is bound
    with pytest.raises(Conflict):
        bind_licensee(bound, "pty_other")
    with pytest.raises(InvalidInput):
        bind_licensee(offer, "pty_uni")
    with pytest.raises(InvalidInput):
        bind_licensee(offer, "not an id")


# --------------------------------------------------------------------------- property

_codes = st.sampled_from(["AU", "CN", "DE", "FR", "GB", "HK", "JP", "SG", "US", "ZA"])
_fields = st.sampled_from(["diagnostics", "therapy", "veterinary", "agri", "devices"])


def _spell(minor: int) -> st.SearchStrategy[str]:
    """Ways to write an HKD amount of `minor` cents: '12', '12.0', '12.00', '12.000'."""
    whole, cents = divmod(minor, 100)
    if cents == 0:
        return st.sampled_from([str(whole), f"{whole}.0", f"{whole}.00", f"{whole}.000"])
    if cents % 10 == 0:
        return st.sampled_from([f"{whole}.{cents // 10}", f"{whole}.{cents:02d}",
                                f"{whole}.{cents:02d}0"])
    return st.sampled_from([f"{whole}.{cents:02d}", f"{whole}.{cents:02d}00"])


@st.composite
def terms_docs(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two spellings of the same random terms: different order, keys and decimals."""
    territory = draw(st.lists(_codes, min_size=1, max_size=5, unique=True))
    fields = draw(st.lists(_fields, min_size=1, max_size=4, unique=True))
    starts = sorted(draw(st.lists(st.integers(1, 10**9), max_size=4, unique=True)))
    rates = draw(st.lists(st.integers(0, 10_000), min_size=len(starts) + 1,
                          max_size=len(starts) + 1))
    fee = draw(st.integers(0, 10**10))

    def doc(permute: bool) -> dict[str, Any]:
        def order(xs: list[Any]) -> list[Any]:
            return list(reversed(xs)) if permute else list(xs)

        tiers = [{"from": draw(_spell(s)), "rate": f"{Decimal(r) / 100:.2f}" if permute else
                  str(Decimal(r) / 100)} for s, r in zip([0, *starts], rates, strict=True)]
        out = raw(territory=order(territory), upfront_fee=draw(_spell(fee)),
                  field_of_use=order([{"code": f, "label": f.title()} for f in fields]),
                  royalty={"tiers": tiers})
        return _reverse_keys(out) if permute else out

    return doc(False), doc(True)


@settings(max_examples=60, deadline=None)
@given(terms_docs())
def test_random_terms_round_trip_and_hash_stably(docs: tuple[dict[str, Any], dict[str, Any]]
                                                 ) -> None:
    first, second = (parse_terms(d) for d in docs)
    assert first == second
    assert terms_hash(first) == terms_hash(second)
    assert parse_terms(terms_json(first)) == first
