"""Settlement into the ledger: holds at entry, delivery versus payment per trade, releases.

Every function here runs inside the caller's unit of work, under the instrument's lock, and
writes its journal entry with the postings and unit moves it makes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from exchange.cash import settle_fill
from exchange.markets import OpenMarket
from exchange.models import Order, Trade
from ledger.accounts import AVAILABLE, FEES, HELD, party_account, post_transaction, system_account
from ledger.clock import isoformat
from ledger.currency import format_minor
from ledger.errors import InsufficientFunds, InsufficientUnits
from ledger.holdings import apply_moves
from ledger.ids import new_id
from ledger.postings import Posting, UnitMove
from ledger.unit_of_work import UnitOfWork


def _merge(postings: Iterable[Posting]) -> list[Posting]:
    """One posting per account, zero ones dropped (a posting must move something)."""
    totals: dict[tuple[str, str], int] = defaultdict(int)
    for p in postings:
        totals[(p.account, p.currency)] += p.amount
    return [Posting(a, c, v) for (a, c), v in totals.items() if v != 0]


def order_json(order: Order, om: OpenMarket) -> dict[str, object]:
    price = None if order.price_ticks is None else str(order.price_ticks * om.tick)
    return {
        "order_id": order.id, "party_id": order.party_id, "instrument_id": order.instrument_id,
        "side": order.side, "type": order.type, "price": price, "quantity": order.quantity,
        "time_in_force": order.time_in_force, "post_only": order.post_only, "stp": order.stp,
        "expires_at": None if order.expires_at is None else isoformat(order.expires_at),
        "client_order_id": order.client_order_id,
    }


def hold_for(uow: UnitOfWork, om: OpenMarket, order: Order, cash_minor: int) -> int:
    """Reserve what the order may need (cash for a buy, units for a sell); journal seq."""
    currency = om.instrument.currency
    data = {**order_json(order, om),
            "hold": format_minor(cash_minor, currency) if order.side == "buy" else None}
    if order.side == "sell":
        moves = [UnitMove(order.party_id, order.instrument_id, 0, order.quantity)]
        try:
            apply_moves(uow.session, moves)
        except InsufficientUnits:
            raise InsufficientUnits(
                f"selling {order.quantity} units needs that many units not already held "
                "for other orders", field="quantity") from None
        return uow.journal.append("order.placed", data, actor=order.party_id,
                                  unit_moves=moves).seq
    order.hold_minor = cash_minor
    if cash_minor == 0:
        return uow.journal.append("order.placed", data, actor=order.party_id).seq
    try:
        posted = post_transaction(
            uow, kind="order.placed", data=data, actor=order.party_id,
            postings=[
                Posting(party_account(order.party_id, currency, AVAILABLE), currency,
                        -cash_minor),
                Posting(party_account(order.party_id, currency, HELD), currency, cash_minor),
            ],
        )
    except InsufficientFunds:
        raise InsufficientFunds(
            f"this buy holds {format_minor(cash_minor, currency)} {currency} (price x quantity "
            "plus fees), more than your available cash", field="quantity") from None
    return posted.journal_seq


def execute_trade(
    uow: UnitOfWork, om: OpenMarket, *, trade_no: int, price_ticks: int, quantity: int,
    buy: Order, sell: Order, buy_limit_ticks: int, auction: bool,
) -> Trade:
    """Delivery versus payment for one fill, in the caller's transaction."""
    market, currency = om.market, om.instrument.currency
    buy_remaining_after = buy.remaining - quantity
    cash = settle_fill(
        hold=buy.hold_minor, limit_ticks=buy_limit_ticks, remaining_after=buy_remaining_after,
        price_ticks=price_ticks, quantity=quantity, tick_minor=om.tick_minor,
        fee_bps=market.fee_bps,
    )
    postings = _merge([
        Posting(party_account(buy.party_id, currency, HELD), currency,
                -(cash.buyer_pays + cash.released)),
        Posting(party_account(buy.party_id, currency, AVAILABLE), currency, cash.released),
        Posting(party_account(sell.party_id, currency, AVAILABLE), currency, cash.seller_gets),
        Posting(system_account(currency, FEES), currency, cash.buyer_fee + cash.seller_fee),
    ])
    moves = [UnitMove(sell.party_id, om.instrument.id, -quantity, -quantity),
             UnitMove(buy.party_id, om.instrument.id, quantity, 0)]
    trade = Trade(
        id=new_id("trd"), instrument_id=om.instrument.id, trade_no=trade_no,
        price_ticks=price_ticks, quantity=quantity, buy_order_id=buy.id, sell_order_id=sell.id,
        buyer_id=buy.party_id, seller_id=sell.party_id, buyer_fee_minor=cash.buyer_fee,
        seller_fee_minor=cash.seller_fee, auction=auction, journal_seq=0, at=uow.now,
    )
    posted = post_transaction(
        uow, kind="trade.executed",
        data={"trade_id": trade.id, "instrument_id": om.instrument.id, "trade_no": trade_no,
              "price": str(price_ticks * om.tick), "quantity": quantity,
              "buy_order_id": buy.id, "sell_order_id": sell.id, "buyer_id": buy.party_id,
              "seller_id": sell.party_id, "notional": format_minor(
                  price_ticks * quantity * om.tick_minor, currency),
              "buyer_fee": format_minor(cash.buyer_fee, currency),
              "seller_fee": format_minor(cash.seller_fee, currency), "currency": currency,
              "auction": auction},
        actor=None, postings=postings, unit_moves=moves,
        parties=[buy.party_id, sell.party_id],
    )
    assert posted.entry is not None
    trade.journal_seq = posted.entry.seq
    uow.session.add(trade)
    for order in (buy, sell):
        order.remaining -= quantity
        order.filled += quantity
        order.updated_at = uow.now
    buy.hold_minor = cash.hold_after
    return trade


def release(uow: UnitOfWork, om: OpenMarket, order: Order, status: str, reason: str) -> None:
    """Close an order: release whatever it still holds and record why it ended."""
    currency = om.instrument.currency
    order.status, order.status_open, order.reason = status, False, reason
    order.updated_at = uow.now
    data = {"order_id": order.id, "party_id": order.party_id, "status": status,
            "reason": reason, "filled": order.filled, "cancelled": order.remaining}
    if order.side == "buy":
        released, order.hold_minor = order.hold_minor, 0
        postings = _merge([
            Posting(party_account(order.party_id, currency, HELD), currency, -released),
            Posting(party_account(order.party_id, currency, AVAILABLE), currency, released),
        ])
        if postings:
            post_transaction(uow, kind="order.closed", data=data, actor=None,
                             postings=postings, parties=[order.party_id])
            return
        uow.journal.append("order.closed", data, actor=None, parties=[order.party_id])
        return
    moves = [UnitMove(order.party_id, order.instrument_id, 0, -order.remaining)] \
        if order.remaining else []
    if moves:
        apply_moves(uow.session, moves)
    uow.journal.append("order.closed", data, actor=None, parties=[order.party_id],
                       unit_moves=moves)
