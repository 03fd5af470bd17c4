"""Standalone, offline verifier for IPX ledger entries.

This file is deliberately self-contained: it imports nothing from the IPX code base,
only the Python standard library, ``cryptography`` (for Ed25519) and, if installed,
``rfc8785`` (a small built-in fallback canonicaliser is used otherwise). Copy it anywhere
and run it: an inventor can check that an entry is in the ledger, and that the ledger
operator signed the tree containing it, without trusting IPX's servers or code.

It re-implements, independently of ``ledger.merkle`` / ``ledger.checkpoint``:

1. RFC 8785 (JCS) canonical JSON and the RFC 9162 leaf hash of an entry body;
2. RFC 9162 §2.1.3.2 inclusion and §2.1.4.2 consistency proof verification;
3. parsing of the signed checkpoint note (C2SP tlog-checkpoint in a C2SP signed-note)
   and its Ed25519 signature check;
4. :func:`verify_entry`, which ties them together for one journal entry;
5. the revenue waterfall (:func:`recompute_waterfall`, :func:`recompute_share`), written
   again from the published rules rather than imported;
6. :func:`verify_statement`, which checks a whole statement: the signed checkpoint, every
   line's entry, proof and amount, the balances, and every distribution's split;
7. a command line: ``python statement_verifier.py FILE.json [--public-key PEM_FILE]
   [--workers N]``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import gc
import hashlib
import json
import math
import multiprocessing
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Context, Decimal, Inexact, InvalidOperation, Overflow, Rounded, localcontext
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = [
    "Check",
    "LineVerdict",
    "StatementReport",
    "VerificationError",
    "canonical_json",
    "format_minor",
    "leaf_hash_of",
    "main",
    "recompute_share",
    "recompute_waterfall",
    "render_report",
    "verify_checkpoint_note",
    "verify_consistency",
    "verify_entry",
    "verify_inclusion",
    "verify_statement",
]

HASH_SIZE = 32


class VerificationError(Exception):
    """Raised with a human-readable reason when something does not verify."""


# --------------------------------------------------------------------------------------
# 1. Canonical JSON (RFC 8785) and leaf hashes
# --------------------------------------------------------------------------------------

_MAX_SAFE_INT = 2**53 - 1
_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r"}
_SHORT_ESCAPES["\t"] = "\\t"


def _jcs_string(s: str) -> str:
    out = ['"']
    for ch in s:
        if ch in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[ch])
        elif ch < " ":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)  # everything else verbatim, as UTF-8
    out.append('"')
    return "".join(out)


def _jcs_value(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        # Entry bodies only carry integers; within ±(2**53 - 1) JCS prints them plainly.
        if not -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT:
            raise VerificationError(f"integer {value} is outside the I-JSON range")
        return str(int(value))
    if isinstance(value, str):
        return _jcs_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_jcs_value(v) for v in value) + "]"
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise VerificationError("object keys must be strings")
        # JCS orders keys by their UTF-16 code units, which UTF-16-BE bytes compare as.
        keys = sorted(value, key=lambda k: k.encode("utf-16-be", "surrogatepass"))
        return "{" + ",".join(_jcs_string(k) + ":" + _jcs_value(value[k]) for k in keys) + "}"
    raise VerificationError(f"unsupported value of type {type(value).__name__} in entry body")


def _jcs_fallback(value: Any) -> bytes:
    """Minimal JCS for bodies of str/int/bool/None/list/dict (no floats)."""
    try:
        return _jcs_value(value).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise VerificationError("entry body contains invalid Unicode") from exc


def _reject_floats(value: Any) -> None:
    if isinstance(value, float):
        raise VerificationError("entry bodies never contain floats")
    if isinstance(value, dict):
        for v in value.values():
            _reject_floats(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _reject_floats(v)


def _load_jcs() -> Callable[[Any], bytes]:
    try:
        import rfc8785
    except ImportError:  # pragma: no cover - exercised by copying the file elsewhere
        return _jcs_fallback
    dumps: Callable[[Any], bytes] = rfc8785.dumps
    return dumps


_jcs = _load_jcs()


_ENCODE = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                           allow_nan=False).encode


def _plain(body: dict[str, Any]) -> bool:
    """Whether ``body`` holds only exact dicts with exact ``str`` keys below U+D800, lists,
    strings, booleans, None and I-JSON integers (see :func:`_fast_jcs`)."""
    if type(body) is not dict:
        return False
    stack: list[Any] = [body]
    pop, push = stack.pop, stack.append
    while stack:
        node = pop()
        if type(node) is dict:
            for key in node:
                if type(key) is not str:
                    return False
            # One pass over all the keys at once: nearly always ASCII.
            keys = "".join(node)
            if not keys.isascii() and max(keys) >= "\ud800":
                return False
            values: Any = node.values()
        else:
            values = node
        for value in values:
            kind = type(value)
            if kind is str or value is None or kind is bool:
                continue
            if kind is dict or kind is list:
                push(value)
            elif kind is not int or not -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT:
                return False
    return True


def _fast_jcs(body: dict[str, Any]) -> bytes | None:
    """JCS through the standard library's C JSON encoder, when that provably gives the same
    bytes; None when the careful path must decide.

    For plain dicts, lists, strings, booleans, None and I-JSON integers, ``json.dumps`` with
    sorted keys, no spaces and ``ensure_ascii=False`` escapes exactly what RFC 8785 escapes
    (quote, backslash, U+0000-U+001F with the same short forms and lowercase ``\\u00hh``)
    and sorts keys by code point, which equals JCS's UTF-16 order unless a key holds
    characters from U+D800 up: such bodies, and anything unusual, take the careful path.
    """
    if not _plain(body):
        return None
    return _encode_plain(body)


def _encode_plain(value: Any) -> bytes | None:
    """The C encoder's bytes for a value :func:`_plain` accepted (or a part of one)."""
    try:
        return _ENCODE(value).encode("utf-8")
    except (ValueError, TypeError):  # e.g. a lone surrogate: UnicodeEncodeError
        return None


def canonical_json(body: dict[str, Any]) -> bytes:
    """Return the RFC 8785 canonical JSON bytes of an entry body."""
    if not isinstance(body, dict):
        raise VerificationError("an entry body must be a JSON object")
    fast = _fast_jcs(body)
    if fast is not None:
        return fast
    _reject_floats(body)
    try:
        return _jcs(body)
    except VerificationError:
        raise
    except (ValueError, TypeError) as exc:
        raise VerificationError(f"entry body cannot be canonicalised: {exc}") from exc


def leaf_hash_of(body: dict[str, Any]) -> bytes:
    """Return the RFC 9162 leaf hash ``SHA-256(0x00 || JCS(body))`` of an entry body."""
    return hashlib.sha256(b"\x00" + canonical_json(body)).digest()


# --------------------------------------------------------------------------------------
# 2. Merkle proofs (RFC 9162 §2.1.3.2 and §2.1.4.2)
# --------------------------------------------------------------------------------------


def _hash_children(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _all_hashes(*values: Any) -> bool:
    if set(map(type, values)) == {bytes}:  # the usual case, checked without a Python loop
        return set(map(len, values)) == {HASH_SIZE}
    return all(isinstance(v, bytes) and len(v) == HASH_SIZE for v in values)


def verify_inclusion(
    leaf_hash: bytes, leaf_index: int, tree_size: int, path: list[bytes], root: bytes
) -> bool:
    """Return True iff ``path`` proves ``leaf_hash`` is leaf ``leaf_index`` of the tree
    of ``tree_size`` leaves with root ``root``. Never raises."""
    try:
        if not isinstance(leaf_index, int) or not isinstance(tree_size, int):
            return False
        if leaf_index < 0 or leaf_index >= tree_size:
            return False
        if not _all_hashes(leaf_hash, root, *path):
            return False
        sha256 = hashlib.sha256  # local: this loop runs for every line's every hash
        fn = leaf_index
        sn = tree_size - 1
        r = leaf_hash
        for p in path:
            if sn == 0:
                return False
            if fn & 1 or fn == sn:
                r = sha256(b"\x01" + p + r).digest()
                if not fn & 1:
                    while fn and not fn & 1:
                        fn >>= 1
                        sn >>= 1
            else:
                r = sha256(b"\x01" + r + p).digest()
            fn >>= 1
            sn >>= 1
        return sn == 0 and r == root
    except Exception:  # pragma: no cover - a verifier must answer, not crash
        return False


def verify_consistency(
    first_size: int, second_size: int, first_root: bytes, second_root: bytes, path: list[bytes]
) -> bool:
    """Return True iff ``path`` proves the tree (``second_size``, ``second_root``) is an
    append-only extension of (``first_size``, ``first_root``). Never raises."""
    try:
        if not isinstance(first_size, int) or not isinstance(second_size, int):
            return False
        if first_size <= 0 or first_size > second_size:
            return False
        if not _all_hashes(first_root, second_root, *path):
            return False
        if first_size == second_size:
            return len(path) == 0 and first_root == second_root
        if len(path) == 0:
            return False
        nodes = list(path)
        if first_size & (first_size - 1) == 0:
            nodes = [first_root, *nodes]
        fn = first_size - 1
        sn = second_size - 1
        while fn % 2 == 1:
            fn //= 2
            sn //= 2
        fr = nodes[0]
        sr = nodes[0]
        for c in nodes[1:]:
            if sn == 0:
                return False
            if fn % 2 == 1 or fn == sn:
                fr = _hash_children(c, fr)
                sr = _hash_children(c, sr)
                if fn % 2 == 0:
                    while fn != 0 and fn % 2 == 0:
                        fn //= 2
                        sn //= 2
            else:
                sr = _hash_children(sr, c)
            fn //= 2
            sn //= 2
        return sn == 0 and fr == first_root and sr == second_root
    except Exception:  # pragma: no cover - a verifier must answer, not crash
        return False


# --------------------------------------------------------------------------------------
# 3. Signed checkpoint notes
# --------------------------------------------------------------------------------------

_EM_DASH_SPACE = "\u2014 "


def _decode_b64(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise VerificationError(f"{what} is not valid base64") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise VerificationError(f"{what} is not canonical base64")
    return raw


def _load_ed25519_pem(public_key_pem: str | bytes) -> Ed25519PublicKey:
    data = public_key_pem.encode("ascii") if isinstance(public_key_pem, str) else public_key_pem
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise VerificationError("the public key is not a valid PEM public key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise VerificationError("the public key is not an Ed25519 key")
    return key


def _signed_note_key_id(name: str, raw_public_key: bytes) -> bytes:
    # C2SP signed-note: SHA-256(key name || "\n" || 0x01 (Ed25519) || public key)[:4].
    return hashlib.sha256(name.encode("utf-8") + b"\n\x01" + raw_public_key).digest()[:4]


def _parse_checkpoint_body(text: str) -> tuple[str, int, bytes]:
    lines = text.split("\n")
    if len(lines) != 4 or lines[3] != "":
        raise VerificationError("checkpoint text must be exactly origin, size and root lines")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    if origin == "" or "+" in origin or any(ch.isspace() for ch in origin):
        raise VerificationError("checkpoint origin line is malformed")
    size_ok = size_text.isascii() and size_text.isdigit() and len(size_text) <= 20
    if not size_ok or (len(size_text) > 1 and size_text.startswith("0")):
        raise VerificationError("checkpoint tree size line is malformed")
    root = _decode_b64(root_text, "checkpoint root hash")
    if len(root) != HASH_SIZE:
        raise VerificationError("checkpoint root hash is not 32 bytes")
    return origin, int(size_text), root


def verify_checkpoint_note(
    note: str, public_key_pem: str, *, origin: str | None = None
) -> tuple[str, int, bytes]:
    """Verify a signed checkpoint note against the ledger's public key (PEM).

    Returns ``(origin, tree_size, root_hash)``. Signature lines from other keys are
    ignored; a valid one from this key (by name and key id) is required. If ``origin`` is
    given, the checkpoint must name it. Raises :class:`VerificationError` otherwise.
    """
    if not isinstance(note, str) or not note.endswith("\n"):
        raise VerificationError("checkpoint note is malformed (must end with a newline)")
    cut = note.rfind("\n\n")
    if cut < 0:
        raise VerificationError("checkpoint note has no blank line before its signatures")
    text = note[: cut + 1]
    signature_lines = note[cut + 2 : -1].split("\n")

    cp_origin, tree_size, root = _parse_checkpoint_body(text)
    if origin is not None and cp_origin != origin:
        raise VerificationError(f"checkpoint is for origin {cp_origin!r}, expected {origin!r}")

    key = _load_ed25519_pem(public_key_pem)
    raw_key = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    wanted_id = _signed_note_key_id(cp_origin, raw_key)

    found = False
    for line in signature_lines:
        if not line.startswith(_EM_DASH_SPACE):
            raise VerificationError(f"malformed signature line in checkpoint note: {line!r}")
        fields = line[len(_EM_DASH_SPACE) :].split(" ")
        if len(fields) != 2 or fields[0] == "":
            raise VerificationError(f"malformed signature line in checkpoint note: {line!r}")
        name, blob_text = fields
        blob = _decode_b64(blob_text, "checkpoint signature")
        if len(blob) < 5:
            raise VerificationError("checkpoint signature is too short")
        if name != cp_origin or blob[:4] != wanted_id:
            continue  # someone else's (co)signature: not ours to judge
        try:
            key.verify(blob[4:], text.encode("utf-8"))
        except InvalidSignature:
            raise VerificationError("checkpoint signature is invalid for this key") from None
        found = True
    if not found:
        raise VerificationError(
            f"checkpoint note carries no signature from this key (key id {wanted_id.hex()})"
        )
    return cp_origin, tree_size, root


# --------------------------------------------------------------------------------------
# 4. Entries
# --------------------------------------------------------------------------------------


def _hex_hashes(texts: list[Any], what: str) -> list[bytes]:
    """``[_hex_hash(t, f"{what} {i}") ...]``, decoded in one call when every text is 64 hex
    digits (then the whole decodes to exactly 32 bytes per text), else one by one."""
    try:
        if set(map(len, texts)) == {64}:
            raw = bytes.fromhex("".join(texts))
            if len(raw) == HASH_SIZE * len(texts):
                return [raw[i:i + HASH_SIZE] for i in range(0, len(raw), HASH_SIZE)]
    except (TypeError, ValueError):
        pass  # the careful path names the bad one
    return [_hex_hash(t, f"{what} {i}") for i, t in enumerate(texts)]


def _hex_hash(text: str, what: str) -> bytes:
    try:
        raw = bytes.fromhex(text)
    except (ValueError, TypeError) as exc:
        raise VerificationError(f"{what} is not valid hex") from exc
    if len(raw) != HASH_SIZE:
        raise VerificationError(f"{what} is not a 32-byte hash")
    return raw


def verify_entry(
    body: dict[str, Any],
    leaf_hash_hex: str,
    leaf_index: int,
    path_hex: list[str],
    checkpoint_note: str,
    public_key_pem: str,
) -> None:
    """Check that ``body`` is leaf ``leaf_index`` of the tree signed in ``checkpoint_note``.

    Steps: the body's leaf hash must equal ``leaf_hash_hex``; the note must carry a valid
    signature by ``public_key_pem``; ``path_hex`` must prove inclusion of that leaf in the
    signed tree. Returns ``None`` on success, raises :class:`VerificationError` otherwise.
    """
    claimed = _hex_hash(leaf_hash_hex, "leaf hash")
    if leaf_hash_of(body) != claimed:
        raise VerificationError("entry body does not match its leaf hash (body altered?)")
    if not isinstance(path_hex, list):
        raise VerificationError("the inclusion path must be a list of hex strings")
    path = [_hex_hash(p, f"inclusion path element {i}") for i, p in enumerate(path_hex)]
    _origin, tree_size, root = verify_checkpoint_note(checkpoint_note, public_key_pem)
    if not isinstance(leaf_index, int) or not 0 <= leaf_index < tree_size:
        raise VerificationError(
            f"leaf index {leaf_index} is not inside the signed tree of size {tree_size}"
        )
    if not verify_inclusion(claimed, leaf_index, tree_size, path, root):
        raise VerificationError(
            f"inclusion proof for leaf {leaf_index} does not match the signed root "
            f"of the tree of size {tree_size}"
        )


# --------------------------------------------------------------------------------------
# 5. The revenue waterfall, re-implemented independently
# --------------------------------------------------------------------------------------
#
# The same rules as the service (every step rounds down to the minor unit):
#   platform_fee = floor(gross * bps / 10000)            -> operator
#   then each policy step on what is left, in order:
#     admin_fee     = floor(left * percent / 100)        -> owner
#     cost_recovery = min(left, unrecovered costs)       -> owner
#   net = what is left. The receipt covers cumulative net income
#   [cumulative_net_before, cumulative_net_before + net); each tier (bounds: its `from`
#   times 10**exponent, rounded up) takes the overlapping part, and each class gets
#   floor(part * percent / 100) of it. A holder gets floor(class_total * units / class_units).
#   Whatever is left over goes to the residual holder as one "residual" line.
# Steps are always listed (platform fee first), zero amounts included; every holder with
# units gets a line, zero amounts included; the residual line only if it is not zero.

RESIDUAL = "residual"


def _ratio(value: Any, what: str) -> tuple[int, int]:
    """An exact decimal string as (numerator, denominator), denominator > 0."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise VerificationError(f"{what} must be a decimal string")
    text = str(value)
    if len(text) > 64:
        raise VerificationError(f"{what} is too long")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise VerificationError(f"{what} {text!r} is not a decimal number") from None
    if not number.is_finite() or abs(number.adjusted()) > 40:
        raise VerificationError(f"{what} {text!r} is out of range")
    return number.as_integer_ratio()


def _whole(value: Any, what: str, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise VerificationError(f"{what} must be an integer >= {low}")
    return int(value)


def _ten_to(exponent: int) -> int:
    if not 0 <= exponent <= 18:
        raise VerificationError(f"currency exponent {exponent} is out of range")
    return int(10**exponent)


# A plain amount with at most `exponent` decimals, which _to_minor reads without Decimal; any
# other text (signs, exponents, spaces, other digits, more places) takes the careful path.
_PLAIN_AMOUNT = re.compile(r"(-?)([0-9]{1,40})(?:\.([0-9]{1,18}))?").fullmatch


def _to_minor(value: Any, exponent: int, what: str) -> int:
    """A decimal amount string as integer minor units; it must be a whole number of them."""
    plain = _PLAIN_AMOUNT(value) if type(value) is str and 0 <= exponent <= 18 else None
    if plain is not None:
        sign, units, places = plain.groups()
        if places is None or len(places) <= exponent:
            minor = int(units + (places or "").ljust(exponent, "0"))
            return -minor if sign else minor
    num, den = _ratio(value, what)
    scaled = num * _ten_to(exponent)
    if scaled % den:
        raise VerificationError(f"{what} {value!r} is not a whole number of minor units")
    return scaled // den


def format_minor(minor: int, exponent: int) -> str:
    """Integer minor units as a decimal string with ``exponent`` places (12345, 2 -> 123.45)."""
    digits = str(abs(minor)).rjust(exponent + 1, "0")
    sign = "-" if minor < 0 else ""
    return f"{sign}{digits[:-exponent]}.{digits[-exponent:]}" if exponent else f"{sign}{digits}"


def recompute_share(class_total: int, units: int, class_units: int) -> int:
    """A holder's line: floor(class_total * units / class_units); 0 for a class with no units."""
    return 0 if class_units <= 0 else (class_total * units) // class_units


def recompute_waterfall(
    *,
    gross: int,
    currency_exponent: int,
    policy: Mapping[str, Any],
    platform_fee_bps: int,
    unrecovered_costs: int,
    cumulative_net_before: int,
    owner_id: str,
    operator_id: str,
    holdings: Mapping[str, Mapping[str, int]],
) -> dict[str, Any]:
    """Re-run a distribution from its inputs; raise :class:`VerificationError` if they are
    unusable.

    ``holdings`` maps class -> party -> units. Returns a dict with ``steps`` (a list of
    ``(kind, amount, party_id)``), ``net``, ``class_totals`` and ``class_units`` (every policy
    class), ``lines`` (a list of ``(party_id, class, units, amount)``, by class in policy
    order then party, the residual last) and ``residual``; all amounts in minor units.
    """
    gross = _whole(gross, "gross", 1)
    exponent = _whole(currency_exponent, "currency_exponent")
    bps = _whole(platform_fee_bps, "platform_fee_bps")
    if bps > 10_000:
        raise VerificationError("platform_fee_bps must be at most 10000")
    unrecovered = _whole(unrecovered_costs, "unrecovered_costs")
    before = _whole(cumulative_net_before, "cumulative_net_before")
    if not isinstance(policy, Mapping):
        raise VerificationError("the policy must be an object")
    classes = policy.get("classes")
    if (not isinstance(classes, list) or not classes or RESIDUAL in classes
            or not all(isinstance(c, str) for c in classes) or len(set(classes)) != len(classes)):
        raise VerificationError("the policy's classes must be unique names")

    fee = (gross * bps) // 10_000
    steps: list[tuple[str, int, str]] = [("platform_fee", fee, operator_id)]
    remaining = gross - fee
    policy_steps = policy.get("steps", [])
    if not isinstance(policy_steps, list):
        raise VerificationError("the policy's steps must be a list")
    for step in policy_steps:
        kind = step.get("kind") if isinstance(step, Mapping) else None
        if kind == "admin_fee":
            num, den = _ratio(step.get("percent"), "admin_fee percent")
            if num < 0 or num > 100 * den:
                raise VerificationError("admin_fee percent must be between 0 and 100")
            taken = (remaining * num) // (den * 100)
        elif kind == "cost_recovery":
            taken = unrecovered if unrecovered < remaining else remaining
        else:
            raise VerificationError(f"unknown policy step {kind!r}")
        steps.append((kind, taken, owner_id))
        remaining -= taken
    net = remaining

    tiers = policy.get("tiers")
    if not isinstance(tiers, list) or not tiers:
        raise VerificationError("the policy has no tiers")
    starts: list[int] = []
    for tier in tiers:
        if not isinstance(tier, Mapping):
            raise VerificationError("a policy tier must be an object")
        num, den = _ratio(tier.get("from"), "tier from")
        starts.append(-((-num * _ten_to(exponent)) // den))  # ceiling
    if starts[0] > 0 or starts != sorted(starts):
        raise VerificationError("the policy's tiers must start at 0 and ascend")

    class_totals = dict.fromkeys(classes, 0)
    position = before
    end_of_receipt = before + net
    for index, tier in enumerate(tiers):
        upper = starts[index + 1] if index + 1 < len(tiers) else end_of_receipt
        lower = max(position, starts[index])
        portion = min(upper, end_of_receipt) - lower
        if portion <= 0:
            continue
        shares = tier.get("shares")
        if not isinstance(shares, Mapping) or sorted(shares) != sorted(classes):
            raise VerificationError("every policy tier must give a share to each class")
        ratios = {c: _ratio(shares[c], f"share of {c}") for c in classes}
        # Percentages must sum to exactly 100: compare over a common denominator.
        common = 1
        for _, den in ratios.values():
            common = common * den // math.gcd(common, den)
        if sum(n * (common // d) for n, d in ratios.values()) != 100 * common or any(
            n < 0 for n, _ in ratios.values()
        ):
            raise VerificationError("a policy tier's shares must be non-negative and sum to 100")
        for c in classes:
            num, den = ratios[c]
            class_totals[c] += (portion * num) // (den * 100)
        position = lower + portion

    unknown = set(holdings) - set(classes)
    if unknown:
        raise VerificationError(f"units of classes the policy does not have: {sorted(unknown)}")
    class_units = {c: sum(holdings.get(c, {}).values()) for c in classes}
    lines: list[tuple[str, str, int, int]] = []
    for c in classes:
        members = holdings.get(c, {})
        for party in sorted(members):
            units = _whole(members[party], f"units of {party}")
            if units:
                lines.append((party, c, units, recompute_share(class_totals[c], units,
                                                               class_units[c])))
    residual = net - sum(line[3] for line in lines)
    if residual:
        named = policy.get("residual_holder", "owner")
        lines.append((owner_id if named == "owner" else str(named), RESIDUAL, 0, residual))
    return {
        "steps": steps,
        "net": net,
        "class_totals": class_totals,
        "class_units": class_units,
        "lines": lines,
        "residual": residual,
    }


# --------------------------------------------------------------------------------------
# 6. Whole statements
# --------------------------------------------------------------------------------------


@dataclass
class Check:
    """One statement-wide check; a ``warning`` passes but deserves the reader's attention."""

    name: str
    ok: bool
    message: str
    warning: bool = False


@dataclass
class LineVerdict:
    """The verdict on one statement line: ``problems`` is empty when it verifies."""

    number: int
    seq: int | None
    kind: str
    amount: str
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def label(self) -> str:
        return f"line {self.number} (seq {self.seq})"

    @property
    def messages(self) -> list[str]:
        """Each problem as ``"line N (seq S): ..."``."""
        return [f"{self.label}: {p}" for p in self.problems]

    @property
    def message(self) -> str:
        if self.ok:
            return f"{self.label}: {self.kind} {self.amount} verifies"
        return "; ".join(self.messages)


@dataclass
class StatementReport:
    """Everything :func:`verify_statement` found; ``ok`` is True only if all of it verifies."""

    party_id: str
    currency: str
    period: str
    key_supplied: bool
    checks: list[Check] = field(default_factory=list)
    lines: list[LineVerdict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks) and all(v.ok for v in self.lines)

    @property
    def failures(self) -> list[str]:
        """Every failure message, statement-wide checks first."""
        out = [f"{c.name}: {c.message}" for c in self.checks if not c.ok]
        for verdict in self.lines:
            out.extend(verdict.messages)
        return out


_EXACT = Context(prec=200, traps=[InvalidOperation, Inexact, Rounded, Overflow])
DISTRIBUTION_KIND = "revenue.distributed"


def _money(value: Any, what: str) -> Decimal:
    if not isinstance(value, str) or len(value) > 64:
        raise VerificationError(f"{what} must be a decimal string")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise VerificationError(f"{what} {value!r} is not a decimal number") from None
    if not number.is_finite() or abs(number.adjusted()) > 40:
        raise VerificationError(f"{what} {value!r} is out of range")
    return number


def _time(value: Any, what: str) -> datetime:
    if not isinstance(value, str):
        raise VerificationError(f"{what} must be an ISO 8601 time")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise VerificationError(f"{what} {value!r} is not an ISO 8601 time") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _account_owner(code: Any) -> str | None:
    return code.split(":", 1)[0] if isinstance(code, str) else None


def _party_postings(entry: dict[str, Any], party: str, currency: str) -> list[Decimal]:
    """The amounts of the entry's postings to any of the party's accounts in ``currency``."""
    postings = entry.get("postings", [])
    if not isinstance(postings, list):
        raise VerificationError("the entry's postings must be a list")
    out = []
    for i, posting in enumerate(postings):
        if not isinstance(posting, dict):
            raise VerificationError(f"posting {i} of the entry is malformed")
        if _account_owner(posting.get("account")) == party and posting.get("currency") == currency:
            out.append(_money(posting.get("amount"), f"posting {i} amount"))
    return out


def _sum(values: list[Decimal], zero: Decimal) -> Decimal:
    with localcontext(_EXACT):
        total = zero
        for value in values:
            total += value
        return total


def _note_fields(note: Any) -> tuple[str, int, bytes] | None:
    """The (origin, size, root) a note claims, without checking its signature."""
    if not isinstance(note, str):
        return None
    cut = note.rfind("\n\n")
    try:
        return _parse_checkpoint_body(note[: cut + 1]) if cut >= 0 else None
    except VerificationError:
        return None


def _check_distribution(entry: dict[str, Any], party: str, currency: str,
                        posted: Decimal, plain: bool = False) -> list[str]:
    """Problems with one ``revenue.distributed`` entry, as seen by ``party``; ``plain`` when
    :func:`_plain` accepted the whole entry (so its policy body may be encoded directly)."""
    try:
        return _distribution_problems(entry, party, currency, posted, plain)
    except (VerificationError, KeyError, TypeError, AttributeError, ValueError) as exc:
        what = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        return [f"distribution entry is malformed: {what}"]


def _distribution_problems(entry: dict[str, Any], party: str, currency: str,
                           posted: Decimal, plain: bool) -> list[str]:
    problems: list[str] = []
    data = entry["data"]
    exp = _whole(data["currency_exponent"], "currency_exponent")

    def fmt(minor: int) -> str:
        return format_minor(minor, exp)

    def amount(value: Any, what: str) -> int:
        return _to_minor(value, exp, what)

    if data.get("currency") != currency:
        problems.append(f"distribution is in {data.get('currency')}, the statement in {currency}")
    policy = data["policy"]
    body = policy["body"]
    encoded = _encode_plain(body) if plain and type(body) is dict else None
    if encoded is None:
        encoded = canonical_json(body)
    if hashlib.sha256(encoded).hexdigest() != policy["hash"]:
        problems.append("distribution policy body does not hash to its policy.hash")

    gross = amount(data["gross"], "gross")
    steps = [(s["kind"], amount(s["amount"], f"step {s['kind']}"), s["party_id"])
             for s in data["steps"]]
    net = amount(data["net"], "net")
    totals = {c: amount(v, f"class total {c}") for c, v in data["class_totals"].items()}
    units = {c: _whole(v, f"class_units {c}") for c, v in data["class_units"].items()}
    lines = [(ln["party_id"], ln["class"], _whole(ln["units"], "line units"),
              amount(ln["amount"], "line amount")) for ln in data["lines"]]

    holdings: dict[str, dict[str, int]] = {}
    for who, cls, held, _ in lines:
        if cls == RESIDUAL:
            continue
        if who in holdings.setdefault(cls, {}):
            problems.append(f"distribution lists {who} twice in class {cls}")
        holdings[cls][who] = holdings[cls].get(who, 0) + held

    # 1. The class-level waterfall from the recorded inputs and the pinned policy.
    again = recompute_waterfall(
        gross=gross, currency_exponent=exp, policy=body,
        platform_fee_bps=data["platform_fee_bps"],
        unrecovered_costs=amount(data["unrecovered_costs_before"], "unrecovered_costs_before"),
        cumulative_net_before=amount(data["cumulative_net_before"], "cumulative_net_before"),
        owner_id=data["owner_id"], operator_id=data["operator_id"], holdings=holdings,
    )
    if [s[0] for s in steps] != [s[0] for s in again["steps"]]:
        problems.append(f"distribution steps {[s[0] for s in steps]} are not the policy's "
                        f"{[s[0] for s in again['steps']]}")
    else:
        for (kind, got, to), (_, want, want_to) in zip(steps, again["steps"], strict=True):
            if got != want:
                problems.append(f"distribution step {kind} {fmt(got)} differs from "
                                f"recomputed {fmt(want)}")
            if to != want_to:
                problems.append(f"distribution step {kind} goes to {to}, not {want_to}")
    if net != again["net"]:
        problems.append(f"distribution net {fmt(net)} differs from recomputed "
                        f"{fmt(again['net'])}")
    if sorted(totals) != sorted(again["class_totals"]):
        problems.append(f"distribution class totals name {sorted(totals)}, the policy's "
                        f"classes are {sorted(again['class_totals'])}")
    for cls, want in again["class_totals"].items():
        if cls in totals and totals[cls] != want:
            problems.append(f"distribution class total {cls} {fmt(totals[cls])} differs from "
                            f"recomputed {fmt(want)} (the policy's tiers do not give it)")
    for cls, want_units in again["class_units"].items():
        if units.get(cls) != want_units:
            problems.append(f"distribution class_units {cls} says {units.get(cls)} but its "
                            f"lines hold {want_units} units")

    # 2. The party's own line(s), from its own units and the class's total and units alone.
    for who, cls, held, got in lines:
        if who != party or cls == RESIDUAL:
            continue
        if cls not in totals or cls not in units:
            problems.append(f"distribution line in class {cls}, which has no total or units")
            continue
        want = recompute_share(totals[cls], held, units[cls])
        if got != want:
            problems.append(
                f"distribution share {fmt(got)} differs from recomputed {fmt(want)} "
                f"(class {cls}: floor({fmt(totals[cls])} x {held} / {units[cls]}))"
            )

    # 3. The other lines and the residual, which the whole entry lets us check too.
    for who, cls, held, got in lines:
        if who == party or cls == RESIDUAL or cls not in totals or cls not in units:
            continue
        want = recompute_share(totals[cls], held, units[cls])
        if got != want:
            problems.append(f"distribution line of {who} ({cls}) {fmt(got)} differs from "
                            f"recomputed {fmt(want)}")
    residuals = [(who, got) for who, cls, _, got in lines if cls == RESIDUAL]
    want_residual = net - sum(got for _, cls, _, got in lines if cls != RESIDUAL)
    got_residual = sum(got for _, got in residuals)
    if got_residual != want_residual or len(residuals) > 1 or (want_residual and not residuals):
        problems.append(f"distribution residual {fmt(got_residual)} differs from recomputed "
                        f"{fmt(want_residual)}")
    named = body.get("residual_holder", "owner") if isinstance(body, Mapping) else "owner"
    want_holder = data["owner_id"] if named == "owner" else named
    for who, _ in residuals:
        if who != want_holder:
            problems.append(f"distribution residual goes to {who}, not to {want_holder}")
    total = sum(s[1] for s in steps) + sum(ln[3] for ln in lines)
    if total != gross:
        problems.append(f"distribution steps and lines sum to {fmt(total)}, not the gross "
                        f"{fmt(gross)}")

    # 4. What the entry says the party receives must be what was posted to it.
    receives = sum(s[1] for s in steps if s[2] == party)
    receives += sum(ln[3] for ln in lines if ln[0] == party)
    paid_in = entry.get("actor") == party and any(
        p == -_money(data["gross"], "gross") for p in _party_postings(entry, party, currency)
    )
    expected = receives - gross if paid_in else receives
    if _money(fmt(expected), "expected") != posted:
        how = (f"its lines and steps {fmt(receives)} less the gross {fmt(gross)} it paid in"
               if paid_in else "its lines and steps")
        problems.append(f"distribution credits the party {fmt(expected)} ({how}) but the "
                        f"entry's postings to the party sum to {posted}")
    return problems


def verify_statement(
    statement: dict[str, Any], public_key_pem: str | None = None, *, workers: int = 1
) -> StatementReport:
    """Verify a whole statement offline; never raises on bad input, reports it instead.

    Checks the checkpoint's signature (with ``public_key_pem``, or the statement's own key,
    in which case the report says so), that the checkpoint fields match the signed note,
    every line's leaf hash, leaf index and inclusion proof against the signed root, that
    each line's amount is the sum of the entry's postings to the party in the statement's
    currency, that lines are in increasing ``seq`` order within ``[from, to]``, that the
    opening balance plus the lines equals the closing balance exactly, and for each
    distribution: the policy hash, the waterfall re-run, and the party's own share.

    With ``workers`` above 1 (the command line's default is one per CPU), on Linux, the
    lines of a long statement are checked by that many processes, forked so that they share
    the parsed statement; the report is the same.
    """
    st: dict[str, Any] = statement if isinstance(statement, dict) else {}
    party = st.get("party_id")
    currency = st.get("currency")
    report = StatementReport(
        party_id=str(party), currency=str(currency),
        period=f"{st.get('from')} to {st.get('to')}", key_supplied=public_key_pem is not None,
    )
    checks = report.checks
    if not isinstance(party, str) or not party or not isinstance(currency, str) or not currency:
        checks.append(Check("statement", False, "not a statement: party_id and currency needed"))
        return report
    exponent = st.get("currency_exponent")
    zero = Decimal(0).scaleb(-exponent) if isinstance(exponent, int) and exponent >= 0 else (
        Decimal(0))

    # The key and the checkpoint.
    embedded = st.get("public_key")
    embedded_pem = embedded.get("public_key_pem") if isinstance(embedded, dict) else None
    pem = public_key_pem if public_key_pem is not None else embedded_pem
    if public_key_pem is not None:
        checks.append(Check("public key", True, "supplied independently of the statement"))
    else:
        checks.append(Check(
            "public key", True,
            "not independently supplied: the statement's own key was used, which shows the "
            "statement is self-consistent but not that IPX signed it; pass IPX's published "
            "public key to check that", warning=True))
    checkpoint = st.get("checkpoint")
    checkpoint = checkpoint if isinstance(checkpoint, dict) else {}
    root: bytes | None = None
    size: int | None = None
    try:
        note = checkpoint.get("note")
        if not isinstance(pem, str):
            raise VerificationError("no public key to check it with")
        if not isinstance(note, str):
            raise VerificationError("the checkpoint carries no signed note")
        origin, size, root = verify_checkpoint_note(note, pem)
        checks.append(Check("checkpoint", True, f"signed note for {origin}, tree size {size}"))
    except VerificationError as exc:
        checks.append(Check("checkpoint", False, f"signature does not verify: {exc}"))
        claimed = _note_fields(checkpoint.get("note"))
        if claimed is not None:
            origin, size, root = claimed
    if size is not None and root is not None:
        wrong = []
        if checkpoint.get("tree_size") != size:
            wrong.append(f"tree_size {checkpoint.get('tree_size')} but the note says {size}")
        if checkpoint.get("root_hash") != root.hex():
            wrong.append("root_hash does not match the note's root")
        if "origin" in checkpoint and checkpoint.get("origin") != origin:
            wrong.append(f"origin {checkpoint.get('origin')!r} but the note says {origin!r}")
        if wrong:
            checks.append(Check("checkpoint fields", False, "; ".join(wrong)))

    # The period.
    start = end = None
    try:
        start, end = _time(st.get("from"), "from"), _time(st.get("to"), "to")
        if start > end:
            checks.append(Check("period", False, f"from {st.get('from')} is after to "
                                                 f"{st.get('to')}"))
    except VerificationError as exc:
        checks.append(Check("period", False, str(exc)))

    # The lines.
    raw_lines = st.get("lines")
    if not isinstance(raw_lines, list):
        checks.append(Check("statement", False, "lines must be a list"))
        raw_lines = []
    verdicts, amounts = _verify_lines(raw_lines, (party, currency, zero, root, size, start, end),
                                      workers)
    report.lines.extend(verdicts)

    # The balances.
    try:
        opening = _money(st.get("opening_balance"), "opening_balance")
        closing = _money(st.get("closing_balance"), "closing_balance")
        lines_total = _sum(amounts, zero)
        reached = _sum([opening, lines_total], zero)
        text = f"opening {opening} + lines {lines_total} = {reached}"
        if len(amounts) != len(raw_lines):
            checks.append(Check("balances", False, f"{text}, but some line amounts are "
                                                   "unreadable"))
        elif reached != closing:
            checks.append(Check("balances", False, f"{text} but closing says {closing}"))
        else:
            checks.append(Check("balances", True, f"{text}, the closing balance"))
    except VerificationError as exc:
        checks.append(Check("balances", False, str(exc)))
    return report


# Below this many lines a second process costs more than it saves.
PARALLEL_FROM = 1000
LineContext = tuple[str, str, Decimal, bytes | None, int | None, datetime | None,
                    datetime | None]  # party, currency, zero, root, size, start, end


def _previous_seqs(lines: list[Any]) -> list[int | None]:
    """For each line, the largest integer seq of the lines before it, which its own seq must
    exceed: known up front, so that the lines can be checked independently."""
    before: list[int | None] = []
    previous: int | None = None
    for line in lines:
        before.append(previous)
        seq = line.get("seq") if isinstance(line, dict) else None
        if isinstance(seq, int):
            previous = seq if previous is None else max(previous, seq)
    return before


def _check_lines(lines: list[Any], previous: list[int | None], where: LineContext,
                 bounds: tuple[int, int]) -> tuple[list[LineVerdict], list[Decimal]]:
    amounts: list[Decimal] = []
    verdicts = [_verify_line(n + 1, lines[n], *where, previous[n], amounts)
                for n in range(*bounds)]
    return verdicts, amounts


def _check_lines_and_send(sender: Any, *args: Any) -> None:
    sender.send(_check_lines(*args))
    sender.close()


def _verify_lines(lines: list[Any], where: LineContext, workers: int
                  ) -> tuple[list[LineVerdict], list[Decimal]]:
    """Every line's verdict, in order, and the amounts that could be read."""
    previous = _previous_seqs(lines)
    if workers < 2 or len(lines) < PARALLEL_FROM or not sys.platform.startswith("linux"):
        return _check_lines(lines, previous, where, (0, len(lines)))
    cuts = [len(lines) * k // workers for k in range(workers + 1)]
    parts = list(zip(cuts, cuts[1:], strict=False))
    # Forked children inherit the statement as it is (nothing pickled on the way in); each
    # sends back its verdicts. This process checks the first part meanwhile.
    context = multiprocessing.get_context("fork")
    children: list[tuple[Any, Any, tuple[int, int]]] = []
    for bounds in parts[1:]:
        receiver, sender = context.Pipe(duplex=False)
        child: Any = context.Process(target=_check_lines_and_send, daemon=True,
                                     args=(sender, lines, previous, where, bounds))
        try:
            child.start()
        except OSError:  # no process to be had: its part is checked here (EOF below)
            child = None
        sender.close()
        children.append((child, receiver, bounds))
    results = [_check_lines(lines, previous, where, parts[0])]
    for child, receiver, bounds in children:
        try:
            results.append(receiver.recv())
        except EOFError:  # the child died, or never started: check its part here
            results.append(_check_lines(lines, previous, where, bounds))
        receiver.close()
        if child is not None:
            child.join()
    return ([verdict for verdicts, _ in results for verdict in verdicts],
            [amount for _, amounts in results for amount in amounts])


def _verify_line(
    number: int, line: Any, party: str, currency: str, zero: Decimal, root: bytes | None,
    size: int | None, start: datetime | None, end: datetime | None, previous: int | None,
    amounts: list[Decimal],
) -> LineVerdict:
    if not isinstance(line, dict):
        return LineVerdict(number, None, "?", "?", ["is not an object"])
    seq = line.get("seq")
    verdict = LineVerdict(number, seq if isinstance(seq, int) else None,
                          str(line.get("kind")), str(line.get("amount")))
    problems = verdict.problems
    entry = line.get("entry")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        problems.append("seq must be a positive integer")
    elif previous is not None and seq == previous:
        problems.append(f"duplicates seq {seq} of an earlier line")
    elif previous is not None and seq < previous:
        problems.append(f"is out of order: seq {seq} comes after seq {previous}")
    try:
        amount = _money(line.get("amount"), "amount")
        amounts.append(amount)
    except VerificationError as exc:
        problems.append(str(exc))
        amount = None
    if not isinstance(entry, dict):
        problems.append("carries no entry body")
        return verdict

    # The entry itself: in the log, and the line's own fields taken from it.
    for key in ("seq", "kind", "at"):
        if key in line and line[key] != entry.get(key):
            problems.append(f"{key} {line[key]!r} but the entry says {entry.get(key)!r}")
    plain = False
    try:
        leaf_hex = line.get("leaf_hash")
        if not isinstance(leaf_hex, str):
            raise VerificationError("leaf hash is missing")
        claimed = _hex_hash(leaf_hex, "leaf hash")
        # Checked once here, so the distribution below may encode its parts directly.
        plain = _plain(entry)
        encoded = _encode_plain(entry) if plain else None
        if encoded is None:
            plain = False
            encoded = canonical_json(entry)
        if hashlib.sha256(b"\x00" + encoded).digest() != claimed:
            problems.append("leaf hash does not match the entry body")
    except VerificationError as exc:
        problems.append(str(exc) if "leaf hash" in str(exc) else f"entry body: {exc}")
        claimed = None
    proof = line.get("inclusion_proof")
    if not isinstance(proof, dict):
        problems.append("has no inclusion proof")
    elif root is None or size is None:
        problems.append("inclusion proof cannot be checked: no usable checkpoint root")
    else:
        index, proof_size, path_hex = (proof.get("leaf_index"), proof.get("tree_size"),
                                       proof.get("path"))
        if isinstance(seq, int) and index != seq - 1:
            problems.append(f"inclusion proof is for leaf {index}, but seq {seq} is leaf "
                            f"{seq - 1}")
        if proof_size != size:
            problems.append(f"inclusion proof is for tree size {proof_size}, but the "
                            f"checkpoint's is {size}")
        try:
            if not isinstance(path_hex, list):
                raise VerificationError("the inclusion path must be a list")
            path = _hex_hashes(path_hex, "inclusion path element")
            if claimed is not None and not (isinstance(index, int) and verify_inclusion(
                    claimed, index, size, path, root)):
                problems.append("inclusion proof does not verify against the checkpoint root")
        except VerificationError as exc:
            problems.append(f"inclusion proof is malformed: {exc}")

    # When it happened.
    try:
        at = _time(entry.get("at"), "entry time")
        if start is not None and end is not None and not start <= at <= end:
            problems.append(f"entry time {entry.get('at')} is outside the statement period")
    except VerificationError as exc:
        problems.append(str(exc))

    # The amount: the entry's postings to the party's accounts in this currency.
    try:
        posted = _sum(_party_postings(entry, party, currency), zero)
    except VerificationError as exc:
        problems.append(str(exc))
        return verdict
    if amount is not None and amount != posted:
        problems.append(f"amount {amount} but the entry's postings to the party sum to {posted}")
    if entry.get("kind") == DISTRIBUTION_KIND:
        problems.extend(_check_distribution(entry, party, currency, posted, plain))
    return verdict


# --------------------------------------------------------------------------------------
# 7. Command line
# --------------------------------------------------------------------------------------


def render_report(report: StatementReport) -> str:
    """The report as text: a verdict per check and per line, then a summary."""
    out = [f"Statement of {report.party_id} in {report.currency}, {report.period}"]

    def show(check: Check) -> None:
        mark = "\u2717" if not check.ok else ("!" if check.warning else "\u2713")
        out.append(f"{mark} {check.name}: {check.message}")

    for check in report.checks:
        if check.name != "balances":
            show(check)
    for verdict in report.lines:
        if verdict.ok:
            out.append(f"\u2713 {verdict.message}")
        else:
            out.extend(f"\u2717 {message}" for message in verdict.messages)
    for check in report.checks:
        if check.name == "balances":
            show(check)
    bad_lines = sum(not v.ok for v in report.lines)
    if report.ok:
        summary = f"VERIFIED: all {len(report.lines)} lines and the balances check out"
        if not report.key_supplied:
            summary += " (against the statement's own key; see the warning above)"
    else:
        summary = (f"NOT VERIFIED: {len(report.failures)} problem(s), "
                   f"{bad_lines} of {len(report.lines)} lines failing")
    out.append(summary)
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """``python statement_verifier.py FILE.json [--public-key PEM_FILE] [--workers N]``.

    Prints a verdict per line and a summary; returns 0 only if everything verifies, 1 if
    something does not, 2 if the files cannot be read.
    """
    parser = argparse.ArgumentParser(
        prog="statement_verifier.py",
        description="Verify an IPX statement offline: signature, proofs, balances, shares.")
    parser.add_argument("file", help="the statement, as JSON")
    parser.add_argument("--public-key", metavar="PEM_FILE",
                        help="IPX's published ledger public key (PEM); without it the "
                             "statement's own key is used")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, metavar="N",
                        help="processes checking the lines of a long statement (default: "
                             "one per CPU)")
    args = parser.parse_args(argv)
    # Reading and checking a statement makes millions of objects and no reference cycles:
    # the cyclic collector, run every few hundred allocations, would only spend time (half
    # of reading a 30 MiB statement) finding nothing.
    collecting = gc.isenabled()
    gc.disable()
    try:
        try:
            with open(args.file, encoding="utf-8") as fh:
                statement = json.load(fh)
            pem = None
            if args.public_key is not None:
                with open(args.public_key, encoding="utf-8") as fh:
                    pem = fh.read()
        except (OSError, ValueError) as exc:
            print(f"cannot read input: {exc}", file=sys.stderr)
            return 2
        report = verify_statement(statement, pem, workers=args.workers)
        text = render_report(report)
    finally:
        if collecting:
            gc.enable()
    try:
        print(text)
    except UnicodeEncodeError:
        print(text.encode("ascii", "backslashreplace").decode("ascii"))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
