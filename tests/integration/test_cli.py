"""`ipx ledger verify`, `ipx ledger replay --check` and `ipx init`, run as real processes
against a journal the services built. Tampering is done the way someone with direct database
access would: plain SQL on SQLite; on PostgreSQL, by disabling the append-only triggers."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from ledger.canonical import leaf_hash
from ledger.db import make_engine, make_session_factory
from ledger.journal import GENESIS_CHAIN, chain_next
from ledger.services import assets, money, parties
from ledger.services.transparency import LogIdentity, latest_checkpoint
from ledger.signing_key import load_or_create_signing_key
from ledger.unit_of_work import UnitOfWork
from tests.conftest import ORIGIN
from tests.integration.conftest import World
from tests.integration.helpers import head_size, raw_execute, raw_query

REPO = Path(__file__).resolve().parents[2]
IPX_SCRIPT = Path(sys.executable).parent / "ipx"
IPX = [str(IPX_SCRIPT)] if IPX_SCRIPT.exists() else [sys.executable, "-m", "api.cli"]


def ipx(*args: str, database_url: str | None, home: Path | None, origin: str | None = ORIGIN,
        cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("IPX_DATABASE_URL", "IPX_HOME", "IPX_LOG_ORIGIN")}
    if database_url is not None:
        env["IPX_DATABASE_URL"] = database_url
    if home is not None:
        env["IPX_HOME"] = str(home)
    if origin is not None:
        env["IPX_LOG_ORIGIN"] = origin
    return subprocess.run([*IPX, *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False)


@dataclass(frozen=True)
class Journal:
    size: int  # entries
    middle: int  # the tree size of the first of the two checkpoints


def build_journal(world: World, identity: LogIdentity) -> Journal:
    """About twenty entries of every kind, a checkpoint half way and one at the end."""
    uow, op = world.uow, world.operator
    key = parties.issue_api_key(uow(), op, world.investor.party_id)
    parties.revoke_api_key(uow(), world.investor, key.id)
    middle = latest_checkpoint(uow(), identity).tree_size
    assets.record_cost(uow(), world.university, world.listing.asset.id, "50.00", "HKD", "fees")
    money.deposit(uow(), op, world.investor.party_id, "1000.00", "HKD", "D1")
    money.deposit(uow(), op, world.alice.party_id, "20.00", "HKD", "D2")
    money.deposit(uow(), op, world.bob.party_id, "1.500", "KWD", "D3")
    paid = money.request_withdrawal(uow(), world.investor, "100.00", "HKD")
    money.settle_withdrawal(uow(), op, paid.id, paid=True)
    cancelled = money.request_withdrawal(uow(), world.alice, "5.00", "HKD")
    money.settle_withdrawal(uow(), op, cancelled.id, paid=False)
    assets.transfer_units(uow(), world.alice, world.instrument("inventor"),
                          world.investor.party_id, 1000)
    assets.transfer_units(uow(), world.university, world.instrument("university"),
                          world.bob.party_id, 5)
    money.deposit(uow(), op, world.investor.party_id, "1.00", "HKD", "D4")
    end = latest_checkpoint(uow(), identity).tree_size
    assert end == head_size(world.sessions) >= 20 and 8 <= middle < 12
    return Journal(end, middle)


@pytest.fixture
def journal(world: World, identity: LogIdentity) -> Journal:
    return build_journal(world, identity)


def assert_broken_at(result: subprocess.CompletedProcess[str], seq: int) -> None:
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert f"journal BROKEN at seq {seq}:" in output, output
    assert "journal intact" not in output


# --- intact -----------------------------------------------------------------------------------

def test_verify_passes_on_an_intact_journal(database_url: str, home: Path,
                                            journal: Journal) -> None:
    result = ipx("ledger", "verify", database_url=database_url, home=home)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"journal intact: {journal.size} entries, 2 checkpoints verified" in result.stdout


def test_verify_fails_against_another_origin(database_url: str, home: Path,
                                             journal: Journal) -> None:
    # The checkpoints were signed for ORIGIN; the CLI's default origin is another log's.
    assert_broken_at(ipx("ledger", "verify", database_url=database_url, home=home, origin=None),
                     journal.middle)


def test_verify_fails_with_another_key(database_url: str, home: Path, journal: Journal,
                                       tmp_path: Path) -> None:
    other = tmp_path / "other-home"
    load_or_create_signing_key(other)
    assert_broken_at(ipx("ledger", "verify", database_url=database_url, home=other),
                     journal.middle)


# --- tampering: each case in a fresh database -------------------------------------------------

def _flip(data: bytes, index: int = 0) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1:]


def _row(url: str, seq: int) -> tuple[str, bytes, bytes]:
    [(body, leaf, chain)] = raw_query(
        url, "SELECT body, leaf_hash, chain_hash FROM journal_entries WHERE seq = ?", [seq])
    return body, bytes(leaf), bytes(chain)


def alter_body_byte(url: str, journal: Journal) -> int:
    body, _, _ = _row(url, 7)
    # The last digit of the timestamp: still canonical JSON, only the hash can tell.
    at = body.index('"at":"') + len('"at":"2000-01-01T00:00:00.00000')
    digit = "1" if body[at] != "1" else "2"
    raw_execute(url, [("UPDATE journal_entries SET body = ? WHERE seq = ?",
                       [body[:at] + digit + body[at + 1:], 7])])
    return 7


def alter_body_to_other_json(url: str, journal: Journal) -> int:
    body, _, _ = _row(url, 9)
    raw_execute(url, [("UPDATE journal_entries SET body = ? WHERE seq = ?",
                       [body.replace('{"', '{ "', 1), 9])])  # same JSON, not canonical
    return 9


def alter_leaf_hash(url: str, journal: Journal) -> int:
    _, leaf, _ = _row(url, 7)
    raw_execute(url, [("UPDATE journal_entries SET leaf_hash = ? WHERE seq = ?",
                       [_flip(leaf, 31), 7])])
    return 7


def alter_chain_hash(url: str, journal: Journal) -> int:
    _, _, chain = _row(url, 7)
    raw_execute(url, [("UPDATE journal_entries SET chain_hash = ? WHERE seq = ?",
                       [_flip(chain), 7])])
    return 7


def delete_middle_row(url: str, journal: Journal) -> int:
    raw_execute(url, [("DELETE FROM journal_entry_parties WHERE seq = ?", [7]),
                      ("DELETE FROM journal_entries WHERE seq = ?", [7])])
    return 7


def delete_last_row(url: str, journal: Journal) -> int:
    raw_execute(url, [("DELETE FROM journal_entry_parties WHERE seq = ?", [journal.size]),
                      ("DELETE FROM journal_entries WHERE seq = ?", [journal.size])])
    return journal.size


def swap_two_bodies(url: str, journal: Journal) -> int:
    first, second = _row(url, 5)[0], _row(url, 9)[0]
    raw_execute(url, [("UPDATE journal_entries SET body = ? WHERE seq = ?", [second, 5]),
                      ("UPDATE journal_entries SET body = ? WHERE seq = ?", [first, 9])])
    return 5


def swap_two_rows(url: str, journal: Journal) -> int:
    # A cleverer reorder: bodies with their leaf hashes, then the chain recomputed from there.
    rows = {seq: _row(url, seq) for seq in range(1, journal.size + 1)}
    rows[12], rows[13] = rows[13], rows[12]
    chain, updates = GENESIS_CHAIN, []
    for seq in range(1, journal.size + 1):
        body, leaf, _ = rows[seq]
        chain = chain_next(chain, leaf)
        updates.append(("UPDATE journal_entries SET body = ?, leaf_hash = ?, chain_hash = ? "
                        "WHERE seq = ?", [body, leaf, chain, seq]))
    raw_execute(url, updates)
    return 12


def rewrite_entry_consistently(url: str, journal: Journal) -> int:
    # Body, leaf and every later chain link rewritten to agree: the Merkle tree still knows.
    body, _, _ = _row(url, 12)
    forged = body.replace('"amount":"1000.00"', '"amount":"9000.00"')
    assert forged != body
    updates = [("UPDATE journal_entries SET body = ?, leaf_hash = ? WHERE seq = ?",
                [forged, leaf_hash(forged.encode()), 12])]
    chain = _row(url, 11)[2]
    for seq in range(12, journal.size + 1):
        leaf = leaf_hash(forged.encode()) if seq == 12 else _row(url, seq)[1]
        chain = chain_next(chain, leaf)
        updates.append(("UPDATE journal_entries SET chain_hash = ? WHERE seq = ?", [chain, seq]))
    head = ("UPDATE journal_head SET chain_hash = ? WHERE id = 1", [chain])
    raw_execute(url, [*updates, head])
    # Leaf index 11 completes the level-1 node (1, 5) over leaves 10 and 11: seq 12 itself.
    return 12


def alter_merkle_node(url: str, journal: Journal) -> int:
    # Node (level 2, index 2) covers leaves 8..11: the leaf completing it is seq 12.
    [(digest,)] = raw_query(url, "SELECT hash FROM merkle_nodes WHERE level = 2 AND idx = 2")
    raw_execute(url, [("UPDATE merkle_nodes SET hash = ? WHERE level = 2 AND idx = 2",
                       [_flip(bytes(digest))])])
    return 12


def delete_merkle_node(url: str, journal: Journal) -> int:
    raw_execute(url, [("DELETE FROM merkle_nodes WHERE level = 1 AND idx = 2", [])])
    return 6


def _resign_line(note: str, change: Callable[[bytes], bytes]) -> str:
    text, _, line = note.rstrip("\n").rpartition("\n")
    prefix, _, blob = line.rpartition(" ")
    return f"{text}\n{prefix} {base64.b64encode(change(base64.b64decode(blob))).decode()}\n"


def alter_checkpoint_note_signature(url: str, journal: Journal) -> int:
    [(note,)] = raw_query(url, "SELECT note FROM checkpoints WHERE tree_size = ?",
                          [journal.middle])
    forged = _resign_line(note, lambda raw: raw[:4] + _flip(raw[4:], 10))
    raw_execute(url, [("UPDATE checkpoints SET note = ? WHERE tree_size = ?",
                       [forged, journal.middle])])
    return journal.middle


def alter_checkpoint_signature_column(url: str, journal: Journal) -> int:
    # The signature the API serves is this column, not the note: it must verify too.
    [(signature,)] = raw_query(url, "SELECT signature FROM checkpoints WHERE tree_size = ?",
                               [journal.middle])
    raw_execute(url, [("UPDATE checkpoints SET signature = ? WHERE tree_size = ?",
                       [_flip(bytes(signature), 5), journal.middle])])
    return journal.middle


def alter_checkpoint_root(url: str, journal: Journal) -> int:
    raw_execute(url, [("UPDATE checkpoints SET root_hash = ? WHERE tree_size = ?",
                       [hashlib.sha256(b"another tree").digest(), journal.size])])
    return journal.size


def alter_head(url: str, journal: Journal) -> int:
    raw_execute(url, [("UPDATE journal_head SET size = size + 1 WHERE id = 1", [])])
    return journal.size + 1


TAMPERS: dict[str, Callable[[str, Journal], int]] = {
    f.__name__: f for f in (
        alter_body_byte, alter_body_to_other_json, alter_leaf_hash, alter_chain_hash,
        delete_middle_row, delete_last_row, swap_two_bodies, swap_two_rows,
        rewrite_entry_consistently, alter_merkle_node, delete_merkle_node,
        alter_checkpoint_note_signature, alter_checkpoint_signature_column,
        alter_checkpoint_root, alter_head,
    )
}


# Every case on SQLite; on PostgreSQL (slower to set up) those that need the triggers disabled
# in every way: an altered row, a deleted one, a rewritten run of rows, a node, a checkpoint.
ON_POSTGRES = ("alter_body_byte", "alter_leaf_hash", "delete_middle_row", "delete_last_row",
               "swap_two_rows", "alter_merkle_node", "alter_checkpoint_signature_column")
CASES = [pytest.param("sqlite", name, id=f"sqlite-{name}") for name in sorted(TAMPERS)] + [
    pytest.param("postgresql", name, id=f"postgresql-{name}", marks=pytest.mark.postgres)
    for name in ON_POSTGRES]


@pytest.mark.parametrize(("database_url", "tamper"), CASES, indirect=["database_url"])
def test_verify_names_the_first_bad_seq(database_url: str, home: Path, journal: Journal,
                                        tamper: str) -> None:
    bad = TAMPERS[tamper](database_url, journal)
    assert_broken_at(ipx("ledger", "verify", database_url=database_url, home=home), bad)


# --- replay --check ---------------------------------------------------------------------------

def test_replay_check(database_url: str, home: Path, world: World, journal: Journal) -> None:
    intact = ipx("ledger", "replay", "--check", database_url=database_url, home=home)
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert "replay matches the tables" in intact.stdout
    code = f"{world.investor.party_id}:HKD:available"
    raw_execute(database_url, [
        ("UPDATE accounts SET balance_minor = balance_minor - 100 WHERE code = ?", [code])])
    altered = ipx("ledger", "replay", "--check", database_url=database_url, home=home)
    assert altered.returncode != 0
    assert f"account {code}: table 90000, journal 90100 (minor units)" in altered.stderr
    assert "1 differences" in altered.stderr
    # verify checks the journal, not the projections: it still passes.
    assert ipx("ledger", "verify", database_url=database_url, home=home).returncode == 0


def test_replay_check_sees_a_posting_the_journal_lacks(database_url: str, home: Path,
                                                      world: World, journal: Journal) -> None:
    code = f"{world.investor.party_id}:HKD:available"
    raw_execute(database_url, [(
        "INSERT INTO postings (account_id, journal_seq, line, amount_minor) "
        "SELECT p.account_id, p.journal_seq, 99, 5 FROM postings p "
        "JOIN accounts a ON a.id = p.account_id WHERE a.code = ? LIMIT 1", [code])])
    altered = ipx("ledger", "replay", "--check", database_url=database_url, home=home)
    assert altered.returncode != 0
    assert f"postings of {code}: sum 90105, journal 90100 (minor units)" in altered.stderr
    assert "1 differences" in altered.stderr


def test_replay_check_sees_altered_holdings(database_url: str, home: Path, world: World,
                                            journal: Journal) -> None:
    raw_execute(database_url, [("UPDATE holdings SET units = units + 1 WHERE party_id = ?",
                                [world.bob.party_id])])
    altered = ipx("ledger", "replay", "--check", database_url=database_url, home=home)
    assert altered.returncode != 0
    assert f"holding {world.bob.party_id} of " in altered.stderr


# --- init -------------------------------------------------------------------------------------

def _authenticates(database_url: str, key: str) -> str | None:
    engine = make_engine(database_url)
    try:
        actor = parties.authenticate(UnitOfWork(make_session_factory(engine)), key)
    finally:
        engine.dispose()
    return None if actor is None else actor.party_id


def test_init_prints_a_new_operator_key_last_and_is_rerunnable(database_url: str,
                                                              tmp_path: Path) -> None:
    home = tmp_path / "fresh-home"
    first = ipx("init", database_url=database_url, home=home)
    assert first.returncode == 0, first.stdout + first.stderr
    key_file = home / "ledger-signing-key.pem"
    pem = key_file.read_bytes()
    second = ipx("init", database_url=database_url, home=home)
    assert second.returncode == 0, second.stdout + second.stderr
    keys = [run.stdout.rstrip("\n").splitlines()[-1] for run in (first, second)]
    assert all(k.startswith("ipx_") and " " not in k for k in keys)
    assert keys[0] != keys[1]
    assert key_file.read_bytes() == pem  # the signing key is created once, never replaced
    operators = {_authenticates(database_url, k) for k in keys}
    assert len(operators) == 1 and None not in operators  # both keys, the same operator
    assert ipx("ledger", "verify", database_url=database_url, home=home).returncode == 0


def test_init_with_the_defaults_in_an_empty_folder(tmp_path: Path) -> None:
    # No IPX_* variables at all: sqlite:///var/ipx.sqlite3 and var/, under the working folder.
    result = ipx("init", database_url=None, home=None, origin=None, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "var" / "ipx.sqlite3").exists()
    assert (tmp_path / "var" / "ledger-signing-key.pem").exists()
    key = result.stdout.rstrip("\n").splitlines()[-1]
    assert key.startswith("ipx_")
    assert _authenticates(f"sqlite:///{tmp_path / 'var' / 'ipx.sqlite3'}", key) is not None


def test_init_creates_the_folder_of_an_absolute_sqlite_path(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'data' / 'nested' / 'ipx.sqlite3'}"
    result = ipx("init", database_url=url, home=tmp_path / "home")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.rstrip("\n").splitlines()[-1].startswith("ipx_")
    shutil.rmtree(tmp_path / "data")
