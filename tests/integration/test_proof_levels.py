"""Statement proofs fetched a level at a time (ledger/services/transparency.py): sparse,
dense and never-dense selections of leaves give exactly the single proofs."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

import ledger.services.transparency as transparency
from ledger.actor import Actor
from ledger.services.transparency import LogIdentity, latest_checkpoint
from ledger.unit_of_work import UnitOfWork


@pytest.mark.parametrize("dense", [0.5, 1e-9, 1e9])  # as set, always dense, never dense
def test_sparse_and_dense_selections_match_single_proofs(
        uow_factory: Callable[[], UnitOfWork], make_party: Callable[..., Actor],
        identity: LogIdentity, monkeypatch: pytest.MonkeyPatch, dense: float) -> None:
    monkeypatch.setattr(transparency, "DENSE", dense)
    monkeypatch.setattr(transparency, "CHUNK", 3)
    for _ in range(35):  # about 45 entries
        make_party("investor")
    size = latest_checkpoint(uow_factory(), identity).tree_size
    rng = random.Random(size)
    selections = [[1], [size], [1, size], sorted(rng.sample(range(1, size + 1), 5)),
                  list(range(1, size + 1, 7)), list(range(1, size + 1))]
    for tree in (size, size - 1, 33, 32, 2, 1):
        for seqs in selections:
            seqs = [seq for seq in seqs if seq <= tree]
            with uow_factory() as uow:
                paths = transparency.inclusion_paths(uow.session, seqs, tree)
            assert sorted(paths) == seqs
            for seq in seqs:
                single = transparency.inclusion_proof(uow_factory(), seq, tree)["path"]
                assert [h.hex() for h in paths[seq]] == single, (tree, seq)
