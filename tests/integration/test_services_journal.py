"""Every state change through the services writes its journal entry in the same transaction;
a failure writes none and changes no table; deposits are idempotent by client id; a replay
of the journal agrees with the tables. On SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, update

from ledger import replay
from ledger.actor import Actor
from ledger.audit import verify_journal
from ledger.canonical import canonical_bytes, leaf_hash
from ledger.errors import (
    Conflict,
    DomainError,
    IdempotencyConflict,
    InsufficientFunds,
    InsufficientUnits,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from ledger.models import (
    Account,
    ApiKey,
    Holding,
    JournalEntry,
    MoneyTransaction,
    Policy,
    Posting,
    Withdrawal,
)
from ledger.policy import policy_hash, resolve_policy
from ledger.services import assets, money, parties
from ledger.services.transparency import LogIdentity, latest_checkpoint
from ledger.unit_of_work import UnitOfWork
from tests.conftest import ORIGIN
from tests.integration.conftest import World
from tests.integration.helpers import (
    Sessions,
    balance,
    balances_by_currency,
    entries,
    head_size,
    new_entries,
    snapshot,
    units,
)


def avail(party: str, currency: str = "HKD") -> str:
    return f"{party}:{currency}:available"


def payout(party: str, currency: str = "HKD") -> str:
    return f"{party}:{currency}:payout"


CLEARING = "ipx:HKD:clearing"


def test_every_state_change_writes_its_entry(
    sessions: Sessions, uow_factory: Callable[[], UnitOfWork], operator: Actor,
    identity: LogIdentity,
) -> None:
    uow = uow_factory
    op_id = operator.party_id

    # Parties.
    with new_entries(sessions, "party.created") as got:
        alice = parties.register_party(uow(), operator, "Alice", "inventor")
    assert got[0].body["data"] == {"party_id": alice.id, "name": "Alice", "kind": "inventor"}
    assert got[0].body["actor"] == op_id
    assert got[0].parties == {alice.id, op_id}
    with new_entries(sessions, "party.created"):
        bob = parties.register_party(uow(), operator, "Bob", "inventor")
    with new_entries(sessions, "party.created"):
        hku = parties.register_party(uow(), operator, "HKU", "university")
    with new_entries(sessions, "party.created"):
        fund = parties.register_party(uow(), operator, "Fund", "investor")
    university = Actor(hku.id, "university")
    investor = Actor(fund.id, "investor")

    # Keys: issued, then revoked; revoking twice writes nothing the second time.
    with new_entries(sessions, "api_key.issued") as got:
        key = parties.issue_api_key(uow(), investor, fund.id)
    assert got[0].body["data"] == {"key_id": key.id, "party_id": fund.id}
    assert key.key not in str(got[0].body)  # the secret never reaches the journal
    assert parties.authenticate(uow(), key.key) == investor
    with new_entries(sessions, "api_key.revoked") as got:
        parties.revoke_api_key(uow(), operator, key.id)
    assert got[0].body["data"]["key_id"] == key.id
    assert got[0].parties == {fund.id, op_id}
    assert parties.authenticate(uow(), key.key) is None
    with new_entries(sessions):
        parties.revoke_api_key(uow(), investor, key.id)

    # Listing: registers the policy (once per content), then lists and issues units.
    inventors = [{"party_id": alice.id, "share": "0.6"}, {"party_id": bob.id, "share": "0.4"}]
    with new_entries(sessions, "policy.registered", "asset.listed") as got:
        listing = assets.list_asset(uow(), university, title=" Battery ", kind="patent",
                                    jurisdiction="HK", inventors=inventors, policy="uc-1997")
    registered, listed = got
    assert registered.body["data"]["hash"] == policy_hash(resolve_policy("uc-1997"))
    assert registered.body["data"]["policy"] == resolve_policy("uc-1997")
    assert registered.body["data"]["version"] == 1
    data = listed.body["data"]
    assert data["asset_id"] == listing.asset.id
    assert data["title"] == "Battery"
    assert data["policy"]["hash"] == listing.policy.hash == registered.body["data"]["hash"]
    assert {i["class"] for i in data["instruments"]} == {"inventor", "research", "university"}
    by_class = {i.unit_class: i.id for i in listing.instruments}
    assert sorted((m["party"], m["instrument"], m["units"], m["held"])
                  for m in listed.body["units"]) == sorted([
        (alice.id, by_class["inventor"], 600_000, 0), (bob.id, by_class["inventor"], 400_000, 0),
        (hku.id, by_class["research"], 1_000_000, 0),
        (hku.id, by_class["university"], 1_000_000, 0)])
    assert listed.parties == {hku.id, alice.id, bob.id}
    assert units(sessions, alice.id, by_class["inventor"]) == (600_000, 0)
    assert units(sessions, hku.id, by_class["university"]) == (1_000_000, 0)
    with new_entries(sessions, "asset.listed"):  # same policy content: pinned, not re-registered
        assets.list_asset(uow(), university, title="Second", kind="software", jurisdiction="US",
                          inventors=[{"party_id": bob.id, "share": "1"}], policy="uc-1997")
    custom = {"name": "uc-1997", "classes": ["inventor", "university"], "units_per_class": 10,
              "tiers": [{"from": "0", "shares": {"inventor": "50", "university": "50"}}]}
    with new_entries(sessions, "policy.registered", "asset.listed") as got:
        third = assets.list_asset(uow(), university, title="Third", kind="design",
                                  jurisdiction="EU", inventors=inventors, policy=custom)
    assert got[0].body["data"]["version"] == 2  # a new version of the same name
    assert third.policy.version == 2

    # Costs.
    with new_entries(sessions, "asset.cost_recorded") as got:
        cost = assets.record_cost(uow(), university, listing.asset.id, "1234.50", "HKD",
                                  "filing fees")
    assert got[0].body["data"] == {"cost_id": cost.id, "asset_id": listing.asset.id,
                                   "amount": "1234.50", "currency": "HKD",
                                   "description": "filing fees"}
    assert cost.journal_seq == got[0].seq

    # Deposit: postings in the body, the party named.
    with new_entries(sessions, "money.deposit") as got:
        receipt = money.deposit(uow(), operator, fund.id, "1000.00", "HKD", "BANK-1")
    assert receipt.journal_seq == got[0].seq
    assert got[0].body["postings"] == [
        {"account": CLEARING, "amount": "-1000.00", "currency": "HKD"},
        {"account": avail(fund.id), "amount": "1000.00", "currency": "HKD"}]
    assert got[0].parties == {fund.id, op_id}
    assert balance(sessions, avail(fund.id)) == 100_000
    assert balance(sessions, CLEARING) == -100_000

    # Withdrawal requested, then paid; another requested, then cancelled.
    with new_entries(sessions, "money.withdrawal_requested") as got:
        first = money.request_withdrawal(uow(), investor, "300.00", "HKD")
    assert got[0].body["data"]["withdrawal_id"] == first.id
    assert got[0].body["postings"] == [
        {"account": avail(fund.id), "amount": "-300.00", "currency": "HKD"},
        {"account": payout(fund.id), "amount": "300.00", "currency": "HKD"}]
    with new_entries(sessions, "money.withdrawal_paid") as got:
        assert money.settle_withdrawal(uow(), operator, first.id, paid=True).status == "paid"
    assert got[0].body["postings"][1] == {"account": CLEARING, "amount": "300.00",
                                          "currency": "HKD"}
    assert got[0].parties == {fund.id, op_id}
    with new_entries(sessions, "money.withdrawal_requested"):
        second = money.request_withdrawal(uow(), investor, "200.00", "HKD")
    with new_entries(sessions, "money.withdrawal_cancelled") as got:
        money.settle_withdrawal(uow(), operator, second.id, paid=False)
    assert got[0].body["postings"][1] == {"account": avail(fund.id), "amount": "200.00",
                                          "currency": "HKD"}
    assert balance(sessions, avail(fund.id)) == 70_000
    assert balance(sessions, payout(fund.id)) == 0
    assert balance(sessions, CLEARING) == -70_000

    # Units given off-exchange.
    alice_actor = Actor(alice.id, "inventor")
    with new_entries(sessions, "units.transferred") as got:
        seq = assets.transfer_units(uow(), alice_actor, by_class["inventor"], fund.id, 250_000,
                                    "gift")
    assert seq == got[0].seq
    assert got[0].body["data"] == {"instrument_id": by_class["inventor"], "from": alice.id,
                                   "to": fund.id, "units": 250_000, "reference": "gift"}
    assert got[0].parties == {alice.id, fund.id}
    assert units(sessions, alice.id, by_class["inventor"]) == (350_000, 0)
    assert units(sessions, fund.id, by_class["inventor"]) == (250_000, 0)

    # The journal as a whole: contiguous, leaf hashes of the canonical bodies, verifiable.
    journal = entries(sessions)
    assert [e.seq for e in journal] == list(range(1, len(journal) + 1))
    with sessions() as session:
        for row in session.execute(select(JournalEntry)).scalars():
            assert row.body.encode() == canonical_bytes(json.loads(row.body))
            assert row.leaf_hash == leaf_hash(row.body.encode())
    latest_checkpoint(uow(), identity)
    with sessions() as session:
        report = verify_journal(session, identity.private_key.public_key(), ORIGIN)
        assert report.ok, report
        assert report.entries == len(journal) and report.checkpoints == 1
        assert replay.compare(session) == []


# --- atomicity ----------------------------------------------------------------------------

def _open_withdrawal(world: World) -> Withdrawal:
    money.deposit(world.uow(), world.operator, world.investor.party_id, "100.00", "HKD", "B1")
    return money.request_withdrawal(world.uow(), world.investor, "40.00", "HKD")


def _explode_after_issuing(*_: Any, **__: Any) -> None:
    raise InsufficientUnits("injected failure after the policy was registered")


FAILURES: dict[str, tuple[type[DomainError], Callable[[World, pytest.MonkeyPatch], Any]]] = {
    "deposit to an unknown party": (NotFound, lambda w, _: money.deposit(
        w.uow(), w.operator, "pty_nobody", "10.00", "HKD", "X")),
    "deposit by a non-operator": (PermissionDenied, lambda w, _: money.deposit(
        w.uow(), w.investor, w.investor.party_id, "10.00", "HKD", "X")),
    "deposit with excess precision": (InvalidInput, lambda w, _: money.deposit(
        w.uow(), w.operator, w.investor.party_id, "10.001", "HKD", "X")),
    # The withdrawal creates its payout account before finding the money short.
    "withdrawal with no money at all": (InsufficientFunds, lambda w, _: money.request_withdrawal(
        w.uow(), w.investor, "0.01", "HKD")),
    "withdrawal beyond the balance": (InsufficientFunds, lambda w, _: (
        money.deposit(w.uow(), w.operator, w.investor.party_id, "5.00", "HKD", "B0"),
        money.request_withdrawal(w.uow(), w.investor, "5.01", "HKD"))),
    "settling a settled withdrawal": (Conflict, lambda w, _: (
        wd := _open_withdrawal(w),
        money.settle_withdrawal(w.uow(), w.operator, wd.id, paid=True),
        money.settle_withdrawal(w.uow(), w.operator, wd.id, paid=False))),
    "settling an unknown withdrawal": (NotFound, lambda w, _: money.settle_withdrawal(
        w.uow(), w.operator, "wdr_nothing", paid=True)),
    "transfer of units not held": (InsufficientUnits, lambda w, _: assets.transfer_units(
        w.uow(), w.bob, w.instrument("inventor"), w.investor.party_id, 400_001)),
    "transfer by a non-holder": (InsufficientUnits, lambda w, _: assets.transfer_units(
        w.uow(), w.investor, w.instrument("inventor"), w.bob.party_id, 1)),
    "transfer to an unknown party": (InvalidInput, lambda w, _: assets.transfer_units(
        w.uow(), w.alice, w.instrument("inventor"), "pty_nobody", 1)),
    "transfer of an unknown instrument": (NotFound, lambda w, _: assets.transfer_units(
        w.uow(), w.alice, "ins_nothing", w.bob.party_id, 1)),
    "cost by a non-owner": (PermissionDenied, lambda w, _: assets.record_cost(
        w.uow(), w.investor, w.listing.asset.id, "1.00", "HKD", "x")),
    "cost in another currency": (InvalidInput, lambda w, _: assets.record_cost(
        w.uow(), w.university, w.listing.asset.id, "1.00", "USD", "x")),
    "listing with a non-inventor": (InvalidInput, lambda w, _: assets.list_asset(
        w.uow(), w.university, title="T", kind="patent", jurisdiction="HK", policy="uc-1997",
        inventors=[{"party_id": w.investor.party_id, "share": "1"}])),
    "listing with shares not summing to 1": (InvalidInput, lambda w, _: assets.list_asset(
        w.uow(), w.university, title="T", kind="patent", jurisdiction="HK", policy="uc-1997",
        inventors=[{"party_id": w.alice.party_id, "share": "0.5"}])),
    "listing with an invalid policy": (InvalidInput, lambda w, _: assets.list_asset(
        w.uow(), w.university, title="T", kind="patent", jurisdiction="HK",
        inventors=[{"party_id": w.alice.party_id, "share": "1"}],
        policy={"classes": ["inventor"], "tiers": [{"from": "0",
                                                    "shares": {"inventor": "99"}}]})),
    # Fails after the new policy's own journal entry was appended: both must roll back.
    "listing failing after the policy entry": (InsufficientUnits, lambda w, mp: (
        mp.setattr(assets, "apply_moves", _explode_after_issuing),
        assets.list_asset(w.uow(), w.university, title="T", kind="patent", jurisdiction="HK",
                          policy="stanford-tiers",
                          inventors=[{"party_id": w.alice.party_id, "share": "1"}]))),
    "key for an unknown party": (NotFound, lambda w, _: parties.issue_api_key(
        w.uow(), w.operator, "pty_nobody")),
    "key for another party": (PermissionDenied, lambda w, _: parties.issue_api_key(
        w.uow(), w.investor, w.alice.party_id)),
    "revoking an unknown key": (NotFound, lambda w, _: parties.revoke_api_key(
        w.uow(), w.operator, "key_nothing")),
    "party of an unknown kind": (InvalidInput, lambda w, _: parties.register_party(
        w.uow(), w.operator, "X", "alien")),
}


@pytest.mark.parametrize("case", sorted(FAILURES))
def test_a_failure_writes_nothing(world: World, monkeypatch: pytest.MonkeyPatch,
                                  case: str) -> None:
    error, action = FAILURES[case]

    # Set-up steps inside the action (e.g. a first deposit) must commit; only the last fails.
    # So snapshot around the failing call: wrap the services to snapshot before each call.
    snapshots: list[dict[str, Any]] = []
    for module in (money, assets, parties):
        for name in ("deposit", "request_withdrawal", "settle_withdrawal", "transfer_units",
                     "record_cost", "list_asset", "issue_api_key", "revoke_api_key",
                     "register_party"):
            if hasattr(module, name):
                original = getattr(module, name)

                def wrapped(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
                    snapshots.append(snapshot(world.sessions))
                    return _original(*args, **kwargs)

                monkeypatch.setattr(module, name, wrapped)
    with pytest.raises(error):
        action(world, monkeypatch)
    after = snapshot(world.sessions)
    assert snapshots, "the action called no service"
    before = snapshots[-1]
    for table in before:
        assert after[table] == before[table], f"{table} changed"
    assert after["journal_entries"], "the world has a journal"
    with world.sessions() as session:
        assert replay.compare(session) == []


def test_a_unit_of_work_left_without_commit_keeps_nothing(world: World) -> None:
    before = snapshot(world.sessions)
    with world.uow() as uow:
        uow.journal.append("test.uncommitted", {"x": 1}, actor=world.operator.party_id,
                           parties=[world.alice.party_id])
        uow.journal.append("test.uncommitted", {"x": 2}, actor=None)
        uow.session.flush()
    assert snapshot(world.sessions) == before
    with pytest.raises(RuntimeError), world.uow() as uow:
        uow.journal.append("test.uncommitted", {"x": 3}, actor=None)
        raise RuntimeError("crash before commit")
    assert snapshot(world.sessions) == before


# --- idempotency by client id ---------------------------------------------------------------

def _money_rows(world: World) -> tuple[int, int, int]:
    with world.sessions() as session:
        counts = (session.execute(select(func.count()).select_from(MoneyTransaction)).scalar_one(),
                  session.execute(select(func.count()).select_from(Posting)).scalar_one())
    return (*counts, head_size(world.sessions))


def test_deposit_retry_with_the_same_client_id_posts_once(world: World) -> None:
    investor = world.investor.party_id
    first = money.deposit(world.uow(), world.operator, investor, "250.00", "HKD", "BANK-7",
                          client_id="deposit:BANK-7")
    rows = _money_rows(world)
    before = snapshot(world.sessions)
    for amount in ("250.00", "250", Decimal("250.000")):  # same amount, however spelled
        again = money.deposit(world.uow(), world.operator, investor, amount, "HKD", "BANK-7",
                              client_id="deposit:BANK-7")
        assert (again.id, again.journal_seq) == (first.id, first.journal_seq)
    assert _money_rows(world) == rows
    assert snapshot(world.sessions) == before
    assert balance(world.sessions, avail(investor)) == 25_000


@pytest.mark.parametrize("change", [
    {"amount": "250.01"}, {"currency": "USD"}, {"reference": "BANK-8"}, {"party": "alice"},
])
def test_deposit_client_id_reused_for_other_content_is_refused(world: World,
                                                               change: dict[str, str]) -> None:
    request = {"party": "investor", "amount": "250.00", "currency": "HKD", "reference": "BANK-7"}
    money.deposit(world.uow(), world.operator, world.investor.party_id, "250.00", "HKD",
                  "BANK-7", client_id="c-1")
    before = snapshot(world.sessions)
    request.update(change)
    party = getattr(world, request["party"]).party_id
    with pytest.raises(IdempotencyConflict) as caught:
        money.deposit(world.uow(), world.operator, party, request["amount"], request["currency"],
                      request["reference"], client_id="c-1")
    assert caught.value.field == "reference"  # the API derives the client id from it
    assert snapshot(world.sessions) == before


def test_deposits_without_client_id_are_not_deduplicated(world: World) -> None:
    for _ in range(2):
        money.deposit(world.uow(), world.operator, world.investor.party_id, "1.00", "HKD", "R")
    assert balance(world.sessions, avail(world.investor.party_id)) == 200


def test_withdrawal_retry_with_the_same_client_id_changes_nothing(world: World) -> None:
    money.deposit(world.uow(), world.operator, world.investor.party_id, "100.00", "HKD", "B")
    first = money.request_withdrawal(world.uow(), world.investor, "60.00", "HKD",
                                     client_id="wd-1")
    before = snapshot(world.sessions)
    again = money.request_withdrawal(world.uow(), world.investor, "60.00", "HKD",
                                     client_id="wd-1")
    assert again.id == first.id and again.status == "requested"
    assert snapshot(world.sessions) == before
    with pytest.raises(IdempotencyConflict):
        money.request_withdrawal(world.uow(), world.investor, "10.00", "HKD", client_id="wd-1")
    assert snapshot(world.sessions) == before


# --- replay ---------------------------------------------------------------------------------

def _mixed_workload(world: World) -> None:
    uow, op = world.uow, world.operator
    inv, alice, bob = world.investor, world.alice, world.bob
    money.deposit(uow(), op, inv.party_id, "5000.00", "HKD", "D1", client_id="d1")
    money.deposit(uow(), op, inv.party_id, "5000.00", "HKD", "D1", client_id="d1")  # a retry
    money.deposit(uow(), op, alice.party_id, "12.34", "HKD", "D2")
    money.deposit(uow(), op, bob.party_id, "1.234", "KWD", "D3")
    money.deposit(uow(), op, bob.party_id, "700", "JPY", "D4")
    paid = money.request_withdrawal(uow(), inv, "999.99", "HKD")
    money.settle_withdrawal(uow(), op, paid.id, paid=True)
    cancelled = money.request_withdrawal(uow(), bob, "0.234", "KWD")
    money.settle_withdrawal(uow(), op, cancelled.id, paid=False)
    money.request_withdrawal(uow(), bob, "300", "JPY")  # left open
    with pytest.raises(InsufficientFunds):
        money.request_withdrawal(uow(), alice, "12.35", "HKD")
    assets.transfer_units(uow(), alice, world.instrument("inventor"), inv.party_id, 123_456)
    assets.transfer_units(uow(), inv, world.instrument("inventor"), bob.party_id, 23_456)
    assets.transfer_units(uow(), world.university, world.instrument("university"),
                          inv.party_id, 1)
    with pytest.raises(InsufficientUnits):
        assets.transfer_units(uow(), bob, world.instrument("university"), inv.party_id, 1)
    assets.record_cost(uow(), world.university, world.listing.asset.id, "10.00", "HKD", "fees")


def test_replay_matches_the_tables_after_a_mixed_workload(world: World) -> None:
    _mixed_workload(world)
    assert balances_by_currency(world.sessions) == {"HKD": 0, "KWD": 0, "JPY": 0}
    assert balance(world.sessions, avail(world.investor.party_id)) == 500_000 - 99_999
    assert balance(world.sessions, payout(world.bob.party_id, "JPY")) == 300
    with world.sessions() as session:
        assert replay.compare(session) == []
        projection = replay.rebuild(session)
    assert projection.balances[avail(world.bob.party_id, "KWD")] == 1234
    assert projection.holdings[(world.bob.party_id, world.instrument("inventor"))] == (
        400_000 + 23_456, 0)


def test_replay_detects_a_balance_changed_behind_its_back(world: World) -> None:
    _mixed_workload(world)
    code = avail(world.investor.party_id)
    with world.sessions() as session:
        session.execute(update(Account).where(Account.code == code)
                        .values(balance_minor=Account.balance_minor + 1))
        session.commit()
    with world.sessions() as session:
        differences = replay.compare(session)
    assert differences == [f"account {code}: table 400002, journal 400001 (minor units)"]


def test_replay_detects_a_holding_changed_behind_its_back(world: World) -> None:
    _mixed_workload(world)
    with world.sessions() as session:
        session.execute(update(Holding).where(Holding.party_id == world.alice.party_id)
                        .values(units=Holding.units - 5))
        session.commit()
    with world.sessions() as session:
        differences = replay.compare(session)
    assert len(differences) == 1
    assert differences[0].startswith(f"holding {world.alice.party_id} of ")


def test_replay_detects_a_zeroed_balance(world: World) -> None:
    _mixed_workload(world)
    with world.sessions() as session:
        account = session.execute(select(Account).where(
            Account.code == avail(world.alice.party_id))).scalar_one()
        session.execute(update(Account).where(Account.id == account.id).values(balance_minor=0))
        session.commit()
    with world.sessions() as session:
        assert replay.compare(session) == [
            f"account {avail(world.alice.party_id)}: table 0, journal 1234 (minor units)"]


def test_listing_pins_the_registered_policy(world: World) -> None:
    # The asset's policy row holds exactly the canonical body the journal registered.
    with world.sessions() as session:
        policy = session.get(Policy, world.listing.asset.policy_id)
        assert policy is not None
        assert policy.hash == policy_hash(resolve_policy("hku-2023"))
    registered = [e for e in entries(world.sessions) if e.kind == "policy.registered"]
    assert [e.body["data"]["hash"] for e in registered] == [policy.hash]


def test_revoked_key_row_and_journal_agree(world: World) -> None:
    key = parties.issue_api_key(world.uow(), world.operator, world.alice.party_id)
    parties.revoke_api_key(world.uow(), world.alice, key.id)
    with world.sessions() as session:
        row = session.get(ApiKey, key.id)
        assert row is not None and row.revoked_at is not None
    revoked = [e for e in entries(world.sessions) if e.kind == "api_key.revoked"]
    assert len(revoked) == 1 and revoked[0].body["actor"] == world.alice.party_id
