"""ledger.policy: the presets, validation errors that name their field, hashing, split_units."""

from __future__ import annotations

import copy
import hashlib
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
import rfc8785
from hypothesis import example, given
from hypothesis import strategies as st

from ledger.errors import InvalidInput
from ledger.policy import (
    DEFAULT_UNITS_PER_CLASS,
    PRESETS,
    normalise_policy,
    policy_hash,
    resolve_policy,
    split_units,
)

# The hashes assets pin: a change here changes what every listed asset's policy means.
PRESET_HASHES = {
    "hku-2023": "fce6fdbca581d092cb035ecc9b5c09ef8b71bde63ea59799ea410c014b33897b",
    "hk-legacy": "28226e9040f361426d8dc309f84ca9cdbaa43820d9dd10794e8870e980ec3f1d",
    "uc-1997": "729981e4cf27dd781a42c684870c790fb8adcdf4873924bc5922cca4342d47ad",
    "stanford-tiers": "e125834d214d899f1bad8db7196eeec1842e8d18442a5127fb7c8bf822fdd00d",
}


def custom(**changes: Any) -> dict[str, Any]:
    """A valid custom policy, with some fields replaced."""
    policy: dict[str, Any] = {
        "name": "custom-split",
        "steps": [{"kind": "admin_fee", "percent": "10"}, {"kind": "cost_recovery"}],
        "classes": ["inventor", "university"],
        "tiers": [
            {"from": "0", "shares": {"inventor": "50", "university": "50"}},
            {"from": "100000", "shares": {"inventor": "40", "university": "60"}},
        ],
        "units_per_class": 1000,
    }
    policy.update(changes)
    return policy


# --- presets -------------------------------------------------------------------------

def test_the_four_presets_exist() -> None:
    assert set(PRESETS) == set(PRESET_HASHES)


@pytest.mark.parametrize("name", sorted(PRESET_HASHES))
def test_presets_validate_and_hash_stably(name: str) -> None:
    before = copy.deepcopy(PRESETS[name])
    resolved = resolve_policy(name)
    assert resolved["name"] == name
    assert resolved["residual_holder"] == "owner"
    assert resolved["units_per_class"] == DEFAULT_UNITS_PER_CLASS
    assert policy_hash(resolved) == PRESET_HASHES[name]
    # Canonical form is a fixed point, and resolving does not alter the preset itself.
    assert normalise_policy(resolved) == resolved
    assert policy_hash(resolve_policy(name)) == PRESET_HASHES[name]
    assert PRESETS[name] == before
    for tier in resolved["tiers"]:
        assert sum(Decimal(v) for v in tier["shares"].values()) == 100


def test_preset_content_matches_the_published_table() -> None:
    expected: dict[str, Any] = {
        "name": "stanford-tiers",
        "steps": [{"kind": "admin_fee", "percent": "15"}, {"kind": "cost_recovery"}],
        "classes": ["inventor", "department", "school", "university"],
        "tiers": [
            {"from": "0", "shares": {"inventor": "33.34", "department": "24.66",
                                     "school": "21", "university": "21"}},
            {"from": "3000000", "shares": {"inventor": "33.34", "department": "14.66",
                                           "school": "26", "university": "26"}},
        ],
        "residual_holder": "owner",
        "units_per_class": 1_000_000,
    }
    assert resolve_policy("stanford-tiers") == expected
    # The hash is SHA-256 of the RFC 8785 encoding, so anyone can recompute it.
    digest = hashlib.sha256(rfc8785.dumps(expected)).hexdigest()
    assert digest == PRESET_HASHES["stanford-tiers"]
    assert resolve_policy("hku-2023")["tiers"] == [
        {"from": "0", "shares": {"inventor": "70", "university": "30"}}]
    assert resolve_policy("hk-legacy")["tiers"][0]["shares"] == {
        "inventor": "33.3", "university": "66.7"}
    uc = resolve_policy("uc-1997")
    assert uc["steps"] == [{"kind": "admin_fee", "percent": "15"}, {"kind": "cost_recovery"}]
    assert uc["tiers"][0]["shares"] == {"inventor": "35", "research": "15", "university": "50"}


def test_unknown_preset_names_the_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        resolve_policy("mit-2020")
    assert caught.value.field == "policy"
    assert "hku-2023" in caught.value.detail


def test_equal_policies_hash_equal_whatever_the_spelling() -> None:
    plain = resolve_policy(custom())
    spelled = resolve_policy({
        "units_per_class": 1000,
        "tiers": [
            {"shares": {"university": "50.00", "inventor": "50"}, "from": "0.0"},
            {"shares": {"university": "60", "inventor": "40.0"}, "from": "100000.000"},
        ],
        "classes": ["inventor", "university"],
        "steps": [{"percent": "10.0", "kind": "admin_fee"}, {"kind": "cost_recovery"}],
        "name": "custom-split",
        "residual_holder": "owner",
    })
    assert spelled == plain
    assert policy_hash(spelled) == policy_hash(plain)


@pytest.mark.parametrize("spelling", [10, 10.0, "1E+1", "+10", "-0", " 10", "10.", "NaN",
                                      "1" * 21])
def test_percentages_are_plain_decimal_strings(spelling: object) -> None:
    with pytest.raises(InvalidInput) as error:
        resolve_policy(custom(steps=[{"kind": "admin_fee", "percent": spelling}]))
    assert error.value.field == "policy.steps[0].percent"


def test_different_policies_hash_differently() -> None:
    base = policy_hash(resolve_policy(custom()))
    assert policy_hash(resolve_policy(custom(units_per_class=1001))) != base
    assert policy_hash(resolve_policy(custom(name="other"))) != base
    assert policy_hash(resolve_policy(custom(steps=[{"kind": "cost_recovery"}]))) != base


def test_custom_policy_defaults() -> None:
    policy = resolve_policy({"classes": ["a"], "tiers": [{"from": "0", "shares": {"a": "100"}}]})
    assert policy == {"name": "custom", "steps": [], "classes": ["a"],
                      "tiers": [{"from": "0", "shares": {"a": "100"}}],
                      "residual_holder": "owner", "units_per_class": DEFAULT_UNITS_PER_CLASS}


# --- validation: every error names its field ------------------------------------------

def _tiers(*tiers: tuple[Any, dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"from": start, "shares": shares} for start, shares in tiers]


INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("shares sum below 100",
     custom(tiers=_tiers(("0", {"inventor": "50", "university": "49.99"}))),
     "policy.tiers[0].shares"),
    ("shares sum above 100 in the second tier",
     custom(tiers=_tiers(("0", {"inventor": "50", "university": "50"}),
                         ("10", {"inventor": "50", "university": "50.01"}))),
     "policy.tiers[1].shares"),
    ("tiers not ascending",
     custom(tiers=_tiers(("0", {"inventor": "50", "university": "50"}),
                         ("500", {"inventor": "40", "university": "60"}),
                         ("200", {"inventor": "30", "university": "70"}))),
     "policy.tiers[2].from"),
    ("tiers repeat a start",
     custom(tiers=_tiers(("0", {"inventor": "50", "university": "50"}),
                         ("0", {"inventor": "40", "university": "60"}))),
     "policy.tiers[1].from"),
    ("first tier not from 0",
     custom(tiers=_tiers(("1", {"inventor": "50", "university": "50"}))),
     "policy.tiers[0].from"),
    ("unknown class in shares",
     custom(tiers=_tiers(("0", {"inventor": "50", "university": "25", "dean": "25"}))),
     "policy.tiers[0].shares"),
    ("a class missing from shares",
     custom(tiers=_tiers(("0", {"inventor": "100"}))),
     "policy.tiers[0].shares"),
    ("a share above 100",
     custom(classes=["inventor", "university"],
            tiers=_tiers(("0", {"inventor": "150", "university": "-50"}))),
     "policy.tiers[0].shares.inventor"),
    ("a share that is not a number",
     custom(tiers=_tiers(("0", {"inventor": "half", "university": "50"}))),
     "policy.tiers[0].shares.inventor"),
    ("a share that is a float", custom(tiers=_tiers(("0", {"inventor": 50.0, "university": "50"}))),
     "policy.tiers[0].shares.inventor"),
    ("a tier start that is NaN", custom(tiers=_tiers(("NaN", {"inventor": "50",
                                                              "university": "50"}))),
     "policy.tiers[0].from"),
    ("a tier with extra fields",
     custom(tiers=[{"from": "0", "to": "10", "shares": {"inventor": "50", "university": "50"}}]),
     "policy.tiers[0]"),
    ("no tiers", custom(tiers=[]), "policy.tiers"),
    ("unknown step kind", custom(steps=[{"kind": "royalty_tax"}]), "policy.steps[0]"),
    ("a step without a kind", custom(steps=[{"kind": "cost_recovery"}, {"percent": "5"}]),
     "policy.steps[1]"),
    ("duplicate step",
     custom(steps=[{"kind": "cost_recovery"}, {"kind": "admin_fee", "percent": "5"},
                   {"kind": "cost_recovery"}]),
     "policy.steps[2]"),
    ("duplicate admin fee",
     custom(steps=[{"kind": "admin_fee", "percent": "5"}, {"kind": "admin_fee", "percent": "5"}]),
     "policy.steps[1]"),
    ("admin fee above 100", custom(steps=[{"kind": "admin_fee", "percent": "101"}]),
     "policy.steps[0].percent"),
    ("admin fee missing its percent", custom(steps=[{"kind": "admin_fee"}]),
     "policy.steps[0].percent"),
    ("admin fee with an extra field",
     custom(steps=[{"kind": "admin_fee", "percent": "5", "cap": "100"}]), "policy.steps[0]"),
    ("cost recovery with a parameter", custom(steps=[{"kind": "cost_recovery", "cap": "1"}]),
     "policy.steps[0]"),
    ("steps not a list", custom(steps={"kind": "cost_recovery"}), "policy.steps"),
    ("units_per_class zero", custom(units_per_class=0), "policy.units_per_class"),
    ("units_per_class negative", custom(units_per_class=-5), "policy.units_per_class"),
    ("units_per_class too big", custom(units_per_class=10**12 + 1), "policy.units_per_class"),
    ("units_per_class a string", custom(units_per_class="1000"), "policy.units_per_class"),
    ("units_per_class a float", custom(units_per_class=1000.0), "policy.units_per_class"),
    ("units_per_class a bool", custom(units_per_class=True), "policy.units_per_class"),
    ("no classes", custom(classes=[]), "policy.classes"),
    ("duplicate classes", custom(classes=["inventor", "inventor"]), "policy.classes"),
    ("bad class name", custom(classes=["inventor", "Uni versity"]), "policy.classes[1]"),
    ("bad policy name", custom(name="Has Spaces"), "policy.name"),
    ("unknown top-level field", custom(currency="HKD"), "policy.currency"),
    ("empty residual holder", custom(residual_holder=""), "policy.residual_holder"),
]


@pytest.mark.parametrize(("policy", "field"), [(p, f) for _, p, f in INVALID],
                         ids=[i for i, _, _ in INVALID])
def test_invalid_policy_names_the_field(policy: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        resolve_policy(policy)
    assert caught.value.field == field


def test_field_prefix_follows_the_caller() -> None:
    with pytest.raises(InvalidInput) as caught:
        normalise_policy(custom(units_per_class=0), field="body.policy")
    assert caught.value.field == "body.policy.units_per_class"


@pytest.mark.parametrize("spec", [["hku-2023"], 42, None])
def test_policy_must_be_a_name_or_an_object(spec: Any) -> None:
    with pytest.raises(InvalidInput) as caught:
        resolve_policy(spec)
    assert caught.value.field == "policy"


def test_valid_custom_policy_is_accepted_as_is() -> None:
    assert resolve_policy(custom()) == {
        "name": "custom-split",
        "steps": [{"kind": "admin_fee", "percent": "10"}, {"kind": "cost_recovery"}],
        "classes": ["inventor", "university"],
        "tiers": [
            {"from": "0", "shares": {"inventor": "50", "university": "50"}},
            {"from": "100000", "shares": {"inventor": "40", "university": "60"}},
        ],
        "residual_holder": "owner",
        "units_per_class": 1000,
    }


# --- split_units ---------------------------------------------------------------------

def test_split_units_known_answers() -> None:
    assert split_units(1_000_000, [("a", Decimal("0.6")), ("b", Decimal("0.4"))]) == {
        "a": 600_000, "b": 400_000}
    # Thirds: the one leftover unit goes to the earliest-listed holder on a tie.
    third = Decimal(1) / 3
    thirds = [("a", third), ("b", third), ("c", 1 - 2 * third)]
    assert sum(split_units(100, thirds).values()) == 100
    assert split_units(10, [("a", Decimal("0.5")), ("b", Decimal("0.5"))]) == {"a": 5, "b": 5}
    assert split_units(1, [("a", Decimal("0.5")), ("b", Decimal("0.5"))]) == {"a": 1, "b": 0}
    assert split_units(1, [("b", Decimal("0.5")), ("a", Decimal("0.5"))]) == {"b": 1, "a": 0}
    # Largest remainder takes the leftover: 0.65 * 3 = 1.95 leaves .95, 0.35 * 3 = 1.05 only .05.
    assert split_units(3, [("a", Decimal("0.35")), ("b", Decimal("0.65"))]) == {"a": 1, "b": 2}
    assert split_units(0, [("a", Decimal(1))]) == {"a": 0}
    assert split_units(7, [("a", Decimal(1))]) == {"a": 7}


@st.composite
def shares_summing_to_one(draw: st.DrawFn) -> list[tuple[str, Decimal]]:
    """1 to 7 holders; shares with up to 36 decimal places that sum to exactly 1."""
    holders = draw(st.integers(1, 7))
    places = draw(st.integers(0, 36))
    scale = 10**places
    cuts = sorted(draw(st.lists(st.integers(0, scale), min_size=holders - 1,
                                max_size=holders - 1)))
    bounds = [0, *cuts, scale]
    return [(f"p{i}", Decimal(f"{bounds[i + 1] - bounds[i]}E-{places}"))
            for i in range(holders)]


@given(total=st.integers(0, 10**12), shares=shares_summing_to_one())
@example(total=10**12, shares=[("a", Decimal("0." + "3" * 30 + "9" * 6)),
                               ("b", Decimal("0." + "6" * 30 + "0" * 5 + "1"))])
@example(total=10**12, shares=[("a", Decimal("0." + "9" * 35)), ("b", Decimal("1E-35"))])
@example(total=999_999_999_999, shares=[(f"p{i}", Decimal("0.125")) for i in range(8)])
def test_split_units_is_exact(total: int, shares: list[tuple[str, Decimal]]) -> None:
    assert sum((Fraction(s) for _, s in shares), Fraction(0)) == 1
    parts = split_units(total, shares)
    assert list(parts) == [who for who, _ in shares]
    assert sum(parts.values()) == total
    for who, share in shares:
        exact = Fraction(share) * total
        assert abs(parts[who] - exact) < 1, (who, share, parts[who], exact)
        assert parts[who] >= 0
    assert split_units(total, shares) == parts
    assert split_units(total, list(shares)) == parts
