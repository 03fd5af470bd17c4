"""A Hypothesis state machine over the money and unit services, on SQLite.

Rules deposit (with client ids, sometimes retried, sometimes reused for something else),
request withdrawals (also with client ids), settle them paid or cancelled, and transfer units.
After every step: money is conserved per currency (clearing goes negative by what the parties
hold), no party account is negative, the tables match a model, and a replay of the journal
matches the tables.
"""

from __future__ import annotations

import itertools
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from ledger import replay
from ledger.actor import Actor
from ledger.currency import from_minor
from ledger.db import make_engine, make_session_factory
from ledger.errors import (
    Conflict,
    IdempotencyConflict,
    InsufficientFunds,
    InsufficientUnits,
    InvalidInput,
)
from ledger.models import Account, Holding
from ledger.services import assets, money, parties
from ledger.unit_of_work import UnitOfWork
from tests.integration.helpers import head_size, snapshot

CURRENCIES = ("HKD", "KWD")
PURPOSES = ("available", "payout")
UNITS = 1_000_000
_numbers = itertools.count()

DepositRequest = tuple[str, str, int, str, str]  # client id, party, minor, currency, reference
WithdrawalRequest = tuple[str, str, int, str, str]  # client id, party, minor, currency, wdr id


class MoneyMachine(RuleBasedStateMachine):
    deposits = Bundle("deposits")
    withdrawal_requests = Bundle("withdrawal_requests")
    withdrawals = Bundle("withdrawals")

    def __init__(self, template: Path, folder: Path) -> None:
        super().__init__()
        self.path = folder / f"machine-{next(_numbers)}.sqlite3"
        shutil.copy(template, self.path)
        self.engine = make_engine(f"sqlite:///{self.path}")
        self.sessions = make_session_factory(self.engine)
        party, _ = parties.bootstrap_operator(self.uow())
        self.operator = Actor(party.id, "operator")
        self.actors = {name: self._register(name, kind) for name, kind in (
            ("uni", "university"), ("ann", "inventor"), ("ben", "inventor"), ("fund", "investor"))}
        listing = assets.list_asset(
            self.uow(), self.actors["uni"], title="Engine", kind="patent", jurisdiction="HK",
            policy="hku-2023", inventors=[{"party_id": self.actors["ann"].party_id, "share": "0.5"},
                                          {"party_id": self.actors["ben"].party_id,
                                           "share": "0.5"}])
        self.instrument = next(i.id for i in listing.instruments if i.unit_class == "inventor")
        # The model.
        self.balances: dict[tuple[str, str, str], int] = defaultdict(int)  # party, ccy, purpose
        self.units = {"uni": 0, "ann": UNITS // 2, "ben": UNITS // 2, "fund": 0}
        self.status: dict[str, str] = {}
        self.entries = head_size(self.sessions)
        for who in ("ann", "fund"):  # some money to withdraw from the first step on
            for currency in CURRENCIES:
                self.deposit(who, 1_000_000, currency, with_client_id=False)

    def _register(self, name: str, kind: str) -> Actor:
        party = parties.register_party(self.uow(), self.operator, name, kind)
        return Actor(party.id, kind)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.sessions)

    def teardown(self) -> None:
        self.engine.dispose()
        self.path.unlink(missing_ok=True)

    def _unchanged(self, before: dict[str, list[tuple[Any, ...]]]) -> None:
        assert snapshot(self.sessions) == before
        assert head_size(self.sessions) == self.entries

    # --- deposits -------------------------------------------------------------------------

    @rule(target=deposits, who=st.sampled_from(["uni", "ann", "ben", "fund"]),
          minor=st.integers(1, 500_000), currency=st.sampled_from(CURRENCIES),
          with_client_id=st.booleans())
    def deposit(self, who: str, minor: int, currency: str, with_client_id: bool) -> object:
        party = self.actors[who].party_id
        reference = f"BANK-{minor}"
        client = f"dep-{next(_numbers)}" if with_client_id else None
        receipt = money.deposit(self.uow(), self.operator, party, from_minor(minor, currency),
                                currency, reference, client_id=client)
        self.entries += 1
        assert receipt.journal_seq == self.entries
        self.balances[(who, currency, "available")] += minor
        if client is None:
            return multiple()
        return (client, who, minor, currency, reference)

    @rule(request=deposits)
    def retry_deposit(self, request: DepositRequest) -> None:
        client, who, minor, currency, reference = request
        before = snapshot(self.sessions)
        # Retried as the API would: the same amount, however it is spelled.
        money.deposit(self.uow(), self.operator, self.actors[who].party_id,
                      str(from_minor(minor, currency)) + "0", currency, reference,
                      client_id=client)
        self._unchanged(before)

    @rule(request=deposits, other=st.sampled_from(["uni", "ann", "ben", "fund"]),
          delta=st.integers(0, 1000))
    def reuse_deposit_id_for_another(self, request: DepositRequest, other: str,
                                     delta: int) -> None:
        client, who, minor, currency, reference = request
        if (other, delta) == (who, 0):
            delta = 1
        before = snapshot(self.sessions)
        try:
            money.deposit(self.uow(), self.operator, self.actors[other].party_id,
                          from_minor(minor + delta, currency), currency, reference,
                          client_id=client)
        except IdempotencyConflict:
            pass
        else:
            raise AssertionError("a client id reused for another deposit was accepted")
        self._unchanged(before)

    # --- withdrawals ----------------------------------------------------------------------

    # Amounts are a percentage of what is available, so most succeed and some overdraw.
    @rule(target=withdrawals, who=st.sampled_from(["uni", "ann", "ben", "fund"]),
          percent=st.integers(1, 120), currency=st.sampled_from(CURRENCIES))
    def request_withdrawal(self, who: str, percent: int, currency: str) -> object:
        made = self._withdraw(who, percent, currency, None)
        return multiple() if made is None else made[0]

    @rule(target=withdrawal_requests, who=st.sampled_from(["uni", "ann", "ben", "fund"]),
          percent=st.integers(1, 120), currency=st.sampled_from(CURRENCIES))
    def request_withdrawal_with_client_id(self, who: str, percent: int, currency: str) -> object:
        client = f"wdr-{next(_numbers)}"
        made = self._withdraw(who, percent, currency, client)
        if made is None:
            return multiple()
        withdrawal_id, minor = made
        return (client, who, minor, currency, withdrawal_id)

    def _withdraw(self, who: str, percent: int, currency: str,
                  client: str | None) -> tuple[str, int] | None:
        """Request `percent` of the available balance; (id, amount), or None if refused."""
        actor = self.actors[who]
        available = self.balances[(who, currency, "available")]
        minor = max(1, available * percent // 100)
        if minor > available:
            before = snapshot(self.sessions)
            try:
                money.request_withdrawal(self.uow(), actor, from_minor(minor, currency),
                                         currency, client_id=client)
            except InsufficientFunds:
                self._unchanged(before)
                return None
            raise AssertionError("a withdrawal beyond the balance was accepted")
        withdrawal = money.request_withdrawal(self.uow(), actor, from_minor(minor, currency),
                                              currency, client_id=client)
        self.entries += 1
        self.balances[(who, currency, "available")] -= minor
        self.balances[(who, currency, "payout")] += minor
        self.status[withdrawal.id] = "requested"
        return withdrawal.id, minor

    @rule(request=withdrawal_requests)
    def retry_withdrawal(self, request: WithdrawalRequest) -> None:
        client, who, minor, currency, withdrawal_id = request
        before = snapshot(self.sessions)
        again = money.request_withdrawal(self.uow(), self.actors[who],
                                         from_minor(minor, currency), currency, client_id=client)
        assert again.id == withdrawal_id
        self._unchanged(before)

    @rule(withdrawal=st.one_of(withdrawals, withdrawal_requests.map(lambda r: r[4])),
          paid=st.booleans())
    def settle(self, withdrawal: str, paid: bool) -> None:
        if self.status[withdrawal] != "requested":
            before = snapshot(self.sessions)
            try:
                money.settle_withdrawal(self.uow(), self.operator, withdrawal, paid)
            except Conflict:
                self._unchanged(before)
                return
            raise AssertionError("a settled withdrawal was settled again")
        settled = money.settle_withdrawal(self.uow(), self.operator, withdrawal, paid)
        self.entries += 1
        self.status[withdrawal] = settled.status
        assert settled.status == ("paid" if paid else "cancelled")
        who = next(n for n, a in self.actors.items() if a.party_id == settled.party_id)
        self.balances[(who, settled.currency, "payout")] -= settled.amount_minor
        if not paid:
            self.balances[(who, settled.currency, "available")] += settled.amount_minor

    # --- units ----------------------------------------------------------------------------

    @rule(giver=st.sampled_from(["uni", "ann", "ben", "fund"]),
          taker=st.sampled_from(["uni", "ann", "ben", "fund"]), count=st.integers(1, 600_000))
    def transfer_units(self, giver: str, taker: str, count: int) -> None:
        refused: type[Exception] | None = None
        if giver == taker:
            refused = InvalidInput
        elif count > self.units[giver]:
            refused = InsufficientUnits
        if refused is not None:
            before = snapshot(self.sessions)
            try:
                assets.transfer_units(self.uow(), self.actors[giver], self.instrument,
                                      self.actors[taker].party_id, count)
            except refused:
                self._unchanged(before)
                return
            raise AssertionError(f"expected {refused.__name__}")
        assets.transfer_units(self.uow(), self.actors[giver], self.instrument,
                              self.actors[taker].party_id, count)
        self.entries += 1
        self.units[giver] -= count
        self.units[taker] += count

    # --- invariants -----------------------------------------------------------------------

    @invariant()
    def money_is_conserved_and_never_negative(self) -> None:
        with self.sessions() as session:
            accounts = list(session.execute(select(Account)).scalars())
        totals: dict[str, int] = defaultdict(int)
        for account in accounts:
            totals[account.currency] += account.balance_minor
            if account.party_id is not None:
                assert account.balance_minor >= 0, account.code
        assert all(total == 0 for total in totals.values()), totals
        names = {a.party_id: n for n, a in self.actors.items()}
        tables = {(names[a.party_id], a.currency, a.purpose): a.balance_minor
                  for a in accounts if a.party_id is not None and a.balance_minor}
        assert tables == {k: v for k, v in self.balances.items() if v}

    @invariant()
    def units_match_the_model(self) -> None:
        with self.sessions() as session:
            rows = session.execute(select(Holding.party_id, Holding.units, Holding.held_units)
                                   .where(Holding.instrument_id == self.instrument)).all()
        names = {a.party_id: n for n, a in self.actors.items()}
        held = {names[party]: count for party, count, _ in rows}
        assert {n: held.get(n, 0) for n in self.units} == self.units
        assert sum(held.values()) == UNITS
        assert all(h == 0 for _, _, h in rows)

    @invariant()
    def journal_counts_and_replays(self) -> None:
        assert head_size(self.sessions) == self.entries
        with self.sessions() as session:
            assert replay.compare(session) == []


def test_money_state_machine(sqlite_template: Path, tmp_path: Path) -> None:
    run_state_machine_as_test(
        lambda: MoneyMachine(sqlite_template, tmp_path),  # type: ignore[arg-type]
        settings=settings(max_examples=25, stateful_step_count=20, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow,
                                                 HealthCheck.filter_too_much]),
    )


def test_the_machine_catches_a_broken_invariant(sqlite_template: Path, tmp_path: Path) -> None:
    """The invariants can fail: corrupt one balance and a single step must notice."""
    machine = MoneyMachine(sqlite_template, tmp_path)
    try:
        machine.deposit("fund", 100, "HKD", False)
        machine.money_is_conserved_and_never_negative()
        machine.journal_counts_and_replays()
        with machine.sessions() as session:
            account = session.execute(select(Account).where(
                Account.code == f"{machine.actors['fund'].party_id}:HKD:available")).scalar_one()
            account.balance_minor += 1
            session.commit()
        for check in (machine.money_is_conserved_and_never_negative,
                      machine.journal_counts_and_replays):
            try:
                check()
            except AssertionError:
                continue
            raise AssertionError(f"{check.__name__} missed a corrupted balance")
    finally:
        machine.teardown()
