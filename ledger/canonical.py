"""Canonical encoding of journal entry bodies (RFC 8785 JCS) and their leaf hashes.

A body is hashed exactly once, at append time, and re-hashed by anyone verifying a
statement, so the encoding must be byte-for-byte reproducible by independent code.

Two paths give the same bytes. Bodies made only of dicts with string keys below U+D800,
lists, strings, booleans, None and I-JSON integers (every body IPX writes) go through the
standard library's C JSON encoder, which for exactly those values writes what RFC 8785 writes
(tests/unit/test_canonical.py checks this against the `rfc8785` package with Hypothesis):

* keys sorted by code point, which is RFC 8785's UTF-16 code-unit order as long as no key
  holds a character from U+D800 up (surrogates sort differently in UTF-16; such keys take
  the careful path);
* strings escaped alike: quote, backslash, the short forms \\b \\t \\n \\f \\r, the other
  C0 controls as lowercase \\u00hh, everything else raw UTF-8 (`ensure_ascii=False`);
* integers, true, false, null as plain tokens, no whitespace.

Anything else (floats, tuples, other mappings, big integers, unusual keys, lone surrogates)
takes the careful path through `rfc8785`, which refuses what it must. `rfc8785` (pure Python)
took about 1.2 s on a 16 MiB distribution entry; the fast path takes about 0.3 s even on a
loaded machine (bench/README.md).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import rfc8785

__all__ = ["canonical_bytes", "canonical_value", "leaf_hash"]

_LEAF_PREFIX = b"\x00"
# I-JSON (RFC 7493) integers: exactly representable as IEEE 754 doubles.
_MAX_SAFE_INT = 2**53 - 1
_FIRST_SURROGATE = "\ud800"
_encode = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                           allow_nan=False).encode


def _check_value(value: Any, where: str) -> Any:
    """Return ``value`` normalised to plain JSON containers, refusing floats.

    Why: JCS would happily serialise a float, but money is never a float here, and a
    float sneaking into a body would make its hash depend on binary rounding.
    """
    # bool is a subclass of int, so check the simple scalars first.
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        raise ValueError(f"floats are not allowed in ledger bodies (at {where})")
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"object keys must be strings (at {where}, key {key!r})")
            out[key] = _check_value(item, f"{where}.{key}")
        return out
    if isinstance(value, (list, tuple)):
        return [_check_value(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise ValueError(f"unsupported type {type(value).__name__} in ledger body (at {where})")


def _plain_items(items: Any, keys: set[str]) -> bool:
    """True when every value in `items` is plain (see :func:`_plain`)."""
    # Scalars are checked inline rather than by a call per value: a 100,000-line entry holds
    # about a million of them.
    for item in items:
        kind = type(item)
        if kind is str or item is None or kind is bool:
            continue
        if kind is int:
            if -_MAX_SAFE_INT <= item <= _MAX_SAFE_INT:
                continue
            return False
        if not _plain(item, keys):
            return False
    return True


def _plain(value: Any, keys: set[str]) -> bool:
    """True when `value` holds only exact dicts with string keys below U+D800, exact lists,
    strings, booleans, None and I-JSON integers: the values the fast path encodes exactly as
    RFC 8785 does. `keys` caches the keys already accepted (bodies repeat a few keys)."""
    kind = type(value)
    if kind is dict:
        for key in value:
            if key not in keys:
                if type(key) is not str or (key and max(key) >= _FIRST_SURROGATE):
                    return False
                keys.add(key)
        return _plain_items(value.values(), keys)
    if kind is list:
        return _plain_items(value, keys)
    return False  # plain scalars never get here: `_plain_items` takes them inline


def _fast(value: Any) -> bytes | None:
    """The RFC 8785 bytes of a plain value through the C JSON encoder; None if not plain."""
    if not _plain_items((value,), set()):
        return None
    try:
        return _encode(value).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: let the careful path refuse it
        return None


def canonical_value(value: Any) -> bytes:
    """Return the RFC 8785 encoding of any JSON value (an object, array, string, ...).

    With :func:`canonical_bytes`'s ``encoded``, a large value is encoded once and spliced
    into several bodies. Raises ``ValueError`` as :func:`canonical_bytes` does.
    """
    fast = _fast(value)
    if fast is not None:
        return fast
    return rfc8785.dumps(_check_value(value, "$"))


def _utf16_order(key: str) -> bytes:
    # RFC 8785 sorts keys by their UTF-16 code units, which UTF-16-BE bytes compare as.
    return key.encode("utf-16-be", "surrogatepass")


def canonical_bytes(body: Mapping[str, Any], *, encoded: Mapping[str, bytes] | None = None
                    ) -> bytes:
    """Return the RFC 8785 (JCS) canonical JSON encoding of ``body``.

    ``encoded`` adds members whose values the caller has already encoded with
    :func:`canonical_value` (or :func:`canonical_bytes`); they are spliced in as given,
    which is exact because RFC 8785 encodes an object as its members, sorted, each key
    followed by its value's own canonical encoding.

    Raises ``ValueError`` for floats anywhere in the body, for non-string keys, for
    types other than str/int/bool/None/list/dict, and (via ``rfc8785``) for integers
    outside the I-JSON safe range or strings that are not valid Unicode.
    """
    if not isinstance(body, Mapping):
        raise ValueError("a ledger body must be a JSON object")
    if encoded:
        return _spliced(body, encoded)
    fast = _fast(body)
    if fast is not None:
        return fast
    return rfc8785.dumps(_check_value(body, "$"))


def _spliced(body: Mapping[str, Any], encoded: Mapping[str, bytes]) -> bytes:
    members: dict[str, bytes] = {}
    for key, value in body.items():
        if not isinstance(key, str):
            raise ValueError(f"object keys must be strings (key {key!r})")
        members[key] = canonical_value(value)
    for key, value_bytes in encoded.items():
        if not isinstance(key, str) or key in members:
            raise ValueError(f"encoded member {key!r} must be a string key not in the body")
        members[key] = value_bytes
    return b"{" + b",".join(canonical_value(key) + b":" + members[key]
                            for key in sorted(members, key=_utf16_order)) + b"}"


def leaf_hash(canonical: bytes) -> bytes:
    """Return the RFC 9162 leaf hash ``SHA-256(0x00 || canonical)``."""
    return hashlib.sha256(_LEAF_PREFIX + canonical).digest()
