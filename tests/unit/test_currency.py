"""ledger.currency: ISO 4217 exponents and exact conversion to and from minor units."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ledger.currency import (
    CURRENCIES,
    exponent,
    format_minor,
    from_minor,
    parse_amount,
    to_minor,
)
from ledger.errors import InvalidInput

# What a BIGINT column holds: every minor-unit amount the database can store.
BIGINT = st.integers(min_value=-(2**63) + 1, max_value=2**63 - 1)
CODES = st.sampled_from(sorted(CURRENCIES))


@pytest.mark.parametrize(
    ("currency", "places"),
    [("JPY", 0), ("KRW", 0), ("HKD", 2), ("USD", 2), ("EUR", 2), ("KWD", 3), ("BHD", 3),
     ("CLF", 4), ("UYW", 4)],
)
def test_exponents(currency: str, places: int) -> None:
    assert exponent(currency) == places


@pytest.mark.parametrize("code", ["XXX", "hkd", "", "HK", "HKDD", "XAU", "BTC"])
def test_unknown_currency_is_refused_naming_the_field(code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        exponent(code)
    assert caught.value.field == "currency"
    assert code not in CURRENCIES


def test_currency_table_is_well_formed() -> None:
    assert all(len(code) == 3 and code.isalpha() and code.isupper() for code in CURRENCIES)
    assert {exponent(c) for c in CURRENCIES} == {0, 2, 3, 4}


@pytest.mark.parametrize(
    ("text", "currency", "expected"),
    [("123.45", "HKD", Decimal("123.45")), ("100", "JPY", Decimal(100)),
     ("1.234", "KWD", Decimal("1.234")), ("0.0001", "CLF", Decimal("0.0001")),
     ("7.50", "HKD", Decimal("7.5")), ("1.2300000", "HKD", Decimal("1.23")),
     ("1000", "JPY", Decimal(1000)), ("-5.00", "HKD", Decimal(-5)), ("0", "HKD", Decimal(0))],
)
def test_parse_amount_accepts_exact_amounts(text: str, currency: str, expected: Decimal) -> None:
    assert parse_amount(text, currency) == expected


def test_parse_amount_accepts_a_decimal() -> None:
    assert parse_amount(Decimal("9.99"), "HKD") == Decimal("9.99")


@pytest.mark.parametrize(
    ("text", "currency"),
    [("1.001", "HKD"), ("0.5", "JPY"), ("1.0001", "KWD"), ("0.00001", "CLF"),
     ("1E-3", "HKD"), ("100.005", "USD"),
     # More digits than Decimal's default 28-digit context: must not be rounded away.
     ("1.0000000000000000000000000001", "HKD"),
     ("12345678901234567890123456789.001", "HKD"),
     ("1E-999999999", "HKD")],
)
def test_parse_amount_refuses_excess_precision(text: str, currency: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_amount(text, currency, field="amount.amount")
    assert caught.value.field == "amount.amount"


@pytest.mark.parametrize(
    "text", ["NaN", "nan", "sNaN", "-NaN", "Infinity", "-Infinity", "inf", "Inf"]
)
def test_parse_amount_refuses_nan_and_infinity(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_amount(text, "HKD")
    assert caught.value.field == "amount"


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")])
def test_parse_amount_refuses_non_finite_decimals(value: Decimal) -> None:
    with pytest.raises(InvalidInput):
        parse_amount(value, "HKD")


@pytest.mark.parametrize(
    "text", ["", " ", "abc", "1.2.3", "1,000.00", "--1", "1e", "$5", "5 HKD", "0x10", "½",
             "1e999999999", " 7.50 ", "1E+3", "+5", "1_000", "\u0661\u0662\u0663", ".5", "5."],
)
def test_parse_amount_refuses_garbage(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_amount(text, "HKD")


def test_parse_amount_with_unknown_currency() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_amount("1.00", "ZZZ")
    assert caught.value.field == "currency"


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [("123.45", "HKD", 12345), ("100", "JPY", 100), ("1.234", "KWD", 1234),
     ("0.0001", "CLF", 1), ("-0.01", "HKD", -1), ("0", "KWD", 0), ("1E+2", "HKD", 10000)],
)
def test_to_minor_known_answers(amount: str, currency: str, minor: int) -> None:
    assert to_minor(Decimal(amount), currency) == minor


@pytest.mark.parametrize(
    ("amount", "currency"),
    [("0.001", "HKD"), ("0.1", "JPY"), ("1.0000000000000000000000000001", "HKD")],
)
def test_to_minor_never_rounds(amount: str, currency: str) -> None:
    with pytest.raises(InvalidInput):
        to_minor(Decimal(amount), currency)


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [(12345, "HKD", "123.45"), (5, "HKD", "0.05"), (-1, "HKD", "-0.01"), (0, "HKD", "0.00"),
     (100, "JPY", "100"), (1234, "KWD", "1.234"), (1, "CLF", "0.0001"), (0, "CLF", "0.0000")],
)
def test_format_minor_has_exactly_the_currency_places(minor: int, currency: str,
                                                      text: str) -> None:
    assert format_minor(minor, currency) == text
    assert from_minor(minor, currency).as_tuple().exponent == -exponent(currency)


@given(minor=BIGINT, currency=CODES)
@example(minor=2**63 - 1, currency="CLF")
@example(minor=-(2**63) + 1, currency="JPY")
def test_minor_round_trip(minor: int, currency: str) -> None:
    amount = from_minor(minor, currency)
    assert to_minor(amount, currency) == minor
    # ... and through the text the journal stores.
    assert to_minor(parse_amount(format_minor(minor, currency), currency), currency) == minor


@given(minor=BIGINT, currency=CODES, extra_zeros=st.integers(0, 6))
def test_decimal_round_trip(minor: int, currency: str, extra_zeros: int) -> None:
    # Any spelling of an exact amount (trailing zeros included) converts to the same minor units.
    places = exponent(currency)
    amount = Decimal(minor).scaleb(-places)
    spelled = f"{amount:f}"
    if extra_zeros:
        spelled += ("" if "." in spelled else ".") + "0" * extra_zeros
    parsed = parse_amount(spelled, currency)
    assert parsed == amount
    assert to_minor(parsed, currency) == minor
    assert from_minor(to_minor(parsed, currency), currency) == parsed
