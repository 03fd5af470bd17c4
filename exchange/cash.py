"""Cash arithmetic of trading, pure: notional, fees and pre-trade holds in minor units.

Prices are integer ticks; a tick is a whole number of the currency's minor units, so every
amount here is an exact integer. Each side pays `fee_bps` of the notional, rounded down.
"""

from __future__ import annotations

from dataclasses import dataclass


def notional(price_ticks: int, quantity: int, tick_minor: int) -> int:
    """What `quantity` units cost at `price_ticks`, in minor units."""
    return price_ticks * quantity * tick_minor


def fee(notional_minor: int, fee_bps: int) -> int:
    """The trading fee on a notional, rounded down to the minor unit."""
    return notional_minor * fee_bps // 10_000


def buy_hold(limit_ticks: int, quantity: int, tick_minor: int, fee_bps: int) -> int:
    """Cash a buy must hold: the most it can pay for `quantity` at its limit, fee included."""
    value = notional(limit_ticks, quantity, tick_minor)
    return value + fee(value, fee_bps)


@dataclass(frozen=True)
class FillCash:
    """How one fill moves the buyer's held cash."""

    buyer_pays: int  # out of the hold: notional + buyer's fee
    seller_gets: int  # notional - seller's fee
    buyer_fee: int
    seller_fee: int
    released: int  # hold no longer needed, back to the buyer's available cash
    hold_after: int  # what stays held for the order's remaining quantity


def settle_fill(
    *, hold: int, limit_ticks: int, remaining_after: int, price_ticks: int, quantity: int,
    tick_minor: int, fee_bps: int,
) -> FillCash:
    """Split a buy order's hold for one fill; `released` is never negative (floors are
    subadditive: fee(a) + fee(b) <= fee(a + b))."""
    value = notional(price_ticks, quantity, tick_minor)
    buyer_fee = fee(value, fee_bps)
    seller_fee = fee(value, fee_bps)
    hold_after = buy_hold(limit_ticks, remaining_after, tick_minor, fee_bps)
    released = hold - value - buyer_fee - hold_after
    if released < 0:
        raise ValueError("a fill cannot cost more than the order holds")
    return FillCash(value + buyer_fee, value - seller_fee, buyer_fee, seller_fee, released,
                    hold_after)
