"""ledger.canonical: RFC 8785 known answers, float rejection, leaf hashing."""

from __future__ import annotations

import decimal
import hashlib
import json
import types
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.canonical import canonical_bytes, leaf_hash


def test_keys_are_sorted_and_whitespace_removed() -> None:
    assert canonical_bytes({"b": 1, "a": 2, "c": {"z": [], "y": {}}}) == (
        b'{"a":2,"b":1,"c":{"y":{},"z":[]}}'
    )


def test_rfc8785_sorting_example() -> None:
    # RFC 8785 §3.2.3: property names are ordered by their UTF-16 code units, so the
    # emoji (surrogates D83D DE00) sorts before U+FB33.
    body = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    expected = (
        '{"\\r":"Carriage Return","1":"One","\u0080":"Control",'
        '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",'
        '"\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}'
    )
    assert canonical_bytes(body) == expected.encode("utf-8")


def test_string_escaping() -> None:
    body = {"s": 'q"b\\\b\f\n\r\t\x00\x1f\x7f\u2028é'}
    # Only '"', '\\' and C0 controls are escaped; everything else is raw UTF-8.
    expected = '{"s":"q\\"b\\\\\\b\\f\\n\\r\\t\\u0000\\u001f\x7f\u2028é"}'
    assert canonical_bytes(body) == expected.encode("utf-8")


def test_scalars_and_integers() -> None:
    body = {"t": True, "f": False, "n": None, "i": [0, -1, 42, 2**53 - 1, -(2**53) + 1]}
    assert canonical_bytes(body) == (
        b'{"f":false,"i":[0,-1,42,9007199254740991,-9007199254740991],"n":null,"t":true}'
    )
    with pytest.raises(ValueError):
        canonical_bytes({"big": 2**53})
    with pytest.raises(ValueError):
        canonical_bytes({"big": -(2**53)})


@pytest.mark.parametrize(
    "body",
    [
        {"amount": 1.5},
        {"amount": 1.0},
        {"amount": float("nan")},
        {"nested": {"deeper": [1, 2, {"x": 0.1}]}},
        {"list": [1, 2.0]},
    ],
)
def test_floats_are_refused(body: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="float"):
        canonical_bytes(body)


@pytest.mark.parametrize(
    "body",
    [
        {1: "non-string key"},
        {"bytes": b"raw"},
        {"decimal": decimal.Decimal("1.50")},
        {"set": {1, 2}},
    ],
)
def test_unsupported_values_are_refused(body: dict[Any, Any]) -> None:
    with pytest.raises(ValueError):
        canonical_bytes(body)


def test_non_mapping_refused() -> None:
    with pytest.raises(ValueError):
        canonical_bytes([1, 2])  # type: ignore[arg-type]


def test_lone_surrogate_refused() -> None:
    with pytest.raises(ValueError):
        canonical_bytes({"s": "\ud800"})


def test_any_mapping_and_tuples_accepted() -> None:
    body = types.MappingProxyType({"b": (1, 2), "a": types.MappingProxyType({"k": "v"})})
    assert canonical_bytes(body) == b'{"a":{"k":"v"},"b":[1,2]}'


def test_leaf_hash() -> None:
    assert leaf_hash(b"") == bytes.fromhex(
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )
    data = canonical_bytes({"a": 1})
    assert leaf_hash(data) == hashlib.sha256(b"\x00" + data).digest()


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=25,
)


@settings(max_examples=200, deadline=None)
@given(body=st.dictionaries(st.text(max_size=8), _json, max_size=6))
def test_round_trip_and_idempotence(body: dict[str, Any]) -> None:
    encoded = canonical_bytes(body)
    decoded = json.loads(encoded.decode("utf-8"))
    assert decoded == body
    assert canonical_bytes(decoded) == encoded
    # Key order of the input never matters.
    assert canonical_bytes(dict(reversed(list(body.items())))) == encoded
