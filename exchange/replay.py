"""Replay of the exchange's part of the journal: every order's fills and end, from entries alone.

`ledger.replay` rebuilds balances and holdings; this rebuilds orders and trades, so that
`ipx ledger replay --check` covers the whole trading state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from exchange.models import Order, Trade
from ledger.replay import journal_bodies


@dataclass
class ReplayedOrder:
    quantity: int
    filled: int = 0
    status: str | None = None  # None while it rests
    trades: list[str] = field(default_factory=list)


# Entries of one exchange command: its trades and the orders it closed, as lists in `data`.
COMMANDS = {"order.placed", "auction.run", "orders.expired"}


def rebuild_orders(session: Session) -> dict[str, ReplayedOrder]:
    orders: dict[str, ReplayedOrder] = {}

    def trade(data: dict[str, Any]) -> None:
        for side in ("buy_order_id", "sell_order_id"):
            replayed = orders[data[side]]
            replayed.filled += data["quantity"]
            replayed.trades.append(data["trade_id"])

    for body in journal_bodies(session):
        kind, data = body["kind"], body["data"]
        if kind == "order.placed":
            orders[data["order_id"]] = ReplayedOrder(quantity=data["quantity"])
        elif kind == "trade.executed":  # one entry per trade (before one per command)
            trade(data)
        elif kind == "order.closed":
            orders[data["order_id"]].status = data["status"]
        if kind in COMMANDS:
            for executed in data.get("trades", ()):
                if isinstance(executed, dict):  # an older auction.run listed trade ids only
                    trade(executed)
            for closed in data.get("closed", ()):
                orders[closed["order_id"]].status = closed["status"]
    return orders


def compare_orders(session: Session) -> list[str]:
    """Differences between the order and trade tables and the journal's replay."""
    replayed = rebuild_orders(session)
    differences: list[str] = []
    rows = {o.id: o for o in session.execute(select(Order)).scalars()}
    for order_id in sorted(set(rows) | set(replayed)):
        row, again = rows.get(order_id), replayed.get(order_id)
        if row is None or again is None:
            differences.append(f"order {order_id}: only in the "
                               + ("journal" if row is None else "tables"))
            continue
        table_state = (row.quantity, row.filled, None if row.status_open else row.status)
        journal_state = (again.quantity, again.filled, again.status)
        if table_state != journal_state:
            differences.append(f"order {order_id}: table {table_state}, journal {journal_state} "
                               "(quantity, filled, final status)")
    trades = session.execute(select(func.count()).select_from(Trade)).scalar_one()
    journal_trades = len({t for o in replayed.values() for t in o.trades})
    if trades != journal_trades:
        differences.append(f"trades: {trades} in the table, {journal_trades} in the journal")
    return differences
