"""The ledger's Ed25519 checkpoint-signing key, kept as a PKCS#8 PEM file in IPX home."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = ["KEY_FILENAME", "key_path", "load_or_create_signing_key", "load_signing_key"]

KEY_FILENAME = "ledger-signing-key.pem"


def key_path(home: Path) -> Path:
    """Return where the signing key lives under ``home``."""
    return Path(home) / KEY_FILENAME


def _read_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    return key


def load_signing_key(home: Path) -> Ed25519PrivateKey:
    """Load the signing key from ``home``; ``FileNotFoundError`` if it was never created."""
    path = key_path(home)
    if not path.exists():
        raise FileNotFoundError(
            f"ledger signing key not found at {path}; run `ipx init` to create it"
        )
    return _read_key(path)


def load_or_create_signing_key(home: Path) -> Ed25519PrivateKey:
    """Load the signing key from ``home``, creating it (mode 0600) if it does not exist.

    The PEM is written to a temporary file in the same directory and then moved into
    place, so a crash never leaves a truncated key behind.
    """
    path = key_path(home)
    if path.exists():
        return _read_key(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # mkstemp creates the file 0600 from the start: the key is never world-readable.
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".ledger-signing-key.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        try:
            # Hard-link first: atomic *and* refuses to clobber a key that a concurrent
            # process created meanwhile (os.replace would silently swap keys under it).
            os.link(tmp, path)
        except FileExistsError:
            return _read_key(path)
        except OSError:
            # Filesystems without hard links: fall back to an atomic rename.
            os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return key
