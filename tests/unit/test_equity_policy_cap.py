"""The equity cap a distribution policy carries: an optional ``equity_cap`` that leaves every
policy pinned without it hashing as before, and the presets' caps (HKU-2023: 5%)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.equity import EquityCap, max_shares_within_cap, policy_equity_cap
from ledger.errors import InvalidInput
from ledger.policy import PRESETS, policy_hash, resolve_policy

HKU_2023_BODY = {
    "name": "hku-2023",
    "steps": [{"kind": "cost_recovery"}],
    "classes": ["inventor", "university"],
    "tiers": [{"from": "0", "shares": {"inventor": "70", "university": "30"}}],
    "residual_holder": "owner",
    "units_per_class": 1_000_000,
}


def _custom(**extra: Any) -> dict[str, Any]:
    return {"name": "lab-2026", "classes": ["inventor", "university"],
            "tiers": [{"from": "0", "shares": {"inventor": "50", "university": "50"}}], **extra}


def test_presets_keep_their_pinned_hash() -> None:
    # No preset states a cap, so its canonical body (and hash) is what it always was.
    assert resolve_policy("hku-2023") == HKU_2023_BODY
    assert policy_hash(resolve_policy("hku-2023")) == policy_hash(HKU_2023_BODY)
    for name in PRESETS:
        assert "equity_cap" not in resolve_policy(name)


@pytest.mark.parametrize(("preset", "percent"), [
    ("hku-2023", "5"), ("hk-legacy", "10"), ("uc-1997", "100"), ("stanford-tiers", "100")])
def test_a_preset_pinned_as_published_caps_by_its_name(preset: str, percent: str) -> None:
    assert policy_equity_cap(resolve_policy(preset)) == EquityCap(preset, Decimal(percent))


def test_a_changed_policy_under_a_preset_name_is_not_the_preset() -> None:
    changed = {**HKU_2023_BODY, "units_per_class": 1000}
    assert policy_equity_cap(resolve_policy(changed)).max_percent == 100


def test_a_policy_may_state_its_cap() -> None:
    body = resolve_policy(_custom(equity_cap="7.50"))
    assert body["equity_cap"] == "7.5"  # canonical: equal caps hash equal
    assert policy_hash(body) == policy_hash(resolve_policy(_custom(equity_cap="7.5")))
    assert policy_hash(body) != policy_hash(resolve_policy(_custom()))
    assert policy_equity_cap(body) == EquityCap("lab-2026", Decimal("7.5"))
    stated = resolve_policy({**HKU_2023_BODY, "equity_cap": "3"})
    assert policy_equity_cap(stated).max_percent == 3  # a stated cap wins over the name


@pytest.mark.parametrize("bad", ["0", "100.1", "-1", "5%", 5, None, "1e1"])
def test_bad_caps_name_the_field(bad: Any) -> None:
    with pytest.raises(InvalidInput) as caught:
        resolve_policy(_custom(equity_cap=bad))
    assert caught.value.field == "policy.equity_cap"


@given(fully_diluted=st.integers(min_value=1, max_value=10**12),
       tenths=st.integers(min_value=1, max_value=999))
def test_the_stated_cap_is_the_exact_boundary(fully_diluted: int, tenths: int) -> None:
    percent = Decimal(tenths).scaleb(-1)
    cap = policy_equity_cap(resolve_policy(_custom(equity_cap=str(percent))))
    most = max_shares_within_cap(fully_diluted, cap)
    assert most * 100 <= percent * (fully_diluted + most)
    assert (most + 1) * 100 > percent * (fully_diluted + most + 1)
