"""RFC 8785 encodings written directly for the two large, uniform members of entries: an
entry's postings and a distribution's lines.

`ledger.canonical.canonical_value` walks a value in Python to check it, then runs the C JSON
encoder. For a distribution's 100,000 postings and 100,000 lines, building their dicts, checking
and encoding them took 0.92-0.98 s of CPU; writing each record with one f-string (keys in
RFC 8785 order, strings escaped by the JSON encoder's own C function, a currency's amounts
formatted together) takes 0.27 s (bench/README.md, ninth pass).
The bytes are the same: tests/unit/test_canonical_rows.py checks them against
`canonical_value` with Hypothesis.
"""

from __future__ import annotations

from collections.abc import Sequence
from json.encoder import encode_basestring

from ledger.currency import format_minors
from ledger.postings import Posting
from ledger.waterfall import Line

__all__ = ["lines_canonical", "postings_canonical"]

# I-JSON (RFC 7493) integers: exactly representable as IEEE 754 doubles.
_MAX_SAFE_INT = 2**53 - 1
# Quotes and escapes a str as RFC 8785 does (the same C function `json.dumps` uses with
# ensure_ascii=False); TypeError for anything but a str.
_string = encode_basestring


def postings_canonical(postings: Sequence[Posting]) -> bytes:
    """The RFC 8785 encoding of an entry's "postings" member: for each posting, in order,
    ``{"account", "amount", "currency"}`` with the amount as its decimal string.

    Raises ``ValueError`` for a non-string account or currency, a non-int amount, or a
    string that is not valid Unicode, and `InvalidInput` for an unknown currency (as
    `format_minor` does)."""
    try:
        # Each currency's amounts formatted together (a transaction has one or two).
        amounts = {currency: iter(format_minors([p.amount for p in postings
                                                 if p.currency == currency], currency))
                   for currency in {p.currency for p in postings}}
        rows = [f'{{"account":{_string(account)},"amount":"{next(amounts[currency])}",'
                f'"currency":{_string(currency)}}}' for account, currency, _ in postings]
    except TypeError as error:
        raise ValueError(f"postings: {error}") from None
    return _array(rows)


def lines_canonical(lines: Sequence[Line], currency: str) -> bytes:
    """The RFC 8785 encoding of a distribution's "lines" member: for each line, in order,
    ``{"amount", "class", "party_id", "units"}`` with the amount as its decimal string in
    `currency`.

    Raises ``ValueError`` for a non-string party or class, units that are not an I-JSON
    integer, a non-int amount, or a string that is not valid Unicode, and `InvalidInput`
    for an unknown currency."""
    try:
        amounts = format_minors([line.amount for line in lines], currency)
        rows = []
        for (party_id, unit_class, units, _), amount in zip(lines, amounts, strict=True):
            if type(units) is not int or not -_MAX_SAFE_INT <= units <= _MAX_SAFE_INT:
                raise TypeError(f"the units of {party_id!r} are not an I-JSON integer")
            rows.append(f'{{"amount":"{amount}","class":{_string(unit_class)},'
                        f'"party_id":{_string(party_id)},"units":{units}}}')
    except TypeError as error:
        raise ValueError(f"lines: {error}") from None
    return _array(rows)


def _array(rows: list[str]) -> bytes:
    try:
        return f"[{','.join(rows)}]".encode()
    except UnicodeEncodeError:  # a lone surrogate, which RFC 8785 refuses too
        raise ValueError("a string is not valid Unicode") from None
