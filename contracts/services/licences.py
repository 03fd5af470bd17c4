"""Licences: offers, acceptance by terms hash, conflict-free grants, royalty reports, invoices.

A grantor publishes terms (accepting them by their hash as it does); a licensee accepts by
sending the hash of the terms it read. Negotiable offers may be revised by either side, which
withdraws the other side's acceptance. When both sides have accepted the same hash the grant is
executed in the same transaction, under the assets' row locks, after the conflict check.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select

from contracts import lifecycle
from contracts.conflicts import GrantBox, ensure_no_conflict, grant_box
from contracts.models import GrantAsset, Invoice, LicenceGrant, LicenceOffer, RoyaltyReport
from contracts.odrl import to_odrl
from contracts.royalties import (
    check_report_period,
    licence_years,
    milestone_due,
    minimum_true_up,
    overdue_reports,
    royalty_due,
    sublicence_due,
)
from contracts.terms import LicenceTerms, bind_licensee, parse_terms, terms_hash, terms_json
from ledger.account_codes import AVAILABLE, CLEARING, party_account, system_account
from ledger.actor import Actor
from ledger.currency import format_minor
from ledger.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from ledger.ids import new_id
from ledger.models import Asset, Party
from ledger.services.revenue import DistributionView, distribute
from ledger.unit_of_work import UnitOfWork

LICENSEE_KINDS = ("company", "startup", "university", "investor", "government")


def _terms_of(text: str) -> LicenceTerms:
    return parse_terms(json.loads(text))


def _check_assets(uow: UnitOfWork, terms: LicenceTerms, grantor: str) -> list[Asset]:
    assets = []
    for i, asset_id in enumerate(terms.assets):
        asset = uow.session.get(Asset, asset_id)
        if asset is None:
            raise InvalidInput(f"no asset '{asset_id}'", field=f"terms.assets[{i}]")
        if asset.owner_id != grantor:
            raise PermissionDenied(f"asset '{asset_id}' is not the grantor's to license")
        if asset.currency != terms.currency:
            raise InvalidInput(f"asset '{asset_id}' earns in {asset.currency}",
                               field="terms.currency")
        assets.append(asset)
    return assets


def _check_licensee(uow: UnitOfWork, licensee: str | None) -> None:
    if licensee is None:
        return
    party = uow.session.get(Party, licensee)
    if party is None or party.kind not in LICENSEE_KINDS:
        raise InvalidInput(f"'{licensee}' is not a party that can take a licence",
                           field="terms.licensee")


def publish_offer(uow: UnitOfWork, actor: Actor, terms_raw: Mapping[str, Any],
                  negotiable: bool) -> LicenceOffer:
    """The grantor offers terms for its assets; publishing is its acceptance of them."""
    terms = parse_terms(terms_raw)
    if terms.grantor != actor.party_id:
        raise PermissionDenied("an offer's grantor must be the party publishing it")
    with uow:
        _check_assets(uow, terms, actor.party_id)
        _check_licensee(uow, terms.licensee)
        digest = terms_hash(terms)
        offer = LicenceOffer(
            id=new_id("lof"), grantor_id=actor.party_id, licensee_id=terms.licensee,
            terms=json.dumps(terms_json(terms)), terms_hash=digest, negotiable=negotiable,
            status=lifecycle.transition(lifecycle.OFFER, lifecycle.OFFER.initial,
                                        lifecycle.OfferEvent.GRANTOR_ACCEPTS),
            grantor_accepted_hash=digest, licensee_accepted_hash=None,
            created_at=uow.now, updated_at=uow.now)
        uow.session.add(offer)
        uow.journal.append(
            "licence.offer_published",
            {"offer_id": offer.id, "negotiable": negotiable, "terms": terms_json(terms),
             "terms_hash": digest, "accepted_by": actor.party_id},
            actor=actor.party_id, parties=[p for p in (terms.licensee,) if p])
        uow.commit()
        return offer


def _offer(uow: UnitOfWork, offer_id: str, *, lock: bool) -> LicenceOffer:
    offer = uow.session.get(LicenceOffer, offer_id, with_for_update=lock)
    if offer is None:
        raise NotFound(f"no licence offer '{offer_id}'", field="id")
    return offer


def revise_offer(uow: UnitOfWork, actor: Actor, offer_id: str,
                 terms_raw: Mapping[str, Any]) -> LicenceOffer:
    """Either side proposes new terms of a negotiable offer (a company applying names itself
    as licensee); the proposer accepts them, and the other side's acceptance lapses."""
    terms = parse_terms(terms_raw)
    with uow:
        offer = _offer(uow, offer_id, lock=True)
        if not offer.negotiable:
            raise Conflict("this offer's terms are fixed: accept them as they are",
                           field="id")
        current = _terms_of(offer.terms)
        is_grantor = actor.party_id == offer.grantor_id
        if not is_grantor and offer.licensee_id not in (None, actor.party_id):
            raise NotFound(f"no licence offer '{offer_id}'", field="id")
        if not is_grantor and terms.licensee != actor.party_id:
            raise InvalidInput("a licensee's proposal names itself as licensee",
                               field="terms.licensee")
        if terms.grantor != current.grantor or set(terms.assets) != set(current.assets):
            raise InvalidInput("a revision keeps the grantor and the assets",
                               field="terms.assets")
        _check_assets(uow, terms, offer.grantor_id)
        _check_licensee(uow, terms.licensee)
        state = lifecycle.transition(lifecycle.OFFER, offer.status, lifecycle.OfferEvent.REVISE)
        digest = terms_hash(terms)
        offer.terms, offer.terms_hash = json.dumps(terms_json(terms)), digest
        offer.licensee_id = terms.licensee
        offer.grantor_accepted_hash = digest if is_grantor else None
        offer.licensee_accepted_hash = None if is_grantor else digest
        offer.status = lifecycle.transition(
            lifecycle.OFFER, state, lifecycle.OfferEvent.GRANTOR_ACCEPTS if is_grantor
            else lifecycle.OfferEvent.LICENSEE_ACCEPTS)
        offer.updated_at = uow.now
        uow.journal.append(
            "licence.offer_revised",
            {"offer_id": offer.id, "terms": terms_json(terms), "terms_hash": digest,
             "accepted_by": actor.party_id},
            actor=actor.party_id, parties=[offer.grantor_id, *([terms.licensee]
                                                               if terms.licensee else [])])
        uow.commit()
        return offer


@dataclass(frozen=True)
class Acceptance:
    offer: LicenceOffer
    grant: LicenceGrant | None


def accept_offer(uow: UnitOfWork, actor: Actor, offer_id: str, accepted_hash: str) -> Acceptance:
    """Accept the offer's current terms by their hash; a stale hash is refused. When both
    sides have accepted, the grant is executed now."""
    with uow:
        offer = _offer(uow, offer_id, lock=True)
        if offer.terms_hash != accepted_hash:
            raise Conflict("the terms changed since you read them: read the offer again and "
                           "accept its current terms_hash", field="terms_hash")
        terms = _terms_of(offer.terms)
        if actor.party_id == offer.grantor_id:
            offer.status = lifecycle.transition(lifecycle.OFFER, offer.status,
                                                lifecycle.OfferEvent.GRANTOR_ACCEPTS)
            offer.grantor_accepted_hash = accepted_hash
            kind_of_side = "grantor"
        else:
            if offer.licensee_id not in (None, actor.party_id):
                raise NotFound(f"no licence offer '{offer_id}'", field="id")
            _check_licensee(uow, actor.party_id)
            if offer.licensee_id is None and offer.negotiable:
                raise Conflict("propose terms naming yourself as licensee first",
                               field="terms_hash")
            open_offer = offer.licensee_id is None
            terms = bind_licensee(terms, actor.party_id)
            if not open_offer:
                offer.status = lifecycle.transition(lifecycle.OFFER, offer.status,
                                                    lifecycle.OfferEvent.LICENSEE_ACCEPTS)
            offer.licensee_accepted_hash = accepted_hash
            kind_of_side = "licensee"
        offer.updated_at = uow.now
        uow.journal.append(
            "licence.offer_accepted",
            {"offer_id": offer.id, "terms_hash": accepted_hash, "side": kind_of_side,
             "party_id": actor.party_id},
            actor=actor.party_id, parties=[offer.grantor_id])
        grant = None
        if offer.grantor_accepted_hash == offer.licensee_accepted_hash == offer.terms_hash:
            grant = execute_grant(uow, offer, terms)
            if offer.licensee_id is None:  # an open fixed offer stays open for others
                offer.licensee_accepted_hash = None
        uow.commit()
        return Acceptance(offer, grant)


def _boxes(uow: UnitOfWork, asset_ids: tuple[str, ...]) -> list[GrantBox]:
    rows = uow.session.execute(
        select(LicenceGrant).join(GrantAsset, GrantAsset.grant_id == LicenceGrant.id)
        .where(GrantAsset.asset_id.in_(asset_ids), LicenceGrant.status == "active")
        .order_by(LicenceGrant.created_at, LicenceGrant.id)).scalars().unique()
    return [grant_box(g.id, _terms_of(g.terms)) for g in rows]


def execute_grant(uow: UnitOfWork, offer: LicenceOffer, terms: LicenceTerms) -> LicenceGrant:
    """Grant the licence: lock the assets, check conflicts, record the grant and its upfront
    invoice, all in the caller's transaction."""
    session = uow.session
    for asset_id in sorted(terms.assets):  # the assets' locks serialise conflicting grants
        session.get_one(Asset, asset_id, with_for_update=True)
    grant_id = new_id("lic")
    ensure_no_conflict(grant_box(grant_id, terms), _boxes(uow, terms.assets))
    assert terms.licensee is not None
    grant = LicenceGrant(
        id=grant_id, offer_id=offer.id, grantor_id=terms.grantor, licensee_id=terms.licensee,
        exclusivity=terms.exclusivity.value, terms=json.dumps(terms_json(terms)),
        terms_hash=terms_hash(terms), start_date=terms.start, end_date=terms.end,
        status="active", cumulative_sales_minor=0, journal_seq=0, created_at=uow.now)
    entry = uow.journal.append(
        "licence.granted",
        {"grant_id": grant.id, "offer_id": offer.id, "terms": terms_json(terms),
         "terms_hash": grant.terms_hash, "offer_terms_hash": offer.terms_hash,
         "accepted": {"grantor": offer.grantor_accepted_hash,
                      "licensee": offer.licensee_accepted_hash}},
        actor=None, parties=[terms.grantor, terms.licensee])
    grant.journal_seq = entry.seq
    session.add(grant)
    session.flush()
    session.add_all([GrantAsset(grant_id=grant.id, asset_id=a) for a in terms.assets])
    if terms.upfront_fee:
        _invoice(uow, grant, terms, "upfront_fee", "licence_fee", terms.upfront_fee,
                 "upfront licence fee")
    return grant


def _invoice(uow: UnitOfWork, grant: LicenceGrant, terms: LicenceTerms, kind: str,
             source: str, amount: int, description: str) -> Invoice:
    invoice = Invoice(
        id=new_id("inv"), grant_id=grant.id, payer_id=grant.licensee_id,
        payee_id=grant.grantor_id, kind=kind, source=source, description=description,
        currency=terms.currency, amount_minor=amount, status=lifecycle.INVOICE.initial,
        journal_seq=0, paid_seq=None, created_at=uow.now)
    entry = uow.journal.append(
        "invoice.issued",
        {"invoice_id": invoice.id, "grant_id": grant.id, "kind": kind,
         "description": description, "amount": format_minor(amount, terms.currency),
         "currency": terms.currency, "payer_id": grant.licensee_id,
         "payee_id": grant.grantor_id},
        actor=None, parties=[grant.licensee_id, grant.grantor_id])
    invoice.journal_seq = entry.seq
    uow.session.add(invoice)
    return invoice


def _grant_for(uow: UnitOfWork, actor: Actor, grant_id: str, *, lock: bool) -> LicenceGrant:
    grant = uow.session.get(LicenceGrant, grant_id, with_for_update=lock)
    if grant is None or not (actor.is_operator
                             or actor.party_id in (grant.grantor_id, grant.licensee_id)):
        raise NotFound(f"no licence '{grant_id}'", field="id")
    return grant


@dataclass(frozen=True)
class ReportOutcome:
    report: RoyaltyReport
    invoices: list[Invoice]


def report_royalties(uow: UnitOfWork, actor: Actor, grant_id: str, start: date, end: date,
                     net_sales: int, third_party_royalties: int = 0,
                     by_territory: list[dict[str, Any]] | None = None,
                     currency: str | None = None) -> ReportOutcome:
    """The licensee reports net sales for one period; the royalty due becomes an invoice, and
    a report that ends a licence year also settles any shortfall to the minimum royalty."""
    with uow:
        grant = _grant_for(uow, actor, grant_id, lock=True)
        if actor.party_id != grant.licensee_id:
            raise PermissionDenied("only the licensee reports its sales")
        # A terminated or expired licence still takes reports for the periods it covered
        # (sales made while it was in force owe royalties); a period that starts after the
        # day it ended (``end_date``, see ``terminate_grant``) is refused.
        if grant.status != "active" and start > grant.end_date:
            raise Conflict(f"the licence is {grant.status} since {grant.end_date.isoformat()}: "
                           "no report for a period that starts after that", field="period")
        terms = _terms_of(grant.terms)
        if currency is not None and currency != terms.currency:
            raise InvalidInput(f"this licence is in {terms.currency}",
                               field="net_sales.currency")
        reported = [(r.period_start, r.period_end) for r in uow.session.execute(
            select(RoyaltyReport).where(RoyaltyReport.grant_id == grant.id)).scalars()]
        check_report_period(terms, start, end, reported=reported)
        computation = royalty_due(terms, cumulative_sales_before=grant.cumulative_sales_minor,
                                  net_sales=net_sales,
                                  third_party_royalties=third_party_royalties)
        grant.cumulative_sales_minor += net_sales
        breakdown = {**computation.as_json(), "by_territory": by_territory or []}
        entry = uow.journal.append(
            "licence.royalty_reported",
            {"grant_id": grant.id, "period_start": start.isoformat(),
             "period_end": end.isoformat(), "report": breakdown},
            actor=actor.party_id, parties=[grant.grantor_id])
        report = RoyaltyReport(
            id=new_id("rpt"), grant_id=grant.id, period_start=start, period_end=end,
            net_sales_minor=net_sales, third_party_minor=third_party_royalties,
            royalty_minor=computation.due, breakdown=json.dumps(breakdown),
            journal_seq=entry.seq, created_at=uow.now)
        uow.session.add(report)
        invoices = []
        if computation.due:
            invoices.append(_invoice(uow, grant, terms, "royalty", "royalty", computation.due,
                                     f"running royalty {start.isoformat()} to {end.isoformat()}"))
        year = next((y for y in licence_years(terms) if y[1] == end), None)
        if year is not None and terms.minimum_annual_royalty:
            in_year = sum(r.royalty_minor for r in uow.session.execute(
                select(RoyaltyReport).where(RoyaltyReport.grant_id == grant.id,
                                            RoyaltyReport.period_start >= year[0],
                                            RoyaltyReport.period_end <= year[1])).scalars())
            shortfall = minimum_true_up(terms, in_year, year=year)
            if shortfall:
                invoices.append(_invoice(uow, grant, terms, "minimum_true_up", "royalty",
                                         shortfall, f"minimum annual royalty true-up, licence "
                                         f"year {year[0].isoformat()} to {year[1].isoformat()}"))
        uow.commit()
        return ReportOutcome(report, invoices)


def report_milestone(uow: UnitOfWork, actor: Actor, grant_id: str, event: str) -> Invoice:
    """The licensee reports a milestone reached; its payment becomes an invoice (once)."""
    with uow:
        grant = _grant_for(uow, actor, grant_id, lock=True)
        if actor.party_id != grant.licensee_id:
            raise PermissionDenied("only the licensee reports milestones")
        terms = _terms_of(grant.terms)
        amount = milestone_due(terms, event)
        already = uow.session.execute(select(func.count()).select_from(Invoice).where(
            Invoice.grant_id == grant.id, Invoice.kind == "milestone",
            Invoice.description == f"milestone: {event}")).scalar_one()
        if already:
            raise Conflict(f"milestone '{event}' was already reported", field="event")
        invoice = _invoice(uow, grant, terms, "milestone", "milestone", amount,
                           f"milestone: {event}")
        uow.commit()
        return invoice


def report_sublicence_income(uow: UnitOfWork, actor: Actor, grant_id: str, income: int,
                             currency: str, reference: str) -> Invoice:
    """The licensee reports income from its sublicences; the grantor's share is invoiced."""
    with uow:
        grant = _grant_for(uow, actor, grant_id, lock=True)
        if actor.party_id != grant.licensee_id:
            raise PermissionDenied("only the licensee reports its sublicence income")
        terms = _terms_of(grant.terms)
        if currency != terms.currency:
            raise InvalidInput(f"this licence is in {terms.currency}", field="income.currency")
        due = sublicence_due(terms, income)
        if not terms.sublicence_share:
            raise InvalidInput("these terms give the grantor no share of sublicence income",
                               field="income")
        uow.journal.append(
            "licence.sublicence_income_reported",
            {"grant_id": grant.id, "income": format_minor(income, currency),
             "currency": currency, "reference": reference,
             "share": format_minor(due, currency)},
            actor=actor.party_id, parties=[grant.grantor_id])
        invoice = _invoice(uow, grant, terms, "sublicence", "royalty", due,
                           f"share of sublicence income ({reference})")
        uow.commit()
        return invoice


@dataclass(frozen=True)
class Payment:
    invoice: Invoice
    distributions: list[DistributionView]


def settle_invoice(uow: UnitOfWork, invoice: Invoice, actor_id: str, payer_account: str,
                   **recorded: str) -> list[DistributionView]:
    """Mark a locked invoice paid from `payer_account` and distribute it as revenue of the
    licence's assets, in the caller's transaction; `recorded` adds facts to the journal entry
    (how it was paid)."""
    invoice.status = lifecycle.transition(lifecycle.INVOICE, invoice.status,
                                          lifecycle.InvoiceEvent.PAY)
    grant = uow.session.get_one(LicenceGrant, invoice.grant_id)
    assets = sorted(_terms_of(grant.terms).assets)
    # A licence of several assets earns for each: equal parts, the rest to the first.
    share, rest = divmod(invoice.amount_minor, len(assets))
    views = [distribute(uow, actor_id, asset_id, share + (rest if i == 0 else 0),
                        invoice.source, f"invoice {invoice.id}", payer_account)
             for i, asset_id in enumerate(assets) if share + (rest if i == 0 else 0)]
    entry = uow.journal.append(
        "invoice.paid",
        {"invoice_id": invoice.id, "grant_id": grant.id,
         "amount": format_minor(invoice.amount_minor, invoice.currency),
         "currency": invoice.currency, **recorded,
         "distributions": [v.distribution.id for v in views]},
        actor=actor_id, parties=[invoice.payer_id, invoice.payee_id])
    invoice.paid_seq = entry.seq
    return views


def pay_invoice(uow: UnitOfWork, actor: Actor, invoice_id: str) -> Payment:
    """The licensee pays from its cash (or the operator records a payment received outside);
    the money is revenue of the licence's assets, distributed in the same transaction."""
    with uow:
        invoice = uow.session.get(Invoice, invoice_id, with_for_update=True)
        if invoice is None or not (actor.is_operator or actor.party_id in (invoice.payer_id,
                                                                           invoice.payee_id)):
            raise NotFound(f"no invoice '{invoice_id}'", field="id")
        if not (actor.is_operator or actor.party_id == invoice.payer_id):
            raise PermissionDenied("only the licensee, or the operator, pays an invoice")
        payer = (system_account(invoice.currency, CLEARING) if actor.is_operator
                 else party_account(invoice.payer_id, invoice.currency, AVAILABLE))
        views = settle_invoice(uow, invoice, actor.party_id, payer)
        uow.commit()
        return Payment(invoice, views)


def read_grant(uow: UnitOfWork, actor: Actor, grant_id: str) -> LicenceGrant:
    with uow:
        return _grant_for(uow, actor, grant_id, lock=False)


def grant_odrl(uow: UnitOfWork, actor: Actor, grant_id: str) -> dict[str, Any]:
    """The grant's terms as an ODRL 2.2 Agreement."""
    with uow:
        grant = _grant_for(uow, actor, grant_id, lock=False)
        return to_odrl(_terms_of(grant.terms), uid=f"urn:ipx:licence:{grant.id}")


def read_offer(uow: UnitOfWork, offer_id: str) -> LicenceOffer:
    """Offers are public listings: what a licensee reads before accepting."""
    with uow:
        return _offer(uow, offer_id, lock=False)


def list_invoices(uow: UnitOfWork, actor: Actor) -> list[Invoice]:
    with uow:
        return list(uow.session.execute(
            select(Invoice).where((Invoice.payer_id == actor.party_id)
                                  | (Invoice.payee_id == actor.party_id))
            .order_by(Invoice.created_at, Invoice.id)).scalars())


def late_reports(uow: UnitOfWork, actor: Actor, as_of: date) -> list[dict[str, Any]]:
    """For a grantor: every active licence's report periods that are late or missing."""
    with uow:
        grants = uow.session.execute(select(LicenceGrant).where(
            LicenceGrant.grantor_id == actor.party_id, LicenceGrant.status == "active")
            .order_by(LicenceGrant.id)).scalars()
        out = []
        for grant in grants:
            reported = [(r.period_start, r.period_end) for r in uow.session.execute(
                select(RoyaltyReport).where(RoyaltyReport.grant_id == grant.id)).scalars()]
            for start, end in overdue_reports(_terms_of(grant.terms), reported=reported,
                                              as_of=as_of):
                out.append({"grant_id": grant.id, "licensee_id": grant.licensee_id,
                            "period_start": start, "period_end": end})
        return out


MAX_TERMINATION_REASON = 500


def terminate_grant(uow: UnitOfWork, actor: Actor, grant_id: str, reason: str) -> LicenceGrant:
    """The grantor, the licensee or the operator ends an active licence now, giving a reason.

    In one transaction the grant becomes ``terminated`` (so it no longer blocks new grants in
    the conflict check), its ``end_date`` becomes the day of termination (the terms keep the
    agreed end) and a ``grant.terminated`` entry names both parties, the reason and who
    terminated. Invoices already issued stay payable, and reports for periods that start on
    or before the termination day are still accepted (see ``report_royalties``). A licence
    that is not active (terminated or expired) is refused with ``Conflict``; a party to
    neither side gets ``NotFound``, as for every read of a grant.
    """
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput("give the reason for terminating the licence", field="reason")
    reason = reason.strip()
    if len(reason) > MAX_TERMINATION_REASON:
        raise InvalidInput(f"at most {MAX_TERMINATION_REASON} characters", field="reason")
    with uow:
        grant = _grant_for(uow, actor, grant_id, lock=True)
        grant.status = lifecycle.transition(lifecycle.GRANT, grant.status,
                                            lifecycle.GrantEvent.TERMINATE)
        ended = min(grant.end_date, uow.now.date())
        agreed_end = grant.end_date
        grant.end_date = ended
        uow.journal.append(
            "grant.terminated",
            {"grant_id": grant.id, "grantor_id": grant.grantor_id,
             "licensee_id": grant.licensee_id, "terminated_by": actor.party_id,
             "reason": reason, "ended_on": ended.isoformat(),
             "agreed_end": agreed_end.isoformat()},
            actor=actor.party_id, parties=[grant.grantor_id, grant.licensee_id])
        uow.commit()
        return grant


def expire_due_grants(new_uow: Callable[[], UnitOfWork], today: date) -> list[LicenceGrant]:
    """Expire every active licence whose term is over, each in its own transaction with a
    ``grant.expired`` entry (run it from cron or a timer: ``ipx licences expire-due``).

    The terms' end date is exclusive (the first day not licensed), so a licence whose
    ``end_date`` is ``today`` or earlier is due.
    """
    with new_uow() as uow:
        due = list(uow.session.execute(
            select(LicenceGrant.id).where(LicenceGrant.status == lifecycle.GrantState.ACTIVE,
                                          LicenceGrant.end_date <= today)
            .order_by(LicenceGrant.end_date, LicenceGrant.id)).scalars())
    expired = []
    for grant_id in due:
        with new_uow() as uow:
            grant = uow.session.get_one(LicenceGrant, grant_id, with_for_update=True)
            if grant.status != lifecycle.GrantState.ACTIVE:
                continue  # terminated meanwhile
            grant.status = lifecycle.transition(lifecycle.GRANT, grant.status,
                                                lifecycle.GrantEvent.EXPIRE)
            uow.journal.append(
                "grant.expired",
                {"grant_id": grant.id, "grantor_id": grant.grantor_id,
                 "licensee_id": grant.licensee_id, "end_date": grant.end_date.isoformat()},
                actor=None, parties=[grant.grantor_id, grant.licensee_id])
            uow.commit()
            expired.append(grant)
    return expired
