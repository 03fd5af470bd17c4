"""Equity-for-IP deals: a start-up's shares (and optional cash, royalty) for a licence.

The start-up proposes terms for a licence of a university's asset; the party the terms on the
table await counters, accepts them by their hash, or rejects them; either party withdraws.
The rules are the pure :mod:`contracts.equity`; each step is a row of ``equity_deal_steps``
and a journal entry, in one transaction.

The cap is the one the asset's pinned distribution policy sets
(:func:`contracts.equity.policy_equity_cap`: ``hku-2023`` asks at most 5% of the start-up's
fully diluted shares after issuance).

**Acceptance executes the deal**, in the same transaction: the licence is granted (the
licences service's grant, with its conflict check under the assets' locks); the shares are
issued to the university in the start-up's cap table and, as units of the start-up's equity
instrument for that share class (created on first use, tradable like any instrument), moved
to the university's holding; any cash is paid from the start-up's available cash as licence
revenue of the asset, split by its policy. If any of it is refused, nothing happens.

**Proceeds** the university's equity brings in later (a dividend, an exit, a sale of the
units) are revenue of the deal's asset, source ``equity_proceeds``, split by the policy.

Lock order: the deal, the start-up's registration, the assets (the grant), the instrument,
holdings, then the accounts a distribution touches.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from contracts import equity as core
from contracts import lifecycle
from contracts.cap_table import Stakeholder, StakeholderKind, fully_diluted
from contracts.equity_models import (
    EquityDeal,
    EquityDealStep,
    EquityProceeds,
    Startup,
    StartupShareClass,
    StartupShareTransaction,
    StartupStakeholder,
)
from contracts.models import LicenceGrant, LicenceOffer
from contracts.services import licences
from contracts.services.startups import load_cap_table, next_position, transaction_row
from contracts.terms import LicenceTerms, parse_terms, terms_hash, terms_json
from ledger.account_codes import AVAILABLE, CLEARING, party_account, system_account
from ledger.account_opening import open_accounts
from ledger.actor import Actor
from ledger.currency import format_minor, positive_minor
from ledger.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from ledger.holdings import apply_moves
from ledger.ids import new_id
from ledger.models import Asset, Instrument, Party, Policy
from ledger.postings import UnitMove
from ledger.services.revenue import DistributionView, distribute
from ledger.unit_of_work import UnitOfWork

CLASS_PREFIX = "startup_equity_"
PROCEEDS_SOURCE = "equity_proceeds"
CASH_SOURCE = "licence_fee"
PROCEEDS_KINDS = ("dividend", "exit", "sale")


@dataclass(frozen=True)
class DealView:
    """A deal, its recorded steps, and (once executed) what execution made."""

    deal: EquityDeal
    steps: list[EquityDealStep]
    grant: LicenceGrant | None = None
    distribution_ids: tuple[str, ...] = ()

    @property
    def awaiting(self) -> str | None:
        """The party whose answer the terms on the table await."""
        if self.deal.state not in (lifecycle.DealState.PROPOSED,
                                   lifecycle.DealState.COUNTERED):
            return None
        d = self.deal
        return d.university_id if d.offered_by == d.startup_id else d.startup_id


@dataclass(frozen=True)
class ProceedsView:
    proceeds: EquityProceeds
    distribution: DistributionView


# --------------------------------------------------------------------------- helpers

def _deal_row(uow: UnitOfWork, actor: Actor, deal_id: str, *, lock: bool) -> EquityDeal:
    deal = uow.session.get(EquityDeal, deal_id, with_for_update=lock)
    if deal is None or not (actor.is_operator
                            or actor.party_id in (deal.startup_id, deal.university_id)):
        raise NotFound(f"no equity deal '{deal_id}'", field="id")
    return deal


def _steps(uow: UnitOfWork, deal_id: str) -> list[EquityDealStep]:
    return list(uow.session.execute(select(EquityDealStep).where(
        EquityDealStep.deal_id == deal_id).order_by(EquityDealStep.seq)).scalars())


def _core_deal(uow: UnitOfWork, row: EquityDeal) -> core.EquityDeal:
    steps = tuple(core.DealStep(s.seq, s.event, s.by_party_id, s.state, s.terms_hash, s.reason)
                  for s in _steps(uow, row.id))
    return core.EquityDeal(row.startup_id, row.university_id, row.asset_id, row.state,
                           core.parse_deal_terms(json.loads(row.terms)), row.offered_by, steps)


def _cap_of(uow: UnitOfWork, asset: Asset) -> core.EquityCap:
    return core.policy_equity_cap(json.loads(uow.session.get_one(Policy, asset.policy_id).body))


def _registered(uow: UnitOfWork, startup_id: str, *, lock: bool) -> Startup:
    startup = uow.session.get(Startup, startup_id, with_for_update=lock)
    if startup is None:
        raise Conflict("register the start-up's share capital first "
                       f"(POST /v1/startups/{startup_id}/share-capital)", field="startup")
    return startup


def _licence(raw: Mapping[str, Any]) -> LicenceTerms:
    return parse_terms(raw, field="licence_terms")


def _deal_terms(raw: Mapping[str, Any], licence: LicenceTerms, asset: Asset) -> core.DealTerms:
    """The deal terms of the body, naming ``licence`` by its hash (filled in if absent)."""
    if not isinstance(raw, Mapping):
        raise InvalidInput("must be an object", field="terms")
    digest = terms_hash(licence)
    given = raw.get("licence_terms_hash", digest)
    if given != digest:
        raise InvalidInput(f"names licence terms {str(given)[:12]}..., but licence_terms hash "
                           f"to {digest}", field="terms.licence_terms_hash")
    terms = core.parse_deal_terms({**raw, "licence_terms_hash": digest})
    if terms.currency is not None and terms.currency != asset.currency:
        raise InvalidInput(f"the cash is revenue of the asset, which earns in {asset.currency}",
                           field="terms.cash.currency")
    return terms


def _check_licence(uow: UnitOfWork, deal: core.EquityDeal, licence: LicenceTerms) -> None:
    core.check_licence_terms(deal, licence)
    if licence.licensee is None:
        raise InvalidInput("the licence must name the start-up as licensee",
                           field="licence_terms.licensee")
    for i, asset_id in enumerate(licence.assets):
        asset = uow.session.get(Asset, asset_id)
        if asset is None:
            raise InvalidInput(f"no asset '{asset_id}'", field=f"licence_terms.assets[{i}]")
        if asset.owner_id != deal.university:
            raise InvalidInput(f"asset '{asset_id}' is not the university's to license",
                               field=f"licence_terms.assets[{i}]")
        if asset.currency != licence.currency:
            raise InvalidInput(f"asset '{asset_id}' earns in {asset.currency}",
                               field="licence_terms.currency")


def _record_step(uow: UnitOfWork, row: EquityDeal, before: core.EquityDeal,
                 after: core.EquityDeal, data: dict[str, Any]) -> EquityDealStep:
    """Append the core's new step to the journal and the steps table; update the row."""
    step = after.steps[len(before.steps)]
    row.state = after.state
    row.offered_by = after.offered_by
    row.terms = json.dumps(core.deal_terms_json(after.terms))
    row.terms_hash = after.terms_hash
    row.updated_at = uow.now
    entry = uow.journal.append(
        f"equity_deal.{_PAST[step.event]}",
        {"deal_id": row.id, "step": step.seq, "event": str(step.event), "by": step.by,
         "state": str(step.state), "terms_hash": step.terms_hash, "reason": step.reason, **data},
        actor=step.by, parties=[row.startup_id, row.university_id])
    record = EquityDealStep(deal_id=row.id, seq=step.seq, event=step.event, by_party_id=step.by,
                            state=step.state, terms_hash=step.terms_hash,
                            licence_terms_hash=row.licence_terms_hash, reason=step.reason,
                            journal_seq=entry.seq, at=uow.now)
    uow.session.add(record)
    uow.session.flush()
    return record


_PAST = {"propose": "proposed", "counter": "countered", "accept": "accepted",
         "reject": "rejected", "withdraw": "withdrawn", "execute": "executed"}


def _view(uow: UnitOfWork, row: EquityDeal, distribution_ids: tuple[str, ...] = ()
          ) -> DealView:
    grant = None if row.grant_id is None else uow.session.get(LicenceGrant, row.grant_id)
    return DealView(row, _steps(uow, row.id), grant, distribution_ids)


# --------------------------------------------------------------------------- negotiation

def propose(uow: UnitOfWork, actor: Actor, *, university_id: str, asset_id: str,
            licence_terms: Mapping[str, Any], terms: Mapping[str, Any]) -> DealView:
    """The start-up proposes shares (and optional cash, royalty) for a licence of the
    university's asset; checked against its cap table and the asset's policy cap."""
    if actor.kind != "startup":
        raise PermissionDenied("only a start-up proposes an equity-for-IP deal")
    licence = _licence(licence_terms)
    with uow:
        session = uow.session
        startup = _registered(uow, actor.party_id, lock=False)
        university = session.get(Party, university_id)
        if university is None or university.kind != "university":
            raise InvalidInput(f"'{university_id}' is not a university", field="university_id")
        asset = session.get(Asset, asset_id)
        if asset is None:
            raise InvalidInput(f"no asset '{asset_id}'", field="asset_id")
        if asset.owner_id != university_id:
            raise InvalidInput(f"asset '{asset_id}' is not owned by {university_id}: a "
                               "university can only license what it owns", field="asset_id")
        deal_terms = _deal_terms(terms, licence, asset)
        cap = _cap_of(uow, asset)
        table, _ = load_cap_table(session, startup)
        deal = core.propose_deal(startup=actor.party_id, university=university_id,
                                 asset=asset_id, terms=deal_terms, cap_table=table, cap=cap)
        _check_licence(uow, deal, licence)
        row = EquityDeal(
            id=new_id("eqd"), startup_id=actor.party_id, university_id=university_id,
            asset_id=asset_id, state=deal.state, terms=json.dumps(core.deal_terms_json(
                deal.terms)), terms_hash=deal.terms_hash,
            licence_terms=json.dumps(terms_json(licence)), licence_terms_hash=terms_hash(licence),
            offered_by=actor.party_id, cap_policy=cap.policy, cap_percent=str(cap.max_percent),
            grant_id=None, instrument_id=None, issuance_id=None, journal_seq=0,
            created_at=uow.now, updated_at=uow.now)
        step = deal.steps[0]
        entry = uow.journal.append(
            "equity_deal.proposed",
            {"deal_id": row.id, "step": 1, "event": str(step.event), "by": step.by,
             "state": str(step.state), "startup_id": row.startup_id,
             "university_id": university_id, "asset_id": asset_id,
             "terms": core.deal_terms_json(deal.terms), "terms_hash": deal.terms_hash,
             "licence_terms": terms_json(licence), "licence_terms_hash": row.licence_terms_hash,
             "equity_cap": {"policy": cap.policy, "max_percent": row.cap_percent},
             "fully_diluted_before": fully_diluted(table)},
            actor=actor.party_id, parties=[actor.party_id, university_id])
        row.journal_seq = entry.seq
        session.add(row)
        session.flush()
        session.add(EquityDealStep(deal_id=row.id, seq=1, event=step.event,
                                   by_party_id=actor.party_id, state=step.state,
                                   terms_hash=step.terms_hash,
                                   licence_terms_hash=row.licence_terms_hash, reason=None,
                                   journal_seq=entry.seq, at=uow.now))
        session.flush()
        view = _view(uow, row)
        uow.commit()
        return view


def counter(uow: UnitOfWork, actor: Actor, deal_id: str, *, terms: Mapping[str, Any],
            licence_terms: Mapping[str, Any] | None = None) -> DealView:
    """The party the terms on the table await answers with new terms (and, optionally, new
    licence terms), checked like a proposal."""
    with uow:
        session = uow.session
        row = _deal_row(uow, actor, deal_id, lock=True)
        asset = session.get_one(Asset, row.asset_id)
        licence = (_licence(licence_terms) if licence_terms is not None
                   else parse_terms(json.loads(row.licence_terms)))
        deal_terms = _deal_terms(terms, licence, asset)
        before = _core_deal(uow, row)
        table, _ = load_cap_table(session, _registered(uow, row.startup_id, lock=False))
        after = core.counter_deal(before, by=actor.party_id, terms=deal_terms, cap_table=table,
                                  cap=_cap_of(uow, asset))
        _check_licence(uow, after, licence)
        row.licence_terms = json.dumps(terms_json(licence))
        row.licence_terms_hash = terms_hash(licence)
        _record_step(uow, row, before, after, {
            "terms": core.deal_terms_json(after.terms), "licence_terms": terms_json(licence),
            "licence_terms_hash": row.licence_terms_hash})
        view = _view(uow, row)
        uow.commit()
        return view


def reject(uow: UnitOfWork, actor: Actor, deal_id: str, reason: str) -> DealView:
    """The party the terms await rejects them, ending the deal."""
    with uow:
        row = _deal_row(uow, actor, deal_id, lock=True)
        before = _core_deal(uow, row)
        _record_step(uow, row, before, core.reject_deal(before, by=actor.party_id,
                                                        reason=reason), {})
        view = _view(uow, row)
        uow.commit()
        return view


def withdraw(uow: UnitOfWork, actor: Actor, deal_id: str, reason: str | None) -> DealView:
    """Either party withdraws before execution."""
    with uow:
        row = _deal_row(uow, actor, deal_id, lock=True)
        before = _core_deal(uow, row)
        _record_step(uow, row, before, core.withdraw_deal(before, by=actor.party_id,
                                                          reason=reason), {})
        view = _view(uow, row)
        uow.commit()
        return view


def accept(uow: UnitOfWork, actor: Actor, deal_id: str, accepted_hash: str) -> DealView:
    """The party the terms await accepts them by their hash; the deal executes at once, in
    the same transaction (module docstring)."""
    with uow:
        row = _deal_row(uow, actor, deal_id, lock=True)
        before = _core_deal(uow, row)
        accepted = core.accept_deal(before, by=actor.party_id, terms_hash=accepted_hash)
        # The shares become units the university holds, and a holding opens its holder's
        # account in the instrument's (the start-up's) currency: opened now, before the
        # journal's head is locked, so that the insert never waits while it is held.
        startup = _registered(uow, row.startup_id, lock=False)
        open_accounts(uow.session, [party_account(row.university_id, startup.currency,
                                                  AVAILABLE)])
        _record_step(uow, row, before, accepted, {})
        distribution_ids = _execute(uow, actor, row, accepted)
        view = _view(uow, row, distribution_ids)
        uow.commit()
        return view


def _equity_instrument(uow: UnitOfWork, row: EquityDeal, startup: Startup,
                       share_class: str) -> Instrument:
    """The (locked) instrument of the start-up's class, created on the deal's asset on first
    use with no units."""
    session = uow.session
    cls = session.get_one(StartupShareClass, (row.startup_id, share_class),
                          with_for_update=True)
    if cls.instrument_id is not None:
        return session.get_one(Instrument, cls.instrument_id, with_for_update=True)
    taken = set(session.execute(select(Instrument.unit_class)
                                .where(Instrument.asset_id == row.asset_id)).scalars())
    n = 1
    while f"{CLASS_PREFIX}{n}" in taken:
        n += 1
    instrument = Instrument(id=new_id("ins"), asset_id=row.asset_id,
                            unit_class=f"{CLASS_PREFIX}{n}", total_units=0,
                            currency=startup.currency)
    session.add(instrument)
    session.flush()
    cls.instrument_id = instrument.id
    return instrument


def _execute(uow: UnitOfWork, actor: Actor, row: EquityDeal,
             accepted: core.EquityDeal) -> tuple[str, ...]:
    """Execute the accepted (locked) deal in the caller's transaction."""
    session = uow.session
    startup = _registered(uow, row.startup_id, lock=True)  # cap-table changes serialise here
    asset = session.get_one(Asset, row.asset_id)
    licence = parse_terms(json.loads(row.licence_terms))
    core.check_licence_terms(accepted, licence)
    table, _ = load_cap_table(session, startup)
    university = session.get_one(Party, row.university_id)
    execution = core.execute_deal(
        accepted, by=actor.party_id, cap_table=table, cap=_cap_of(uow, asset),
        issuance_id=f"{row.id}.issuance", on=uow.now.date(),
        university_stakeholder=Stakeholder(university.id, university.name,
                                           StakeholderKind.INSTITUTION))
    issuance = execution.issuance

    # The licence: an offer both sides accepted (this deal), granted by the licences service.
    digest = terms_hash(licence)
    offer = LicenceOffer(
        id=new_id("lof"), grantor_id=row.university_id, licensee_id=row.startup_id,
        terms=json.dumps(terms_json(licence)), terms_hash=digest, negotiable=False,
        status=lifecycle.OfferState.EXECUTED, grantor_accepted_hash=digest,
        licensee_accepted_hash=digest, created_at=uow.now, updated_at=uow.now)
    session.add(offer)
    session.flush()
    grant = licences.execute_grant(uow, offer, licence)  # the conflict check, under asset locks

    # The shares: a cap-table issuance, and units of the class's instrument.
    instrument = _equity_instrument(uow, row, startup, issuance.share_class)
    instrument.total_units += issuance.shares
    moves = [UnitMove(row.university_id, instrument.id, issuance.shares)]
    apply_moves(session, moves)

    distribution_ids: tuple[str, ...] = ()
    terms = accepted.terms
    if terms.cash:
        assert terms.currency is not None
        view = distribute(uow, row.startup_id, row.asset_id, terms.cash, CASH_SOURCE,
                          f"equity deal {row.id}",
                          party_account(row.startup_id, terms.currency, AVAILABLE))
        distribution_ids = (view.distribution.id,)

    new_stakeholder = table.stakeholder(university.id) is None
    step = execution.deal.steps[-1]
    after_table = execution.cap_table
    total = fully_diluted(after_table)
    entry = uow.journal.append(
        "equity_deal.executed",
        {"deal_id": row.id, "step": step.seq, "event": str(step.event), "by": step.by,
         "state": str(step.state), "terms_hash": step.terms_hash, "grant_id": grant.id,
         "offer_id": offer.id, "licence_terms_hash": digest,
         "issuance": {"id": issuance.id, "stakeholder": issuance.stakeholder,
                      "share_class": issuance.share_class, "shares": issuance.shares,
                      "date": issuance.date.isoformat(),
                      "consideration": issuance.consideration},
         "instrument": {"id": instrument.id, "asset_id": instrument.asset_id,
                        "class": instrument.unit_class, "total_units": instrument.total_units},
         "fully_diluted_after": total,
         "percent_of_fully_diluted": str(Decimal(issuance.shares * 100) / Decimal(total)),
         "cash": None if not terms.cash or terms.currency is None
         else {"amount": format_minor(terms.cash, terms.currency), "currency": terms.currency},
         "distributions": list(distribution_ids)},
        actor=actor.party_id, parties=[row.startup_id, row.university_id], unit_moves=moves)
    if new_stakeholder:
        session.add(StartupStakeholder(
            startup_id=row.startup_id, stakeholder_id=university.id,
            position=next_position(session, row.startup_id, StartupStakeholder),
            name=university.name, kind=StakeholderKind.INSTITUTION.value))
    session.add(transaction_row(row.startup_id,
                                next_position(session, row.startup_id, StartupShareTransaction),
                                issuance, entry.seq, deal_id=row.id))
    session.add(EquityDealStep(deal_id=row.id, seq=step.seq, event=step.event,
                               by_party_id=step.by, state=step.state,
                               terms_hash=step.terms_hash, licence_terms_hash=digest,
                               reason=None, journal_seq=entry.seq, at=uow.now))
    row.state = execution.deal.state
    row.grant_id, row.instrument_id, row.issuance_id = grant.id, instrument.id, issuance.id
    row.updated_at = uow.now
    session.flush()
    return distribution_ids


# --------------------------------------------------------------------------- reading

def read(uow: UnitOfWork, actor: Actor, deal_id: str) -> DealView:
    """A deal, for its start-up, its university and the operator."""
    with uow:
        return _view(uow, _deal_row(uow, actor, deal_id, lock=False))


def list_deals(uow: UnitOfWork, actor: Actor, *, after: str | None = None,
               limit: int = 50) -> list[DealView]:
    """The caller's deals (every deal for the operator) by id, ``limit`` after ``after``."""
    with uow:
        query = select(EquityDeal).order_by(EquityDeal.id).limit(limit)
        if after is not None:
            query = query.where(EquityDeal.id > after)
        if not actor.is_operator:
            query = query.where((EquityDeal.startup_id == actor.party_id)
                                | (EquityDeal.university_id == actor.party_id))
        return [_view(uow, r) for r in uow.session.execute(query).scalars()]


# --------------------------------------------------------------------------- proceeds

def record_proceeds(uow: UnitOfWork, actor: Actor, deal_id: str, *, kind: str,
                    amount: Decimal | str, currency: str, reference: str) -> ProceedsView:
    """Money the university's equity from an executed deal brought in, distributed as
    revenue of the deal's asset (source ``equity_proceeds``) by its policy, atomically.

    * ``dividend``: paid by the start-up from its available cash, or recorded by the
      operator as received outside (through the clearing account);
    * ``exit``: recorded by the operator (clearing);
    * ``sale``: the university pays in, from its available cash, what a sale of its units
      on the exchange brought; or the operator records a sale made outside.
    """
    if kind not in PROCEEDS_KINDS:
        raise InvalidInput(f"must be one of {', '.join(PROCEEDS_KINDS)}", field="kind")
    if not isinstance(reference, str) or not reference.strip() or len(reference) > 150:
        raise InvalidInput("must be a non-blank string of at most 150 characters",
                           field="reference")
    with uow:
        session = uow.session
        row = _deal_row(uow, actor, deal_id, lock=True)
        payer_party = {"dividend": row.startup_id, "sale": row.university_id}.get(kind)
        if not (actor.is_operator or actor.party_id == payer_party):
            who = {"dividend": "the start-up or the operator", "exit": "the operator",
                   "sale": "the university or the operator"}[kind]
            raise PermissionDenied(f"only {who} records proceeds of kind '{kind}'")
        if row.state != lifecycle.DealState.EXECUTED:
            raise Conflict(f"the deal is {row.state}: only an executed deal's equity brings "
                           "proceeds", field="id")
        asset = session.get_one(Asset, row.asset_id)
        if currency != asset.currency:
            raise InvalidInput(f"proceeds are revenue of asset {asset.id}, which earns in "
                               f"{asset.currency}", field="amount.currency")
        gross = positive_minor(amount, currency, field="amount.amount")
        payer = (system_account(currency, CLEARING) if actor.is_operator
                 else party_account(actor.party_id, currency, AVAILABLE))
        view = distribute(uow, actor.party_id, row.asset_id, gross, PROCEEDS_SOURCE,
                          f"equity deal {row.id} {kind}: {reference.strip()}", payer)
        proceeds = EquityProceeds(
            id=new_id("eqp"), deal_id=row.id, kind=kind, currency=currency,
            amount_minor=gross, reference=reference.strip(),
            distribution_id=view.distribution.id, journal_seq=0, created_at=uow.now)
        entry = uow.journal.append(
            "equity_deal.proceeds_recorded",
            {"proceeds_id": proceeds.id, "deal_id": row.id, "asset_id": row.asset_id,
             "kind": kind, "amount": format_minor(gross, currency), "currency": currency,
             "reference": proceeds.reference, "distribution_id": view.distribution.id},
            actor=actor.party_id, parties=[row.startup_id, row.university_id])
        proceeds.journal_seq = entry.seq
        session.add(proceeds)
        session.flush()
        uow.commit()
        return ProceedsView(proceeds, view)
