"""format_minor, by integer arithmetic, equals the Decimal form of the amount (from_minor)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.currency import MAX_MINOR, format_minor, from_minor

# One currency per number of decimal places IPX knows (0, 2, 3 and 4).
CURRENCIES = ["JPY", "HKD", "KWD", "CLF"]


@pytest.mark.parametrize("currency", CURRENCIES)
@pytest.mark.parametrize("minor", [0, 1, -1, 5, 9, 10, 99, 100, 101, -100, 12345, -12345,
                                   10**4, MAX_MINOR, -MAX_MINOR])
def test_known_amounts(currency: str, minor: int) -> None:
    assert format_minor(minor, currency) == str(from_minor(minor, currency))


@settings(max_examples=1000, deadline=None)
@given(currency=st.sampled_from(CURRENCIES),
       minor=st.integers(-MAX_MINOR, MAX_MINOR) | st.integers(-10**6, 10**6))
def test_equals_the_decimal_form(currency: str, minor: int) -> None:
    assert format_minor(minor, currency) == str(from_minor(minor, currency))


def test_examples() -> None:
    assert format_minor(12345, "HKD") == "123.45"
    assert format_minor(-5, "HKD") == "-0.05"
    assert format_minor(7, "JPY") == "7"
    assert format_minor(0, "KWD") == "0.000"
