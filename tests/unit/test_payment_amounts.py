"""payments.amounts: IPX decimals and ledger minor units to Stripe's integer amounts and back."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.currency import CURRENCIES, exponent, from_minor
from ledger.errors import InvalidInput
from payments.amounts import (
    Use,
    from_stripe,
    ledger_to_stripe,
    normalise_currency,
    stripe_exponent,
    stripe_to_ledger,
    to_stripe,
)


def _supported(code: str) -> bool:
    try:
        stripe_exponent(code)
    except InvalidInput:
        return False
    return True


STRIPE_CODES = sorted(c for c in CURRENCIES if _supported(c))
MINOR = st.integers(min_value=1, max_value=2**53 - 1)


@pytest.mark.parametrize(("amount", "currency", "expected"), [
    ("12.34", "USD", 1234), ("12.34", "HKD", 1234), ("0.01", "EUR", 1),
    ("500", "JPY", 500), ("1000", "KRW", 1000), ("7", "CLP", 7), ("90", "VND", 90),
    ("12.340", "KWD", 12340), ("1.000", "BHD", 1000), ("0.010", "TND", 10),
    ("5", "ISK", 500), ("1200", "UGX", 120000),  # two-decimal at Stripe, always ending 00
    ("300", "MGA", 300),  # zero-decimal at Stripe, two-decimal in ISO 4217
    ("12.34", "HUF", 1234), ("12.34", "TWD", 1234),  # charges may carry decimals
])
def test_charge_amounts(amount: str, currency: str, expected: int) -> None:
    assert to_stripe(Decimal(amount), currency) == expected
    assert from_stripe(expected, currency) == Decimal(amount)


@pytest.mark.parametrize(("amount", "currency"), [
    ("0.5", "JPY"),  # no fractions of a yen
    ("12.345", "KWD"),  # a three-decimal charge's last digit must be 0
    ("0.50", "MGA"),  # ISO allows it; Stripe does not
    ("0.001", "USD"),
])
def test_charges_stripe_cannot_represent_are_refused(amount: str, currency: str) -> None:
    with pytest.raises(InvalidInput):
        to_stripe(Decimal(amount), currency, Use.CHARGE)


def test_three_decimal_payouts_may_use_the_last_digit() -> None:
    assert to_stripe(Decimal("12.345"), "KWD", Use.PAYOUT) == 12345


@pytest.mark.parametrize("currency", ["HUF", "TWD"])
def test_huf_and_twd_payouts_are_whole_units(currency: str) -> None:
    assert to_stripe(Decimal("12"), currency, Use.PAYOUT) == 1200
    with pytest.raises(InvalidInput):
        to_stripe(Decimal("12.34"), currency, Use.PAYOUT)


def test_stripe_amounts_that_are_not_whole_iso_units_are_refused() -> None:
    with pytest.raises(InvalidInput):
        from_stripe(550, "ISK")  # 5.50 ISK: Stripe's last two digits must be 00
    with pytest.raises(InvalidInput):
        stripe_to_ledger(1234, "UGX")


@pytest.mark.parametrize("currency", ["CLF", "UYW", "IQD", "LYD"])
def test_currencies_stripe_does_not_present_are_refused(currency: str) -> None:
    with pytest.raises(InvalidInput):
        to_stripe(Decimal("1"), currency)


def test_currencies_are_upper_case_in_ipx() -> None:
    assert normalise_currency("jpy") == "JPY"
    with pytest.raises(InvalidInput):
        normalise_currency("xyz")


@given(st.sampled_from(STRIPE_CODES), MINOR)
def test_ledger_minor_round_trips_through_stripe(currency: str, minor: int) -> None:
    """Whatever the ledger holds and Stripe can take comes back unchanged, and Stripe's
    integer means the same decimal amount as the ledger's."""
    try:
        value = ledger_to_stripe(minor, currency, Use.REPORTED)
    except InvalidInput:
        # Only MGA's ISO cents have no Stripe form.
        assert currency == "MGA" and minor % 100
        return
    assert stripe_to_ledger(value, currency) == minor
    assert Decimal(value).scaleb(-stripe_exponent(currency)) == from_minor(minor, currency)


@given(st.sampled_from(STRIPE_CODES), MINOR, st.sampled_from(list(Use)))
def test_stripe_integers_round_trip_through_the_ledger(currency: str, value: int,
                                                       use: Use) -> None:
    try:
        amount = from_stripe(value, currency)
    except InvalidInput:
        # Stripe's extra places for ISK and UGX must be 00.
        assert stripe_exponent(currency) > exponent(currency) and value % 100
        return
    try:
        back = to_stripe(amount, currency, use)
    except InvalidInput:
        assert use is not Use.REPORTED  # only a granularity rule may refuse it
        return
    assert back == value


@given(st.sampled_from(STRIPE_CODES), MINOR)
def test_conversion_never_rounds(currency: str, minor: int) -> None:
    """Either the exact amount, or a refusal: never a nearby one."""
    amount = from_minor(minor, currency)
    for use in Use:
        try:
            value = to_stripe(amount, currency, use)
        except InvalidInput:
            continue
        assert from_stripe(value, currency) == amount
