"""Settlement into the ledger: holds at entry, delivery versus payment per trade, releases.

One exchange command (an order, a cancel, an auction, an expiry run) is one `Settlement`: it
locks every account and holding the command will move once, up front and in one stable order
(an order is matched first, so that it locks only what its result moves), applies each hold,
fill and release to balances in memory (each step checked by the pure double-entry core), and
at the end writes the state and ONE journal entry holding the whole command: its orders,
trades, closures, postings and unit moves. On PostgreSQL that is the state in one statement,
then the journal head's lock and the entry, with the trades and the money transaction riding in
it. The head is locked only by that last append, so concurrent commands serialise on it for
one statement and the commit, not for their whole transaction.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import TextClause, bindparam, insert, select, text, update
from sqlalchemy.engine import Connection

from exchange.cash import settle_fill
from exchange.engine import Trade as EngineTrade
from exchange.markets import MARKET_STATE, OpenMarket, market_state, save_market_state
from exchange.models import Market, Order, Trade
from ledger.account_codes import AVAILABLE, FEES, HELD, party_account, system_account
from ledger.accounts import INTEGERS, TEXTS, UPDATE_BALANCES_PG, lock_accounts, money_rider
from ledger.clock import isoformat
from ledger.currency import format_minor
from ledger.db import lock_creating_missing
from ledger.errors import InsufficientFunds, InsufficientUnits
from ledger.holdings import create_holdings
from ledger.ids import new_id
from ledger.journal import AppendedEntry, Rider
from ledger.models import Account, Holding
from ledger.postings import Posting, UnitMove, apply_postings, apply_unit_moves, check_balanced
from ledger.unit_of_work import UnitOfWork

# Built once and run on the session's connection: building statements per command, and the
# ORM's loading and flushing, cost more in Python than the database spends running them
# (bench/README.md). Accounts, holdings and orders are read as plain rows under lock and written
# back with executemany; nothing of a command goes through the ORM's unit of work.
ACCOUNTS, HOLDINGS, ORDERS = Account.__table__, Holding.__table__, Order.__table__
_LOCK_HOLDINGS = (select(HOLDINGS.c.party_id, HOLDINGS.c.units, HOLDINGS.c.held_units)
                  .where(HOLDINGS.c.instrument_id == bindparam("instrument"),
                         HOLDINGS.c.party_id.in_(bindparam("parties", expanding=True)))
                  .order_by(HOLDINGS.c.instrument_id, HOLDINGS.c.party_id).with_for_update())
_SAVE_BALANCE = (update(ACCOUNTS).where(ACCOUNTS.c.id == bindparam("key"))
                 .values(balance_minor=bindparam("balance")))
_SAVE_HOLDING = (update(HOLDINGS).where(HOLDINGS.c.party_id == bindparam("party"),
                                        HOLDINGS.c.instrument_id == bindparam("instrument"))
                 .values(units=bindparam("units"), held_units=bindparam("held")))
_ORDER_STATE = ("remaining", "filled", "status", "status_open", "reason", "hold_minor",
                "updated_at")
_SAVE_ORDER = (update(ORDERS).where(ORDERS.c.id == bindparam("key"))
               .values({k: bindparam(k) for k in _ORDER_STATE}))
_ORDER_COLUMNS = [c.key for c in ORDERS.columns]
_INSERT_ORDER = insert(ORDERS)
_INSERT_TRADES = insert(Trade)
_TRADE_COLUMNS = [c.key for c in Trade.__table__.columns if c.key != "journal_seq"]
# A rider of the command's journal entry on PostgreSQL (see `Rider`): the trades carry its seq.
_TRADES_PG = (
    f"INSERT INTO trades ({', '.join(_TRADE_COLUMNS)}, journal_seq) "
    f"SELECT {', '.join('t.' + c for c in _TRADE_COLUMNS)}, :seq "
    "FROM json_populate_recordset(NULL::trades, CAST(:trades AS json)) AS t")
# Orders travel as JSON rows of the table's own type, so that a column added to `orders` needs
# no change here; balances and holdings as arrays (see `_write_in_one`).
_WRITE_PG = {  # part -> data-modifying statement, joined by `_write_in_one`
    "market": "UPDATE markets SET " + ", ".join(f"{k} = :{k}" for k in MARKET_STATE)
              + " WHERE instrument_id = :key",
    "new_orders": "INSERT INTO orders SELECT * FROM json_populate_recordset(NULL::orders, "
                  "CAST(:new_orders AS json))",
    "changed_orders": "UPDATE orders SET " + ", ".join(f"{k} = o.{k}" for k in _ORDER_STATE)
                      + " FROM json_populate_recordset(NULL::orders, "
                      "CAST(:changed_orders AS json)) AS o WHERE orders.id = o.id",
    "balances": UPDATE_BALANCES_PG,
    "holdings": "UPDATE holdings SET units = h.units, held_units = h.held FROM unnest(:parties, "
                ":instruments, :units, :held) AS h(party, instrument, units, held) "
                "WHERE holdings.party_id = h.party AND holdings.instrument_id = h.instrument",
}
_WRITE_PG_BINDS = (
    bindparam("ids", type_=INTEGERS), bindparam("balances", type_=INTEGERS),
    bindparam("parties", type_=TEXTS), bindparam("instruments", type_=TEXTS),
    bindparam("units", type_=INTEGERS), bindparam("held", type_=INTEGERS))
_WRITE_PG_STATEMENTS: dict[tuple[str, ...], TextClause] = {}


def _merge(postings: Iterable[Posting]) -> list[Posting]:
    """One posting per account, zero ones dropped (a posting must move something)."""
    totals: dict[tuple[str, str], int] = defaultdict(int)
    for p in postings:
        totals[(p.account, p.currency)] += p.amount
    return [Posting(a, c, v) for (a, c), v in totals.items() if v != 0]


def _merge_moves(moves: Iterable[UnitMove]) -> list[UnitMove]:
    """One unit move per holding, empty ones dropped."""
    totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for m in moves:
        total = totals[(m.party, m.instrument)]
        total[0] += m.units
        total[1] += m.held
    return [UnitMove(p, i, u, h) for (p, i), (u, h) in totals.items() if u or h]


def order_json(order: Order, om: OpenMarket) -> dict[str, Any]:
    price = None if order.price_ticks is None else str(order.price_ticks * om.tick)
    return {
        "order_id": order.id, "party_id": order.party_id, "instrument_id": order.instrument_id,
        "side": order.side, "type": order.type, "price": price, "quantity": order.quantity,
        "time_in_force": order.time_in_force, "post_only": order.post_only, "stp": order.stp,
        "expires_at": None if order.expires_at is None else isoformat(order.expires_at),
        "client_order_id": order.client_order_id,
    }


@dataclass(frozen=True)
class Executed:
    """A trade this command made (its row is written by `Settlement.finish`)."""

    id: str
    trade_no: int
    price_ticks: int
    quantity: int


def _write_each(connection: Connection, market: Market, market_changed: bool,
                new_orders: list[Order], changed: list[Order], balances: dict[int, int],
                holdings: dict[tuple[str, str], tuple[int, int]]) -> None:
    """A command's writes before its journal entry, a statement (or executemany) each."""
    if market_changed:
        save_market_state(connection, market)
    if new_orders:
        connection.execute(_INSERT_ORDER, [{k: getattr(o, k) for k in _ORDER_COLUMNS}
                                           for o in new_orders])
    if changed:
        connection.execute(_SAVE_ORDER, [{"key": o.id, **{k: getattr(o, k) for k in _ORDER_STATE}}
                                         for o in changed])
    if balances:
        connection.execute(_SAVE_BALANCE, [{"key": k, "balance": b} for k, b in balances.items()])
    if holdings:
        connection.execute(_SAVE_HOLDING, [
            {"party": party, "instrument": instrument, "units": units, "held": held}
            for (party, instrument), (units, held) in holdings.items()])


def _rows_json(rows: list[dict[str, Any]]) -> str:
    """Rows for `json_populate_recordset` (timestamps as ISO 8601)."""
    return json.dumps(rows, default=datetime.isoformat)


def _orders_json(orders: list[Order], columns: Iterable[str]) -> str:
    return _rows_json([{k: getattr(o, k) for k in columns} for o in orders])


def _write_in_one(connection: Connection, market: Market, market_changed: bool,
                  new_orders: list[Order], changed: list[Order], balances: dict[int, int],
                  holdings: dict[tuple[str, str], tuple[int, int]]) -> None:
    """The same writes on PostgreSQL in one statement: a round trip instead of up to five on
    every order. Only the parts with something to write: the server plans each part at every
    execution, an empty one included."""
    params: dict[str, Any] = {}
    if market_changed:
        params.update(key=market.instrument_id, **{k: getattr(market, k) for k in MARKET_STATE})
    if new_orders:
        params["new_orders"] = _orders_json(new_orders, _ORDER_COLUMNS)
    if changed:
        params["changed_orders"] = _orders_json(changed, ("id", *_ORDER_STATE))
    if balances:
        params.update(ids=list(balances), balances=list(balances.values()))
    if holdings:
        params.update(parties=[p for p, _ in holdings], instruments=[i for _, i in holdings],
                      units=[u for u, _ in holdings.values()],
                      held=[h for _, h in holdings.values()])
    parts = tuple(part for part, present in (
        ("market", market_changed), ("new_orders", new_orders), ("changed_orders", changed),
        ("balances", balances), ("holdings", holdings)) if present)
    if not parts:
        return
    statement = _WRITE_PG_STATEMENTS.get(parts)
    if statement is None:
        *ctes, last = (_WRITE_PG[part] for part in parts)
        sql = ("WITH " + ", ".join(f"w{i} AS ({cte})" for i, cte in enumerate(ctes)) + " "
               if ctes else "") + last
        statement = _WRITE_PG_STATEMENTS[parts] = text(sql).bindparams(
            *(b for b in _WRITE_PG_BINDS if f":{b.key}" in sql))
    connection.execute(statement, params)


class Settlement:
    """What one exchange command does to money and units, gathered and written at the end."""

    def __init__(self, uow: UnitOfWork, om: OpenMarket) -> None:
        self.uow, self.om = uow, om
        # The transaction's connection, asked of the session once: each `connection()` call
        # goes through the session's transaction bookkeeping.
        self.connection = uow.session.connection()
        self.currency = om.instrument.currency
        self.market_before = market_state(om.market)
        self.account_ids: dict[str, int] = {}
        self.may_go_negative: dict[str, bool] = {}
        self.balances: dict[str, int] = {}
        self.balances_before: dict[str, int] = {}
        self.units: dict[tuple[str, str], tuple[int, int]] = {}
        self.units_before: dict[tuple[str, str], tuple[int, int]] = {}
        self.postings: list[Posting] = []
        self.moves: list[UnitMove] = []
        self.new_orders: dict[str, Order] = {}
        self.touched: dict[str, Order] = {}
        self.trade_rows: list[dict[str, Any]] = []
        self.trades: list[dict[str, Any]] = []  # as journalled
        self.executed: list[Executed] = []
        self.closed: list[dict[str, Any]] = []  # as journalled
        self.parties: set[str] = set()

    # -- locks ---------------------------------------------------------------------------

    def lock(self, parties: Iterable[str], *, units_of: Iterable[str] | None = None,
             fees: bool | None = None) -> None:
        """Lock the cash accounts of `parties`, the holdings of `units_of` (by default the same
        parties) and, if `fees` (by default when the market charges fees), the operator's fee
        account: accounts in id order, then holdings in (instrument, party) order (the
        global lock order), creating those that do not exist yet."""
        session, connection = self.uow.session, self.connection
        parties = set(parties)
        if fees is None:
            fees = bool(self.om.market.fee_bps)
        codes = sorted([party_account(p, self.currency, purpose) for p in parties
                        for purpose in (AVAILABLE, HELD)]
                       + ([system_account(self.currency, FEES)] if fees else []))
        # Creates the missing ones, never while holding others' locks (see lock_accounts).
        found = lock_accounts(session, codes) if codes else {}
        for code, (account_id, balance, may_go_negative) in found.items():
            self.account_ids[code] = account_id
            self.may_go_negative[code] = may_go_negative
            self.balances[code] = balance
        self.balances_before = dict(self.balances)
        wanted = sorted(parties if units_of is None else set(units_of))
        if not wanted:
            return

        instrument = self.om.instrument.id
        held = lock_creating_missing(
            session, [(p, instrument) for p in wanted],
            lambda: self._lock_holdings(connection, instrument, wanted),
            lambda missing: create_holdings(session, missing))
        self.units = dict(held)
        self.units_before = dict(held)

    def lock_for(self, orders: Iterable[Order], trades: Sequence[EngineTrade]) -> None:
        """Lock what these orders and trades move: a buy order's cash and a sell order's units
        (holds and releases); both, for both parties, of a trade; the fee account if anything
        trades on a market that charges fees."""
        traders = {p for trade in trades for p in (trade.buyer, trade.seller)}
        cash, units = set(traders), set(traders)
        for order in orders:
            (cash if order.side == "buy" else units).add(order.party_id)
        self.lock(cash, units_of=units, fees=bool(trades) and bool(self.om.market.fee_bps))

    @staticmethod
    def _lock_holdings(connection: Connection, instrument: str,
                       parties: list[str]) -> dict[tuple[str, str], tuple[int, int]]:
        rows = connection.execute(_LOCK_HOLDINGS, {"instrument": instrument, "parties": parties})
        return {(party, instrument): (units, held) for party, units, held in rows}

    def add(self, order: Order) -> None:
        """A new order of this command, inserted by `finish` as it then stands."""
        self.new_orders[order.id] = order

    # -- steps, each checked on its own ------------------------------------------------------

    def _post(self, postings: list[Posting]) -> None:
        postings = _merge(postings)
        if not postings:
            return
        self.balances.update(apply_postings(self.balances, postings,
                                            self.may_go_negative.__getitem__))
        self.postings += postings

    def _move(self, moves: list[UnitMove]) -> None:
        self.units.update(apply_unit_moves(self.units, moves))
        self.moves += moves

    def hold(self, order: Order, cash_minor: int) -> None:
        """Reserve what the order may need: cash for a buy, units for a sell."""
        self.parties.add(order.party_id)
        currency = self.currency
        if order.side == "sell":
            try:
                self._move([UnitMove(order.party_id, order.instrument_id, 0, order.quantity)])
            except InsufficientUnits:
                raise InsufficientUnits(
                    f"selling {order.quantity} units needs that many units not already held "
                    "for other orders", field="quantity") from None
            return
        order.hold_minor = cash_minor
        try:
            self._post([
                Posting(party_account(order.party_id, currency, AVAILABLE), currency,
                        -cash_minor),
                Posting(party_account(order.party_id, currency, HELD), currency, cash_minor),
            ])
        except InsufficientFunds:
            raise InsufficientFunds(
                f"this buy holds {format_minor(cash_minor, currency)} {currency} (price x "
                "quantity plus fees), more than your available cash", field="quantity") from None

    def fill(self, *, trade_no: int, price_ticks: int, quantity: int, buy: Order, sell: Order,
             buy_limit_ticks: int, auction: bool) -> Executed:
        """Delivery versus payment for one fill: held cash to the seller (less fees), held
        units to the buyer."""
        om, currency, now = self.om, self.currency, self.uow.now
        instrument = om.instrument.id
        cash = settle_fill(
            hold=buy.hold_minor, limit_ticks=buy_limit_ticks,
            remaining_after=buy.remaining - quantity, price_ticks=price_ticks,
            quantity=quantity, tick_minor=om.tick_minor, fee_bps=om.market.fee_bps,
        )
        self._post([
            Posting(party_account(buy.party_id, currency, HELD), currency,
                    -(cash.buyer_pays + cash.released)),
            Posting(party_account(buy.party_id, currency, AVAILABLE), currency, cash.released),
            Posting(party_account(sell.party_id, currency, AVAILABLE), currency,
                    cash.seller_gets),
            Posting(system_account(currency, FEES), currency, cash.buyer_fee + cash.seller_fee),
        ])
        self._move([UnitMove(sell.party_id, instrument, -quantity, -quantity),
                    UnitMove(buy.party_id, instrument, quantity, 0)])
        trade_id = new_id("trd")
        self.trade_rows.append({
            "id": trade_id, "instrument_id": instrument, "trade_no": trade_no,
            "price_ticks": price_ticks, "quantity": quantity, "buy_order_id": buy.id,
            "sell_order_id": sell.id, "buyer_id": buy.party_id, "seller_id": sell.party_id,
            "buyer_fee_minor": cash.buyer_fee, "seller_fee_minor": cash.seller_fee,
            "auction": auction, "at": now,
        })
        self.trades.append({
            "trade_id": trade_id, "instrument_id": instrument, "trade_no": trade_no,
            "price": str(price_ticks * om.tick), "quantity": quantity,
            "buy_order_id": buy.id, "sell_order_id": sell.id, "buyer_id": buy.party_id,
            "seller_id": sell.party_id,
            "notional": format_minor(price_ticks * quantity * om.tick_minor, currency),
            "buyer_fee": format_minor(cash.buyer_fee, currency),
            "seller_fee": format_minor(cash.seller_fee, currency), "currency": currency,
            "auction": auction,
        })
        self.parties.update((buy.party_id, sell.party_id))
        for order in (buy, sell):
            self.touched[order.id] = order
            order.remaining -= quantity
            order.filled += quantity
            order.updated_at = now
        buy.hold_minor = cash.hold_after
        executed = Executed(trade_id, trade_no, price_ticks, quantity)
        self.executed.append(executed)
        return executed

    def close(self, order: Order, status: str, reason: str) -> dict[str, Any]:
        """Close an order: release whatever it still holds and record why it ended."""
        currency = self.currency
        order.status, order.status_open, order.reason = status, False, reason
        order.updated_at = self.uow.now
        self.touched[order.id] = order
        self.parties.add(order.party_id)
        record = {"order_id": order.id, "party_id": order.party_id, "status": status,
                  "reason": reason, "filled": order.filled, "cancelled": order.remaining}
        if order.side == "buy":
            released, order.hold_minor = order.hold_minor, 0
            self._post([
                Posting(party_account(order.party_id, currency, HELD), currency, -released),
                Posting(party_account(order.party_id, currency, AVAILABLE), currency, released),
            ])
        elif order.remaining:
            self._move([UnitMove(order.party_id, order.instrument_id, 0, -order.remaining)])
        self.closed.append(record)
        return record

    def _trades_rider(self) -> Rider:
        rows = self.trade_rows

        def write(connection: Connection, entry: AppendedEntry) -> None:
            connection.execute(_INSERT_TRADES, [{**row, "journal_seq": entry.seq}
                                                for row in rows])

        return Rider(statements=(_TRADES_PG,), write=write, params=lambda _: {
            "trades": _rows_json(rows)})

    # -- the write -----------------------------------------------------------------------------

    def finish(self, kind: str, data: dict[str, Any], *, actor: str | None) -> int:
        """Write balances, holdings, trades and the money transaction, with one journal entry
        of `kind` carrying `data`, the merged postings and unit moves; its seq."""
        uow, connection = self.uow, self.connection
        changed = [o for key, o in self.touched.items() if key not in self.new_orders]
        balances = {self.account_ids[code]: balance for code, balance in self.balances.items()
                    if balance != self.balances_before[code]}
        holdings = {key: state for key, state in self.units.items()
                    if state != self.units_before.get(key)}
        write = _write_in_one if connection.dialect.name == "postgresql" else _write_each
        write(connection, self.om.market, market_state(self.om.market) != self.market_before,
              list(self.new_orders.values()), changed, balances, holdings)
        postings = _merge(self.postings)
        if postings:
            check_balanced(postings)
        moves = _merge_moves(self.moves)
        riders = []
        if self.trade_rows:
            riders.append(self._trades_rider())
        if postings:
            riders.append(money_rider(
                kind=kind, at=uow.now, client_id=None, request_hash=None,
                account_ids=[self.account_ids[p.account] for p in postings],
                amounts=[p.amount for p in postings])[1])
        # The journal head's lock is taken here, last: from here to commit only the entry, its
        # Merkle nodes, parties and head, and the rows that carry its seq are written.
        entry = uow.journal.append(kind, data, actor=actor, parties=sorted(self.parties),
                                   postings=postings, unit_moves=moves, riders=riders)
        return entry.seq
