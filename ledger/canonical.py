"""Canonical encoding of journal entry bodies (RFC 8785 JCS) and their leaf hashes.

A body is hashed exactly once, at append time, and re-hashed by anyone verifying a
statement, so the encoding must be byte-for-byte reproducible by independent code.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import rfc8785

__all__ = ["canonical_bytes", "leaf_hash"]

_LEAF_PREFIX = b"\x00"


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


def canonical_bytes(body: Mapping[str, Any]) -> bytes:
    """Return the RFC 8785 (JCS) canonical JSON encoding of ``body``.

    Raises ``ValueError`` for floats anywhere in the body, for non-string keys, for
    types other than str/int/bool/None/list/dict, and (via ``rfc8785``) for integers
    outside the I-JSON safe range or strings that are not valid Unicode.
    """
    if not isinstance(body, Mapping):
        raise ValueError("a ledger body must be a JSON object")
    return rfc8785.dumps(_check_value(body, "$"))


def leaf_hash(canonical: bytes) -> bytes:
    """Return the RFC 9162 leaf hash ``SHA-256(0x00 || canonical)``."""
    return hashlib.sha256(_LEAF_PREFIX + canonical).digest()
