"""ledger.merkle against a deliberately naive RFC 9162 reference and known answers."""

from __future__ import annotations

import functools
import hashlib
import random

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ledger.merkle import (
    EMPTY_ROOT,
    MerkleFrontier,
    consistency_proof,
    consistency_ranges,
    fold_range,
    inclusion_proof,
    inclusion_ranges,
    node_hash,
    perfect_ranges,
    root_of,
    verify_consistency,
    verify_inclusion,
)

# --------------------------------------------------------------------------------------
# Naive reference, transcribed from RFC 9162 §2.1.1, §2.1.3.1 and §2.1.4.1.
# Works on lists (tuples) of raw leaf data. Only addition: MTH is memoised so that
# checking every size/index stays fast; the definitions are otherwise verbatim.
# --------------------------------------------------------------------------------------


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


@functools.cache
def naive_mth(d: tuple[bytes, ...]) -> bytes:
    n = len(d)
    if n == 0:
        return _sha256(b"")
    if n == 1:
        return _sha256(b"\x00" + d[0])
    k = _k(n)
    return _sha256(b"\x01" + naive_mth(d[:k]) + naive_mth(d[k:]))


def naive_path(m: int, d: tuple[bytes, ...]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return naive_path(m, d[:k]) + [naive_mth(d[k:])]
    return naive_path(m - k, d[k:]) + [naive_mth(d[:k])]


def naive_subproof(m: int, d: tuple[bytes, ...], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [naive_mth(d)]
    k = _k(n)
    if m <= k:
        return naive_subproof(m, d[:k], b) + [naive_mth(d[k:])]
    return naive_subproof(m - k, d[k:], False) + [naive_mth(d[:k])]


def naive_proof(m: int, d: tuple[bytes, ...]) -> list[bytes]:
    return naive_subproof(m, d, True)


# --------------------------------------------------------------------------------------
# Fixtures: the Certificate Transparency test leaves, extended to 300 leaves.
# --------------------------------------------------------------------------------------

# Leaf inputs and roots from transparency-dev/merkle testonly/constants.go (the RFC 6962
# reference data also used by certificate-transparency-go). RFC 9162 hashes identically.
CT_LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
CT_ROOTS = [
    bytes.fromhex(h)
    for h in [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
]
# Inclusion and consistency proofs from transparency-dev/merkle proof/verify_test.go
# (leaf indices converted from that file's 1-based numbering to 0-based).
CT_INCLUSION = [
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
CT_CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]

MAX_SIZE = 300
DATA: tuple[bytes, ...] = tuple(CT_LEAVES) + tuple(
    f"ipx test leaf {i}".encode() for i in range(len(CT_LEAVES), MAX_SIZE)
)
LEAVES: list[bytes] = [_sha256(b"\x00" + d) for d in DATA]


def _perfect_nodes(n_leaves: int) -> dict[tuple[int, int], bytes]:
    """Every perfect node of the tree over DATA[:n_leaves], computed naively."""
    nodes: dict[tuple[int, int], bytes] = {}
    level = 0
    while 1 << level <= n_leaves:
        width = 1 << level
        for i in range(n_leaves // width):
            nodes[(level, i)] = naive_mth(DATA[i * width : (i + 1) * width])
        level += 1
    return nodes


NODES = _perfect_nodes(MAX_SIZE)


def _flip(h: bytes, bit: int) -> bytes:
    b = bytearray(h)
    b[bit // 8 % len(b)] ^= 1 << (bit % 8)
    return bytes(b)


# --------------------------------------------------------------------------------------
# Known answers
# --------------------------------------------------------------------------------------


def test_empty_root_and_node_hash() -> None:
    assert EMPTY_ROOT == CT_ROOTS[0] == hashlib.sha256(b"").digest()
    assert root_of([]) == EMPTY_ROOT
    assert node_hash(b"a" * 32, b"b" * 32) == _sha256(b"\x01" + b"a" * 32 + b"b" * 32)


@pytest.mark.parametrize("size", range(len(CT_ROOTS)))
def test_ct_roots(size: int) -> None:
    leaves = [_sha256(b"\x00" + d) for d in CT_LEAVES[:size]]
    assert root_of(leaves) == CT_ROOTS[size]
    assert naive_mth(tuple(CT_LEAVES[:size])) == CT_ROOTS[size]
    frontier = MerkleFrontier()
    for leaf in leaves:
        frontier.append(leaf)
    assert frontier.root() == CT_ROOTS[size]


@pytest.mark.parametrize(("index", "size", "path_hex"), CT_INCLUSION)
def test_ct_inclusion_vectors(index: int, size: int, path_hex: list[str]) -> None:
    path = [bytes.fromhex(h) for h in path_hex]
    assert inclusion_proof(index, size, LEAVES) == path
    assert naive_path(index, DATA[:size]) == path
    assert verify_inclusion(LEAVES[index], index, size, path, CT_ROOTS[size])


@pytest.mark.parametrize(("first", "second", "path_hex"), CT_CONSISTENCY)
def test_ct_consistency_vectors(first: int, second: int, path_hex: list[str]) -> None:
    path = [bytes.fromhex(h) for h in path_hex]
    assert consistency_proof(first, second, LEAVES) == path
    assert naive_proof(first, DATA[:second]) == path
    assert verify_consistency(first, second, CT_ROOTS[first], CT_ROOTS[second], path)


# --------------------------------------------------------------------------------------
# Agreement with the naive reference, exhaustively
# --------------------------------------------------------------------------------------


def test_root_of_every_size() -> None:
    for n in range(1, MAX_SIZE + 1):
        assert root_of(LEAVES[:n]) == naive_mth(DATA[:n]), n


def test_inclusion_every_size_and_index() -> None:
    for n in range(1, MAX_SIZE + 1):
        root = naive_mth(DATA[:n])
        for m in range(n):
            expected = naive_path(m, DATA[:n])
            assert inclusion_proof(m, n, LEAVES) == expected, (m, n)
            ranges = inclusion_ranges(m, n)
            assert [fold_range(s, e, NODES) for s, e in ranges] == expected, (m, n)
            assert verify_inclusion(LEAVES[m], m, n, expected, root), (m, n)


def _inclusion_rejections(m: int, n: int) -> None:
    path = naive_path(m, DATA[:n])
    root = naive_mth(DATA[:n])
    leaf = LEAVES[m]
    assert verify_inclusion(leaf, m, n, path, root)
    for i in range(len(path)):
        for bit in (0, 131, 255):
            bad = list(path)
            bad[i] = _flip(bad[i], bit)
            assert not verify_inclusion(leaf, m, n, bad, root), (m, n, i, bit)
    for wrong_index in {m - 1, m + 1, m ^ 2, m ^ 1}:
        if 0 <= wrong_index < n and wrong_index != m:
            assert not verify_inclusion(leaf, wrong_index, n, path, root), (m, n, wrong_index)
    assert not verify_inclusion(leaf, -1, n, path, root)
    assert not verify_inclusion(leaf, n, n, path, root)
    # A proof binds the tree *shape*, not the exact size (the signed checkpoint binds that),
    # so like the CT/Go test-suite we probe sizes that change the tree height.
    for wrong_size in {2 * n, n // 2, 0}:
        if wrong_size != n:
            assert not verify_inclusion(leaf, m, wrong_size, path, root), (m, n, wrong_size)
    if path:
        assert not verify_inclusion(leaf, m, n, path[:-1], root)
        assert not verify_inclusion(leaf, m, n, path[1:], root)
    assert not verify_inclusion(leaf, m, n, [*path, root], root)
    assert not verify_inclusion(leaf, m, n, [root, *path], root)
    assert not verify_inclusion(leaf, m, n, [*path, b""], root)
    assert not verify_inclusion(leaf, m, n, path, _flip(root, 7))
    assert not verify_inclusion(leaf, m, n, path, EMPTY_ROOT)
    assert not verify_inclusion(_flip(leaf, 0), m, n, path, root)
    assert not verify_inclusion(leaf[:31], m, n, path, root)


def test_inclusion_rejects_tampering() -> None:
    rng = random.Random(9162)
    for n in range(1, MAX_SIZE + 1):
        # Every index for small trees; edges plus a random sample for the larger ones.
        if n <= 128:
            indices = set(range(n))
        else:
            indices = {0, 1, n // 2, n - 2, n - 1, *rng.sample(range(n), 4)}
        for m in indices:
            _inclusion_rejections(m, n)


def test_verify_inclusion_never_raises_on_garbage() -> None:
    leaf, root = LEAVES[0], naive_mth(DATA[:1])
    assert verify_inclusion(leaf, 0, 1, [], root)
    assert not verify_inclusion(leaf, 0, 0, [], root)
    assert not verify_inclusion(leaf, 1, 1, [], root)
    assert not verify_inclusion(b"", 0, 1, [], b"")
    assert not verify_inclusion(leaf, 0, 1, [], b"")
    assert not verify_inclusion(leaf, 0, 1, None, root)  # type: ignore[arg-type]
    assert not verify_inclusion(leaf, 0, 1, ["x" * 32], root)  # type: ignore[list-item]
    assert not verify_inclusion(leaf, "0", 1, [], root)  # type: ignore[arg-type]


def test_consistency_every_pair_up_to_130() -> None:
    for n in range(1, 131):
        second_root = naive_mth(DATA[:n])
        for m in range(1, n + 1):
            expected = naive_proof(m, DATA[:n])
            assert consistency_proof(m, n, LEAVES) == expected, (m, n)
            ranges = consistency_ranges(m, n)
            assert [fold_range(s, e, NODES) for s, e in ranges] == expected, (m, n)
            assert verify_consistency(m, n, naive_mth(DATA[:m]), second_root, expected), (m, n)


def _consistency_rejections(m: int, n: int) -> None:
    path = naive_proof(m, DATA[:n])
    r1, r2 = naive_mth(DATA[:m]), naive_mth(DATA[:n])
    assert verify_consistency(m, n, r1, r2, path)
    if m == n:
        assert path == []
        assert not verify_consistency(m, n, r1, r2, [r1])
        assert not verify_consistency(m, n, r1, EMPTY_ROOT, [])
        return
    for i in range(len(path)):
        for bit in (4, 200):
            bad = list(path)
            bad[i] = _flip(bad[i], bit)
            assert not verify_consistency(m, n, r1, r2, bad), (m, n, i, bit)
    for m2 in {m - 1, m + 1, m ^ 2}:
        if m2 != m:
            assert not verify_consistency(m2, n, r1, r2, path), (m, n, m2)
    for n2 in {2 * n, n // 2}:  # height-changing sizes, as for inclusion above
        if n2 != n:
            assert not verify_consistency(m, n2, r1, r2, path), (m, n, n2)
    assert not verify_consistency(m, n, _flip(r1, 9), r2, path)
    assert not verify_consistency(m, n, r1, _flip(r2, 9), path)
    assert not verify_consistency(m, n, r2, r1, path)
    assert not verify_consistency(m, n, r1, r2, [])
    assert not verify_consistency(m, n, r1, r2, path[:-1])
    assert not verify_consistency(m, n, r1, r2, [*path, r1])
    assert not verify_consistency(m, n, r1, r2, [*path, r2])
    assert not verify_consistency(m, n, r1, r2, [r1, *path])
    assert not verify_consistency(m, n, r1, r2, [r2, *path])
    assert not verify_consistency(m, n, r1, r2, [path[0], *path])
    assert not verify_consistency(n, m, r2, r1, path)


def test_consistency_rejects_tampering() -> None:
    for n in range(1, 49):
        for m in range(1, n + 1):
            _consistency_rejections(m, n)


def test_consistency_random_pairs_up_to_300() -> None:
    rng = random.Random(6962)
    for _ in range(400):
        n = rng.randint(1, MAX_SIZE)
        m = rng.randint(1, n)
        expected = naive_proof(m, DATA[:n])
        assert consistency_proof(m, n, LEAVES) == expected, (m, n)
        assert [fold_range(s, e, NODES) for s, e in consistency_ranges(m, n)] == expected
        _consistency_rejections(m, n)


def test_verify_consistency_never_raises_on_garbage() -> None:
    r = naive_mth(DATA[:3])
    assert verify_consistency(3, 3, r, r, [])
    assert not verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert not verify_consistency(0, 3, EMPTY_ROOT, r, [])
    assert not verify_consistency(4, 3, r, r, [r])
    assert not verify_consistency(1, 2, b"", b"", [b""])
    assert not verify_consistency(1, 2, r, r, None)  # type: ignore[arg-type]
    assert not verify_consistency(1, 2, r, r, [r[:5]])


def test_range_functions_reject_invalid_arguments() -> None:
    for index, size in [(0, 0), (3, 3), (-1, 5), (5, 4)]:
        with pytest.raises(ValueError):
            inclusion_ranges(index, size)
    for first, second in [(0, 0), (0, 5), (6, 5), (-1, 2)]:
        with pytest.raises(ValueError):
            consistency_ranges(first, second)
    assert consistency_ranges(7, 7) == []
    with pytest.raises(ValueError):
        inclusion_proof(0, 10, LEAVES[:5])
    with pytest.raises(ValueError):
        perfect_ranges(5, 4)
    with pytest.raises(ValueError):
        perfect_ranges(-1, 4)


# --------------------------------------------------------------------------------------
# Perfect decomposition
# --------------------------------------------------------------------------------------


def _aligned(start: int, end: int) -> bool:
    """Naive: is [start, end) a subtree whose RFC split points all land on node boundaries?"""
    while end - start > 1:
        n = end - start
        if n & (n - 1) == 0:
            return start % n == 0
        k = _k(n)
        if start % k:
            return False
        start += k
    return True


def test_perfect_ranges_and_fold_range_every_range() -> None:
    for start in range(MAX_SIZE):
        for end in range(start + 1, MAX_SIZE + 1):
            if not _aligned(start, end):
                with pytest.raises(ValueError):
                    perfect_ranges(start, end)
                continue
            pieces = perfect_ranges(start, end)
            # Pieces are contiguous, strictly shrinking, and tile [start, end).
            pos = start
            levels = []
            for level, index in pieces:
                assert index * (1 << level) == pos
                pos += 1 << level
                levels.append(level)
            assert pos == end
            assert levels == sorted(set(levels), reverse=True)
            assert fold_range(start, end, NODES) == naive_mth(DATA[start:end]), (start, end)


def test_perfect_ranges_of_prefix_follow_bits() -> None:
    assert perfect_ranges(0, 0) == []
    assert perfect_ranges(0, 1) == [(0, 0)]
    assert perfect_ranges(0, 8) == [(3, 0)]
    assert perfect_ranges(0, 7) == [(2, 0), (1, 2), (0, 6)]
    assert perfect_ranges(8, 13) == [(2, 2), (0, 12)]
    assert fold_range(3, 3, NODES) == EMPTY_ROOT
    with pytest.raises(KeyError):
        fold_range(0, 8, {})


# --------------------------------------------------------------------------------------
# MerkleFrontier
# --------------------------------------------------------------------------------------


def test_frontier_every_size() -> None:
    frontier = MerkleFrontier()
    assert frontier.size == 0
    assert frontier.root() == EMPTY_ROOT
    assert frontier.to_bytes() == b""
    for n in range(1, MAX_SIZE + 1):
        completed = frontier.append(LEAVES[n - 1])
        assert frontier.size == n
        assert frontier.root() == naive_mth(DATA[:n]), n
        # The completed nodes are exactly the perfect nodes (level >= 1) ending at leaf n-1.
        expected = []
        level = 1
        while n % (1 << level) == 0:
            index = n // (1 << level) - 1
            width = 1 << level
            expected.append((level, index, naive_mth(DATA[index * width : (index + 1) * width])))
            level += 1
        assert completed == expected, n
        assert list(frontier.hashes) == [NODES[p] for p in perfect_ranges(0, n)]
        blob = frontier.to_bytes()
        assert len(blob) == 32 * n.bit_count()
        restored = MerkleFrontier.from_bytes(n, blob)
        assert restored == frontier
        assert restored.root() == frontier.root()
        assert MerkleFrontier(n, frontier.hashes) == frontier


def test_frontier_resumes_from_storage() -> None:
    frontier = MerkleFrontier()
    for leaf in LEAVES[:123]:
        frontier.append(leaf)
    resumed = MerkleFrontier.from_bytes(123, frontier.to_bytes())
    for leaf in LEAVES[123:]:
        resumed.append(leaf)
    assert resumed.root() == root_of(LEAVES)


def test_frontier_rejects_inconsistent_state() -> None:
    with pytest.raises(ValueError):
        MerkleFrontier(3, [LEAVES[0]])
    with pytest.raises(ValueError):
        MerkleFrontier(-1, [])
    with pytest.raises(ValueError):
        MerkleFrontier(1, [b"short"])
    with pytest.raises(ValueError):
        MerkleFrontier.from_bytes(3, b"\x00" * 32)
    with pytest.raises(ValueError):
        MerkleFrontier().append(b"not a hash")
    frontier = MerkleFrontier(1, [LEAVES[0]])
    copy = frontier.copy()
    copy.append(LEAVES[1])
    assert frontier.size == 1 and copy.size == 2


# --------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(size=st.integers(min_value=0, max_value=5000), seed=st.integers(0, 2**32 - 1))
@example(size=5000, seed=1)
@example(size=4096, seed=2)
@example(size=4097, seed=3)
def test_frontier_matches_root_of(size: int, seed: int) -> None:
    rng = random.Random(seed)
    leaves = [rng.randbytes(32) for _ in range(size)]
    frontier = MerkleFrontier()
    for leaf in leaves:
        frontier.append(leaf)
    assert frontier.root() == root_of(leaves)
    assert MerkleFrontier.from_bytes(size, frontier.to_bytes()).root() == frontier.root()


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_random_tampering_is_rejected(data: st.DataObject) -> None:
    n = data.draw(st.integers(2, MAX_SIZE), label="size")
    m = data.draw(st.integers(0, n - 1), label="index")
    path = inclusion_proof(m, n, LEAVES)
    root = root_of(LEAVES[:n])
    i = data.draw(st.integers(0, len(path) - 1), label="element")
    bit = data.draw(st.integers(0, 255), label="bit")
    bad = list(path)
    bad[i] = _flip(bad[i], bit)
    assert not verify_inclusion(LEAVES[m], m, n, bad, root)

    first = data.draw(st.integers(1, n - 1), label="first")
    proof = consistency_proof(first, n, LEAVES)
    j = data.draw(st.integers(0, len(proof) - 1), label="celement")
    bad = list(proof)
    bad[j] = _flip(bad[j], bit)
    assert not verify_consistency(first, n, root_of(LEAVES[:first]), root, bad)
