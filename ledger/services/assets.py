"""Assets: listing with inventors and a pinned policy, unit issuance, costs, unit transfers."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, DecimalException, InvalidOperation
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.account_codes import AVAILABLE, CLEARING, party_account, system_account
from ledger.account_opening import open_accounts
from ledger.actor import Actor
from ledger.canonical import canonical_bytes
from ledger.currency import exponent, format_minor, positive_minor
from ledger.errors import InvalidInput, NotFound, PermissionDenied
from ledger.holdings import apply_moves
from ledger.ids import new_id
from ledger.models import (
    Asset,
    AssetCost,
    AssetInventor,
    Holding,
    Instrument,
    Party,
    Policy,
)
from ledger.policy import policy_hash, resolve_policy, split_units
from ledger.postings import UnitMove
from ledger.unit_of_work import UnitOfWork

ASSET_KINDS = ("patent", "patent_family", "software", "know_how", "design", "copyright", "other")
INVENTOR_CLASS = "inventor"


@dataclass(frozen=True)
class InventorShare:
    party_id: str
    share: str


@dataclass(frozen=True)
class AssetListing:
    asset: Asset
    policy: Policy
    inventors: list[AssetInventor]
    instruments: list[Instrument]


def _distribution_accounts(session: Session, owner_id: str, currency: str,
                           policy: Mapping[str, Any]) -> list[str]:
    """The accounts every distribution of an asset moves money through besides its holders'
    (which their holdings open): IPX's clearing account, which pays the receipts the
    operator records, and the available accounts of the owner, the operator (the platform
    fee) and a named residual holder."""
    parties = {owner_id}
    if policy["residual_holder"] != "owner":
        parties.add(policy["residual_holder"])
    parties.update(session.execute(select(Party.id).where(Party.kind == "operator")).scalars())
    return [system_account(currency, CLEARING)] + [party_account(p, currency, AVAILABLE)
                                                   for p in sorted(parties)]


def pin_policy(uow: UnitOfWork, actor_id: str, spec: str | Mapping[str, Any]) -> Policy:
    """The stored policy version with this exact content, registering it if new."""
    try:
        body = resolve_policy(spec)
    except DecimalException:  # e.g. a tier starting from "1E+1000000": beyond Decimal's range
        raise InvalidInput("a number in the policy is out of range", field="policy") from None
    holder = body["residual_holder"]
    if holder != "owner" and uow.session.get(Party, holder) is None:
        raise InvalidInput(f"no party '{holder}'", field="policy.residual_holder")
    digest = policy_hash(body)
    existing = uow.session.execute(select(Policy).where(Policy.hash == digest)).scalar_one_or_none()
    if existing is not None:
        return existing
    version = (
        uow.session.execute(
            select(func.max(Policy.version)).where(Policy.name == body["name"])
        ).scalar_one_or_none()
        or 0
    ) + 1
    policy = Policy(id=new_id("pol"), name=body["name"], version=version, hash=digest,
                    body=canonical_bytes(body).decode(), created_at=uow.now)
    uow.session.add(policy)
    uow.journal.append(
        "policy.registered",
        {"policy_id": policy.id, "name": policy.name, "version": version, "hash": digest,
         "policy": body},
        actor=actor_id,
    )
    return policy


def parse_inventors(
    session: Session, inventors: Sequence[Mapping[str, Any]]
) -> list[tuple[str, Decimal]]:
    if not inventors:
        raise InvalidInput("an asset needs at least one inventor", field="inventors")
    parsed: list[tuple[str, Decimal]] = []
    for i, inv in enumerate(inventors):
        party_id = inv.get("party_id")
        try:
            share = Decimal(str(inv.get("share")))
        except InvalidOperation:
            raise InvalidInput(
                "share must be a decimal string", field=f"inventors[{i}].share"
            ) from None
        if not share.is_finite() or not Decimal(0) < share <= 1:
            raise InvalidInput("share must be greater than 0 and at most 1",
                               field=f"inventors[{i}].share")
        party = session.get(Party, party_id)
        if party is None:
            raise InvalidInput(f"no party '{party_id}'", field=f"inventors[{i}].party_id")
        if party.kind != "inventor":
            raise InvalidInput(f"party '{party_id}' is a {party.kind}, not an inventor",
                               field=f"inventors[{i}].party_id")
        if any(p == party_id for p, _ in parsed):
            raise InvalidInput("an inventor is listed twice", field=f"inventors[{i}].party_id")
        parsed.append((party_id, share))
    total = sum((s for _, s in parsed), Decimal(0))
    if total != 1:
        raise InvalidInput(f"inventor shares sum to {total}, not 1", field="inventors")
    return parsed


def list_asset(
    uow: UnitOfWork,
    actor: Actor,
    *,
    title: str,
    kind: str,
    jurisdiction: str,
    inventors: Sequence[Mapping[str, Any]],
    policy: str | Mapping[str, Any],
    currency: str = "HKD",
    application_number: str | None = None,
    publication_number: str | None = None,
) -> AssetListing:
    """A university lists an asset: pins its policy and issues every class's units."""
    if actor.kind != "university":
        raise PermissionDenied("only a university may list an asset")
    if kind not in ASSET_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(ASSET_KINDS)}", field="kind")
    exponent(currency)
    with uow:
        listing = issue_asset(
            uow, owner_id=actor.party_id, title=title, kind=kind, jurisdiction=jurisdiction,
            inventors=inventors, policy=policy, currency=currency,
            application_number=application_number, publication_number=publication_number)
        uow.commit()
        return listing


def issue_asset(
    uow: UnitOfWork,
    *,
    owner_id: str,
    title: str,
    kind: str,
    jurisdiction: str,
    inventors: Sequence[Mapping[str, Any]],
    policy: str | Mapping[str, Any],
    currency: str,
    application_number: str | None,
    publication_number: str | None,
    listed_data: Mapping[str, Any] | None = None,
) -> AssetListing:
    """Inside the caller's transaction: pin the policy, create the asset owned by
    `owner_id`, issue each class's units (the inventor class to the inventors by their
    shares, every other class to the owner) and journal "asset.listed", with `listed_data`
    added to its data (a challenge's result names its challenge)."""
    session = uow.session
    shares = parse_inventors(session, inventors)
    pinned = pin_policy(uow, owner_id, policy)
    body = json.loads(pinned.body)
    if INVENTOR_CLASS not in body["classes"]:
        raise InvalidInput("the policy needs an 'inventor' class: the inventors hold it",
                           field="policy.classes")
    asset = Asset(
        id=new_id("ast"), owner_id=owner_id, title=title.strip(), kind=kind,
        jurisdiction=jurisdiction, application_number=application_number,
        publication_number=publication_number, currency=currency, policy_id=pinned.id,
        created_at=uow.now,
    )
    session.add(asset)
    rows = [AssetInventor(asset_id=asset.id, party_id=p, share=str(s)) for p, s in shares]
    instruments: list[Instrument] = []
    moves: list[UnitMove] = []
    total = body["units_per_class"]
    for unit_class in body["classes"]:
        instrument = Instrument(id=new_id("ins"), asset_id=asset.id, unit_class=unit_class,
                                total_units=total, currency=currency)
        instruments.append(instrument)
        if unit_class == INVENTOR_CLASS:
            split = split_units(total, shares)
            moves += [UnitMove(p, instrument.id, split[p]) for p, _ in shares if split[p]]
        else:
            moves.append(UnitMove(owner_id, instrument.id, total))
    session.add_all(rows + instruments)
    session.flush()
    open_accounts(session, _distribution_accounts(session, owner_id, currency, body))
    apply_moves(session, moves)
    uow.journal.append(
        "asset.listed",
        {
            "asset_id": asset.id, "owner_id": owner_id, "title": asset.title,
            "kind": kind, "jurisdiction": jurisdiction,
            "application_number": application_number,
            "publication_number": publication_number, "currency": currency,
            "inventors": [{"party_id": p, "share": str(s)} for p, s in shares],
            "policy": {"id": pinned.id, "name": pinned.name, "version": pinned.version,
                       "hash": pinned.hash},
            "instruments": [{"id": i.id, "class": i.unit_class, "total_units": i.total_units}
                            for i in instruments],
            **(listed_data or {}),
        },
        actor=owner_id,
        unit_moves=moves,
    )
    return AssetListing(asset, pinned, rows, instruments)


def _listing(uow: UnitOfWork, asset: Asset) -> AssetListing:
    session = uow.session
    return AssetListing(
        asset,
        session.get_one(Policy, asset.policy_id),
        list(session.execute(select(AssetInventor).where(AssetInventor.asset_id == asset.id)
                             .order_by(AssetInventor.party_id)).scalars()),
        list(session.execute(select(Instrument).where(Instrument.asset_id == asset.id)
                             .order_by(Instrument.id)).scalars()),
    )


def get_asset(uow: UnitOfWork, asset_id: str) -> AssetListing:
    with uow:
        asset = uow.session.get(Asset, asset_id)
        if asset is None:
            raise NotFound(f"no asset '{asset_id}'", field="id")
        return _listing(uow, asset)


def browse_assets(uow: UnitOfWork, after: str | None, limit: int) -> list[AssetListing]:
    """Assets in a stable order (by id), `limit` after the cursor `after`."""
    with uow:
        query = select(Asset).order_by(Asset.id).limit(limit)
        if after is not None:
            query = query.where(Asset.id > after)
        return [_listing(uow, a) for a in uow.session.execute(query).scalars()]


def record_cost(
    uow: UnitOfWork, actor: Actor, asset_id: str, amount: Decimal | str, currency: str,
    description: str,
) -> AssetCost:
    """The owner records a recoverable cost (e.g. patent fees) of the asset."""
    with uow:
        asset = uow.session.get(Asset, asset_id)
        if asset is None:
            raise NotFound(f"no asset '{asset_id}'", field="id")
        if asset.owner_id != actor.party_id:
            raise PermissionDenied("only the asset's owner may record its costs")
        if currency != asset.currency:
            raise InvalidInput(f"the asset's currency is {asset.currency}",
                               field="amount.currency")
        minor = positive_minor(amount, currency)
        cost = AssetCost(id=new_id("cst"), asset_id=asset_id, currency=currency,
                         amount_minor=minor, description=description, journal_seq=0,
                         created_at=uow.now)
        entry = uow.journal.append(
            "asset.cost_recorded",
            {"cost_id": cost.id, "asset_id": asset_id, "amount": format_minor(minor, currency),
             "currency": currency, "description": description},
            actor=actor.party_id,
        )
        cost.journal_seq = entry.seq
        uow.session.add(cost)
        uow.commit()
        return cost


@dataclass(frozen=True)
class HoldingView:
    instrument_id: str
    asset_id: str
    unit_class: str
    units: int
    held_units: int


def holdings_of(uow: UnitOfWork, actor: Actor) -> list[HoldingView]:
    with uow:
        rows = uow.session.execute(
            select(Holding, Instrument)
            .join(Instrument, Instrument.id == Holding.instrument_id)
            .where(Holding.party_id == actor.party_id, Holding.units > 0)
            .order_by(Instrument.asset_id, Instrument.unit_class)
        ).all()
        return [HoldingView(i.id, i.asset_id, i.unit_class, h.units, h.held_units)
                for h, i in rows]


def transfer_units(
    uow: UnitOfWork, actor: Actor, instrument_id: str, to_party_id: str, units: int,
    reference: str = "",
) -> int:
    """The holder gives units to another party off-exchange; returns the journal sequence."""
    if units <= 0:
        raise InvalidInput("units must be a positive integer", field="units")
    with uow:
        if uow.session.get(Instrument, instrument_id) is None:
            raise NotFound(f"no instrument '{instrument_id}'", field="instrument_id")
        if uow.session.get(Party, to_party_id) is None:
            raise InvalidInput(f"no party '{to_party_id}'", field="to_party_id")
        if to_party_id == actor.party_id:
            raise InvalidInput("cannot transfer units to yourself", field="to_party_id")
        moves = [UnitMove(actor.party_id, instrument_id, -units),
                 UnitMove(to_party_id, instrument_id, units)]
        apply_moves(uow.session, moves)
        entry = uow.journal.append(
            "units.transferred",
            {"instrument_id": instrument_id, "from": actor.party_id, "to": to_party_id,
             "units": units, "reference": reference},
            actor=actor.party_id,
            unit_moves=moves,
        )
        uow.commit()
        return entry.seq


def asset_titles(uow: UnitOfWork, asset_ids: set[str]) -> dict[str, str]:
    """Titles of the given assets (public listing data)."""
    if not asset_ids:
        return {}
    with uow:
        return dict(uow.session.execute(
            select(Asset.id, Asset.title).where(Asset.id.in_(sorted(asset_ids)))).all())
