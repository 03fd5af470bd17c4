"""ledger.canonical: RFC 8785 known answers, float rejection, leaf hashing."""

from __future__ import annotations

import decimal
import hashlib
import json
import types
from typing import Any

import pytest
import rfc8785
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


# --- the fast path (json.dumps) against the reference implementation ---------------------

# Any text, any code point (surrogates excluded: they are not Unicode scalar values).
_any_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
# Keys the fast path takes: code points below U+D800; its sort order is then JCS's.
_fast_keys = st.text(st.characters(max_codepoint=0xD7FF), max_size=8)
_safe_ints = st.integers(-(2**53) + 1, 2**53 - 1)


def _documents(keys: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    return st.recursive(
        st.none() | st.booleans() | _safe_ints | _any_text,
        lambda children: (st.lists(children, max_size=4)
                          | st.dictionaries(keys, children, max_size=4)),
        max_leaves=30,
    )


@settings(max_examples=500, deadline=None)
@given(body=st.dictionaries(_fast_keys, _documents(_fast_keys), max_size=6))
def test_fast_path_is_rfc8785(body: dict[str, Any]) -> None:
    from ledger.canonical import _fast

    fast = _fast(body)
    assert fast is not None  # these bodies do take the fast path ...
    assert fast == rfc8785.dumps(body)  # ... and it writes exactly what RFC 8785 writes
    assert canonical_bytes(body) == fast


@settings(max_examples=300, deadline=None)
@given(body=st.dictionaries(_any_text, _documents(_any_text), max_size=6))
def test_any_keys_give_rfc8785(body: dict[str, Any]) -> None:
    # Keys from U+D800 up (astral characters sort differently in UTF-16) take the careful path.
    assert canonical_bytes(body) == rfc8785.dumps(body)


def test_keys_jcs_orders_differently_take_the_careful_path() -> None:
    from ledger.canonical import _fast

    body = {"\U0001f600": 1, "\ufb33": 2}  # UTF-16: D83D... sorts before FB33
    assert _fast(body) is None
    assert canonical_bytes(body) == '{"\U0001f600":1,"\ufb33":2}'.encode()


@pytest.mark.parametrize("body", [
    {"t": (1, 2)},  # a tuple: encoded as an array by the careful path
    {"big": 2**53 - 1, "nested": [{"k": True}]},
    {"int_subclass": __import__("enum").IntEnum("E", "A").A},
])
def test_unusual_values_still_encode_as_before(body: dict[str, Any]) -> None:
    from ledger.canonical import _check_value

    assert canonical_bytes(body) == rfc8785.dumps(_check_value(body, "$"))


@pytest.mark.parametrize("body", [
    {"f": [1, {"x": 0.5}]},
    {1: "int key"},
    {"nested": {2: "int key"}},
    {"big": [2**53]},
    {"s": "\udc00"},
    {"k\udc00": 1},
])
def test_fast_path_never_accepts_what_the_careful_path_refuses(body: dict[Any, Any]) -> None:
    with pytest.raises(ValueError):
        canonical_bytes(body)


@settings(max_examples=300, deadline=None)
@given(body=st.dictionaries(_any_text, _documents(_any_text), max_size=6), data=st.data())
def test_spliced_members_give_the_same_bytes(body: dict[str, Any], data: st.DataObject) -> None:
    from ledger.canonical import canonical_value

    spliced = data.draw(st.sets(st.sampled_from(sorted(body)) if body else st.nothing()))
    rest = {k: v for k, v in body.items() if k not in spliced}
    encoded = {k: canonical_value(body[k]) for k in spliced}
    assert canonical_bytes(rest, encoded=encoded) == canonical_bytes(body)
    for key in spliced:
        assert canonical_value(body[key]) == rfc8785.dumps(body[key])


def test_splicing_refuses_a_member_twice_and_floats() -> None:
    from ledger.canonical import canonical_value

    with pytest.raises(ValueError):
        canonical_bytes({"a": 1}, encoded={"a": b"2"})
    with pytest.raises(ValueError, match="float"):
        canonical_bytes({"a": 1.5}, encoded={"b": b"2"})
    with pytest.raises(ValueError, match="float"):
        canonical_value([0.5])
