"""Terminating and expiring licence grants on a real database: who may, what is journalled,
what a refusal leaves untouched, and that an ended grant stops blocking new exclusive ones."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from contracts.models import LicenceGrant
from contracts.services import licences
from ledger.actor import Actor
from ledger.errors import Conflict, InvalidInput, NotFound
from ledger.replay import compare
from ledger.services import money
from ledger.unit_of_work import UnitOfWork
from tests.integration.conftest import World
from tests.integration.helpers import new_entries, snapshot
from tests.integration.test_cli import ipx

# Termination happens "on" this day: the clock of the terminating unit of work.
TERMINATED_AT = datetime(2026, 5, 10, 12, 0, tzinfo=UTC)


def _terms(grantor: str, asset: str, licensee: str, *, territory: str = "HK",
           end: str = "2028-01-01", exclusivity: str = "exclusive",
           **extra: Any) -> dict[str, Any]:
    return {"schema": "ipx.licence-terms/1", "grantor": grantor, "assets": [asset],
            "licensee": licensee, "exclusivity": exclusivity,
            "field_of_use": [{"code": "diagnostics", "label": "Diagnostics"}],
            "territory": [territory], "start": "2026-01-01", "end": end,
            "currency": "HKD", "report_frequency": "quarterly",
            "royalty": {"tiers": [{"from": "0", "rate": "5"}]}, **extra}


def _offer(world: World, licensee: Actor, **kw: Any) -> Any:
    return licences.publish_offer(world.uow(), world.university, _terms(
        world.university.party_id, world.listing.asset.id, licensee.party_id, **kw),
        negotiable=False)


def _grant(world: World, licensee: Actor, **kw: Any) -> LicenceGrant:
    offer = _offer(world, licensee, **kw)
    grant = licences.accept_offer(world.uow(), licensee, offer.id, offer.terms_hash).grant
    assert grant is not None
    return grant


def _on_termination_day(world: World) -> UnitOfWork:
    return UnitOfWork(world.sessions, lambda: TERMINATED_AT)


def _status(world: World, grant_id: str) -> tuple[str, date]:
    with world.sessions() as session:
        grant = session.get_one(LicenceGrant, grant_id)
        return grant.status, grant.end_date


def _replay_clean(world: World) -> None:
    with world.sessions() as session:
        assert compare(session) == []


def test_the_grantor_terminates_and_a_refused_exclusive_grant_then_goes_through(
        world: World, make_party: Callable[..., Actor]) -> None:
    acme, beta = make_party("company", "Acme"), make_party("company", "Beta")
    money.deposit(world.uow(), world.operator, acme.party_id, "1000.00", "HKD", "seed-acme")
    grant = _grant(world, acme, upfront_fee="100.00")
    (upfront,) = licences.list_invoices(world.uow(), acme)
    # Beta's exclusive licence for the same field, territory and time clashes...
    rival = _offer(world, beta)
    with pytest.raises(Conflict, match=grant.id):
        licences.accept_offer(world.uow(), beta, rival.id, rival.terms_hash)

    with new_entries(world.sessions, "grant.terminated") as appended:
        ended = licences.terminate_grant(_on_termination_day(world), world.university,
                                         grant.id, "  licensee stopped paying  ")
    assert ended.status == "terminated" and ended.end_date == date(2026, 5, 10)
    (entry,) = appended
    assert entry.body["actor"] == world.university.party_id
    assert entry.body["data"] == {
        "grant_id": grant.id, "grantor_id": world.university.party_id,
        "licensee_id": acme.party_id, "terminated_by": world.university.party_id,
        "reason": "licensee stopped paying", "ended_on": "2026-05-10",
        "agreed_end": "2028-01-01"}
    assert {world.university.party_id, acme.party_id} <= entry.parties

    # ...and once the grant has ended, the same acceptance executes.
    second = licences.accept_offer(world.uow(), beta, rival.id, rival.terms_hash).grant
    assert second is not None and second.status == "active"
    # The invoice issued before termination stays payable.
    paid = licences.pay_invoice(world.uow(), acme, upfront.id)
    assert paid.invoice.status == "paid"
    _replay_clean(world)


def test_the_licensee_terminates_then_refusals_change_nothing(
        world: World, make_party: Callable[..., Actor]) -> None:
    acme, stranger = make_party("company", "Acme"), make_party("company", "Stranger")
    grant = _grant(world, acme)
    before = snapshot(world.sessions)
    with pytest.raises(NotFound):
        licences.terminate_grant(world.uow(), stranger, grant.id, "not mine to end")
    with pytest.raises(NotFound):
        licences.terminate_grant(world.uow(), acme, "lic_nosuchgrant", "no such licence")
    for bad in ("", "   ", "x" * 501):
        with pytest.raises(InvalidInput) as refused:
            licences.terminate_grant(world.uow(), acme, grant.id, bad)
        assert refused.value.field == "reason"
    assert snapshot(world.sessions) == before

    with new_entries(world.sessions, "grant.terminated") as appended:
        licences.terminate_grant(world.uow(), acme, grant.id, "product discontinued")
    assert appended[0].body["data"]["terminated_by"] == acme.party_id
    assert _status(world, grant.id)[0] == "terminated"

    after = snapshot(world.sessions)
    for who in (acme, world.university, world.operator):
        with pytest.raises(Conflict, match="terminated"):
            licences.terminate_grant(world.uow(), who, grant.id, "again")
    assert snapshot(world.sessions) == after
    _replay_clean(world)


def test_the_operator_may_terminate(world: World, make_party: Callable[..., Actor]) -> None:
    acme = make_party("company", "Acme")
    grant = _grant(world, acme)
    with new_entries(world.sessions, "grant.terminated") as appended:
        licences.terminate_grant(world.uow(), world.operator, grant.id, "court order 123")
    assert appended[0].body["data"]["terminated_by"] == world.operator.party_id


def test_royalty_reports_after_termination(world: World,
                                           make_party: Callable[..., Actor]) -> None:
    acme = make_party("company", "Acme")
    grant = _grant(world, acme)
    licences.terminate_grant(_on_termination_day(world), acme, grant.id, "closing down")
    # The quarter the licence ended in still owes its royalty...
    outcome = licences.report_royalties(world.uow(), acme, grant.id, date(2026, 4, 1),
                                        date(2026, 7, 1), 100_000)
    assert [i.amount_minor for i in outcome.invoices] == [5_000]
    # ...a quarter that starts after the termination day does not exist for it.
    before = snapshot(world.sessions)
    with pytest.raises(Conflict, match="terminated since 2026-05-10") as refused:
        licences.report_royalties(world.uow(), acme, grant.id, date(2026, 7, 1),
                                  date(2026, 10, 1), 100_000)
    assert refused.value.field == "period"
    assert snapshot(world.sessions) == before
    _replay_clean(world)


def test_expire_due_expires_only_past_grants(world: World,
                                             make_party: Callable[..., Actor]) -> None:
    acme, beta = make_party("company", "Acme"), make_party("company", "Beta")
    past = _grant(world, acme, territory="HK", end="2026-03-01")
    ends_today = _grant(world, acme, territory="SG", end="2026-06-01")
    later = _grant(world, beta, territory="CN", end="2026-06-02")
    ended = _grant(world, beta, territory="TW", end="2026-02-01")
    licences.terminate_grant(_on_termination_day(world), beta, ended.id, "ended early")
    today = date(2026, 6, 1)

    with new_entries(world.sessions, "grant.expired", "grant.expired") as appended:
        expired = licences.expire_due_grants(world.uow, today)
    assert [g.id for g in expired] == [past.id, ends_today.id]
    assert appended[0].body["data"] == {
        "grant_id": past.id, "grantor_id": world.university.party_id,
        "licensee_id": acme.party_id, "end_date": "2026-03-01"}
    assert "actor" not in appended[0].body
    assert {world.university.party_id, acme.party_id} <= appended[0].parties
    assert _status(world, past.id) == ("expired", date(2026, 3, 1))
    assert _status(world, later.id)[0] == "active"
    assert _status(world, ended.id)[0] == "terminated"

    # Running again finds nothing; an expired grant cannot be terminated.
    with new_entries(world.sessions):
        assert licences.expire_due_grants(world.uow, today) == []
    with pytest.raises(Conflict, match="expired"):
        licences.terminate_grant(world.uow(), acme, past.id, "too late")
    # The last quarter of an expired licence is still reported.
    outcome = licences.report_royalties(world.uow(), acme, past.id, date(2026, 1, 1),
                                        date(2026, 3, 1), 20_000)
    assert [i.amount_minor for i in outcome.invoices] == [1_000]
    _replay_clean(world)


def test_cli_expire_due(database_url: str, home: Path, world: World,
                        make_party: Callable[..., Actor]) -> None:
    acme = make_party("company", "Acme")
    past = _grant(world, acme, territory="HK", end="2026-03-01")
    future = _grant(world, acme, territory="SG", end="2099-01-01")
    run = ipx("licences", "expire-due", database_url=database_url, home=home)
    assert run.returncode == 0, run.stderr
    assert past.id in run.stdout and future.id not in run.stdout
    assert run.stdout.strip().endswith("1 licences expired")
    assert _status(world, past.id)[0] == "expired"
    assert _status(world, future.id)[0] == "active"
    again = ipx("licences", "expire-due", database_url=database_url, home=home)
    assert again.stdout.strip().endswith("0 licences expired")
    replay = ipx("ledger", "replay", "--check", database_url=database_url, home=home)
    assert replay.returncode == 0, replay.stderr
