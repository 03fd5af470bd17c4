"""Cash arithmetic of trading: holds always cover fills, and every fill balances."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange.cash import buy_hold, fee, notional, settle_fill


def test_worked_example() -> None:
    # 100 units at a limit of 12.34 HKD (tick 0.01 = 1 minor unit), 25 bps fee.
    hold = buy_hold(1234, 100, 1, 25)
    assert hold == 123_400 + 308  # fee 308.5 minor units, rounded down
    cash = settle_fill(hold=hold, limit_ticks=1234, remaining_after=60, price_ticks=1200,
                       quantity=40, tick_minor=1, fee_bps=25)
    assert cash.buyer_pays == 48_000 + 120
    assert cash.seller_gets == 48_000 - 120
    assert cash.hold_after == buy_hold(1234, 60, 1, 25)
    assert cash.released == hold - cash.buyer_pays - cash.hold_after


def test_a_fill_beyond_the_hold_is_refused() -> None:
    with pytest.raises(ValueError):
        settle_fill(hold=100, limit_ticks=10, remaining_after=0, price_ticks=11, quantity=10,
                    tick_minor=1, fee_bps=0)


@given(
    limit=st.integers(1, 10**6), price_cut=st.integers(0, 10**6),
    fills=st.lists(st.integers(1, 10**4), min_size=1, max_size=8),
    tick_minor=st.integers(1, 100), bps=st.integers(0, 1000),
)
def test_a_hold_covers_any_sequence_of_fills_at_or_below_the_limit(
    limit: int, price_cut: int, fills: list[int], tick_minor: int, bps: int,
) -> None:
    quantity = sum(fills)
    hold = buy_hold(limit, quantity, tick_minor, bps)
    price = max(1, limit - price_cut)
    remaining = quantity
    paid = released = 0
    for q in fills:
        remaining -= q
        cash = settle_fill(hold=hold, limit_ticks=limit, remaining_after=remaining,
                           price_ticks=price, quantity=q, tick_minor=tick_minor, fee_bps=bps)
        assert cash.released >= 0
        # The fill balances: what the buyer pays is the seller's plus both fees.
        assert cash.buyer_pays == cash.seller_gets + cash.buyer_fee + cash.seller_fee
        assert cash.buyer_fee == fee(notional(price, q, tick_minor), bps)
        paid += cash.buyer_pays
        released += cash.released
        hold = cash.hold_after
    assert hold == 0
    assert paid + released == buy_hold(limit, quantity, tick_minor, bps)
