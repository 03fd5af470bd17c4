"""ledger.canonical_rows: postings and lines written directly are their RFC 8785 encoding."""

from __future__ import annotations

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.canonical import canonical_value
from ledger.canonical_rows import lines_canonical, postings_canonical
from ledger.currency import CURRENCIES, format_minor
from ledger.errors import InvalidInput
from ledger.postings import Posting
from ledger.waterfall import Line

# Any text, controls, quotes, backslashes and astral characters included (not surrogates:
# they are not Unicode scalar values).
_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
_currencies = st.sampled_from(sorted(CURRENCIES))
_amounts = st.integers(-(10**20), 10**20)
_units = st.integers(-(2**53) + 1, 2**53 - 1)


def _postings_json(postings: list[Posting]) -> list[dict[str, str]]:
    return [{"account": p.account, "amount": format_minor(p.amount, p.currency),
             "currency": p.currency} for p in postings]


def _lines_json(lines: list[Line], currency: str) -> list[dict[str, object]]:
    return [{"party_id": ln.party_id, "class": ln.unit_class, "units": ln.units,
             "amount": format_minor(ln.amount, currency)} for ln in lines]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.builds(Posting, _text, _currencies, _amounts), max_size=8))
def test_postings_are_their_canonical_encoding(postings: list[Posting]) -> None:
    expected = canonical_value(_postings_json(postings))
    assert postings_canonical(postings) == expected
    assert expected == rfc8785.dumps(_postings_json(postings))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.builds(Line, _text, _text, _units, _amounts), max_size=8), _currencies)
def test_lines_are_their_canonical_encoding(lines: list[Line], currency: str) -> None:
    expected = canonical_value(_lines_json(lines, currency))
    assert lines_canonical(lines, currency) == expected
    assert expected == rfc8785.dumps(_lines_json(lines, currency))


def test_empty_members_are_empty_arrays() -> None:
    assert postings_canonical([]) == b"[]"
    assert lines_canonical([], "EUR") == b"[]"


def test_known_answer() -> None:
    assert postings_canonical([Posting('a"\n', "JPY", -5), Posting("b", "EUR", 7)]) == (
        b'[{"account":"a\\"\\n","amount":"-5","currency":"JPY"},'
        b'{"account":"b","amount":"0.07","currency":"EUR"}]')
    assert lines_canonical([Line("pty_1", "inventor", 3, 12345)], "HKD") == (
        b'[{"amount":"123.45","class":"inventor","party_id":"pty_1","units":3}]')


@pytest.mark.parametrize("lines", [
    [Line("p", "c", 2**53, 1)],           # units beyond I-JSON
    [Line("p", "c", -(2**53), 1)],
    [Line("p", "c", True, 1)],            # a bool is not a number of units
    [Line("p", "c", 1, 1.5)],             # type: ignore[arg-type]  # a float amount
    [Line(7, "c", 1, 1)],                 # type: ignore[arg-type]  # a party that is no str
    [Line("\ud800", "c", 1, 1)],          # a lone surrogate
])
def test_lines_refuse_what_rfc8785_refuses(lines: list[Line]) -> None:
    with pytest.raises(ValueError):
        lines_canonical(lines, "EUR")


@pytest.mark.parametrize("postings", [
    [Posting("a", "EUR", 1.0)],           # type: ignore[arg-type]
    [Posting("a", "EUR", False)],
    [Posting(None, "EUR", 1)],            # type: ignore[arg-type]
    [Posting("a\udfff", "EUR", 1)],
])
def test_postings_refuse_what_rfc8785_refuses(postings: list[Posting]) -> None:
    with pytest.raises(ValueError):
        postings_canonical(postings)


def test_an_unknown_currency_is_invalid_input_as_in_format_minor() -> None:
    with pytest.raises(InvalidInput):
        postings_canonical([Posting("a", "XYZ", 1)])
    with pytest.raises(InvalidInput):
        lines_canonical([Line("p", "c", 1, 1)], "XYZ")
