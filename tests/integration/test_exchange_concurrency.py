"""Many clients trading the same instruments at once never oversell units or overdraw cash,
and the journal still replays to the final state (PostgreSQL: row locks across connections)."""

from __future__ import annotations

import random
import threading
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from exchange.replay import compare_orders
from exchange.services import markets, trading
from exchange.services.trading import OrderRequest
from ledger.actor import Actor
from ledger.audit import verify_journal
from ledger.errors import DomainError
from ledger.models import Account, Holding
from ledger.replay import compare
from ledger.services import assets, money
from ledger.signing_key import load_signing_key
from ledger.unit_of_work import UnitOfWork

THREADS = 8
ORDERS_PER_THREAD = 25


def _totals(sessions: sessionmaker[Session]) -> tuple[dict[str, int], dict[str, int]]:
    with sessions() as session:
        cash = dict(session.execute(
            select(Account.currency, func.sum(Account.balance_minor))
            .where(Account.party_id.is_not(None) | Account.code.like("ipx:%:fees"))
            .group_by(Account.currency)).all())
        units = dict(session.execute(
            select(Holding.instrument_id, func.sum(Holding.units))
            .group_by(Holding.instrument_id)).all())
    return {k: int(v) for k, v in cash.items()}, {k: int(v) for k, v in units.items()}


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_concurrent_crossing_orders_keep_every_invariant(
    sessions: sessionmaker[Session], uow_factory: Callable[[], UnitOfWork], operator: Actor,
    make_party: Callable[..., Actor], home: Path,
) -> None:
    university = make_party("university")
    inventors = [make_party("inventor", f"inventor {i}") for i in range(4)]
    investors = [make_party("investor", f"fund {i}") for i in range(4)]
    instruments = []
    for n in range(3):
        listing = assets.list_asset(
            uow_factory(), university, title=f"patent {n}", kind="patent", jurisdiction="HK",
            inventors=[{"party_id": p.party_id, "share": "0.25"} for p in inventors],
            policy="hku-2023")
        instruments.append(next(i.id for i in listing.instruments if i.unit_class == "inventor"))
    for i, party in enumerate([*investors, *inventors]):
        money.deposit(uow_factory(), operator, party.party_id, "20000.00", "HKD", f"b{i}",
                      client_id=f"dep-{i}")
    for instrument in instruments:
        markets.configure_market(uow_factory(), operator, instrument, {"fee_bps": 30})
    before = _totals(sessions)
    traders = [*investors, *inventors]
    outcomes: dict[str, int] = defaultdict(int)
    failures: list[BaseException] = []

    def client(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(ORDERS_PER_THREAD):
                who = rng.choice(traders)
                side = rng.choice(["buy", "sell"])
                request = OrderRequest(
                    instrument_id=rng.choice(instruments), side=side, type="limit",
                    price=Decimal(rng.randint(95, 105)) / 10, quantity=rng.randint(1, 40) * 25,
                    time_in_force=rng.choice(["GTC", "GTC", "IOC"]))
                try:
                    view = trading.place_order(uow_factory(), who, request)
                    outcomes[view.order.status] += 1
                except DomainError as error:
                    outcomes[type(error).__name__] += 1
        except BaseException as error:  # noqa: BLE001 - surfaced below
            failures.append(error)

    threads = [threading.Thread(target=client, args=(seed,)) for seed in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert sum(outcomes.values()) == THREADS * ORDERS_PER_THREAD
    assert outcomes["filled"] + outcomes["partially_filled"] > 0, outcomes

    after = _totals(sessions)
    assert after == before  # cash (parties + fees) and units are conserved
    with sessions() as session:
        assert session.execute(select(func.count()).select_from(Account)
                               .where(Account.party_id.is_not(None),
                                      Account.balance_minor < 0)).scalar_one() == 0
        assert session.execute(select(func.count()).select_from(Holding).where(
            (Holding.units < 0) | (Holding.held_units < 0)
            | (Holding.held_units > Holding.units))).scalar_one() == 0
        assert compare(session) == [] and compare_orders(session) == []
        report = verify_journal(session, load_signing_key(home).public_key(), "unused")
        assert report.ok, report
