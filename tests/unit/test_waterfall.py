"""ledger.waterfall: worked figures for every preset, and properties for any policy."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ledger.statement_verifier as sv
from ledger.policy import normalise_policy, resolve_policy
from ledger.waterfall import (
    Holder,
    Line,
    Step,
    TierPortion,
    WaterfallInput,
    WaterfallResult,
    holder_share,
    run_waterfall,
)

OWNER = "pty_univ"
OPERATOR = "pty_operator"
INV_A, INV_B, INV_C = "pty_inv_a", "pty_inv_b", "pty_inv_c"
HKD = 2  # HKD has 2 decimal places: HKD 1.00 is 100 minor units


def inp(policy: str | Mapping[str, Any], gross: int, holdings: Mapping[str, Sequence[Holder]],
        *, costs: int = 0, before: int = 0, bps: int = 0, exponent: int = HKD) -> WaterfallInput:
    body = resolve_policy(policy) if isinstance(policy, str) else normalise_policy(policy)
    return WaterfallInput(
        gross=gross, currency_exponent=exponent, policy=body, platform_fee_bps=bps,
        unrecovered_costs=costs, cumulative_net_before=before, holdings=holdings,
        owner_id=OWNER, operator_id=OPERATOR,
    )


def check_invariants(inp: WaterfallInput, result: WaterfallResult) -> None:
    assert sum(s.amount for s in result.steps) + sum(ln.amount for ln in result.lines) == inp.gross
    assert sum(s.amount for s in result.steps) + result.net == inp.gross
    assert all(s.amount >= 0 for s in result.steps)
    assert all(ln.amount >= 0 and ln.units >= 0 for ln in result.lines)
    assert sum(t.amount for t in result.tiers) == result.net


# --------------------------------------------------------------------------------------
# Golden figures, one preset at a time
# --------------------------------------------------------------------------------------

HKU_HOLDINGS = {
    "inventor": [Holder(INV_A, 600_000), Holder(INV_B, 400_000)],
    "university": [Holder(OWNER, 1_000_000)],
}


def test_hku_2023() -> None:
    # HKD 100,000.00 received, HKD 10,000.00 of costs not yet recovered.
    #   platform fee  0 bps                                   =       0.00 -> operator
    #   cost recovery min(100,000.00, 10,000.00)              =  10,000.00 -> owner
    #   net           100,000.00 - 10,000.00                  =  90,000.00
    #   inventor 70%  of 90,000.00                            =  63,000.00
    #     A  600,000 / 1,000,000 units: 63,000.00 x 0.6       =  37,800.00
    #     B  400,000 / 1,000,000 units: 63,000.00 x 0.4       =  25,200.00
    #   university 30% of 90,000.00, all units with the owner =  27,000.00
    #   residual                                              =       0.00 (no line)
    #   check: 10,000 + 37,800 + 25,200 + 27,000              = 100,000.00
    case = inp("hku-2023", 10_000_000, HKU_HOLDINGS, costs=1_000_000)
    result = run_waterfall(case)
    assert result.steps == [Step("platform_fee", 0, OPERATOR),
                            Step("cost_recovery", 1_000_000, OWNER)]
    assert result.net == 9_000_000
    assert result.tiers == [TierPortion(0, None, 9_000_000,
                                        {"inventor": 6_300_000, "university": 2_700_000})]
    assert result.class_totals == {"inventor": 6_300_000, "university": 2_700_000}
    assert result.class_units == {"inventor": 1_000_000, "university": 1_000_000}
    assert result.lines == [
        Line(INV_A, "inventor", 600_000, 3_780_000),
        Line(INV_B, "inventor", 400_000, 2_520_000),
        Line(OWNER, "university", 1_000_000, 2_700_000),
    ]
    assert result.residual == 0
    check_invariants(case, result)


def test_hku_2023_with_a_platform_fee() -> None:
    # The same receipt with a 1.5% (150 bps) platform fee first.
    #   platform fee  100,000.00 x 150 / 10,000   =   1,500.00 -> operator
    #   cost recovery min(98,500.00, 10,000.00)   =  10,000.00 -> owner
    #   net                                       =  88,500.00
    #   inventor 70% = 61,950.00: A x 0.6 = 37,170.00, B x 0.4 = 24,780.00
    #   university 30%                            =  26,550.00
    #   check: 1,500 + 10,000 + 37,170 + 24,780 + 26,550 = 100,000.00
    case = inp("hku-2023", 10_000_000, HKU_HOLDINGS, costs=1_000_000, bps=150)
    result = run_waterfall(case)
    assert result.steps == [Step("platform_fee", 150_000, OPERATOR),
                            Step("cost_recovery", 1_000_000, OWNER)]
    assert result.net == 8_850_000
    assert result.class_totals == {"inventor": 6_195_000, "university": 2_655_000}
    assert [ln.amount for ln in result.lines] == [3_717_000, 2_478_000, 2_655_000]
    check_invariants(case, result)


def test_uc_1997_admin_fee_comes_first() -> None:
    # HKD 100,000.00 received, HKD 5,000.00 unrecovered; an investor bought 300,000 of the
    # 1,000,000 research-class units from the university.
    #   platform fee                               =       0.00
    #   admin fee     15% of 100,000.00            =  15,000.00 -> owner
    #   cost recovery min(85,000.00, 5,000.00)     =   5,000.00 -> owner
    #   net                                        =  80,000.00
    #   inventor 35%   = 28,000.00: A x 0.6 = 16,800.00, B x 0.4 = 11,200.00
    #   research 15%   = 12,000.00: owner x 0.7 = 8,400.00, investor x 0.3 = 3,600.00
    #   university 50% = 40,000.00 -> owner
    #   check: 15,000 + 5,000 + 16,800 + 11,200 + 8,400 + 3,600 + 40,000 = 100,000.00
    holdings = {
        "inventor": [Holder(INV_B, 400_000), Holder(INV_A, 600_000)],
        "research": [Holder("pty_investor", 300_000), Holder(OWNER, 700_000)],
        "university": [Holder(OWNER, 1_000_000)],
    }
    case = inp("uc-1997", 10_000_000, holdings, costs=500_000)
    result = run_waterfall(case)
    assert result.steps == [Step("platform_fee", 0, OPERATOR), Step("admin_fee", 1_500_000, OWNER),
                            Step("cost_recovery", 500_000, OWNER)]
    assert result.net == 8_000_000
    assert result.class_totals == {"inventor": 2_800_000, "research": 1_200_000,
                                   "university": 4_000_000}
    assert result.lines == [
        Line(INV_A, "inventor", 600_000, 1_680_000),
        Line(INV_B, "inventor", 400_000, 1_120_000),
        Line("pty_investor", "research", 300_000, 360_000),  # by party id within a class
        Line(OWNER, "research", 700_000, 840_000),
        Line(OWNER, "university", 1_000_000, 4_000_000),
    ]
    check_invariants(case, result)


def test_stanford_tiers_receipt_crossing_the_boundary() -> None:
    # Cumulative net income before: HKD 2,900,000.00. HKD 250,000.00 received, HKD 12,500.00
    # unrecovered.
    #   admin fee     15% of 250,000.00            =  37,500.00 -> owner
    #   cost recovery min(212,500.00, 12,500.00)   =  12,500.00 -> owner
    #   net                                        = 200,000.00
    #   it covers cumulative [2,900,000.00, 3,100,000.00): 100,000.00 below the 3,000,000
    #   boundary and 100,000.00 above it.
    #                 below (tier 1)            above (tier 2)            total
    #   inventor      33.34% = 33,340.00        33.34% = 33,340.00        66,680.00
    #   department    24.66% = 24,660.00        14.66% = 14,660.00        39,320.00
    #   school        21%    = 21,000.00        26%    = 26,000.00        47,000.00
    #   university    21%    = 21,000.00        26%    = 26,000.00        47,000.00
    #   inventors A and B half each: 33,340.00 each; department, school: one holder each;
    #   university: the owner.
    #   check: 37,500 + 12,500 + 66,680 + 39,320 + 47,000 + 47,000 = 250,000.00
    holdings = {
        "inventor": [Holder(INV_A, 500_000), Holder(INV_B, 500_000)],
        "department": [Holder("pty_dept", 1_000_000)],
        "school": [Holder("pty_school", 1_000_000)],
        "university": [Holder(OWNER, 1_000_000)],
    }
    case = inp("stanford-tiers", 25_000_000, holdings, costs=1_250_000, before=290_000_000)
    result = run_waterfall(case)
    assert result.steps == [Step("platform_fee", 0, OPERATOR), Step("admin_fee", 3_750_000, OWNER),
                            Step("cost_recovery", 1_250_000, OWNER)]
    assert result.net == 20_000_000
    assert result.tiers == [
        TierPortion(0, 300_000_000, 10_000_000, {"inventor": 3_334_000, "department": 2_466_000,
                                                 "school": 2_100_000, "university": 2_100_000}),
        TierPortion(300_000_000, None, 10_000_000, {"inventor": 3_334_000,
                                                    "department": 1_466_000,
                                                    "school": 2_600_000, "university": 2_600_000}),
    ]
    assert result.class_totals == {"inventor": 6_668_000, "department": 3_932_000,
                                   "school": 4_700_000, "university": 4_700_000}
    assert result.lines == [
        Line(INV_A, "inventor", 500_000, 3_334_000),
        Line(INV_B, "inventor", 500_000, 3_334_000),
        Line("pty_dept", "department", 1_000_000, 3_932_000),
        Line("pty_school", "school", 1_000_000, 4_700_000),
        Line(OWNER, "university", 1_000_000, 4_700_000),
    ]
    check_invariants(case, result)


def test_stanford_tiers_wholly_inside_one_tier() -> None:
    # Before: 3,000,000.00 exactly, so the whole net of 850.00 (1,000.00 less the 15% fee)
    # is above the boundary: department 14.66% of 850.00 = 124.61 (124.61 exactly).
    holdings = {"department": [Holder("pty_dept", 10)]}
    result = run_waterfall(inp("stanford-tiers", 100_000, holdings, before=300_000_000))
    assert [(t.start, t.end, t.amount) for t in result.tiers] == [(300_000_000, None, 85_000)]
    assert result.class_totals["department"] == 12_461
    # The three classes with no holders distribute nothing: all of it is residual.
    assert result.lines == [Line("pty_dept", "department", 10, 12_461),
                            Line(OWNER, "residual", 0, 85_000 - 12_461)]


def test_hk_legacy_thirds_show_rounding_and_residual() -> None:
    # HKD 1,000.00 received, HKD 0.01 unrecovered; three inventors with a third each
    # (333,334 + 333,333 + 333,333 units), the owner all university units.
    #   cost recovery                    =      0.01 -> owner
    #   net                              =    999.99 (99,999 minor units)
    #   inventor 33.3%: 99,999 x 0.333   = 33,299.667 -> 33,299  (0.667 of a cent left)
    #   university 66.7%: 99,999 x 0.667 = 66,699.333 -> 66,699  (0.333 left)
    #   tier rounding leftover           = 99,999 - 33,299 - 66,699 = 1
    #   A 333,334 units: 33,299 x 333,334 / 1,000,000 = 11,099.788866 -> 11,099
    #   B, C 333,333 units: 33,299 x 333,333 / 1,000,000 = 11,099.755567 -> 11,099 each
    #   holder rounding leftover         = 33,299 - 3 x 11,099 = 2
    #   residual to the owner            = 1 + 2 = 3, i.e. HKD 0.03
    #   check: 1 + 3 x 11,099 + 66,699 + 3 = 100,000
    holdings = {
        "inventor": [Holder(INV_C, 333_333), Holder(INV_A, 333_334), Holder(INV_B, 333_333)],
        "university": [Holder(OWNER, 1_000_000)],
    }
    case = inp("hk-legacy", 100_000, holdings, costs=1)
    result = run_waterfall(case)
    assert result.steps == [Step("platform_fee", 0, OPERATOR), Step("cost_recovery", 1, OWNER)]
    assert result.net == 99_999
    assert result.class_totals == {"inventor": 33_299, "university": 66_699}
    assert result.lines == [
        Line(INV_A, "inventor", 333_334, 11_099),
        Line(INV_B, "inventor", 333_333, 11_099),
        Line(INV_C, "inventor", 333_333, 11_099),
        Line(OWNER, "university", 1_000_000, 66_699),
        Line(OWNER, "residual", 0, 3),
    ]
    assert result.residual == 3
    check_invariants(case, result)


def test_custom_residual_holder_empty_class_and_zero_lines() -> None:
    policy = {
        "name": "custom", "classes": ["inventor", "fund"], "residual_holder": "pty_trust",
        "tiers": [{"from": "0", "shares": {"inventor": "50", "fund": "50"}}],
    }
    # 0.07 received: inventor 0.03 (3.5 floored), fund 0.03; nobody holds fund units.
    # A holds 1 of 1,000,000 inventor units: floor(3 / 1,000,000) = 0, still listed.
    holdings = {"inventor": [Holder(INV_A, 1), Holder(INV_B, 999_999), Holder(INV_C, 0)]}
    result = run_waterfall(inp(policy, 7, holdings))
    assert result.steps == [Step("platform_fee", 0, OPERATOR)]
    assert result.class_totals == {"inventor": 3, "fund": 3}
    assert result.class_units == {"inventor": 1_000_000, "fund": 0}
    assert result.lines == [Line(INV_A, "inventor", 1, 0), Line(INV_B, "inventor", 999_999, 2),
                            Line("pty_trust", "residual", 0, 5)]


def test_costs_larger_than_the_receipt_leave_no_net() -> None:
    result = run_waterfall(inp("uc-1997", 1_000, HKU_HOLDINGS | {"research": []}, costs=10**9))
    assert [s.amount for s in result.steps] == [0, 150, 850]
    assert result.net == 0 and result.tiers == [] and result.residual == 0
    assert all(ln.amount == 0 for ln in result.lines)


def test_holders_listed_twice_are_merged() -> None:
    split = {"inventor": [Holder(INV_A, 200_000), Holder(INV_B, 400_000),
                          Holder(INV_A, 400_000)], "university": [Holder(OWNER, 1_000_000)]}
    assert run_waterfall(inp("hku-2023", 10_000_000, split, costs=1_000_000)) == run_waterfall(
        inp("hku-2023", 10_000_000, HKU_HOLDINGS, costs=1_000_000))


def test_tier_bounds_in_a_currency_without_minor_units() -> None:
    # JPY has no decimals: a tier from 0.5 starts at minor unit 1 (rounded up).
    policy = {"classes": ["a"], "tiers": [{"from": "0", "shares": {"a": "100"}},
                                          {"from": "0.5", "shares": {"a": "100"}}]}
    result = run_waterfall(inp(policy, 3, {"a": [Holder(INV_A, 1)]}, exponent=0))
    assert [(t.start, t.end, t.amount) for t in result.tiers] == [(0, 1, 1), (1, None, 2)]


@pytest.mark.parametrize("change", [
    {"gross": 0}, {"gross": -5}, {"platform_fee_bps": 10_001}, {"platform_fee_bps": -1},
    {"unrecovered_costs": -1}, {"cumulative_net_before": -1}, {"gross": True},
    {"holdings": {"nonsense": [Holder(INV_A, 1)]}},
    {"holdings": {"inventor": [Holder(INV_A, -1)]}},
])
def test_invalid_input_is_refused(change: dict[str, Any]) -> None:
    fields = inp("hku-2023", 100, HKU_HOLDINGS).__dict__ | change
    with pytest.raises(ValueError):
        run_waterfall(WaterfallInput(**fields))


def test_holder_share() -> None:
    assert holder_share(6_300_000, 600_000, 1_000_000) == 3_780_000
    assert holder_share(33_299, 333_333, 1_000_000) == 11_099
    assert holder_share(100, 1, 3) == 33
    assert holder_share(100, 5, 0) == 0


# --------------------------------------------------------------------------------------
# Properties: any policy, holdings, amount
# --------------------------------------------------------------------------------------

CLASS_NAMES = ["inventor", "university", "research", "department", "school", "fund"]
PARTIES = [OWNER, INV_A, INV_B, INV_C, "pty_investor", "pty_fund", "pty_trust"]


def _bps_split(draw: st.DrawFn, n: int) -> list[int]:
    cuts = sorted(draw(st.lists(st.integers(0, 10_000), min_size=n - 1, max_size=n - 1)))
    points = [0, *cuts, 10_000]
    return [b - a for a, b in zip(points, points[1:], strict=False)]


def _percent(bps: int) -> str:
    return f"{bps // 100}.{bps % 100:02d}"


@st.composite
def policies(draw: st.DrawFn) -> dict[str, Any]:
    classes = draw(st.lists(st.sampled_from(CLASS_NAMES), min_size=1, max_size=4, unique=True))
    steps: list[dict[str, Any]] = []
    for kind in draw(st.permutations(["admin_fee", "cost_recovery"]))[: draw(st.integers(0, 2))]:
        if kind == "admin_fee":
            steps.append({"kind": kind, "percent": _percent(draw(st.integers(0, 10_000)))})
        else:
            steps.append({"kind": kind})
    starts = sorted(draw(st.lists(st.integers(1, 10**9), max_size=2, unique=True)))
    tiers = []
    for start in [0, *starts]:
        shares = _bps_split(draw, len(classes))
        tiers.append({"from": _percent(start),
                      "shares": {c: _percent(b) for c, b in zip(classes, shares, strict=True)}})
    residual = draw(st.sampled_from(["owner", "pty_trust"]))
    return normalise_policy({"name": "prop", "steps": steps, "classes": classes,
                             "tiers": tiers, "residual_holder": residual})


@st.composite
def inputs(draw: st.DrawFn) -> WaterfallInput:
    policy = draw(policies())
    holdings = {
        c: [Holder(draw(st.sampled_from(PARTIES)), draw(st.integers(0, 10**7)))
            for _ in range(draw(st.integers(0, 5)))]
        for c in policy["classes"] if draw(st.booleans()) or c == policy["classes"][0]
    }
    return WaterfallInput(
        gross=draw(st.integers(1, 10**13)),
        currency_exponent=draw(st.integers(0, 3)),
        policy=policy,
        platform_fee_bps=draw(st.integers(0, 10_000)),
        unrecovered_costs=draw(st.one_of(st.just(0), st.integers(0, 10**12))),
        cumulative_net_before=draw(st.one_of(st.just(0), st.integers(0, 10**12))),
        holdings=holdings,
        owner_id=OWNER,
        operator_id=OPERATOR,
    )


def _verifier_rerun(case: WaterfallInput) -> dict[str, Any]:
    holdings: dict[str, dict[str, int]] = {}
    for cls, holders in case.holdings.items():
        merged = holdings.setdefault(cls, {})
        for h in holders:
            merged[h.party_id] = merged.get(h.party_id, 0) + h.units
    return sv.recompute_waterfall(
        gross=case.gross, currency_exponent=case.currency_exponent, policy=case.policy,
        platform_fee_bps=case.platform_fee_bps, unrecovered_costs=case.unrecovered_costs,
        cumulative_net_before=case.cumulative_net_before, owner_id=case.owner_id,
        operator_id=case.operator_id, holdings=holdings,
    )


@settings(max_examples=400, deadline=None)
@given(case=inputs())
def test_lines_and_steps_sum_to_gross_and_nobody_is_negative(case: WaterfallInput) -> None:
    result = run_waterfall(case)
    check_invariants(case, result)
    assert [s.kind for s in result.steps] == ["platform_fee"] + [
        s["kind"] for s in case.policy["steps"]]
    assert sum(result.class_totals.values()) <= result.net
    assert list(result.class_totals) == list(result.class_units) == case.policy["classes"]
    residual_lines = [ln for ln in result.lines if ln.unit_class == "residual"]
    assert sum(ln.amount for ln in residual_lines) == result.residual
    assert len(residual_lines) == (1 if result.residual else 0)


@settings(max_examples=400, deadline=None)
@given(case=inputs())
def test_each_holder_line_is_its_share_of_the_class(case: WaterfallInput) -> None:
    result = run_waterfall(case)
    classes = case.policy["classes"]
    holder_lines = [ln for ln in result.lines if ln.unit_class != "residual"]
    for cls in classes:
        held = sum(ln.units for ln in holder_lines if ln.unit_class == cls)
        assert held == result.class_units[cls]
    for ln in holder_lines:
        want = holder_share(result.class_totals[ln.unit_class], ln.units,
                            result.class_units[ln.unit_class])
        assert ln.amount == want
        assert ln.units > 0
        # What the offline verifier computes from the line and the class figures alone.
        assert sv.recompute_share(result.class_totals[ln.unit_class], ln.units,
                                  result.class_units[ln.unit_class]) == ln.amount
    order = [(classes.index(ln.unit_class), ln.party_id) for ln in holder_lines]
    assert order == sorted(order) and len(set(order)) == len(order)


@settings(max_examples=300, deadline=None)
@given(case=inputs(), seed=st.integers(0, 2**32))
def test_result_does_not_depend_on_holder_order(case: WaterfallInput, seed: int) -> None:
    rng = random.Random(seed)
    classes = list(case.holdings)
    rng.shuffle(classes)
    shuffled = {}
    for cls in classes:
        holders = list(case.holdings[cls])
        rng.shuffle(holders)
        shuffled[cls] = holders
    again = WaterfallInput(**(case.__dict__ | {"holdings": shuffled}))
    assert run_waterfall(again) == run_waterfall(case)


@settings(max_examples=400, deadline=None)
@given(case=inputs())
def test_the_offline_verifier_agrees(case: WaterfallInput) -> None:
    result = run_waterfall(case)
    again = _verifier_rerun(case)
    assert again["steps"] == [(s.kind, s.amount, s.party_id) for s in result.steps]
    assert again["net"] == result.net
    assert again["class_totals"] == result.class_totals
    assert again["class_units"] == result.class_units
    assert again["lines"] == [(ln.party_id, ln.unit_class, ln.units, ln.amount)
                              for ln in result.lines]
    assert again["residual"] == result.residual
