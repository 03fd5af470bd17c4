"""RFC 9162 Merkle tree primitives, pure and dependency-free.

Conventions used throughout this module:

* Leaves are indexed from 0; a tree of ``size`` n covers leaves ``[0, n)``.
* Every hash is a 32-byte SHA-256 digest (``bytes``).
* A *perfect node* ``(level, index)`` is the root of the perfect, aligned subtree over
  leaves ``[index * 2**level, (index + 1) * 2**level)``; level 0 nodes are leaf hashes.
* A *range* ``(start, end)`` is the RFC 9162 subtree hash ``MTH(D[start:end])``.
  Every range appearing in a proof is built from a handful of perfect nodes (see
  :func:`perfect_ranges`), which is what lets a database store only perfect nodes.

Nothing here touches storage: the ``*_ranges`` functions say *which* subtree hashes a
proof needs, and callers fetch the perfect nodes and :func:`fold_range` them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import TypeVar

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MerkleFrontier",
    "consistency_proof",
    "consistency_ranges",
    "fold_range",
    "inclusion_node_sets",
    "inclusion_nodes",
    "inclusion_proof",
    "inclusion_ranges",
    "node_range",
    "parent_level",
    "path_from_levels",
    "paths_from_levels",
    "node_hash",
    "perfect_ranges",
    "root_of",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
_NODE_PREFIX = b"\x01"
_sha256 = hashlib.sha256

EMPTY_ROOT: bytes = _sha256(b"").digest()
"""MTH({}) = SHA-256() — the root of the empty tree (RFC 9162 §2.1.1)."""


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the interior node hash ``SHA-256(0x01 || left || right)``."""
    return _sha256(_NODE_PREFIX + left + right).digest()


def _split_point(n: int) -> int:
    """Largest power of two strictly smaller than ``n`` (``n >= 2``): the RFC's ``k``."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return the Merkle Tree Hash (MTH) of a list of already-hashed leaves.

    Iterative, level by level: pairs are combined and an odd last node is promoted
    unchanged to the next level, which yields exactly the RFC's left-balanced tree.
    """
    level = list(leaf_hashes)
    if not level:
        return EMPTY_ROOT
    sha = _sha256
    prefix = _NODE_PREFIX
    while len(level) > 1:
        # zip over the two strided slices keeps the hot loop in C as much as possible;
        # with an odd count the extra last node is dropped here and promoted below.
        evens, odds = level[0::2], level[1::2]
        nxt = [sha(prefix + a + b).digest() for a, b in zip(evens, odds, strict=False)]
        if len(level) & 1:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def perfect_ranges(start: int, end: int) -> list[tuple[int, int]]:
    """Decompose the RFC subtree over leaves ``[start, end)`` into perfect aligned nodes.

    The RFC splits n leaves at k (largest power of two < n); the left part is perfect and
    the right part is recursed on, so the pieces are the set bits of ``n`` from high to
    low. Returns ``(level, index)`` pairs left to right; ``[]`` for an empty range.

    Raises ``ValueError`` if the range is not a subtree of any RFC tree, i.e. its left
    part would not be aligned (``start`` not a multiple of the largest piece).
    """
    if start < 0 or end < start:
        raise ValueError(f"invalid leaf range [{start}, {end})")
    n = end - start
    if n == 0:
        return []
    top = n.bit_length() - 1
    if start & ((1 << top) - 1):
        raise ValueError(f"leaf range [{start}, {end}) is not an aligned RFC 9162 subtree")
    out: list[tuple[int, int]] = []
    pos = start
    # Once the largest piece is aligned, every smaller piece after it is aligned too.
    for level in range(top, -1, -1):
        if n >> level & 1:
            out.append((level, pos >> level))
            pos += 1 << level
    return out


def fold_range(start: int, end: int, nodes: Mapping[tuple[int, int], bytes]) -> bytes:
    """Return ``MTH(D[start:end])`` from perfect-node hashes keyed by ``(level, index)``.

    Folds the :func:`perfect_ranges` decomposition right to left with :func:`node_hash`,
    mirroring the RFC recursion ``MTH = H(left_perfect, MTH(rest))``. An empty range
    gives :data:`EMPTY_ROOT`. Raises ``KeyError`` if a needed node is missing.
    """
    pieces = perfect_ranges(start, end)
    if not pieces:
        return EMPTY_ROOT
    try:
        hashes = [nodes[key] for key in pieces]
    except KeyError as exc:
        level, index = exc.args[0]
        raise KeyError(f"missing perfect node (level={level}, index={index})") from None
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """Leaf ranges whose MTHs form the inclusion path for ``index`` in a tree of ``size``.

    This is RFC 9162 §2.1.3.1 PATH(m, D[n]) unrolled: walking down from the root we note
    the sibling of the half containing ``m`` at each split; PATH lists them bottom-up,
    so the result is that list reversed. Raises ``ValueError`` unless ``0 <= index < size``.
    """
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} out of range for tree size {size}")
    siblings: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        mid = start + _split_point(end - start)
        if index < mid:
            siblings.append((mid, end))
            end = mid
        else:
            siblings.append((start, mid))
            start = mid
    siblings.reverse()
    return siblings


# Inclusion paths as nodes of the aligned tree. The RFC's tree over n leaves is the aligned
# binary tree whose node (level, idx) covers leaves [idx * 2**level, (idx + 1) * 2**level)
# cut at n, a node with nothing right of its left child being that child itself (as in
# root_of). So a path is, level by level, the sibling of the leaf's ancestor if the sibling
# starts inside the tree: a perfect node, or the one partial node at the tree's right edge.
# Paths of many leaves share their nodes and need no range arithmetic.


def node_range(level: int, idx: int, size: int) -> tuple[int, int]:
    """The leaves ``[start, end)`` that node ``(level, idx)`` covers in the tree of ``size``."""
    start = idx << level
    return start, min(start + (1 << level), size)


def inclusion_nodes(index: int, size: int) -> list[tuple[int, int]]:
    """The inclusion path of ``index`` in the tree of ``size`` as nodes ``(level, idx)``,
    bottom-up: element k is ``MTH(D[node_range(level, idx, size)])`` and equals the
    hash of ``inclusion_ranges(index, size)[k]``. Raises ``ValueError`` unless
    ``0 <= index < size``."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} out of range for tree size {size}")
    return [(level, (index >> level) ^ 1) for level in range((size - 1).bit_length())
            if ((index >> level) ^ 1) << level < size]


def inclusion_node_sets(indices: Iterable[int], size: int) -> list[set[int]]:
    """For each level from 0 up, the indices of the nodes that the inclusion paths of
    ``indices`` in the tree of ``size`` use there (see :func:`inclusion_nodes`); the list
    has one set per level a path can reach, ``(size - 1).bit_length()`` of them."""
    leaves = set(indices)
    if any(not 0 <= index < size for index in leaves):
        raise ValueError(f"a leaf index is out of range for tree size {size}")
    out: list[set[int]] = []
    for level in range((size - 1).bit_length() if size > 0 else 0):
        siblings = {(index >> level) ^ 1 for index in leaves}
        # The one node that would start past the last leaf: the last ancestor has no
        # sibling at this level, so its paths have no element here.
        siblings.discard(((size - 1) >> level) + 1)
        out.append(siblings)
    return out


T = TypeVar("T")


def path_from_levels(levels: Sequence[Mapping[int, T] | Sequence[T]], index: int,
                     size: int) -> list[T]:
    """The inclusion path of ``index`` from per-level node values (``levels[level][idx]``,
    as :func:`inclusion_node_sets` names them: hashes, or anything derived from them)."""
    return [level[(index >> n) ^ 1] for n, level in enumerate(levels)
            if ((index >> n) ^ 1) << n < size]


def paths_from_levels(levels: Sequence[Mapping[int, T] | Sequence[T]], indices: Sequence[int],
                      size: int) -> list[list[T]]:
    """``[path_from_levels(levels, index, size) for index in indices]``, built a level at a
    time: a leaf left of ``2**(len(levels) - 1)`` has a sibling at every level, so its
    path is one lookup per level with no test (the rest, at the right edge, are tested)."""
    if not levels:
        return [[] for _ in indices]
    half = 1 << (len(levels) - 1)
    inner = [index for index in indices if index < half]
    columns = [[level[(index >> n) ^ 1] for index in inner] for n, level in enumerate(levels)]
    inner_paths = iter(list(map(list, zip(*columns, strict=True))) if inner else [])
    return [next(inner_paths) if index < half else path_from_levels(levels, index, size)
            for index in indices]


def parent_level(hashes: Sequence[bytes]) -> list[bytes]:
    """The perfect nodes one level up from the perfect nodes ``0 .. len(hashes) - 1`` of a
    level (a left-over last node has no perfect parent)."""
    sha, prefix = _sha256, _NODE_PREFIX
    return [sha(prefix + a + b).digest() for a, b in zip(hashes[0::2], hashes[1::2],
                                                          strict=False)]


def consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    """Leaf ranges whose MTHs form the consistency proof from ``first`` to ``second``.

    RFC 9162 §2.1.4.1 SUBPROOF(m, D[n], b) unrolled. Walking down, each split appends the
    MTH of the half *not* recursed into; when the recursion bottoms out at ``m == n`` the
    subtree itself is emitted first, but only if ``b`` is false (i.e. we moved right at
    least once, so the verifier cannot know that node from the old root alone).
    Requires ``0 < first <= second``; ``first == second`` yields ``[]``.
    """
    if not 0 < first <= second:
        raise ValueError(f"consistency needs 0 < first <= second, got {first}, {second}")
    if first == second:
        return []
    appended: list[tuple[int, int]] = []
    start, end = 0, second
    b = True
    while True:
        m = first - start
        n = end - start
        if m == n:
            head = [] if b else [(start, end)]
            break
        k = _split_point(n)
        if m <= k:
            appended.append((start + k, end))
            end = start + k
        else:
            appended.append((start, start + k))
            start += k
            b = False
    appended.reverse()
    return head + appended


def _check_leaves(size: int, leaf_hashes: Sequence[bytes]) -> None:
    if size < 0 or len(leaf_hashes) < size:
        raise ValueError(f"need {size} leaf hashes, got {len(leaf_hashes)}")


def inclusion_proof(index: int, size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Return the RFC 9162 inclusion path for ``index`` in the tree over the first ``size``
    of ``leaf_hashes``. In-memory convenience, O(size): for tests and small trees."""
    _check_leaves(size, leaf_hashes)
    return [root_of(leaf_hashes[s:e]) for s, e in inclusion_ranges(index, size)]


def consistency_proof(first: int, second: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Return the RFC 9162 consistency proof between tree sizes ``first`` and ``second``
    over ``leaf_hashes``. In-memory convenience, O(second): for tests and small trees."""
    _check_leaves(second, leaf_hashes)
    return [root_of(leaf_hashes[s:e]) for s, e in consistency_ranges(first, second)]


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_SIZE


def verify_inclusion(
    leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """Verify an inclusion path per RFC 9162 §2.1.3.2. Never raises; False on bad input."""
    try:
        if not (isinstance(index, int) and isinstance(size, int)) or not 0 <= index < size:
            return False
        proof = list(path)
        if not (_is_hash(leaf) and _is_hash(root)) or not all(_is_hash(p) for p in proof):
            return False
        fn, sn = index, size - 1
        r = leaf
        for p in proof:
            if sn == 0:
                return False  # path longer than the tree is tall
            if fn & 1 or fn == sn:
                r = node_hash(p, r)
                if not fn & 1:
                    # Right edge of an unbalanced tree: skip levels where we have no sibling.
                    while fn and not fn & 1:
                        fn >>= 1
                        sn >>= 1
            else:
                r = node_hash(r, p)
            fn >>= 1
            sn >>= 1
        return sn == 0 and r == root
    except Exception:  # pragma: no cover - defensive: a verifier must never blow up
        return False


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, path: Sequence[bytes]
) -> bool:
    """Verify a consistency proof per RFC 9162 §2.1.4.2. Never raises; False on bad input.

    ``first == second`` is accepted only with an empty path and equal roots.
    """
    try:
        if not (isinstance(first, int) and isinstance(second, int)) or not 0 < first <= second:
            return False
        if not (_is_hash(first_root) and _is_hash(second_root)):
            return False
        proof = list(path)
        if not all(_is_hash(p) for p in proof):
            return False
        if first == second:
            return not proof and first_root == second_root
        if not proof:
            return False
        if first & (first - 1) == 0:
            # A power-of-two old tree is itself a node of the new tree; the RFC omits it.
            proof.insert(0, first_root)
        fn, sn = first - 1, second - 1
        while fn & 1:
            fn >>= 1
            sn >>= 1
        fr = sr = proof[0]
        for c in proof[1:]:
            if sn == 0:
                return False
            if fn & 1 or fn == sn:
                fr = node_hash(c, fr)
                sr = node_hash(c, sr)
                if not fn & 1:
                    while fn and not fn & 1:
                        fn >>= 1
                        sn >>= 1
            else:
                sr = node_hash(sr, c)
            fn >>= 1
            sn >>= 1
        return sn == 0 and fr == first_root and sr == second_root
    except Exception:  # pragma: no cover - defensive: a verifier must never blow up
        return False


class MerkleFrontier:
    """An append-only Merkle tree kept as its "compact range" (the right frontier).

    It holds only the hashes of ``perfect_ranges(0, size)`` — one per set bit of ``size``,
    highest level first — which is all that is needed to append a leaf and to compute the
    root. Meant to be persisted in one column and advanced once per database transaction.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        """Create a frontier for a tree of ``size`` leaves from its perfect-subtree hashes
        (``perfect_ranges(0, size)`` order, left to right)."""
        if size < 0:
            raise ValueError(f"tree size must be >= 0, got {size}")
        hs = list(hashes)
        if len(hs) != size.bit_count():
            raise ValueError(
                f"a tree of size {size} has {size.bit_count()} frontier hashes, got {len(hs)}"
            )
        if not all(_is_hash(h) for h in hs):
            raise ValueError("frontier hashes must be 32-byte values")
        self._size = size
        self._hashes = hs

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """Perfect-subtree hashes of ``perfect_ranges(0, size)``, left to right."""
        return tuple(self._hashes)

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Append one leaf hash; return the perfect nodes of level >= 1 it completes, as
        ``(level, index, hash)`` with the lowest level first."""
        if not _is_hash(leaf):
            raise ValueError("leaf hash must be 32 bytes")
        completed: list[tuple[int, int, bytes]] = []
        h = leaf
        idx = self._size
        level = 0
        # Binary-counter carry: each set low bit of size is a same-level subtree to merge.
        while self._size >> level & 1:
            h = node_hash(self._hashes.pop(), h)
            level += 1
            idx >>= 1
            completed.append((level, idx, h))
        self._hashes.append(h)
        self._size += 1
        return completed

    def root(self) -> bytes:
        """Return the current tree root (:data:`EMPTY_ROOT` for the empty tree)."""
        if not self._hashes:
            return EMPTY_ROOT
        acc = self._hashes[-1]
        for h in reversed(self._hashes[:-1]):
            acc = node_hash(h, acc)
        return acc

    def to_bytes(self) -> bytes:
        """Serialise the frontier hashes (concatenated) for a single database column."""
        return b"".join(self._hashes)

    @classmethod
    def from_bytes(cls, size: int, data: bytes) -> MerkleFrontier:
        """Rebuild a frontier from :meth:`to_bytes` output and the tree size."""
        if len(data) != HASH_SIZE * max(size, 0).bit_count():
            raise ValueError(f"frontier blob of {len(data)} bytes does not fit tree size {size}")
        chunks = [bytes(data[i : i + HASH_SIZE]) for i in range(0, len(data), HASH_SIZE)]
        return cls(size, chunks)

    def copy(self) -> MerkleFrontier:
        """Return an independent copy (handy for computing a root without committing)."""
        return MerkleFrontier(self._size, self._hashes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MerkleFrontier):
            return NotImplemented
        return self._size == other._size and self._hashes == other._hashes

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"MerkleFrontier(size={self._size}, root={self.root().hex()})"
