"""Signed checkpoints: the transparency-log checkpoint text in an Ed25519 signed note.

Format (C2SP ``tlog-checkpoint`` inside a C2SP ``signed-note``)::

    <origin>\\n
    <tree size, decimal>\\n
    <base64(root hash)>\\n
    \\n
    \u2014 <origin> <base64(key_id || ed25519 signature)>\\n

The key id is the signed-note one for Ed25519 keys, so existing tlog tooling (witnesses,
Go's ``sumdb/note``) can check our checkpoints. Only the three checkpoint lines are
produced and accepted: we never emit extension lines, so a note carrying them is not ours.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

__all__ = [
    "CheckpointError",
    "SignedCheckpoint",
    "checkpoint_text",
    "key_id",
    "load_public_key_pem",
    "open_checkpoint",
    "public_key_pem",
    "public_key_raw",
    "sign_checkpoint",
]

_ED25519_ALG = b"\x01"  # signed-note signature type byte for Ed25519
_SIG_PREFIX = "\u2014 "  # EM DASH + space starts every signature line
_KEY_ID_SIZE = 4
_SIG_SIZE = 64
_HASH_SIZE = 32


class CheckpointError(ValueError):
    """A checkpoint note is malformed, unsigned by the expected key, or forged."""


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint together with its signature and the full signed-note text."""

    origin: str
    tree_size: int
    root_hash: bytes
    key_id: bytes
    signature: bytes
    note: str


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode_strict(text: str) -> bytes:
    """Decode standard padded base64, rejecting anything non-canonical.

    Why: a verifier that accepts several spellings of the same bytes makes it possible to
    produce distinct notes that all verify, which confuses anyone comparing notes.
    """
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise CheckpointError(f"invalid base64: {text!r}") from exc
    if _b64(raw) != text:
        raise CheckpointError(f"non-canonical base64: {text!r}")
    return raw


def _check_origin(origin: str) -> None:
    # The origin doubles as the signed-note key name: non-empty, no spaces, no '+'.
    if not origin or "+" in origin or any(c.isspace() for c in origin):
        raise ValueError(f"invalid checkpoint origin {origin!r}")


def public_key_raw(pk: Ed25519PublicKey) -> bytes:
    """Return the raw 32-byte encoding of an Ed25519 public key."""
    return pk.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_pem(pk: Ed25519PublicKey) -> str:
    """Return the SubjectPublicKeyInfo PEM encoding of an Ed25519 public key."""
    return pk.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def load_public_key_pem(pem: str | bytes) -> Ed25519PublicKey:
    """Load an Ed25519 public key from PEM; ``ValueError`` if it is anything else."""
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def key_id(origin: str, public_key: bytes) -> bytes:
    """Return the signed-note key id: ``SHA-256(origin || "\\n" || 0x01 || key)[:4]``."""
    if len(public_key) != 32:
        raise ValueError("Ed25519 public key must be 32 raw bytes")
    digest = hashlib.sha256(origin.encode("utf-8") + b"\n" + _ED25519_ALG + public_key)
    return digest.digest()[:_KEY_ID_SIZE]


def checkpoint_text(origin: str, size: int, root: bytes) -> str:
    """Return the checkpoint body ``"{origin}\\n{size}\\n{base64(root)}\\n"``."""
    _check_origin(origin)
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ValueError(f"invalid tree size {size!r}")
    if len(root) != _HASH_SIZE:
        raise ValueError("root hash must be 32 bytes")
    return f"{origin}\n{size}\n{_b64(root)}\n"


def sign_checkpoint(
    private_key: Ed25519PrivateKey, origin: str, size: int, root: bytes
) -> SignedCheckpoint:
    """Sign the checkpoint for (origin, size, root) and return it with its note text."""
    text = checkpoint_text(origin, size, root)
    kid = key_id(origin, public_key_raw(private_key.public_key()))
    signature = private_key.sign(text.encode("utf-8"))
    note = f"{text}\n{_SIG_PREFIX}{origin} {_b64(kid + signature)}\n"
    return SignedCheckpoint(
        origin=origin,
        tree_size=size,
        root_hash=bytes(root),
        key_id=kid,
        signature=signature,
        note=note,
    )


def _parse_checkpoint_text(text: str) -> tuple[str, int, bytes]:
    lines = text.split("\n")
    # text ends with "\n", so split yields a trailing "" after exactly three lines.
    if len(lines) != 4 or lines[3] != "":
        raise CheckpointError("malformed checkpoint text: expected exactly three lines")
    origin, size_s, root_s = lines[:3]
    try:
        _check_origin(origin)
    except ValueError as exc:
        raise CheckpointError(f"malformed checkpoint text: {exc}") from None
    # Plain ASCII decimal without sign or leading zeros: one spelling per size.
    # At most 20 digits (uint64) also keeps int() away from its huge-number guard.
    if (
        not (size_s.isascii() and size_s.isdigit())
        or len(size_s) > 20
        or (len(size_s) > 1 and size_s[0] == "0")
    ):
        raise CheckpointError(f"malformed checkpoint text: bad tree size {size_s!r}")
    try:
        root = _b64decode_strict(root_s)
    except CheckpointError as exc:
        raise CheckpointError(f"malformed checkpoint text: root hash: {exc}") from None
    if len(root) != _HASH_SIZE:
        raise CheckpointError("malformed checkpoint text: root hash is not 32 bytes")
    return origin, int(size_s), root


def _split_note(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    """Split a signed note into its text and ``(key name, key_id || signature)`` lines."""
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise CheckpointError("malformed note: no blank line before the signatures")
    text = note[: split + 1]
    sig_lines = note[split + 2 : -1].split("\n")
    sigs: list[tuple[str, bytes]] = []
    for line in sig_lines:
        if not line.startswith(_SIG_PREFIX):
            raise CheckpointError(f"malformed note: bad signature line {line!r}")
        name, sep, blob = line[len(_SIG_PREFIX) :].partition(" ")
        if not sep or not name or " " in blob:
            raise CheckpointError(f"malformed note: bad signature line {line!r}")
        try:
            raw = _b64decode_strict(blob)
        except CheckpointError as exc:
            raise CheckpointError(f"malformed note: signature line: {exc}") from None
        if len(raw) <= _KEY_ID_SIZE:
            raise CheckpointError("malformed note: signature too short")
        sigs.append((name, raw))
    return text, sigs


def open_checkpoint(
    note: str, public_key: Ed25519PublicKey, origin: str | None = None
) -> tuple[str, int, bytes]:
    """Parse and verify a signed checkpoint note; return ``(origin, size, root)``.

    Signature lines from other keys are ignored (notes may be cosigned), but one line
    from ``public_key`` — matched by key name and key id — must be present and valid.
    If ``origin`` is given the checkpoint must be for that origin.
    Raises :class:`CheckpointError` describing the first problem found.
    """
    if not isinstance(note, str):
        raise CheckpointError("malformed note: not a string")
    text, sigs = _split_note(note)
    cp_origin, size, root = _parse_checkpoint_text(text)
    if origin is not None and cp_origin != origin:
        raise CheckpointError(f"origin mismatch: expected {origin!r}, got {cp_origin!r}")
    kid = key_id(cp_origin, public_key_raw(public_key))
    ours = [raw[_KEY_ID_SIZE:] for name, raw in sigs if name == cp_origin and raw[:4] == kid]
    if not ours:
        raise CheckpointError(f"no signature line from key {kid.hex()} for {cp_origin!r}")
    message = text.encode("utf-8")
    for signature in ours:
        if len(signature) != _SIG_SIZE:
            raise CheckpointError("bad signature: wrong length")
        try:
            public_key.verify(signature, message)
        except InvalidSignature:
            raise CheckpointError(f"bad signature from key {kid.hex()}") from None
    return cp_origin, size, root
