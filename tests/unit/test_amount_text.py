"""format_minor, by integer arithmetic, equals the Decimal form of the amount (from_minor)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.currency import MAX_MINOR, format_minor, format_minors, from_minor

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


@settings(max_examples=300, deadline=None)
@given(currency=st.sampled_from(CURRENCIES),
       minors=st.lists(st.integers(-MAX_MINOR, MAX_MINOR) | st.integers(-10**6, 10**6)))
def test_many_amounts_format_as_each_alone(currency: str, minors: list[int]) -> None:
    assert format_minors(minors, currency) == [format_minor(m, currency) for m in minors]


@pytest.mark.parametrize("minor", [1.5, True, "12"])
def test_many_amounts_are_ints(minor: object) -> None:
    with pytest.raises(TypeError):
        format_minors([1, minor], "HKD")  # type: ignore[list-item]
