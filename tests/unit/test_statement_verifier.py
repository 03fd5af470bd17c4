"""The standalone verifier against ledger.* output and the naive RFC 9162 reference."""

from __future__ import annotations

import ast
import base64
import copy
import json
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

import ledger.statement_verifier as sv
from ledger.canonical import canonical_bytes, leaf_hash
from ledger.checkpoint import public_key_pem, sign_checkpoint
from ledger.merkle import MerkleFrontier, consistency_proof, inclusion_proof, root_of
from tests.unit.test_merkle import DATA, LEAVES, naive_mth, naive_path, naive_proof

VERIFIER_PATH = Path(sv.__file__)
ORIGIN = "ipx.example/ledger"


# --------------------------------------------------------------------------------------
# Independence
# --------------------------------------------------------------------------------------


def test_verifier_imports_nothing_from_ipx() -> None:
    tree = ast.parse(VERIFIER_PATH.read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative imports would tie the file to the package"
            assert node.module is not None
            imported.add(node.module.split(".")[0])
    allowed = set(sys.stdlib_module_names) | {"cryptography", "rfc8785", "__future__"}
    assert imported <= allowed, imported - allowed


# --------------------------------------------------------------------------------------
# Canonical JSON fallback
# --------------------------------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(body=st.dictionaries(st.text(max_size=8), _json, max_size=6))
def test_fallback_jcs_matches_rfc8785(body: dict[str, Any]) -> None:
    assert sv._jcs_fallback(body) == rfc8785.dumps(body) == canonical_bytes(body)
    assert sv.leaf_hash_of(body) == leaf_hash(canonical_bytes(body))


def test_fallback_jcs_edge_cases() -> None:
    body: dict[str, Any] = {
        "\u20ac": 1,
        "\r": [True, False, None],
        "\ufb33": "",
        "\U0001f600": {"b": 2**53 - 1, "a": -(2**53) + 1},
        "s": 'q"b\\\b\f\n\r\t\x00\x1f\x7f\u2028',
    }
    assert sv._jcs_fallback(body) == rfc8785.dumps(body)
    for bad in [{"x": 2**53}, {1: 2}, {"x": b"raw"}, {"x": "\ud800"}]:
        with pytest.raises(sv.VerificationError):
            sv._jcs_fallback(bad)
    with pytest.raises(sv.VerificationError, match="float"):
        sv.leaf_hash_of({"amount": [1, 2.5]})


# --------------------------------------------------------------------------------------
# Merkle proofs
# --------------------------------------------------------------------------------------


def test_inclusion_agrees_with_naive_and_ledger() -> None:
    for n in range(1, 130):
        root = naive_mth(DATA[:n])
        for m in range(n):
            path = naive_path(m, DATA[:n])
            assert sv.verify_inclusion(LEAVES[m], m, n, path, root), (m, n)
            assert not sv.verify_inclusion(LEAVES[m], m, n, path, LEAVES[m] if n > 1 else b"")
            if path:
                bad = list(path)
                bad[m % len(bad)] = bytes([bad[m % len(bad)][0] ^ 1]) + bad[m % len(bad)][1:]
                assert not sv.verify_inclusion(LEAVES[m], m, n, bad, root), (m, n)
                assert not sv.verify_inclusion(LEAVES[m], m, n, path[:-1], root)
                assert not sv.verify_inclusion(LEAVES[m], m, n, [*path, root], root)
            for wrong in (m - 1, m + 1):
                if 0 <= wrong < n:
                    assert not sv.verify_inclusion(LEAVES[m], wrong, n, path, root)
    assert sv.verify_inclusion(LEAVES[7], 7, 300, inclusion_proof(7, 300, LEAVES), root_of(LEAVES))


def test_consistency_agrees_with_naive_and_ledger() -> None:
    for n in range(1, 80):
        r2 = naive_mth(DATA[:n])
        for m in range(1, n + 1):
            proof = naive_proof(m, DATA[:n])
            r1 = naive_mth(DATA[:m])
            assert proof == consistency_proof(m, n, LEAVES)
            assert sv.verify_consistency(m, n, r1, r2, proof), (m, n)
            if proof:
                bad = list(proof)
                bad[-1] = bytes([bad[-1][0] ^ 0x10]) + bad[-1][1:]
                assert not sv.verify_consistency(m, n, r1, r2, bad), (m, n)
                assert not sv.verify_consistency(m, n, r2, r1, proof), (m, n)
                assert not sv.verify_consistency(m, n, r1, r2, proof[:-1]), (m, n)
                assert not sv.verify_consistency(m, n, r1, r2, []), (m, n)
            else:
                assert not sv.verify_consistency(m, n, r1, r2, [r1])
    assert not sv.verify_consistency(0, 5, r2, r2, [])
    assert not sv.verify_consistency(5, 4, r2, r2, [r2])
    assert not sv.verify_consistency(1, 2, b"", b"", [b""])


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_random_proofs_agree_with_ledger_merkle(data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 300))
    m = data.draw(st.integers(0, n - 1))
    root = root_of(LEAVES[:n])
    path = inclusion_proof(m, n, LEAVES)
    assert sv.verify_inclusion(LEAVES[m], m, n, path, root)
    if path:
        i = data.draw(st.integers(0, len(path) - 1))
        bit = data.draw(st.integers(0, 255))
        bad = list(path)
        flipped = bytearray(bad[i])
        flipped[bit // 8] ^= 1 << (bit % 8)
        bad[i] = bytes(flipped)
        assert not sv.verify_inclusion(LEAVES[m], m, n, bad, root)
    first = data.draw(st.integers(1, n))
    proof = consistency_proof(first, n, LEAVES)
    assert sv.verify_consistency(first, n, root_of(LEAVES[:first]), root, proof)


# --------------------------------------------------------------------------------------
# Checkpoint notes
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


@pytest.fixture(scope="module")
def other_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes(range(100, 132)))


def test_checkpoint_note_round_trip(key: Ed25519PrivateKey) -> None:
    root = root_of(LEAVES[:10])
    cp = sign_checkpoint(key, ORIGIN, 10, root)
    pem = public_key_pem(key.public_key())
    assert sv.verify_checkpoint_note(cp.note, pem) == (ORIGIN, 10, root)
    assert sv.verify_checkpoint_note(cp.note, pem, origin=ORIGIN) == (ORIGIN, 10, root)
    with pytest.raises(sv.VerificationError, match="origin"):
        sv.verify_checkpoint_note(cp.note, pem, origin="other.example/ledger")


def test_checkpoint_note_rejections(key: Ed25519PrivateKey, other_key: Ed25519PrivateKey) -> None:
    root = root_of(LEAVES[:10])
    cp = sign_checkpoint(key, ORIGIN, 10, root)
    pem = public_key_pem(key.public_key())
    with pytest.raises(sv.VerificationError, match="no signature from this key"):
        sv.verify_checkpoint_note(cp.note, public_key_pem(other_key.public_key()))
    with pytest.raises(sv.VerificationError, match="invalid"):
        sv.verify_checkpoint_note(cp.note.replace("\n10\n", "\n11\n"), pem)
    with pytest.raises(sv.VerificationError):
        sv.verify_checkpoint_note(cp.note.replace("\n\n", "\n"), pem)
    with pytest.raises(sv.VerificationError):
        sv.verify_checkpoint_note(cp.note, "not a pem")
    with pytest.raises(sv.VerificationError, match="size"):
        sv.verify_checkpoint_note(cp.note.replace("\n10\n", "\n" + "9" * 5000 + "\n"), pem)
    # A cosignature from someone else is ignored, ours still counts.
    theirs = sign_checkpoint(other_key, ORIGIN, 10, root).note.split("\n\n")[1]
    assert sv.verify_checkpoint_note(cp.note + theirs, pem) == (ORIGIN, 10, root)


# --------------------------------------------------------------------------------------
# Entries, end to end
# --------------------------------------------------------------------------------------


def _bodies(count: int) -> list[dict[str, Any]]:
    rng = random.Random(20240601)
    return [
        {
            "seq": i,
            "kind": rng.choice(["deposit", "trade", "fee", "payout"]),
            "amount_minor": rng.randint(1, 10**9),
            "currency": "EUR",
            "memo": rng.choice(["", "Präsentation", "naïve café", "\U0001f4a1 idea"]),
            "postings": [{"account": f"acct-{rng.randint(1, 50)}", "debit": rng.random() < 0.5}],
            "ref": None,
        }
        for i in range(count)
    ]


class _Ledger:
    """Builds a small journal with ledger.* code, as the real service would."""

    def __init__(self, key: Ed25519PrivateKey, count: int = 37) -> None:
        self.bodies = _bodies(count)
        self.leaves = [leaf_hash(canonical_bytes(b)) for b in self.bodies]
        frontier = MerkleFrontier()
        for leaf in self.leaves:
            frontier.append(leaf)
        self.size = frontier.size
        self.note = sign_checkpoint(key, ORIGIN, frontier.size, frontier.root()).note
        self.pem = public_key_pem(key.public_key())

    def args(self, i: int) -> dict[str, Any]:
        return {
            "body": copy.deepcopy(self.bodies[i]),
            "leaf_hash_hex": self.leaves[i].hex(),
            "leaf_index": i,
            "path_hex": [p.hex() for p in inclusion_proof(i, self.size, self.leaves)],
            "checkpoint_note": self.note,
            "public_key_pem": self.pem,
        }


@pytest.fixture(scope="module")
def journal(key: Ed25519PrivateKey) -> _Ledger:
    return _Ledger(key)


def test_verify_entry_accepts_every_entry(journal: _Ledger) -> None:
    for i in range(journal.size):
        sv.verify_entry(**journal.args(i))


def test_verify_entry_rejects_altered_body(journal: _Ledger) -> None:
    args = journal.args(5)
    args["body"]["amount_minor"] += 1
    with pytest.raises(sv.VerificationError, match="body does not match"):
        sv.verify_entry(**args)


def test_verify_entry_rejects_altered_leaf_hash(journal: _Ledger) -> None:
    # Claiming another leaf's hash for this body fails on the body check...
    args = journal.args(5)
    args["leaf_hash_hex"] = journal.leaves[6].hex()
    with pytest.raises(sv.VerificationError, match="body does not match"):
        sv.verify_entry(**args)
    # ...and a consistent body/hash pair that is not in the tree fails on the proof.
    args = journal.args(5)
    args["body"]["memo"] = "forged"
    args["leaf_hash_hex"] = sv.leaf_hash_of(args["body"]).hex()
    with pytest.raises(sv.VerificationError, match="inclusion proof"):
        sv.verify_entry(**args)
    for garbage in ["zz", "ab" * 31]:
        args = journal.args(5)
        args["leaf_hash_hex"] = garbage
        with pytest.raises(sv.VerificationError, match="leaf hash"):
            sv.verify_entry(**args)


def test_verify_entry_rejects_altered_path(journal: _Ledger) -> None:
    good = journal.args(11)
    for i in range(len(good["path_hex"])):
        args = journal.args(11)
        element = bytearray(bytes.fromhex(args["path_hex"][i]))
        element[0] ^= 0x80
        args["path_hex"][i] = element.hex()
        with pytest.raises(sv.VerificationError, match="inclusion proof"):
            sv.verify_entry(**args)
    for path in [good["path_hex"][:-1], [*good["path_hex"], good["path_hex"][0]], []]:
        args = journal.args(11)
        args["path_hex"] = path
        with pytest.raises(sv.VerificationError, match="inclusion proof"):
            sv.verify_entry(**args)
    args = journal.args(11)
    args["path_hex"] = None
    with pytest.raises(sv.VerificationError, match="list"):
        sv.verify_entry(**args)
    args = journal.args(11)
    args["path_hex"] = ["not hex"]
    with pytest.raises(sv.VerificationError, match="path element 0"):
        sv.verify_entry(**args)


def test_verify_entry_rejects_wrong_index(journal: _Ledger) -> None:
    args = journal.args(11)
    args["leaf_index"] = 12
    with pytest.raises(sv.VerificationError, match="inclusion proof"):
        sv.verify_entry(**args)
    args["leaf_index"] = journal.size
    with pytest.raises(sv.VerificationError, match="not inside the signed tree"):
        sv.verify_entry(**args)


def test_verify_entry_rejects_other_signer(
    journal: _Ledger, key: Ed25519PrivateKey, other_key: Ed25519PrivateKey
) -> None:
    # The same tree signed by another key, checked against the real ledger key...
    _, size, root = sv.verify_checkpoint_note(journal.note, journal.pem)
    forged = sign_checkpoint(other_key, ORIGIN, size, root).note
    args = journal.args(3)
    args["checkpoint_note"] = forged
    with pytest.raises(sv.VerificationError, match="no signature from this key"):
        sv.verify_entry(**args)
    # ...and the real note checked against another key.
    args = journal.args(3)
    args["public_key_pem"] = public_key_pem(other_key.public_key())
    with pytest.raises(sv.VerificationError, match="no signature from this key"):
        sv.verify_entry(**args)
    # A signature line that claims the real key id but carries another key's signature.
    real_line = journal.note.split("\n\n")[1]
    blob = base64.b64decode(real_line.split(" ")[2])
    fake_sig = other_key.sign(journal.note.split("\n\n")[0].encode() + b"\n")
    fake_line = real_line.replace(
        real_line.split(" ")[2].strip(), base64.b64encode(blob[:4] + fake_sig).decode()
    )
    args = journal.args(3)
    args["checkpoint_note"] = journal.note.replace(real_line, fake_line)
    with pytest.raises(sv.VerificationError, match="signature is invalid"):
        sv.verify_entry(**args)


def test_copied_verifier_runs_alone(journal: _Ledger, tmp_path: Path) -> None:
    """Copy the file elsewhere and run it with ``ledger`` and ``rfc8785`` unimportable."""
    shutil.copy(VERIFIER_PATH, tmp_path / "ipx_verify.py")
    (tmp_path / "case.json").write_text(json.dumps(journal.args(20)), encoding="utf-8")
    bad = journal.args(20)
    bad["body"]["currency"] = "USD"
    (tmp_path / "bad.json").write_text(json.dumps(bad), encoding="utf-8")
    script = """
import importlib.abc, json, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("ledger", "rfc8785", "exchange", "api", "contracts"):
            raise ImportError(f"blocked: {name}")
        return None

sys.meta_path.insert(0, Block())
import ipx_verify
assert ipx_verify._jcs is ipx_verify._jcs_fallback
ipx_verify.verify_entry(**json.load(open("case.json")))
try:
    ipx_verify.verify_entry(**json.load(open("bad.json")))
except ipx_verify.VerificationError as exc:
    print("rejected:", exc)
else:
    raise SystemExit("tampered entry accepted")
print("ok")
"""
    result = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, '.')\n{script}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "rejected: entry body does not match its leaf hash" in result.stdout
    assert result.stdout.strip().endswith("ok")
