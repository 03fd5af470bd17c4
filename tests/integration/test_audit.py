"""ledger.audit.verify_journal in process, on both engines: checkpoints of every size,
including the empty journal, and the checkpoint columns the API serves."""

from __future__ import annotations

from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session, sessionmaker

from ledger.audit import verify_journal
from ledger.merkle import EMPTY_ROOT
from ledger.services import parties
from ledger.services.transparency import LogIdentity, latest_checkpoint
from ledger.unit_of_work import UnitOfWork
from tests.conftest import ORIGIN
from tests.integration.conftest import World
from tests.integration.helpers import raw_execute


def _verify(sessions: sessionmaker[Session], identity: LogIdentity) -> tuple[bool, int | None,
                                                                            int, str | None]:
    with sessions() as session:
        report = verify_journal(session, identity.private_key.public_key(), ORIGIN)
    return report.ok, report.first_bad_seq, report.checkpoints, report.reason


def test_empty_journal_verifies(sessions: sessionmaker[Session], identity: LogIdentity) -> None:
    assert _verify(sessions, identity) == (True, None, 0, None)


def test_a_checkpoint_of_the_empty_journal_verifies(
    sessions: sessionmaker[Session], uow_factory: Callable[[], UnitOfWork],
    identity: LogIdentity,
) -> None:
    empty = latest_checkpoint(uow_factory(), identity)
    assert (empty.tree_size, empty.root_hash) == (0, EMPTY_ROOT)
    assert _verify(sessions, identity) == (True, None, 1, None)
    parties.bootstrap_operator(uow_factory())
    assert latest_checkpoint(uow_factory(), identity).tree_size == 2
    assert _verify(sessions, identity) == (True, None, 2, None)


def test_a_forged_empty_checkpoint_is_caught(
    database_url: str, sessions: sessionmaker[Session], uow_factory: Callable[[], UnitOfWork],
    identity: LogIdentity,
) -> None:
    latest_checkpoint(uow_factory(), identity)
    parties.bootstrap_operator(uow_factory())
    raw_execute(database_url, [("UPDATE checkpoints SET root_hash = ? WHERE tree_size = 0",
                                [bytes(32)])])
    ok, seq, _, reason = _verify(sessions, identity)
    assert (ok, seq) == (False, 0)
    assert reason == "checkpoint at size 0 does not match the journal"


def test_checkpoint_columns_must_agree_with_the_note(
    database_url: str, world: World, identity: LogIdentity,
) -> None:
    size = latest_checkpoint(world.uow(), identity).tree_size
    assert _verify(world.sessions, identity)[0]
    raw_execute(database_url, [("UPDATE checkpoints SET key_id = ? WHERE tree_size = ?",
                                [b"\x00\x01\x02\x03", size])])
    ok, seq, checkpoints, reason = _verify(world.sessions, identity)
    assert (ok, seq, checkpoints) == (False, size, 0)
    assert reason == f"checkpoint at size {size}: its stored key id is not the signing key's"


def test_a_checkpoint_signed_by_another_key_is_caught(
    world: World, identity: LogIdentity,
) -> None:
    impostor = LogIdentity(ORIGIN, Ed25519PrivateKey.generate())
    size = latest_checkpoint(world.uow(), impostor).tree_size
    ok, seq, _, reason = _verify(world.sessions, identity)
    assert (ok, seq) == (False, size)
    assert reason is not None and "no signature line from key" in reason
