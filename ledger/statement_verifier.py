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
4. :func:`verify_entry`, which ties them together for one journal entry.

Sections below follow that order; whole-statement verification builds on section 4.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = [
    "VerificationError",
    "canonical_json",
    "leaf_hash_of",
    "verify_checkpoint_note",
    "verify_consistency",
    "verify_entry",
    "verify_inclusion",
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


def canonical_json(body: dict[str, Any]) -> bytes:
    """Return the RFC 8785 canonical JSON bytes of an entry body."""
    if not isinstance(body, dict):
        raise VerificationError("an entry body must be a JSON object")
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
        fn = leaf_index
        sn = tree_size - 1
        r = leaf_hash
        for p in path:
            if sn == 0:
                return False
            if fn % 2 == 1 or fn == sn:
                r = _hash_children(p, r)
                if fn % 2 == 0:
                    while fn != 0 and fn % 2 == 0:
                        fn //= 2
                        sn //= 2
            else:
                r = _hash_children(r, p)
            fn //= 2
            sn //= 2
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
