"""Audit paths built a level at a time (ledger/merkle.py), against the naive RFC 9162
reference and the per-range decomposition, for every leaf of small trees."""

from __future__ import annotations

import hashlib
import random

import pytest

from ledger.merkle import (
    inclusion_node_sets,
    inclusion_nodes,
    inclusion_proof,
    inclusion_ranges,
    node_range,
    parent_level,
    path_from_levels,
    paths_from_levels,
    root_of,
)

LEAVES = [hashlib.sha256(b"\x00" + f"leaf {i}".encode()).digest() for i in range(300)]


def test_inclusion_nodes_are_the_inclusion_ranges() -> None:
    for n in range(1, 300):
        sets = inclusion_node_sets(range(n), n)
        assert len(sets) == (n - 1).bit_length()
        for m in range(n):
            nodes = inclusion_nodes(m, n)
            assert [node_range(level, idx, n) for level, idx in nodes] == inclusion_ranges(m, n)
            assert all(idx in sets[level] for level, idx in nodes)
        # No node that no path uses.
        used = {node for m in range(n) for node in inclusion_nodes(m, n)}
        assert sum(map(len, sets)) == len(used)
    rng = random.Random(4)
    for _ in range(500):
        n = rng.randrange(1, 1 << 45)
        m = rng.randrange(n)
        assert [node_range(lv, i, n) for lv, i in inclusion_nodes(m, n)] == inclusion_ranges(m, n)
    with pytest.raises(ValueError):
        inclusion_nodes(5, 5)
    with pytest.raises(ValueError):
        inclusion_node_sets([0, 5], 5)


def test_paths_from_levels_are_the_rfc_paths() -> None:
    for n in [*range(1, 70), 128, 129, 255, 256, 257, 300]:
        sets = inclusion_node_sets(range(n), n)
        levels = [{idx: root_of(LEAVES[slice(*node_range(level, idx, n))]) for idx in indexes}
                  for level, indexes in enumerate(sets)]
        order = list(range(n))
        random.Random(n).shuffle(order)
        expected = [inclusion_proof(m, n, LEAVES) for m in order]
        assert paths_from_levels(levels, order, n) == expected, n
        assert [path_from_levels(levels, m, n) for m in order] == expected, n
        assert paths_from_levels(levels, [], n) == []


def test_parent_level() -> None:
    level = LEAVES[:64]
    for height in range(1, 7):
        level = parent_level(level)
        width = 1 << height
        assert level == [root_of(LEAVES[i * width:(i + 1) * width]) for i in range(64 // width)]
    assert parent_level(LEAVES[:5]) == parent_level(LEAVES[:4])
