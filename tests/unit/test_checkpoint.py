"""ledger.checkpoint (signed checkpoint notes) and ledger.signing_key."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from ledger.checkpoint import (
    CheckpointError,
    SignedCheckpoint,
    checkpoint_text,
    key_id,
    load_public_key_pem,
    open_checkpoint,
    public_key_pem,
    public_key_raw,
    sign_checkpoint,
)
from ledger.signing_key import load_or_create_signing_key, load_signing_key

ORIGIN = "ipx.example/ledger"
ROOT = hashlib.sha256(b"some root").digest()


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


@pytest.fixture(scope="module")
def other_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))


def _signed(key: Ed25519PrivateKey, size: int = 42) -> SignedCheckpoint:
    return sign_checkpoint(key, ORIGIN, size, ROOT)


# --------------------------------------------------------------------------------------
# Format
# --------------------------------------------------------------------------------------


def test_checkpoint_text() -> None:
    assert checkpoint_text(ORIGIN, 42, ROOT) == (
        f"{ORIGIN}\n42\n{base64.b64encode(ROOT).decode()}\n"
    )
    assert checkpoint_text("o", 0, b"\x00" * 32) == "o\n0\n" + "A" * 43 + "=\n"
    for origin in ["", "has space", "has+plus", "new\nline"]:
        with pytest.raises(ValueError):
            checkpoint_text(origin, 1, ROOT)
    with pytest.raises(ValueError):
        checkpoint_text(ORIGIN, -1, ROOT)
    with pytest.raises(ValueError):
        checkpoint_text(ORIGIN, 1, ROOT[:31])


def test_note_format_is_exact(key: Ed25519PrivateKey) -> None:
    cp = _signed(key)
    text = checkpoint_text(ORIGIN, 42, ROOT)
    lines = cp.note.split("\n")
    assert lines[:3] == [ORIGIN, "42", base64.b64encode(ROOT).decode()]
    assert lines[3] == ""  # blank line between text and signatures
    assert lines[4].startswith("\u2014 " + ORIGIN + " ")
    assert lines[5:] == [""]  # the note ends with exactly one newline
    blob = base64.b64decode(lines[4].split(" ")[2], validate=True)
    assert len(blob) == 68
    assert blob[:4] == cp.key_id == key_id(ORIGIN, public_key_raw(key.public_key()))
    assert blob[4:] == cp.signature
    key.public_key().verify(cp.signature, text.encode("utf-8"))
    assert cp.note == f"{text}\n\u2014 {ORIGIN} {base64.b64encode(blob).decode()}\n"
    assert (cp.origin, cp.tree_size, cp.root_hash) == (ORIGIN, 42, ROOT)


def test_key_id_definition(key: Ed25519PrivateKey) -> None:
    raw = public_key_raw(key.public_key())
    assert len(raw) == 32
    expected = hashlib.sha256(ORIGIN.encode() + b"\n" + b"\x01" + raw).digest()[:4]
    assert key_id(ORIGIN, raw) == expected
    with pytest.raises(ValueError):
        key_id(ORIGIN, raw[:31])


def test_signed_note_known_answer_from_go_sumdb_note() -> None:
    # Known answer from golang.org/x/mod/sumdb/note (note_test.go / package docs):
    # verifier key "PeterNeumann+c74f20a3+ARpc2QcU…", signer key "PRIVATE+KEY+…+AYEKFALV…".
    # Ed25519 is deterministic, so the same seed must reproduce the published line.
    vkey = base64.b64decode("ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
    skey = base64.b64decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")
    assert vkey[0] == skey[0] == 1  # algorithm byte: Ed25519
    text = (
        "If you think cryptography is the answer to your problem,\n"
        "then you don't know what your problem is.\n"
    )
    published = (
        "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FF"
        "YC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
    )
    assert key_id("PeterNeumann", vkey[1:]).hex() == "c74f20a3"
    private = Ed25519PrivateKey.from_private_bytes(skey[1:])
    assert public_key_raw(private.public_key()) == vkey[1:]
    signature = private.sign(text.encode())
    assert base64.b64encode(key_id("PeterNeumann", vkey[1:]) + signature).decode() == published


# --------------------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------------------


def test_round_trip(key: Ed25519PrivateKey) -> None:
    for size in [0, 1, 42, 2**40]:
        cp = sign_checkpoint(key, ORIGIN, size, ROOT)
        assert open_checkpoint(cp.note, key.public_key()) == (ORIGIN, size, ROOT)
        assert open_checkpoint(cp.note, key.public_key(), origin=ORIGIN) == (ORIGIN, size, ROOT)


def test_origin_mismatch(key: Ed25519PrivateKey) -> None:
    with pytest.raises(CheckpointError, match="origin mismatch"):
        open_checkpoint(_signed(key).note, key.public_key(), origin="elsewhere.example/log")


@pytest.mark.parametrize(
    ("old", "new"),
    [("\n42\n", "\n43\n"), ("\n42\n", "\n420\n")],
)
def test_tampered_size_rejected(key: Ed25519PrivateKey, old: str, new: str) -> None:
    note = _signed(key).note.replace(old, new, 1)
    with pytest.raises(CheckpointError, match="bad signature"):
        open_checkpoint(note, key.public_key())


def test_tampered_root_rejected(key: Ed25519PrivateKey) -> None:
    cp = _signed(key)
    other_root = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    note = cp.note.replace(base64.b64encode(ROOT).decode(), other_root, 1)
    with pytest.raises(CheckpointError, match="bad signature"):
        open_checkpoint(note, key.public_key())


def test_tampered_origin_rejected(key: Ed25519PrivateKey) -> None:
    # Renaming the origin everywhere changes the key id, so our line is no longer found.
    note = _signed(key).note.replace(ORIGIN, "evil.example/ledger")
    with pytest.raises(CheckpointError, match="no signature line"):
        open_checkpoint(note, key.public_key())
    # Renaming only the text keeps a line named ORIGIN, which then does not match.
    note = _signed(key).note.replace(ORIGIN, "evil.example/ledger", 1)
    with pytest.raises(CheckpointError, match="no signature line"):
        open_checkpoint(note, key.public_key())


def test_tampered_signature_rejected(key: Ed25519PrivateKey) -> None:
    cp = _signed(key)
    for i in [4, 20, 67]:  # inside the signature, not the key id
        blob = bytearray(cp.key_id + cp.signature)
        blob[i] ^= 0x01
        note = cp.note.replace(
            base64.b64encode(cp.key_id + cp.signature).decode(), base64.b64encode(blob).decode()
        )
        with pytest.raises(CheckpointError, match="bad signature"):
            open_checkpoint(note, key.public_key())


def test_other_key_rejected(key: Ed25519PrivateKey, other_key: Ed25519PrivateKey) -> None:
    with pytest.raises(CheckpointError, match="no signature line"):
        open_checkpoint(_signed(key).note, other_key.public_key())
    # A forged line claiming our key id but signed by another key.
    forged = _signed(other_key)
    our_id = key_id(ORIGIN, public_key_raw(key.public_key()))
    note = forged.note.replace(
        base64.b64encode(forged.key_id + forged.signature).decode(),
        base64.b64encode(our_id + forged.signature).decode(),
    )
    with pytest.raises(CheckpointError, match="bad signature"):
        open_checkpoint(note, key.public_key())


def test_cosigned_note_accepted(key: Ed25519PrivateKey, other_key: Ed25519PrivateKey) -> None:
    ours, theirs = _signed(key), _signed(other_key)
    their_line = theirs.note.split("\n\n")[1]
    witness_line = "\u2014 witness.example " + base64.b64encode(b"\x00" * 68).decode() + "\n"
    for note in [ours.note + their_line, theirs.note + ours.note.split("\n\n")[1]]:
        assert open_checkpoint(note + witness_line, key.public_key()) == (ORIGIN, 42, ROOT)
        assert open_checkpoint(note, other_key.public_key()) == (ORIGIN, 42, ROOT)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda n: "",
        lambda n: n.replace("\n\n", "\n", 1),  # no blank line
        lambda n: n[:-1],  # missing final newline
        lambda n: n + "\n",  # trailing blank line
        lambda n: n.replace("\u2014 ", "- ", 1),  # hyphen instead of em dash
        lambda n: n.replace("\u2014 ", "\u2014", 1),
        lambda n: n.replace("\n42\n", "\n042\n", 1),  # leading zero
        lambda n: n.replace("\n42\n", "\n+42\n", 1),
        lambda n: n.replace("\n42\n", "\n4 2\n", 1),
        lambda n: n.replace("\n42\n", "\n" + "9" * 5000 + "\n", 1),  # absurd size
        lambda n: n.replace("\n42\n", "\n42\nextension line\n", 1),
        lambda n: n.replace("=\n\n", "\n\n", 1),  # root base64 without padding
        lambda n: n.replace("=\n\n", "==\n\n", 1),
        lambda n: n.split("\n", 1)[1],  # origin line missing
        lambda n: n.replace("\n\n", "\n\n\u2014 x\n", 1),  # signature line without blob
        lambda n: n.replace("\n\n", "\n\n\u2014 x AAAA\n", 1),  # blob too short
        lambda n: n.replace("\n\n", "\n\n\u2014 x !!!!\n", 1),  # not base64
    ],
)
def test_malformed_notes_rejected(key: Ed25519PrivateKey, mangle: object) -> None:
    note = mangle(_signed(key).note)  # type: ignore[operator]
    with pytest.raises(CheckpointError):
        open_checkpoint(note, key.public_key())


def test_short_root_rejected(key: Ed25519PrivateKey) -> None:
    text = f"{ORIGIN}\n1\n{base64.b64encode(b'x' * 31).decode()}\n"
    sig = key.sign(text.encode())
    kid = key_id(ORIGIN, public_key_raw(key.public_key()))
    note = f"{text}\n\u2014 {ORIGIN} {base64.b64encode(kid + sig).decode()}\n"
    with pytest.raises(CheckpointError, match="32 bytes"):
        open_checkpoint(note, key.public_key())


def test_checkpoint_error_is_value_error() -> None:
    assert issubclass(CheckpointError, ValueError)


# --------------------------------------------------------------------------------------
# Public key helpers
# --------------------------------------------------------------------------------------


def test_public_key_pem_round_trip(key: Ed25519PrivateKey) -> None:
    pem = public_key_pem(key.public_key())
    assert pem.startswith("-----BEGIN PUBLIC KEY-----\n")
    for loaded in [load_public_key_pem(pem), load_public_key_pem(pem.encode())]:
        assert isinstance(loaded, Ed25519PublicKey)
        assert public_key_raw(loaded) == public_key_raw(key.public_key())


def test_load_public_key_pem_rejects_other_algorithms() -> None:
    ec_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(ValueError):
        load_public_key_pem(ec_pem)
    with pytest.raises(ValueError):
        load_public_key_pem("not a pem")


# --------------------------------------------------------------------------------------
# Signing key storage
# --------------------------------------------------------------------------------------


def test_signing_key_created_once_with_private_mode(tmp_path: Path) -> None:
    home = tmp_path / "nested" / "ipx-home"
    with pytest.raises(FileNotFoundError, match="ipx init"):
        load_signing_key(home)
    created = load_or_create_signing_key(home)
    path = home / "ledger-signing-key.pem"
    assert path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8
    assert sorted(p.name for p in home.iterdir()) == ["ledger-signing-key.pem"]  # no temp
    again = load_or_create_signing_key(home)
    loaded = load_signing_key(home)
    raw = public_key_raw(created.public_key())
    assert public_key_raw(again.public_key()) == raw
    assert public_key_raw(loaded.public_key()) == raw
    # The key actually works for checkpoints.
    cp = sign_checkpoint(loaded, ORIGIN, 1, ROOT)
    assert open_checkpoint(cp.note, created.public_key()) == (ORIGIN, 1, ROOT)


def test_signing_key_is_not_clobbered(tmp_path: Path) -> None:
    first = load_or_create_signing_key(tmp_path)
    before = (tmp_path / "ledger-signing-key.pem").read_bytes()
    os.utime(tmp_path / "ledger-signing-key.pem")
    second = load_or_create_signing_key(tmp_path)
    assert (tmp_path / "ledger-signing-key.pem").read_bytes() == before
    assert public_key_raw(first.public_key()) == public_key_raw(second.public_key())


def test_signing_key_rejects_wrong_key_type(tmp_path: Path) -> None:
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (tmp_path / "ledger-signing-key.pem").write_bytes(pem)
    with pytest.raises(ValueError, match="Ed25519"):
        load_signing_key(tmp_path)
