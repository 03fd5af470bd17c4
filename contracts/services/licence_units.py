"""Licence units: tranches issued by a grantor, subscribed with held cash, paid at the close,
traded as an exchange instrument, and burned as holders report production.

A grantor (the university owning the asset) issues a tranche of N units of one standard
non-exclusive licence, each the right to make or sell K products, at a fixed price per unit,
open for subscription until ``closes_at``. Issuing creates the tranche's ledger instrument
(class ``licence_units_<n>`` of the terms' first asset) but no units.

Subscribing holds the buyer's cash (available -> held). The tranche closes when it sells out,
in the transaction of the subscription that sells the last unit, or once ``closes_at`` has
passed (closed by the grantor, the operator, or :func:`close_due_tranches` from the command
line). At the close every subscriber pays: its held cash is revenue of the licence's assets,
split by each asset's policy with ``distribute`` (the subscriber's held account is the payer),
and it receives its units. Unsold units lapse: the instrument's ``total_units`` becomes the
units sold, and each burn lowers it, so it always equals the units in existence.

Every function is one transaction. Lock order: the tranche, then its assets (as revenue
receipts lock the asset before accounts), then every account a close may touch in one sorted
batch (as trading does), then holdings.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from contracts import lifecycle
from contracts.lifecycle import TrancheEvent, TrancheState
from contracts.models import LicenceUnitProduction, LicenceUnitSubscription, LicenceUnitTranche
from contracts.services.licences import LICENSEE_KINDS
from contracts.terms import parse_terms, terms_hash, terms_json
from contracts.units import LicenceUnitTranche as TrancheRules
from contracts.units import units_to_consume, validate_tranche_terms
from ledger.account_codes import AVAILABLE, HELD, party_account
from ledger.accounts import lock_accounts, post_transaction
from ledger.actor import Actor
from ledger.clock import isoformat
from ledger.currency import MAX_MINOR, format_minor, positive_minor
from ledger.errors import Conflict, InsufficientFunds, InvalidInput, NotFound, PermissionDenied
from ledger.holdings import apply_moves
from ledger.ids import new_id
from ledger.models import Asset, Holding, Instrument, Party, Policy
from ledger.postings import Posting, UnitMove
from ledger.services.revenue import distribute
from ledger.unit_of_work import UnitOfWork

CLASS_PREFIX = "licence_units_"
REVENUE_SOURCE = "licence_fee"
HELD_STATUS, PAID_STATUS = "held", "paid"


@dataclass(frozen=True)
class TrancheView:
    """A tranche with its instrument's class and current size; ``distribution_ids`` are the
    revenue distributions of its close when this view comes from closing it."""

    tranche: LicenceUnitTranche
    unit_class: str
    total_units: int
    distribution_ids: tuple[str, ...] = ()

    @property
    def remaining(self) -> int:
        """Units still for sale (none once closed: unsold units lapse)."""
        if self.tranche.status != TrancheState.OPEN:
            return 0
        return self.tranche.units - self.tranche.sold


@dataclass(frozen=True)
class Subscribed:
    subscription: LicenceUnitSubscription
    tranche: TrancheView


@dataclass(frozen=True)
class Consumption:
    tranche_id: str
    party_id: str
    products: int
    products_total: int
    units_consumed: int
    units_consumed_total: int
    units_held: int
    total_units: int
    journal_seq: int


def _rules(tranche: LicenceUnitTranche) -> TrancheRules:
    return TrancheRules(units=tranche.units, products_per_unit=tranche.products_per_unit,
                        price_per_unit=tranche.price_minor, currency=tranche.currency,
                        closes_at=tranche.closes_at)


def _assets_of(tranche: LicenceUnitTranche) -> list[str]:
    return sorted(parse_terms(json.loads(tranche.terms)).assets)


def _lock_assets(uow: UnitOfWork, asset_ids: list[str]) -> None:
    for asset_id in sorted(asset_ids):
        uow.session.get_one(Asset, asset_id, with_for_update=True)


def _tranche(uow: UnitOfWork, tranche_id: str, *, lock: bool) -> LicenceUnitTranche:
    tranche = uow.session.get(LicenceUnitTranche, tranche_id, with_for_update=lock)
    if tranche is None:
        raise NotFound(f"no licence-unit tranche '{tranche_id}'", field="id")
    return tranche


def _view(uow: UnitOfWork, tranche: LicenceUnitTranche,
          distribution_ids: tuple[str, ...] = ()) -> TrancheView:
    instrument = uow.session.get_one(Instrument, tranche.instrument_id)
    return TrancheView(tranche, instrument.unit_class, instrument.total_units, distribution_ids)


def _next_class(uow: UnitOfWork, asset_id: str) -> str:
    """The first ``licence_units_<n>`` the asset has no instrument of (under its lock)."""
    taken = set(uow.session.execute(
        select(Instrument.unit_class).where(Instrument.asset_id == asset_id)).scalars())
    n = 1
    while f"{CLASS_PREFIX}{n}" in taken:
        n += 1
    return f"{CLASS_PREFIX}{n}"


def issue_tranche(uow: UnitOfWork, actor: Actor, terms_raw: Mapping[str, Any], *, units: int,
                  products_per_unit: int, price: Decimal | str, currency: str,
                  closes_at: datetime) -> TrancheView:
    """The grantor issues a tranche of ``units`` units of a standard non-exclusive licence of
    its assets, at ``price`` per unit, open for subscription until ``closes_at``.

    Creates the tranche's instrument (on the terms' first asset) with ``total_units`` the size
    of the tranche; no units exist until the close.
    """
    terms = parse_terms(terms_raw)
    validate_tranche_terms(terms)
    if terms.grantor != actor.party_id:
        raise PermissionDenied("a tranche's grantor must be the party issuing it")
    if currency != terms.currency:
        raise InvalidInput(f"the terms are in {terms.currency}", field="price.currency")
    price_minor = positive_minor(price, currency, field="price.amount")
    if closes_at.tzinfo is None:
        raise InvalidInput("must be a UTC date and time", field="closes_at")
    rules = TrancheRules(units=units, products_per_unit=products_per_unit,
                         price_per_unit=price_minor, currency=currency,
                         closes_at=closes_at.astimezone(UTC))
    if rules.price_of(units) > MAX_MINOR:
        raise InvalidInput("units x price is too large", field="units")
    if rules.total_products > MAX_MINOR:
        raise InvalidInput("units x products_per_unit is too large", field="products_per_unit")
    if rules.closes_at.date() >= terms.end:
        raise InvalidInput(f"subscriptions must close before the licence ends on "
                           f"{terms.end.isoformat()}", field="closes_at")
    with uow:
        session = uow.session
        if rules.closes_at <= uow.now:
            raise InvalidInput("must be in the future", field="closes_at")
        for i, asset_id in enumerate(terms.assets):  # sorted: the lock order
            asset = session.get(Asset, asset_id, with_for_update=True)
            if asset is None:
                raise InvalidInput(f"no asset '{asset_id}'", field=f"terms.assets[{i}]")
            if asset.owner_id != actor.party_id:
                raise PermissionDenied(f"asset '{asset_id}' is not the grantor's to license")
            if asset.currency != currency:
                raise InvalidInput(f"asset '{asset_id}' earns in {asset.currency}",
                                   field="terms.currency")
        asset_id = terms.assets[0]
        instrument = Instrument(id=new_id("ins"), asset_id=asset_id,
                                unit_class=_next_class(uow, asset_id), total_units=units,
                                currency=currency)
        session.add(instrument)
        session.flush()
        digest = terms_hash(terms)
        tranche = LicenceUnitTranche(
            id=new_id("lut"), grantor_id=actor.party_id, asset_id=asset_id,
            instrument_id=instrument.id, terms=json.dumps(terms_json(terms)),
            terms_hash=digest, units=units, products_per_unit=products_per_unit,
            price_minor=price_minor, currency=currency, closes_at=rules.closes_at, sold=0,
            burned=0, status=lifecycle.TRANCHE.initial, journal_seq=0, closed_seq=None,
            created_at=uow.now, closed_at=None)
        entry = uow.journal.append(
            "licence_units.tranche_issued",
            {"tranche_id": tranche.id, "asset_id": asset_id, "instrument_id": instrument.id,
             "class": instrument.unit_class, "terms": terms_json(terms), "terms_hash": digest,
             "units": units, "products_per_unit": products_per_unit,
             "price": format_minor(price_minor, currency), "currency": currency,
             "closes_at": isoformat(rules.closes_at)},
            actor=actor.party_id)
        tranche.journal_seq = entry.seq
        session.add(tranche)
        uow.commit()
        return TrancheView(tranche, instrument.unit_class, instrument.total_units)


def read_tranche(uow: UnitOfWork, tranche_id: str) -> TrancheView:
    """Tranches are public listings: what a buyer reads before subscribing."""
    with uow:
        return _view(uow, _tranche(uow, tranche_id, lock=False))


def subscribe(uow: UnitOfWork, actor: Actor, tranche_id: str, units: int) -> Subscribed:
    """Subscribe for ``units`` units: their price is held from the buyer's available cash
    until the close. The subscription that sells the last unit closes the tranche, in the
    same transaction."""
    with uow:
        session = uow.session
        tranche = _tranche(uow, tranche_id, lock=True)
        if actor.party_id == tranche.grantor_id:
            raise PermissionDenied("the grantor does not subscribe to its own tranche")
        if actor.kind not in LICENSEE_KINDS:
            raise PermissionDenied(f"a party of kind '{actor.kind}' cannot take a licence")
        if tranche.status != TrancheState.OPEN:
            raise Conflict(f"the tranche is {tranche.status}", field="id")
        rules = _rules(tranche)
        amount = rules.check_subscription(sold=tranche.sold, requested=units, now=uow.now)
        assets = _assets_of(tranche)
        _lock_assets(uow, assets)  # the close may distribute: lock as it does
        currency = tranche.currency
        if units == rules.remaining(tranche.sold):  # this sells out: lock all the close needs
            payers = set(session.execute(select(LicenceUnitSubscription.party_id).where(
                LicenceUnitSubscription.tranche_id == tranche.id)).scalars())
            _lock_close_accounts(uow, tranche, assets, sorted(payers | {actor.party_id}),
                                 also=[party_account(actor.party_id, currency, AVAILABLE)])
        subscription = LicenceUnitSubscription(
            id=new_id("lus"), tranche_id=tranche.id, party_id=actor.party_id, units=units,
            amount_minor=amount, status=HELD_STATUS, journal_seq=0, paid_seq=None,
            created_at=uow.now)
        tranche.sold += units
        try:
            posted = post_transaction(
                uow, kind="licence_units.subscribed",
                postings=[Posting(party_account(actor.party_id, currency, AVAILABLE), currency,
                                  -amount),
                          Posting(party_account(actor.party_id, currency, HELD), currency,
                                  amount)],
                data={"subscription_id": subscription.id, "tranche_id": tranche.id,
                      "instrument_id": tranche.instrument_id, "units": units,
                      "price": format_minor(tranche.price_minor, currency),
                      "amount": format_minor(amount, currency), "currency": currency,
                      "sold": tranche.sold},
                actor=actor.party_id, parties=[tranche.grantor_id])
        except InsufficientFunds:
            raise InsufficientFunds(
                f"{units} unit(s) cost {format_minor(amount, currency)} {currency}, more than "
                "your available cash", field="units") from None
        subscription.journal_seq = posted.journal_seq
        session.add(subscription)
        distributions: tuple[str, ...] = ()
        if rules.close_event(sold=tranche.sold, now=uow.now) is TrancheEvent.SELL_OUT:
            distributions = _close(uow, tranche, TrancheEvent.SELL_OUT, actor.party_id)
        view = _view(uow, tranche, distributions)
        uow.commit()
        return Subscribed(subscription, view)


def _lock_close_accounts(uow: UnitOfWork, tranche: LicenceUnitTranche, assets: list[str],
                         payers: list[str], also: Sequence[str] = ()) -> None:
    """Lock every account the close may touch, up front and in one stable order (as trading
    does): the payers' held cash and the available cash of everyone a split of these assets
    can pay (holders of the policies' classes, the owners, the operator, residual holders)."""
    session = uow.session
    parties: set[str] = set()
    for asset_id in assets:
        asset = session.get_one(Asset, asset_id)
        body = json.loads(session.get_one(Policy, asset.policy_id).body)
        parties.add(asset.owner_id)
        if body.get("residual_holder", "owner") != "owner":
            parties.add(body["residual_holder"])
        parties.update(session.execute(
            select(Holding.party_id).join(Instrument, Instrument.id == Holding.instrument_id)
            .where(Instrument.asset_id == asset_id, Instrument.unit_class.in_(body["classes"]),
                   Holding.units > 0)).scalars())
    parties.update(session.execute(select(Party.id).where(Party.kind == "operator")).scalars())
    currency = tranche.currency
    lock_accounts(session, [party_account(p, currency, HELD) for p in payers]
                  + [party_account(p, currency, AVAILABLE) for p in parties] + list(also))


def _close(uow: UnitOfWork, tranche: LicenceUnitTranche, event: TrancheEvent,
           actor_id: str | None) -> tuple[str, ...]:
    """Close the (locked) tranche in the caller's transaction: every subscriber pays what it
    holds as revenue of the licence's assets and receives its units; unsold units lapse.
    The assets must already be locked (tranche, assets, accounts is the lock order)."""
    session = uow.session
    tranche.status = lifecycle.transition(lifecycle.TRANCHE, tranche.status, event)
    subscriptions = list(session.execute(
        select(LicenceUnitSubscription).where(LicenceUnitSubscription.tranche_id == tranche.id)
        .order_by(LicenceUnitSubscription.party_id, LicenceUnitSubscription.id)).scalars())
    per_party: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for sub in subscriptions:
        per_party[sub.party_id][0] += sub.units
        per_party[sub.party_id][1] += sub.amount_minor
    currency = tranche.currency
    assets = _assets_of(tranche)
    _lock_close_accounts(uow, tranche, assets, sorted(per_party))
    distribution_ids: list[str] = []
    for party_id, (_, amount) in sorted(per_party.items()):
        # The subscriber pays from its held cash (it is the payer, so the distribution is
        # journalled as its act); a licence of several assets earns for each: equal parts,
        # the rest to the first, as for paid invoices.
        share, rest = divmod(amount, len(assets))
        for i, asset_id in enumerate(assets):
            part = share + (rest if i == 0 else 0)
            if part:
                view = distribute(uow, party_id, asset_id, part, REVENUE_SOURCE,
                                  f"licence units {tranche.id}",
                                  party_account(party_id, currency, HELD))
                distribution_ids.append(view.distribution.id)
    moves = [UnitMove(party_id, tranche.instrument_id, units)
             for party_id, (units, _) in sorted(per_party.items())]
    instrument = session.get_one(Instrument, tranche.instrument_id, with_for_update=True)
    instrument.total_units = tranche.sold  # unsold units lapse
    if moves:
        apply_moves(session, moves)
    entry = uow.journal.append(
        "licence_units.tranche_closed",
        {"tranche_id": tranche.id, "asset_id": tranche.asset_id,
         "instrument_id": tranche.instrument_id, "event": str(event), "sold": tranche.sold,
         "lapsed": tranche.units - tranche.sold, "total_units": instrument.total_units,
         "currency": currency,
         "subscribers": [{"party_id": p, "units": u, "amount": format_minor(a, currency)}
                         for p, (u, a) in sorted(per_party.items())],
         "distributions": distribution_ids},
        actor=actor_id, parties=[tranche.grantor_id], unit_moves=moves)
    tranche.closed_seq, tranche.closed_at = entry.seq, uow.now
    for sub in subscriptions:
        sub.status, sub.paid_seq = PAID_STATUS, entry.seq
    return tuple(distribution_ids)


def close_tranche(uow: UnitOfWork, actor: Actor, tranche_id: str) -> TrancheView:
    """The grantor or the operator closes a tranche whose subscription period has ended."""
    with uow:
        tranche = _tranche(uow, tranche_id, lock=True)
        if not (actor.is_operator or actor.party_id == tranche.grantor_id):
            raise PermissionDenied("only the grantor or the operator closes a tranche")
        if tranche.status != TrancheState.OPEN:
            raise Conflict(f"the tranche is already {tranche.status}", field="id")
        event = _rules(tranche).close_event(sold=tranche.sold, now=uow.now)
        if event is None:
            raise Conflict("the tranche is open for subscription until "
                           f"{isoformat(tranche.closes_at)}", field="id")
        _lock_assets(uow, _assets_of(tranche))
        distributions = _close(uow, tranche, event, actor.party_id)
        view = _view(uow, tranche, distributions)
        uow.commit()
        return view


def close_due_tranches(new_uow: Callable[[], UnitOfWork]) -> list[TrancheView]:
    """Close every open tranche whose end has come, each in its own transaction (run it from
    cron or a timer: ``ipx licence-units close-due``)."""
    with new_uow() as uow:
        due = list(uow.session.execute(
            select(LicenceUnitTranche.id).where(LicenceUnitTranche.status == TrancheState.OPEN,
                                                LicenceUnitTranche.closes_at <= uow.now)
            .order_by(LicenceUnitTranche.closes_at, LicenceUnitTranche.id)).scalars())
    closed = []
    for tranche_id in due:
        with new_uow() as uow:
            tranche = _tranche(uow, tranche_id, lock=True)
            event = _rules(tranche).close_event(sold=tranche.sold, now=uow.now)
            if tranche.status != TrancheState.OPEN or event is None:
                continue  # closed meanwhile
            _lock_assets(uow, _assets_of(tranche))
            distributions = _close(uow, tranche, event, None)
            view = _view(uow, tranche, distributions)
            uow.commit()
            closed.append(view)
    return closed


def consume_units(uow: UnitOfWork, actor: Actor, tranche_id: str, products: int) -> Consumption:
    """A holder reports ``products`` more products made or sold under the licence; the whole
    units they newly start are burned from its free units (not those held for open orders).

    Production is cumulative per holder, so the unused part of a unit carries over to the
    next report (see :mod:`contracts.units`). Consumption is a revenue-relevant event of the
    asset, journalled as ``licence_units.consumed``, but no money moves: the units were paid
    for when the tranche closed.
    """
    if isinstance(products, bool) or not isinstance(products, int) or products < 1:
        raise InvalidInput("must be a whole number, 1 or more", field="products")
    with uow:
        session = uow.session
        tranche = _tranche(uow, tranche_id, lock=True)
        if tranche.status != TrancheState.CLOSED:
            raise Conflict(f"the tranche is {tranche.status}: its units exist once it has "
                           "closed", field="id")
        production = session.get(LicenceUnitProduction, (tranche.id, actor.party_id),
                                 with_for_update=True)
        before = 0 if production is None else production.products
        holding = session.execute(
            select(Holding).where(Holding.party_id == actor.party_id,
                                  Holding.instrument_id == tranche.instrument_id)
            .with_for_update()).scalar_one_or_none()
        units, held = (0, 0) if holding is None else (holding.units, holding.held_units)
        burn = units_to_consume(products, tranche.products_per_unit, products_before=before)
        if burn > units - held:
            raise InvalidInput(
                f"{products} product(s) need {burn} unit(s) but you have {units - held} free"
                + (f" ({held} more are held for open orders)" if held else ""),
                field="products")
        moves = [UnitMove(actor.party_id, tranche.instrument_id, -burn)] if burn else []
        instrument = session.get_one(Instrument, tranche.instrument_id, with_for_update=True)
        if moves:
            apply_moves(session, moves)
            instrument.total_units -= burn
            tranche.burned += burn
        if production is None:
            production = LicenceUnitProduction(tranche_id=tranche.id, party_id=actor.party_id,
                                               products=0, units_consumed=0,
                                               updated_at=uow.now)
            session.add(production)
        production.products += products
        production.units_consumed += burn
        production.updated_at = uow.now
        entry = uow.journal.append(
            "licence_units.consumed",
            {"tranche_id": tranche.id, "asset_id": tranche.asset_id,
             "instrument_id": tranche.instrument_id, "party_id": actor.party_id,
             "products": products, "products_total": production.products,
             "products_per_unit": tranche.products_per_unit, "units": burn,
             "units_consumed_total": production.units_consumed,
             "total_units": instrument.total_units},
            actor=actor.party_id, parties=[tranche.grantor_id], unit_moves=moves)
        consumption = Consumption(
            tranche.id, actor.party_id, products, production.products, burn,
            production.units_consumed, units - burn, instrument.total_units, entry.seq)
        uow.commit()
        return consumption
