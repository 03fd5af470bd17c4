"""Revenue: a receipt of an asset's revenue split by its pinned policy, to the minor unit.

The journal entry records every input of the split (gross, policy body and hash, platform
fee, unrecovered costs and cumulative net income before it, class totals and units) and every
line, so that any holder can recompute their own line offline from their statement alone.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from ledger.account_codes import AVAILABLE, CLEARING, party_account, system_account
from ledger.accounts import post_transaction
from ledger.actor import Actor
from ledger.canonical_rows import lines_canonical
from ledger.collector import collector_paused
from ledger.currency import exponent, format_minor, positive_minor, to_minor
from ledger.errors import InvalidInput, NotFound, PermissionDenied
from ledger.ids import new_id
from ledger.models import (
    Asset,
    AssetCost,
    Distribution,
    Holding,
    Instrument,
    JournalEntry,
    Party,
    Policy,
    Setting,
)
from ledger.postings import Posting
from ledger.unit_of_work import UnitOfWork
from ledger.waterfall import Line, WaterfallInput, run_waterfall

SOURCES = ("licence_fee", "royalty", "milestone", "equity_proceeds", "other")
PLATFORM_FEE = "platform_fee_bps"


@dataclass(frozen=True)
class DistributionView:
    distribution: Distribution
    steps: list[dict[str, Any]]
    lines: Sequence[Line]  # as the journal entry records them
    # The entry's own RFC 8785 encoding of the lines, where at hand (a new distribution).
    lines_json: bytes | None = None


def platform_fee_bps(uow: UnitOfWork) -> int:
    setting = uow.session.get(Setting, PLATFORM_FEE)
    return 0 if setting is None else int(setting.value)


def set_platform_fee(uow: UnitOfWork, actor: Actor, bps: int) -> int:
    """The operator sets the platform fee (basis points of every receipt, before the policy)."""
    actor.require_operator("set the platform fee")
    if not 0 <= bps <= 10_000:
        raise InvalidInput("must be between 0 and 10000 basis points", field="platform_fee_bps")
    with uow:
        setting = uow.session.get(Setting, PLATFORM_FEE, with_for_update=True)
        if setting is None:
            uow.session.add(Setting(name=PLATFORM_FEE, value=str(bps)))
        else:
            setting.value = str(bps)
        uow.journal.append("platform.fee_set", {"platform_fee_bps": bps}, actor=actor.party_id)
        uow.commit()
        return bps


def _holders(uow: UnitOfWork, asset_id: str, classes: list[str], currency: str
             ) -> tuple[dict[str, Sequence[tuple[str, int]]], dict[str, int]]:
    """Each revenue class's holders as of now, as (party id, units) rows (units held in open
    orders count for their owner), and the ids of the accounts in `currency` their holdings
    are paid into, by party. Other instruments of the asset, such as licence units, are not
    revenue stakes."""
    uow.session.flush()  # read the holdings as this transaction left them
    connection = uow.session.connection()
    in_currency = {cls for cls, instrument_currency in connection.execute(
        select(Instrument.unit_class, Instrument.currency)
        .where(Instrument.asset_id == asset_id)).all() if instrument_currency == currency}
    # On the connection, not through the ORM session, a query per class: 100,000 rows come
    # back several times faster as plain rows, and go to the waterfall with no object built
    # per holder. Unordered: the split does not depend on the order of holders.
    holders: dict[str, Sequence[tuple[str, int]]] = {}
    paid_into: dict[str, int | None] = {}
    for cls in classes:
        rows = connection.execute(
            select(Holding.party_id, Holding.units, Holding.account_id)
            .join(Instrument, Holding.instrument_id == Instrument.id)
            .where(Instrument.asset_id == asset_id, Instrument.unit_class == cls,
                   Holding.units > 0)).all()
        # Column by column: 100,000 rows split in a few milliseconds.
        parties, units, account_ids = zip(*rows, strict=True) if rows else ((), (), ())
        holders[cls] = list(zip(parties, units, strict=True))
        if cls in in_currency:
            paid_into.update(zip(parties, account_ids, strict=True))
    return holders, {party: account for party, account in paid_into.items()
                     if account is not None}  # None: from before migration 0021


def record_revenue(
    uow: UnitOfWork, actor: Actor, asset_id: str, amount: Decimal | str, currency: str,
    source: str, reference: str,
) -> DistributionView:
    """Receive revenue for an asset and distribute it to every holder, atomically.

    The operator records money received from outside (through the clearing account); the
    owner pays in from its own available cash what it received elsewhere.
    """
    if source not in SOURCES:
        raise InvalidInput(f"source must be one of {', '.join(SOURCES)}", field="source")
    with uow:
        asset = uow.session.get(Asset, asset_id)
        if asset is None:
            raise NotFound(f"no asset '{asset_id}'", field="id")
        if not (actor.is_operator or actor.party_id == asset.owner_id):
            raise PermissionDenied("only the asset's owner or the operator may record revenue")
        if currency != asset.currency:
            raise InvalidInput(f"this asset's revenue is in {asset.currency}",
                               field="amount.currency")
        gross = positive_minor(amount, currency)
        payer = (system_account(currency, CLEARING) if actor.is_operator
                 else party_account(actor.party_id, currency, AVAILABLE))
        view = distribute(uow, actor.party_id, asset_id, gross, source,
                          reference, payer)
        uow.commit()
        return view


@collector_paused()  # 100,000 holders' lines, postings and rows: no cycles to find
def distribute(
    uow: UnitOfWork, actor_id: str, asset_id: str, gross: int, source: str, reference: str,
    payer_account: str,
) -> DistributionView:
    """Split `gross` minor units of an asset's revenue, paid from `payer_account`, inside the
    caller's transaction (used by revenue receipts and by paid licence invoices)."""
    session = uow.session
    asset = session.get_one(Asset, asset_id, with_for_update=True)  # one split at a time
    currency = asset.currency
    policy = session.get_one(Policy, asset.policy_id)
    body = json.loads(policy.body)
    costs = session.execute(select(func.coalesce(func.sum(AssetCost.amount_minor), 0))
                            .where(AssetCost.asset_id == asset_id)).scalar_one()
    recovered, cumulative = session.execute(
        select(func.coalesce(func.sum(Distribution.cost_recovered_minor), 0),
               func.coalesce(func.sum(Distribution.net_minor), 0))
        .where(Distribution.asset_id == asset_id)).one()
    operator_id = session.execute(
        select(Party.id).where(Party.kind == "operator").order_by(Party.created_at)
        .limit(1)).scalar_one()
    holders, holder_accounts = _holders(uow, asset_id, body["classes"], currency)
    fee_bps = platform_fee_bps(uow)
    result = run_waterfall(WaterfallInput(
        gross=gross, currency_exponent=exponent(currency), policy=body,
        platform_fee_bps=fee_bps, unrecovered_costs=int(costs) - int(recovered),
        cumulative_net_before=int(cumulative), holdings=holders,
        owner_id=asset.owner_id, operator_id=operator_id,
    ))
    credits: dict[str, int] = defaultdict(int)
    for step in result.steps:
        credits[step.party_id] += step.amount
    for party_id, _, _, amount in result.lines:
        credits[party_id] += amount
    postings = [Posting(payer_account, currency, -gross)]
    known_accounts: dict[str, int] = {}  # by code, the holders' accounts read with them
    for party_id in sorted(credits):
        if credits[party_id]:
            code = party_account(party_id, currency, AVAILABLE)
            postings.append(Posting(code, currency, credits[party_id]))
            if party_id in holder_accounts:
                known_accounts[code] = holder_accounts[party_id]
    distribution = Distribution(
        id=new_id("dst"), asset_id=asset_id, journal_seq=0, currency=currency,
        gross_minor=gross, net_minor=result.net,
        cost_recovered_minor=sum(s.amount for s in result.steps if s.kind == "cost_recovery"),
        source=source, reference=reference, created_at=uow.now,
    )

    def fmt(minor: int) -> str:
        return format_minor(minor, currency)

    steps = [{"kind": s.kind, "amount": fmt(s.amount), "party_id": s.party_id}
             for s in result.steps]
    data = {
        "distribution_id": distribution.id, "asset_id": asset_id,
        "owner_id": asset.owner_id, "operator_id": operator_id,
        "gross": fmt(gross), "currency": currency, "currency_exponent": exponent(currency),
        "source": source, "reference": reference,
        "policy": {"id": policy.id, "hash": policy.hash, "body": body},
        "platform_fee_bps": fee_bps,
        "unrecovered_costs_before": fmt(int(costs) - int(recovered)),
        "cumulative_net_before": fmt(int(cumulative)),
        "steps": steps, "net": fmt(result.net),
        "class_totals": {c: fmt(a) for c, a in result.class_totals.items()},
        "class_units": dict(result.class_units),
    }
    # "lines": [{"party_id", "class", "units", "amount"}, ...], written directly, and kept
    # for the view (the API answers with the same text).
    lines_json: list[bytes] = []

    def encode_lines() -> bytes:
        lines_json.append(lines_canonical(result.lines, currency))
        return lines_json[-1]

    posted = post_transaction(uow, kind="revenue.distributed", postings=postings, data=data,
                              actor=actor_id, parties=[asset.owner_id],
                              data_encoders={"lines": encode_lines},
                              known_account_ids=known_accounts)
    distribution.journal_seq = posted.journal_seq
    session.add(distribution)
    return DistributionView(distribution, steps, result.lines,
                            lines_json[-1] if lines_json else None)


def read_distribution(uow: UnitOfWork, actor: Actor, distribution_id: str) -> DistributionView:
    """For the asset's owner, the operator, and any party with a line in it.

    The lines are read from the distribution's journal entry: the record every holder verifies
    is the only copy, so what the API shows cannot differ from it."""
    missing = NotFound(f"no distribution '{distribution_id}'", field="id")
    with uow:
        session = uow.session
        distribution = session.get(Distribution, distribution_id)
        if distribution is None:
            raise missing
        data = json.loads(session.get_one(JournalEntry, distribution.journal_seq).body)["data"]
        lines = [Line(ln["party_id"], ln["class"], ln["units"],
                      to_minor(Decimal(ln["amount"]), distribution.currency))
                 for ln in data["lines"]]
        if not (actor.is_operator
                or session.get_one(Asset, distribution.asset_id).owner_id == actor.party_id
                or any(line.party_id == actor.party_id for line in lines)):
            raise missing
        return DistributionView(distribution, data["steps"], lines)
