"""Batched proof fetching (ledger/services/transparency.py): many audit paths at once, in
SQLite chunks or one PostgreSQL array per query, all verifying against the signed root."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

import ledger.services.transparency as transparency
from ledger.actor import Actor
from ledger.merkle import verify_inclusion
from ledger.models import JournalEntry
from ledger.services.transparency import LogIdentity, inclusion_paths, latest_checkpoint
from ledger.unit_of_work import UnitOfWork


@pytest.mark.parametrize("chunk", [3, 2000])
def test_every_path_of_a_journal_verifies(uow_factory: Callable[[], UnitOfWork],
                                          make_party: Callable[..., Actor],
                                          identity: LogIdentity, monkeypatch: pytest.MonkeyPatch,
                                          chunk: int) -> None:
    monkeypatch.setattr(transparency, "CHUNK", chunk)
    for _ in range(30):  # about 40 entries: an unbalanced tree
        make_party("investor")
    checkpoint = latest_checkpoint(uow_factory(), identity)
    size = checkpoint.tree_size
    with uow_factory() as uow:
        leaves = dict(uow.session.execute(select(JournalEntry.seq, JournalEntry.leaf_hash)
                                          .where(JournalEntry.seq <= size)).all())
        seqs = sorted(leaves)
        paths = inclusion_paths(uow.session, seqs, size)
        smaller = inclusion_paths(uow.session, seqs[: size // 2], size // 2)
        root_half = transparency.root_at(uow.session, size // 2)
    assert size > 30 and sorted(paths) == seqs
    for seq in seqs:
        assert verify_inclusion(leaves[seq], seq - 1, size, paths[seq], checkpoint.root_hash)
        if seq <= size // 2:
            assert verify_inclusion(leaves[seq], seq - 1, size // 2, smaller[seq], root_half)
    # A wrong leaf does not verify: the check above can fail.
    assert not verify_inclusion(leaves[seqs[1]], 0, size, paths[seqs[0]], checkpoint.root_hash)
