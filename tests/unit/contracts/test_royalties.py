"""Royalty arithmetic: golden cases with the working shown, periods, and a few properties.

The terms are helpers.BASE unless a test says otherwise: HKD; 5% on cumulative net sales up
to 1,000,000.00 and 3% above; minimum annual royalty 20,000.00; stacking: 50% of third-party
royalties creditable, floor 2% of net sales; quarterly reports from 2025-01-01 to 2030-01-01.
Amounts in the code are minor units (cents): 1,000.00 HKD is 100_000.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.royalties import (
    add_months,
    check_report_period,
    is_period_valid,
    licence_year_containing,
    licence_years,
    milestone_due,
    minimum_true_up,
    overdue_reports,
    percent_of,
    report_periods,
    royalty_due,
    sublicence_due,
)
from ledger.errors import Conflict, InvalidInput
from tests.unit.contracts.helpers import terms

HKD = 100  # minor units per dollar


def tiers(*pairs: tuple[str, str], **royalty: Any) -> dict[str, Any]:
    return {"tiers": [{"from": f, "rate": r} for f, r in pairs], **royalty}


# --------------------------------------------------------------------------- running royalty

def test_report_crossing_a_tier_boundary_is_split() -> None:
    # Before: 900,000.00 of cumulative sales. This report: 300,000.00, so 1,200,000.00 after.
    #   900,000.00 .. 1,000,000.00 = 100,000.00 at 5% =  5,000.00
    # 1,000,000.00 .. 1,200,000.00 = 200,000.00 at 3% =  6,000.00
    # gross = 11,000.00; no third-party royalties, so due = gross.
    r = royalty_due(terms(), cumulative_sales_before=900_000 * HKD, net_sales=300_000 * HKD)
    assert [(p.tier, p.sales_from, p.sales, p.royalty) for p in r.portions] == [
        (0, 900_000 * HKD, 100_000 * HKD, 5_000 * HKD),
        (1, 1_000_000 * HKD, 200_000 * HKD, 6_000 * HKD),
    ]
    assert r.gross == r.due == 11_000 * HKD
    assert r.credit == r.deduction == 0
    assert r.floor == 6_000 * HKD  # 2% x 300,000.00, below gross, so it does not bite
    assert not r.floor_applied


def test_report_crossing_two_boundaries_rounds_each_portion_down() -> None:
    # Tiers: 2.5% from 0, 1.25% from 1,000.00, 0.333% from 2,000.00.
    # Before 990.00; report 2,023.33, so 3,013.33 after.
    #    990.00 .. 1,000.00 =    10.00 at 2.5%   = 0.25        -> 25 cents
    #  1,000.00 .. 2,000.00 = 1,000.00 at 1.25%  = 12.50       -> 1,250 cents
    #  2,000.00 .. 3,013.33 = 1,013.33 at 0.333% = 3.37439889  -> 337 cents (rounded down)
    # gross = 0.25 + 12.50 + 3.37 = 16.12
    t = terms(royalty=tiers(("0", "2.5"), ("1000", "1.25"), ("2000", "0.333")))
    r = royalty_due(t, cumulative_sales_before=99_000, net_sales=202_333)
    assert [(p.sales, p.royalty) for p in r.portions] == [
        (1_000, 25), (100_000, 1_250), (101_333, 337)]
    assert r.gross == r.due == 1_612


def test_report_inside_one_tier() -> None:
    # 1,500,000.00 .. 1,600,000.00, all in the 3% tier: 3,000.00.
    r = royalty_due(terms(), cumulative_sales_before=1_500_000 * HKD, net_sales=100_000 * HKD)
    assert [(p.tier, p.royalty) for p in r.portions] == [(1, 3_000 * HKD)]
    assert r.due == 3_000 * HKD


def test_report_ending_exactly_on_a_boundary_stays_in_the_lower_tier() -> None:
    r = royalty_due(terms(), cumulative_sales_before=0, net_sales=1_000_000 * HKD)
    assert [(p.tier, p.royalty) for p in r.portions] == [(0, 50_000 * HKD)]
    r = royalty_due(terms(), cumulative_sales_before=1_000_000 * HKD, net_sales=1)
    assert [(p.tier, p.sales, p.royalty) for p in r.portions] == [(1, 1, 0)]


def test_zero_sales_owe_nothing() -> None:
    r = royalty_due(terms(), cumulative_sales_before=123, net_sales=0,
                    third_party_royalties=10_000)
    assert r.portions == () and r.gross == r.due == r.floor == r.deduction == 0


def test_stacking_without_hitting_the_floor() -> None:
    # Net sales 100,000.00 at 5%: gross 5,000.00.
    # Third-party royalties 4,000.00; 50% creditable: credit 2,000.00.
    # Floor: 2% x 100,000.00 = 2,000.00. gross - credit = 3,000.00 >= floor, so due 3,000.00.
    r = royalty_due(terms(), cumulative_sales_before=0, net_sales=100_000 * HKD,
                    third_party_royalties=4_000 * HKD)
    assert (r.gross, r.credit, r.floor, r.deduction, r.due) == (
        5_000 * HKD, 2_000 * HKD, 2_000 * HKD, 2_000 * HKD, 3_000 * HKD)
    assert not r.floor_applied


def test_stacking_hitting_the_floor() -> None:
    # Same sales; third-party royalties 8,000.00, so credit 4,000.00.
    # gross - credit = 1,000.00 < floor 2,000.00: due is the floor, the deduction only 3,000.00.
    r = royalty_due(terms(), cumulative_sales_before=0, net_sales=100_000 * HKD,
                    third_party_royalties=8_000 * HKD)
    assert (r.gross, r.credit, r.floor, r.deduction, r.due) == (
        5_000 * HKD, 4_000 * HKD, 2_000 * HKD, 3_000 * HKD, 2_000 * HKD)
    assert r.floor_applied


def test_stacking_floor_never_raises_the_royalty() -> None:
    # Rate 1% is below the 2% floor: gross 1,000.00 on 100,000.00. The floor (2,000.00) is
    # capped at gross, so a 2,500.00 credit can deduct nothing: due stays 1,000.00.
    t = terms(royalty=tiers(("0", "1"), stacking={"floor": "2", "deduction": "50"}))
    r = royalty_due(t, cumulative_sales_before=0, net_sales=100_000 * HKD,
                    third_party_royalties=5_000 * HKD)
    assert (r.gross, r.credit, r.floor, r.deduction, r.due) == (
        1_000 * HKD, 2_500 * HKD, 1_000 * HKD, 0, 1_000 * HKD)


def test_stacking_rounds_each_step_down() -> None:
    # Net 333.33 at 5% = 16.6665 -> 16.66. Third party 0.33 at 50% = 0.165 -> 0.16.
    # Floor 2% x 333.33 = 6.6666 -> 6.66. due = 16.66 - 0.16 = 16.50.
    r = royalty_due(terms(), cumulative_sales_before=0, net_sales=33_333,
                    third_party_royalties=33)
    assert (r.gross, r.credit, r.floor, r.due) == (1_666, 16, 666, 1_650)


def test_without_a_stacking_clause_third_party_royalties_are_ignored() -> None:
    t = terms(royalty=tiers(("0", "5")))
    r = royalty_due(t, cumulative_sales_before=0, net_sales=100_000 * HKD,
                    third_party_royalties=4_000 * HKD)
    assert (r.gross, r.credit, r.deduction, r.due) == (5_000 * HKD, 0, 0, 5_000 * HKD)


def test_stacking_with_full_deduction_default() -> None:
    # No 'deduction': 100% of 4,000.00 creditable; gross 5,000.00 - 4,000.00 = 1,000.00 < floor
    # 2,000.00, so due 2,000.00.
    t = terms(royalty=tiers(("0", "5"), stacking={"floor": "2"}))
    r = royalty_due(t, cumulative_sales_before=0, net_sales=100_000 * HKD,
                    third_party_royalties=4_000 * HKD)
    assert (r.credit, r.due) == (4_000 * HKD, 2_000 * HKD)


def test_breakdown_as_json() -> None:
    r = royalty_due(terms(), cumulative_sales_before=900_000 * HKD, net_sales=300_000 * HKD,
                    third_party_royalties=1)
    body = r.as_json()
    assert body["portions"][1] == {"tier": 1, "rate": "3", "sales_from": "1000000.00",
                                   "sales": "200000.00", "royalty": "6000.00"}
    assert (body["gross"], body["due"], body["credit"]) == ("11000.00", "11000.00", "0.00")
    assert body["currency"] == "HKD" and body["floor_applied"] is False


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"cumulative_sales_before": -1, "net_sales": 1}, "cumulative_sales_before"),
    ({"cumulative_sales_before": 0, "net_sales": -1}, "net_sales"),
    ({"cumulative_sales_before": 0, "net_sales": 1, "third_party_royalties": -1},
     "third_party_royalties"),
    ({"cumulative_sales_before": 0, "net_sales": Decimal("1.5")}, "net_sales"),
    ({"cumulative_sales_before": 0, "net_sales": True}, "net_sales"),
])
def test_bad_report_numbers(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        royalty_due(terms(), **kwargs)
    assert caught.value.field == field


# --------------------------------------------------------------------------- other payments

def test_minimum_true_up() -> None:
    # Minimum 20,000.00. Paid 12,345.67 in the year: shortfall 7,654.33. Paid more: nothing.
    assert minimum_true_up(terms(), 1_234_567) == 765_433
    assert minimum_true_up(terms(), 2_000_000) == 0
    assert minimum_true_up(terms(), 2_500_000) == 0
    assert minimum_true_up(terms(), 0) == 2_000_000


def test_minimum_true_up_pro_rates_a_short_final_year() -> None:
    # 2025-01-01 .. 2026-04-01: a full year, then 2026-01-01 .. 2026-04-01 (90 of 365 days).
    # Short-year minimum: 20,000.00 x 90 / 365 = 4,931.5068... -> 4,931.50.
    # Paid 1,000.00 in it: true-up 3,931.50.
    t = terms(end="2026-04-01")
    full, short = licence_years(t)
    assert short == (date(2026, 1, 1), date(2026, 4, 1))
    assert minimum_true_up(t, 100_000, year=full) == 1_900_000
    assert minimum_true_up(t, 0, year=short) == 493_150
    assert minimum_true_up(t, 100_000, year=short) == 393_150
    with pytest.raises(InvalidInput) as caught:
        minimum_true_up(t, 0, year=(date(2025, 1, 1), date(2025, 4, 1)))
    assert caught.value.field == "year"


def test_milestone_due() -> None:
    assert milestone_due(terms(), "regulatory_approval") == 10_000_050
    assert milestone_due(terms(), "first_sale") == 2_500_000
    with pytest.raises(InvalidInput) as caught:
        milestone_due(terms(), "ipo")
    assert caught.value.field == "event" and "first_sale" in caught.value.detail


def test_sublicence_due() -> None:
    # 20% of 12,345.67 = 2,469.134 -> 2,469.13.
    assert sublicence_due(terms(), 1_234_567) == 246_913
    assert sublicence_due(terms(sublicence_share=...), 1_234_567) == 0
    with pytest.raises(InvalidInput):
        sublicence_due(terms(), -1)


def test_percent_of_is_exact_for_huge_numbers() -> None:
    # 28-digit Decimal arithmetic would round this; fractions do not.
    amount = 10**30 + 7
    assert percent_of(amount, Decimal("33.333333333333333333")) == (
        amount * 33333333333333333333 // (100 * 10**18))


# --------------------------------------------------------------------------- periods

def test_quarterly_periods_over_five_years() -> None:
    periods = report_periods(terms())
    assert len(periods) == 20
    assert periods[0] == (date(2025, 1, 1), date(2025, 4, 1))
    assert periods[-1] == (date(2029, 10, 1), date(2030, 1, 1))
    assert all(a[1] == b[0] for a, b in zip(periods, periods[1:], strict=False))


def test_periods_are_anchored_at_the_start_and_cut_at_the_end() -> None:
    t = terms(start="2025-03-15", end="2026-01-01", report_frequency="semiannual")
    assert report_periods(t) == [(date(2025, 3, 15), date(2025, 9, 15)),
                                 (date(2025, 9, 15), date(2026, 1, 1))]
    assert licence_years(t) == [(date(2025, 3, 15), date(2026, 1, 1))]


def test_month_end_start_clamps_without_drift() -> None:
    t = terms(start="2024-01-31", end="2025-01-31")
    assert report_periods(t) == [
        (date(2024, 1, 31), date(2024, 4, 30)),
        (date(2024, 4, 30), date(2024, 7, 31)),
        (date(2024, 7, 31), date(2024, 10, 31)),
        (date(2024, 10, 31), date(2025, 1, 31)),
    ]


def test_leap_day_start() -> None:
    t = terms(start="2024-02-29", end="2028-03-01", report_frequency="annual")
    assert licence_years(t) == report_periods(t) == [
        (date(2024, 2, 29), date(2025, 2, 28)),
        (date(2025, 2, 28), date(2026, 2, 28)),
        (date(2026, 2, 28), date(2027, 2, 28)),
        (date(2027, 2, 28), date(2028, 2, 29)),
        (date(2028, 2, 29), date(2028, 3, 1)),
    ]


def test_terms_ending_at_the_end_of_time() -> None:
    t = terms(start="9999-06-01", end="9999-12-31")
    assert report_periods(t)[-1] == (date(9999, 12, 1), date(9999, 12, 31))
    assert add_months(date(9999, 12, 1), 1) is None


def test_every_report_period_lies_in_one_licence_year() -> None:
    for frequency in ("quarterly", "semiannual", "annual"):
        t = terms(start="2024-01-31", end="2029-05-17", report_frequency=frequency)
        years = licence_years(t)
        for start, end in report_periods(t):
            year = licence_year_containing(t, start)
            assert year in years and year[0] <= start and end <= year[1]
    with pytest.raises(InvalidInput):
        licence_year_containing(terms(), date(2030, 1, 1))


def test_is_period_valid() -> None:
    t = terms()
    assert is_period_valid(t, date(2025, 4, 1), date(2025, 7, 1))
    assert not is_period_valid(t, date(2025, 4, 1), date(2025, 6, 30))
    assert not is_period_valid(t, date(2025, 1, 1), date(2025, 7, 1))
    assert not is_period_valid(t, date(2030, 1, 1), date(2030, 4, 1))
    assert not is_period_valid(t, date(2024, 10, 1), date(2025, 1, 1))


def test_check_report_period() -> None:
    t = terms()
    check_report_period(t, date(2025, 4, 1), date(2025, 7, 1))
    with pytest.raises(InvalidInput) as wrong:
        check_report_period(t, date(2025, 5, 1), date(2025, 8, 1))
    assert wrong.value.field == "period" and "2025-04-01 to 2025-07-01" in wrong.value.detail
    with pytest.raises(InvalidInput) as outside:
        check_report_period(t, date(2031, 1, 1), date(2031, 4, 1))
    assert "outside the licence term" in outside.value.detail
    with pytest.raises(Conflict) as twice:
        check_report_period(t, date(2025, 4, 1), date(2025, 7, 1),
                            reported=[(date(2025, 4, 1), date(2025, 7, 1))])
    assert "already reported" in twice.value.detail


def test_overdue_reports() -> None:
    t = terms()
    q1, q2 = (date(2025, 1, 1), date(2025, 4, 1)), (date(2025, 4, 1), date(2025, 7, 1))
    # Q1 ends 2025-04-01 and is due 30 days later, on 2025-05-01; late from 2025-05-02.
    assert overdue_reports(t, reported=[], as_of=date(2025, 5, 1)) == []
    assert overdue_reports(t, reported=[], as_of=date(2025, 5, 2)) == [q1]
    assert overdue_reports(t, reported=[q1], as_of=date(2025, 8, 15)) == [q2]
    assert overdue_reports(t, reported=[], as_of=date(2025, 8, 15), grace_days=60) == [q1]
    with pytest.raises(InvalidInput):
        overdue_reports(t, reported=[], as_of=date(2025, 1, 1), grace_days=-1)


# --------------------------------------------------------------------------- properties

_rates = st.decimals(min_value=0, max_value=100, places=3)


@st.composite
def tiered_terms(draw: st.DrawFn) -> Any:
    starts = sorted(draw(st.lists(st.integers(1, 10**7), max_size=4, unique=True)))
    pairs = [(f"{s // 100}.{s % 100:02d}", str(draw(_rates))) for s in [0, *starts]]
    stacking = draw(st.one_of(st.none(), st.fixed_dictionaries(
        {"floor": _rates.map(str), "deduction": _rates.map(str)})))
    royalty = tiers(*pairs) if stacking is None else tiers(*pairs, stacking=stacking)
    return terms(royalty=royalty)


@settings(max_examples=200, deadline=None)
@given(tiered_terms(), st.integers(0, 2 * 10**7), st.integers(0, 10**7),
       st.integers(0, 10**7), st.integers(0, 10**6))
def test_royalty_properties(t: Any, before: int, first: int, second: int, third: int) -> None:
    whole = royalty_due(t, cumulative_sales_before=before, net_sales=first + second)
    a = royalty_due(t, cumulative_sales_before=before, net_sales=first)
    b = royalty_due(t, cumulative_sales_before=before + first, net_sales=second)
    # Portions cover the report exactly, and each is the exact rate rounded down.
    assert sum(p.sales for p in whole.portions) == first + second
    exact = sum(Fraction(p.sales) * Fraction(p.rate) / 100 for p in whole.portions)
    assert 0 <= exact - whole.gross < len(whole.portions) or whole.portions == ()
    # Splitting a report never raises the royalty, and loses under one cent per portion.
    split = a.gross + b.gross
    assert 0 <= whole.gross - split <= len(a.portions) + len(b.portions)
    # Stacking: the due amount lies between the (capped) floor and the gross.
    s = royalty_due(t, cumulative_sales_before=before, net_sales=first,
                    third_party_royalties=third)
    assert s.gross == a.gross
    assert min(s.floor, s.gross) <= s.due <= s.gross
    assert s.deduction == s.gross - s.due
    assert 0 <= s.deduction <= s.credit
