"""Royalty arithmetic on licence terms, pure and exact (integer minor units, no floats).

Rounding: every percentage of an amount is rounded *down* to the minor unit, separately:
each tier portion of a report, the stacking credit, the stacking floor, a sublicence share,
and a pro-rated minimum. Because each tier portion rounds on its own, splitting the same sales
into more reports can only lower the royalty by at most one minor unit per portion; that is
the documented price of computing every report on its own.

Periods: reporting periods and licence years are anchored at the licence start date (not
at calendar quarters): period *k* runs from ``start + k*m`` months to ``start + (k+1)*m``
months, where a day past the month's end clamps to its last day (so 31 Jan + 1 month is
28/29 Feb, while later boundaries still come from the anchor: 31 Jan + 2 months is 31 Mar),
and the last period is cut at the licence end. Every range is half-open ``[start, end)``.
As 3, 6 and 12 divide 12, every reporting period lies inside exactly one licence year.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

from contracts.terms import LicenceTerms, percent_text
from ledger.currency import format_minor
from ledger.errors import Conflict, InvalidInput

__all__ = [
    "Period",
    "RoyaltyComputation",
    "TierPortion",
    "add_months",
    "check_report_period",
    "is_period_valid",
    "licence_year_containing",
    "licence_years",
    "milestone_due",
    "minimum_true_up",
    "overdue_reports",
    "percent_of",
    "report_periods",
    "royalty_due",
    "sublicence_due",
]

Period = tuple[date, date]
"""A half-open date range ``[start, end)``."""


def _count(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("must be a whole number of minor units", field=field)
    if value < 0:
        raise InvalidInput("must not be negative", field=field)
    return value


def percent_of(amount: int, percent: Decimal) -> int:
    """``amount * percent / 100`` rounded down to a whole minor unit, exactly.

    ``amount`` is a non-negative integer; the arithmetic uses fractions, so no precision is
    lost however many digits the amount or percentage has.
    """
    return int((amount * Fraction(percent)) // 100)


# --------------------------------------------------------------------------- running royalty

@dataclass(frozen=True)
class TierPortion:
    """The part of one report's net sales that falls in tier ``tier`` (0-based)."""

    tier: int
    rate: Decimal
    sales_from: int  # cumulative net sales where this portion starts (minor units)
    sales: int  # net sales in this portion
    royalty: int  # percent_of(sales, rate), rounded down


@dataclass(frozen=True)
class RoyaltyComputation:
    """The breakdown of one report's royalty; every amount is in minor units of ``currency``.

    ``due = gross - deduction``; ``credit`` is what the stacking clause would allow before the
    floor, ``deduction`` what it actually allows, and ``floor_applied`` says the floor bit.
    """

    currency: str
    cumulative_sales_before: int
    net_sales: int
    portions: tuple[TierPortion, ...]
    gross: int
    third_party_royalties: int
    credit: int
    floor: int
    deduction: int
    due: int
    floor_applied: bool

    def as_json(self) -> dict[str, Any]:
        """The breakdown as JSON: amounts as decimal strings, rates as percent strings."""

        def money(minor: int) -> str:
            return format_minor(minor, self.currency)

        return {
            "currency": self.currency,
            "cumulative_sales_before": money(self.cumulative_sales_before),
            "net_sales": money(self.net_sales),
            "portions": [
                {"tier": p.tier, "rate": percent_text(p.rate), "sales_from": money(p.sales_from),
                 "sales": money(p.sales), "royalty": money(p.royalty)}
                for p in self.portions
            ],
            "gross": money(self.gross),
            "third_party_royalties": money(self.third_party_royalties),
            "credit": money(self.credit),
            "floor": money(self.floor),
            "deduction": money(self.deduction),
            "due": money(self.due),
            "floor_applied": self.floor_applied,
        }


def royalty_due(terms: LicenceTerms, *, cumulative_sales_before: int, net_sales: int,
                third_party_royalties: int = 0) -> RoyaltyComputation:
    """The running royalty on one report of ``net_sales`` (minor units).

    ``cumulative_sales_before`` is the licence's net sales reported before this report; the
    rate for each part of the report is the tier its cumulative position falls in, so a report
    crossing a tier boundary is split across tiers, and each portion rounds down on its own.

    Stacking (only when the terms have a stacking clause): ``credit = deduction% x
    third_party_royalties``, rounded down; ``floor = floor% x net_sales``, rounded down and
    capped at the gross royalty (a floor never raises the royalty); ``due = max(gross -
    credit, floor)``. Without a clause, third-party royalties are ignored.
    """
    before = _count(cumulative_sales_before, "cumulative_sales_before")
    sales = _count(net_sales, "net_sales")
    third = _count(third_party_royalties, "third_party_royalties")

    portions: list[TierPortion] = []
    low, high = before, before + sales
    tiers = terms.royalty_tiers
    for i, tier in enumerate(tiers):
        tier_end = tiers[i + 1].start if i + 1 < len(tiers) else None
        a = max(low, tier.start)
        b = high if tier_end is None else min(high, tier_end)
        if b > a:
            portions.append(TierPortion(i, tier.rate, a, b - a, percent_of(b - a, tier.rate)))
    gross = sum(p.royalty for p in portions)

    if terms.stacking is None:
        credit, floor = 0, 0
    else:
        credit = percent_of(third, terms.stacking.deduction)
        floor = min(gross, percent_of(sales, terms.stacking.floor))
    due = max(gross - credit, floor)
    return RoyaltyComputation(
        currency=terms.currency,
        cumulative_sales_before=before,
        net_sales=sales,
        portions=tuple(portions),
        gross=gross,
        third_party_royalties=third,
        credit=credit,
        floor=floor,
        deduction=gross - due,
        due=due,
        floor_applied=gross - credit < floor,
    )


# --------------------------------------------------------------------------- other payments

def minimum_true_up(terms: LicenceTerms, royalties_paid_in_year: int, *,
                    year: Period | None = None) -> int:
    """The shortfall to the minimum annual royalty for one licence year (0 if it was met).

    ``royalties_paid_in_year`` is the running royalty due on that year's reports (after
    stacking). Without ``year`` the full minimum applies. With ``year`` (one of
    :func:`licence_years`), a short final year's minimum is pro-rated by days,
    ``minimum x days_in_year / days_in_a_full_year_from_its_start``, rounded down.
    """
    paid = _count(royalties_paid_in_year, "royalties_paid_in_year")
    minimum = terms.minimum_annual_royalty
    if year is not None:
        if year not in licence_years(terms):
            raise InvalidInput("is not a licence year of these terms", field="year")
        full_end = add_months(terms.start, _months_since_start(terms, year[0]) + 12)
        full_days = ((full_end or date.max) - year[0]).days
        days = (year[1] - year[0]).days
        if days < full_days:
            minimum = minimum * days // full_days
    return max(0, minimum - paid)


def milestone_due(terms: LicenceTerms, event: str) -> int:
    """The payment (minor units) due when ``event`` is reported; unknown event: InvalidInput."""
    for milestone in terms.milestones:
        if milestone.event == event:
            return milestone.amount
    known = ", ".join(m.event for m in terms.milestones) or "none"
    raise InvalidInput(f"'{event}' is not a milestone of this licence (milestones: {known})",
                       field="event")


def sublicence_due(terms: LicenceTerms, income: int) -> int:
    """The grantor's share (minor units, rounded down) of ``income`` from sublicences."""
    return percent_of(_count(income, "income"), terms.sublicence_share)


# --------------------------------------------------------------------------- periods

def add_months(day: date, months: int) -> date | None:
    """``day`` plus ``months`` calendar months, clamped to the month's end; None past 9999."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    if year > date.max.year:
        return None
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _months_since_start(terms: LicenceTerms, boundary: date) -> int:
    return (boundary.year - terms.start.year) * 12 + boundary.month - terms.start.month


def _periods(terms: LicenceTerms, months: int) -> list[Period]:
    out: list[Period] = []
    low, k = terms.start, 0
    while low < terms.end:
        k += 1
        high = add_months(terms.start, k * months)
        high = terms.end if high is None or high > terms.end else high
        out.append((low, high))
        low = high
    return out


def report_periods(terms: LicenceTerms) -> list[Period]:
    """The reporting periods over the licence term, by its report frequency, in order."""
    return _periods(terms, terms.report_frequency.months)


def licence_years(terms: LicenceTerms) -> list[Period]:
    """The licence years from the start date (anniversaries), the last cut at the end."""
    return _periods(terms, 12)


def licence_year_containing(terms: LicenceTerms, day: date) -> Period:
    """The licence year that ``day`` falls in; InvalidInput if outside the term."""
    for year in licence_years(terms):
        if year[0] <= day < year[1]:
            return year
    raise InvalidInput(f"{day.isoformat()} is outside the licence term", field="date")


def is_period_valid(terms: LicenceTerms, start: date, end: date) -> bool:
    """True when ``[start, end)`` is exactly one of :func:`report_periods`."""
    return (start, end) in report_periods(terms)


def check_report_period(terms: LicenceTerms, start: date, end: date, *,
                        reported: Iterable[Period] = ()) -> None:
    """Refuse a report period that is not one of the terms' periods (InvalidInput naming the
    period that contains ``start``, if any) or that was already reported (Conflict)."""
    periods = report_periods(terms)
    if (start, end) not in periods:
        containing = [p for p in periods if p[0] <= start < p[1]]
        hint = (f"; the period containing {start.isoformat()} is "
                f"{containing[0][0].isoformat()} to {containing[0][1].isoformat()}"
                if containing else "; it is outside the licence term")
        raise InvalidInput(f"{start.isoformat()} to {end.isoformat()} is not a "
                           f"{terms.report_frequency.value} report period of this licence{hint}",
                           field="period")
    if (start, end) in set(reported):
        raise Conflict(f"the period {start.isoformat()} to {end.isoformat()} is already reported",
                       field="period")


def overdue_reports(terms: LicenceTerms, *, reported: Iterable[Period], as_of: date,
                    grace_days: int = 30) -> list[Period]:
    """Periods with no report whose due date (period end + ``grace_days``) is before ``as_of``.

    This is the late-or-missing list shown to the grantor; ``reported`` holds the periods
    already reported.
    """
    if isinstance(grace_days, bool) or not isinstance(grace_days, int) or grace_days < 0:
        raise InvalidInput("must be a whole number of days, 0 or more", field="grace_days")
    done = set(reported)
    return [p for p in report_periods(terms)
            if p not in done and (as_of - p[1]).days > grace_days]
