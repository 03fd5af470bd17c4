"""Start-ups' share capital as recorded on IPX: registration, the cap table, its OCF export.

A start-up registers its share capital once: its legal details (OCF needs them), its share
classes with their authorised shares, its stakeholders, the shares already issued (founders,
earlier investors) and an optional reserved option pool; together they fix its fully diluted
share count. Later changes are recorded by IPX itself: the issuances of executed equity-for-IP
deals (:mod:`contracts.services.equity_deals`). The rows are rebuilt into the pure
:class:`contracts.cap_table.CapTable`, which validates them as a whole.

Shares held on IPX move as units of the class's equity instrument: trades on the exchange and
off-exchange unit transfers are recorded by the exchange and the journal, not here, and the cap
table reads them back as transfers (:func:`load_cap_table`), in journal order with its own
rows, so that it always agrees with the holdings.

Who may read a cap table: the start-up, the operator, and any party it records as a
stakeholder or that has a deal with it; to anyone else it does not exist.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from contracts.cap_table import (
    CapTable,
    ClassType,
    Issuance,
    OptionPool,
    ShareClass,
    Stakeholder,
    StakeholderKind,
    Transaction,
    Transfer,
    fully_diluted,
    holdings_by_stakeholder,
    issued_shares,
)
from contracts.equity_models import (
    EquityDeal,
    Startup,
    StartupShareClass,
    StartupShareTransaction,
    StartupStakeholder,
)
from contracts.ocf import OcfIssuer, export_zip
from contracts.terms import is_territory_code
from exchange.models import Trade
from ledger.actor import Actor
from ledger.currency import CURRENCIES
from ledger.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from ledger.models import Holding, JournalEntry, JournalEntryParty, Party
from ledger.unit_of_work import UnitOfWork

ISSUANCE, TRANSFER = "issuance", "transfer"
_MAX_NAME = 200


@dataclass(frozen=True)
class CapTableView:
    """A start-up's registration, its cap table, and the instrument of each class held on IPX."""

    startup: Startup
    cap_table: CapTable
    instruments: Mapping[str, str]

    @property
    def fully_diluted(self) -> int:
        return fully_diluted(self.cap_table)

    @property
    def issued(self) -> int:
        return issued_shares(self.cap_table)

    @property
    def holdings(self) -> dict[str, dict[str, int]]:
        return holdings_by_stakeholder(self.cap_table)


# --------------------------------------------------------------------------- loading

def _transaction(row: StartupShareTransaction) -> Transaction:
    price = None if row.price_per_share is None else Decimal(row.price_per_share)
    if row.kind == ISSUANCE:
        return Issuance(row.id, row.to_stakeholder, row.share_class, row.shares, row.tx_date,
                        price if price is not None else Decimal(0), row.consideration)
    assert row.from_stakeholder is not None
    return Transfer(row.id, row.from_stakeholder, row.to_stakeholder, row.share_class,
                    row.shares, row.tx_date, price, row.consideration)


def _unit_transfers(session: Session, instruments: Mapping[str, str]
                    ) -> list[tuple[tuple[int, int], Transfer]]:
    """Every move of the classes' units between parties on IPX, as transfers keyed by
    (journal seq, order within the entry): exchange trades, then off-exchange transfers
    (``units.transferred`` entries, found through the parties that ever held the units)."""
    if not instruments:
        return []
    by_instrument = {i: c for c, i in instruments.items()}
    out: list[tuple[tuple[int, int], Transfer]] = []
    for trade in session.execute(select(Trade).where(
            Trade.instrument_id.in_(sorted(by_instrument))).order_by(
            Trade.journal_seq, Trade.trade_no)).scalars():
        out.append(((trade.journal_seq, trade.trade_no), Transfer(
            trade.id, trade.seller_id, trade.buyer_id, by_instrument[trade.instrument_id],
            trade.quantity, trade.at.date(), None, f"trade {trade.trade_no} on IPX")))
    holders = select(Holding.party_id).where(Holding.instrument_id.in_(sorted(by_instrument)))
    rows = session.execute(
        select(JournalEntry.seq, JournalEntry.body).distinct()
        .join(JournalEntryParty, JournalEntryParty.seq == JournalEntry.seq)
        .where(JournalEntryParty.party_id.in_(holders),
               JournalEntry.kind == "units.transferred")
        .order_by(JournalEntry.seq)).all()
    for seq, text in rows:
        body = json.loads(text)
        data = body["data"]
        if data["instrument_id"] in by_instrument:
            out.append(((seq, 0), Transfer(
                f"ipx-{seq}", data["from"], data["to"], by_instrument[data["instrument_id"]],
                data["units"], date.fromisoformat(body["at"][:10]), None,
                data.get("reference") or "transfer on IPX")))
    return out


def _party_stakeholder(session: Session, party_id: str) -> Stakeholder:
    party = session.get_one(Party, party_id)
    kind = StakeholderKind.INDIVIDUAL if party.kind == "inventor" else \
        StakeholderKind.INSTITUTION
    return Stakeholder(party.id, party.name, kind)


def load_cap_table(session: Session, startup: Startup) -> tuple[CapTable, dict[str, str]]:
    """The start-up's cap table rebuilt from its rows and the moves of its units on IPX
    (a party that received units becomes a stakeholder), and ``{class: instrument id}``."""
    classes = list(session.execute(
        select(StartupShareClass).where(StartupShareClass.startup_id == startup.party_id)
        .order_by(StartupShareClass.position)).scalars())
    recorded = list(session.execute(
        select(StartupStakeholder).where(StartupStakeholder.startup_id == startup.party_id)
        .order_by(StartupStakeholder.position)).scalars())
    stakeholders = [Stakeholder(s.stakeholder_id, s.name, StakeholderKind(s.kind))
                    for s in recorded]
    rows = session.execute(
        select(StartupShareTransaction)
        .where(StartupShareTransaction.startup_id == startup.party_id)
        .order_by(StartupShareTransaction.position)).scalars()
    instruments = {c.name: c.instrument_id for c in classes if c.instrument_id is not None}
    keyed: list[tuple[tuple[int, int], Transaction]] = [
        ((r.journal_seq, r.position), _transaction(r)) for r in rows]
    moves = _unit_transfers(session, instruments)
    known = {s.id for s in stakeholders}
    for _, move in moves:
        if move.to_stakeholder not in known:
            stakeholders.append(_party_stakeholder(session, move.to_stakeholder))
            known.add(move.to_stakeholder)
    keyed.extend(moves)
    transactions = [tx for _, tx in sorted(keyed, key=lambda kv: kv[0])]
    pool = None
    if startup.pool_class is not None and startup.pool_reserved is not None:
        pool = OptionPool(startup.pool_class, startup.pool_reserved,
                          startup.pool_name or "Option pool")
    table = CapTable(
        startup.party_id, startup.currency,
        tuple(ShareClass(c.name, c.authorised, c.seniority, ClassType(c.class_type),
                         c.votes_per_share) for c in classes),
        tuple(stakeholders), tuple(transactions), pool)
    return table, instruments


def startup_row(session: Session, startup_id: str, *, lock: bool = False) -> Startup | None:
    """The registration of ``startup_id`` (locked: cap-table changes serialise on it)."""
    return session.get(Startup, startup_id, with_for_update=lock)


def next_position(session: Session, startup_id: str, model: type[Any]) -> int:
    """The position after the last stakeholder or transaction of the start-up."""
    positions = session.execute(select(model.position).where(model.startup_id == startup_id)
                                .order_by(model.position.desc()).limit(1)).scalars().first()
    return 0 if positions is None else positions + 1


def _may_read(session: Session, actor: Actor, startup: Startup, table: CapTable) -> bool:
    if actor.is_operator or actor.party_id == startup.party_id:
        return True
    if table.stakeholder(actor.party_id) is not None:
        return True
    return session.execute(select(EquityDeal.id).where(
        EquityDeal.startup_id == startup.party_id, EquityDeal.university_id == actor.party_id)
        .limit(1)).scalars().first() is not None


# --------------------------------------------------------------------------- parsing

def _text(raw: Mapping[str, Any], key: str, where: str, *, optional: bool = False
          ) -> str | None:
    value = raw.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > _MAX_NAME:
        raise InvalidInput(f"must be a non-blank string of at most {_MAX_NAME} characters",
                           field=f"{where}{key}")
    return value.strip()


def _enum(value: Any, kind: type[ClassType] | type[StakeholderKind], default: Any,
          where: str) -> Any:
    if value is None:
        return default
    try:
        return kind(value)
    except ValueError:
        raise InvalidInput(f"must be one of {', '.join(k.value for k in kind)}",
                           field=where) from None


def parse_share_capital(startup_id: str, raw: Mapping[str, Any], today: date
                        ) -> tuple[CapTable, OcfIssuer]:
    """The registration body as a validated cap table and the issuer's legal details.

    Shapes (types) are the API schema's; here the meaning: known classes and stakeholders,
    shares within the authorised, dates not in the future. Raises ``InvalidInput`` naming
    the field.
    """
    currency = raw.get("currency")
    if not isinstance(currency, str) or currency not in CURRENCIES:
        raise InvalidInput("must be an ISO 4217 currency code", field="currency")
    country = raw.get("country_of_formation")
    if not isinstance(country, str) or not is_territory_code(country) or country == "WORLD":
        raise InvalidInput("must be an ISO 3166-1 alpha-2 country code such as 'HK'",
                           field="country_of_formation")
    formed = raw.get("formation_date")
    if not isinstance(formed, date) or formed > today:
        raise InvalidInput("must be a date, not in the future", field="formation_date")
    legal_name = _text(raw, "legal_name", "")
    assert legal_name is not None
    classes = tuple(
        ShareClass(c.get("name"), c.get("authorised"), c.get("seniority"),
                   _enum(c.get("class_type"), ClassType, ClassType.COMMON,
                         f"classes[{i}].class_type"),
                   c.get("votes_per_share", 1))
        for i, c in enumerate(raw.get("classes") or ()))
    stakeholders = tuple(
        Stakeholder(s.get("id"), s.get("name"),
                    _enum(s.get("kind"), StakeholderKind, StakeholderKind.INDIVIDUAL,
                          f"stakeholders[{i}].kind"))
        for i, s in enumerate(raw.get("stakeholders") or ()))
    transactions: list[Transaction] = []
    for i, tx in enumerate(raw.get("issuances") or ()):
        if str(tx.get("id")).startswith("ipx-"):
            raise InvalidInput("ids starting 'ipx-' name transfers IPX records",
                               field=f"issuances[{i}].id")
        on = tx.get("date")
        if not isinstance(on, date) or on > today or on < formed:
            raise InvalidInput("must be a date from the formation date to today",
                               field=f"issuances[{i}].date")
        price = tx.get("price_per_share")
        transactions.append(Issuance(
            tx.get("id"), tx.get("stakeholder"), tx.get("share_class"), tx.get("shares"), on,
            Decimal(0) if price is None else price, tx.get("consideration")))
    pool_raw = raw.get("option_pool")
    pool = None
    if pool_raw is not None:
        pool = OptionPool(pool_raw.get("share_class"), pool_raw.get("reserved"),
                          pool_raw.get("name") or "Option pool")
    # CapTable checks the issuances in recorded order, each against the table so far.
    table = CapTable(startup_id, currency, classes, stakeholders, tuple(transactions), pool)
    return table, OcfIssuer(legal_name, formed, country)


# --------------------------------------------------------------------------- services

def register_share_capital(uow: UnitOfWork, actor: Actor, startup_id: str,
                           raw: Mapping[str, Any]) -> CapTableView:
    """A start-up (or the operator for it) records its share capital, once."""
    if not (actor.is_operator or actor.party_id == startup_id):
        raise PermissionDenied("only the start-up itself, or the operator, registers its "
                               "share capital")
    with uow:
        session = uow.session
        party = session.get(Party, startup_id)
        if party is None:
            raise NotFound(f"no party '{startup_id}'", field="id")
        if party.kind != "startup":
            raise InvalidInput(f"party '{startup_id}' is a {party.kind}, not a start-up",
                               field="id")
        if startup_row(session, startup_id) is not None:
            raise Conflict("this start-up's share capital is already registered; IPX "
                           "records later issuances itself", field="id")
        table, issuer = parse_share_capital(startup_id, raw, uow.now.date())
        pool = table.option_pool
        startup = Startup(
            party_id=startup_id, legal_name=issuer.legal_name,
            formation_date=issuer.formation_date,
            country_of_formation=issuer.country_of_formation, currency=table.currency,
            pool_class=None if pool is None else pool.share_class,
            pool_reserved=None if pool is None else pool.reserved,
            pool_name=None if pool is None else pool.name, journal_seq=0, created_at=uow.now)
        entry = uow.journal.append(
            "startup.share_capital_registered",
            {"startup_id": startup_id, **cap_table_json(table, issuer)},
            actor=actor.party_id, parties=[startup_id])
        startup.journal_seq = entry.seq
        session.add(startup)
        session.flush()
        session.add_all([StartupShareClass(
            startup_id=startup_id, name=c.name, position=i, authorised=c.authorised,
            seniority=c.seniority, class_type=c.class_type.value,
            votes_per_share=c.votes_per_share, instrument_id=None)
            for i, c in enumerate(table.classes)])
        session.add_all([StartupStakeholder(startup_id=startup_id, stakeholder_id=s.id,
                                            position=i, name=s.name, kind=s.kind.value)
                         for i, s in enumerate(table.stakeholders)])
        session.add_all([transaction_row(startup_id, i, tx, entry.seq)
                         for i, tx in enumerate(table.transactions)])
        session.flush()
        view = CapTableView(startup, table, {})
        uow.commit()
        return view


def transaction_row(startup_id: str, position: int, tx: Transaction, journal_seq: int,
                    deal_id: str | None = None) -> StartupShareTransaction:
    """The row recording one issuance or transfer."""
    price = tx.price_per_share
    return StartupShareTransaction(
        startup_id=startup_id, id=tx.id, position=position,
        kind=ISSUANCE if isinstance(tx, Issuance) else TRANSFER, share_class=tx.share_class,
        from_stakeholder=tx.from_stakeholder if isinstance(tx, Transfer) else None,
        to_stakeholder=tx.stakeholder if isinstance(tx, Issuance) else tx.to_stakeholder,
        shares=tx.shares, tx_date=tx.date, price_per_share=None if price is None else str(price),
        consideration=tx.consideration, deal_id=deal_id, journal_seq=journal_seq)


def cap_table_json(table: CapTable, issuer: OcfIssuer | None = None) -> dict[str, Any]:
    """The cap table as JSON (for the journal and the API): counts are integers, prices
    decimal strings, dates ISO."""
    pool = table.option_pool
    out: dict[str, Any] = {
        "currency": table.currency,
        "classes": [{"name": c.name, "authorised": c.authorised, "seniority": c.seniority,
                     "class_type": c.class_type.value, "votes_per_share": c.votes_per_share}
                    for c in table.classes],
        "stakeholders": [{"id": s.id, "name": s.name, "kind": s.kind.value}
                         for s in table.stakeholders],
        "option_pool": None if pool is None else {
            "share_class": pool.share_class, "reserved": pool.reserved, "name": pool.name},
        "transactions": [_transaction_json(t) for t in table.transactions],
        "fully_diluted": fully_diluted(table),
    }
    if issuer is not None:
        out.update(legal_name=issuer.legal_name,
                   formation_date=issuer.formation_date.isoformat(),
                   country_of_formation=issuer.country_of_formation)
    return out


def _transaction_json(tx: Transaction) -> dict[str, Any]:
    price = tx.price_per_share
    base: dict[str, Any] = {
        "id": tx.id, "share_class": tx.share_class, "shares": tx.shares,
        "date": tx.date.isoformat(), "price_per_share": None if price is None else str(price),
        "consideration": tx.consideration}
    if isinstance(tx, Issuance):
        return {"kind": ISSUANCE, "stakeholder": tx.stakeholder, **base}
    return {"kind": TRANSFER, "from_stakeholder": tx.from_stakeholder,
            "to_stakeholder": tx.to_stakeholder, **base}


def _readable(uow: UnitOfWork, actor: Actor, startup_id: str) -> CapTableView:
    startup = startup_row(uow.session, startup_id)
    if startup is None:
        raise NotFound(f"no registered share capital for '{startup_id}'", field="id")
    table, instruments = load_cap_table(uow.session, startup)
    if not _may_read(uow.session, actor, startup, table):
        raise NotFound(f"no registered share capital for '{startup_id}'", field="id")
    return CapTableView(startup, table, instruments)


def read_cap_table(uow: UnitOfWork, actor: Actor, startup_id: str) -> CapTableView:
    """The cap table as recorded on IPX, for those who may see it (module docstring)."""
    with uow:
        return _readable(uow, actor, startup_id)


def issuer_of(startup: Startup) -> OcfIssuer:
    """The issuer's legal details OCF needs."""
    return OcfIssuer(startup.legal_name, startup.formation_date, startup.country_of_formation,
                     startup.party_id)


def export_ocf(uow: UnitOfWork, actor: Actor, startup_id: str) -> bytes:
    """The cap table as an Open Cap Table Format 1.2.0 zip (deterministic bytes)."""
    with uow:
        view = _readable(uow, actor, startup_id)
        return export_zip(view.cap_table, issuer_of(view.startup))

