"""ledger.postings: balanced double entry and holdings arithmetic, pure."""

from __future__ import annotations

from collections import defaultdict

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import InsufficientFunds, InsufficientUnits, InvalidInput
from ledger.postings import (
    Posting,
    UnitMove,
    apply_postings,
    apply_unit_moves,
    check_balanced,
    net_amounts,
)

CLEARING = "ipx:HKD:clearing"


def never_negative(_: str) -> bool:
    return False


def only_clearing(code: str) -> bool:
    return code.endswith(":clearing")


# --- check_balanced --------------------------------------------------------------------

def test_balanced_postings_pass() -> None:
    check_balanced([Posting("a", "HKD", -100), Posting("b", "HKD", 60), Posting("c", "HKD", 40)])
    check_balanced([Posting("a", "HKD", -1), Posting("b", "HKD", 1),
                    Posting("a", "USD", 7), Posting("c", "USD", -7)])


def test_unbalanced_postings_are_refused_naming_the_currency() -> None:
    with pytest.raises(InvalidInput, match=r"HKD do not balance \(off by 1\)"):
        check_balanced([Posting("a", "HKD", -100), Posting("b", "HKD", 101)])


def test_each_currency_must_balance_on_its_own() -> None:
    # Sums to zero overall, but 5 HKD appear and 5 USD vanish.
    with pytest.raises(InvalidInput, match="do not balance"):
        check_balanced([Posting("a", "HKD", 5), Posting("b", "USD", -5)])


def test_a_zero_posting_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_balanced([Posting("a", "HKD", 0), Posting("b", "HKD", 0)])
    assert caught.value.field == "amount"
    assert "moves nothing" in caught.value.detail


def test_no_postings_is_refused() -> None:
    with pytest.raises(InvalidInput, match="needs postings"):
        check_balanced([])


def test_check_balanced_accepts_a_generator() -> None:
    check_balanced(p for p in [Posting("a", "HKD", 3), Posting("b", "HKD", -3)])


# --- apply_postings ----------------------------------------------------------------------

def test_apply_postings_moves_money() -> None:
    before = {"alice:HKD:available": 500, "bob:HKD:available": 0}
    after = apply_postings(
        before,
        [Posting("alice:HKD:available", "HKD", -200), Posting("bob:HKD:available", "HKD", 200)],
        never_negative,
    )
    assert after == {"alice:HKD:available": 300, "bob:HKD:available": 200}
    assert before == {"alice:HKD:available": 500, "bob:HKD:available": 0}  # not mutated


def test_apply_postings_returns_only_touched_accounts() -> None:
    after = apply_postings({"a": 10, "b": 0, "untouched": 99},
                           [Posting("a", "HKD", -10), Posting("b", "HKD", 10)], never_negative)
    assert after == {"a": 0, "b": 10}


def test_overdraft_is_refused() -> None:
    with pytest.raises(InsufficientFunds, match="overdrawn by 1 minor units"):
        apply_postings({"a": 99, "b": 0},
                       [Posting("a", "HKD", -100), Posting("b", "HKD", 100)], never_negative)


def test_spending_exactly_the_balance_is_allowed() -> None:
    assert apply_postings({"a": 100, "b": 0},
                          [Posting("a", "HKD", -100), Posting("b", "HKD", 100)],
                          never_negative) == {"a": 0, "b": 100}


def test_clearing_may_go_negative_but_parties_may_not() -> None:
    after = apply_postings({CLEARING: 0, "alice:HKD:available": 0},
                           [Posting(CLEARING, "HKD", -1000),
                            Posting("alice:HKD:available", "HKD", 1000)], only_clearing)
    assert after == {CLEARING: -1000, "alice:HKD:available": 1000}
    with pytest.raises(InsufficientFunds):
        apply_postings({CLEARING: 0, "alice:HKD:available": 0},
                       [Posting(CLEARING, "HKD", 1000),
                        Posting("alice:HKD:available", "HKD", -1000)], only_clearing)


def test_several_postings_to_one_account_are_netted() -> None:
    # a dips to -30 on the way but ends at 0: only the final balance counts.
    after = apply_postings(
        {"a": 20, "b": 0},
        [Posting("a", "HKD", -50), Posting("b", "HKD", 50), Posting("a", "HKD", 30),
         Posting("b", "HKD", -30)],
        never_negative,
    )
    assert after == {"a": 0, "b": 20}


def test_unbalanced_postings_change_nothing() -> None:
    with pytest.raises(InvalidInput):
        apply_postings({"a": 10}, [Posting("a", "HKD", 5)], never_negative)


def test_missing_balance_is_a_programming_error() -> None:
    with pytest.raises(KeyError):
        apply_postings({}, [Posting("a", "HKD", -1), Posting("b", "HKD", 1)], never_negative)


ACCOUNTS = ["ipx:HKD:clearing", "a:HKD:available", "b:HKD:available", "c:HKD:available",
            "ipx:USD:clearing", "a:USD:available"]


@st.composite
def balanced_transaction(draw: st.DrawFn) -> list[Posting]:
    """Postings in one or two currencies, each summing to zero."""
    postings: list[Posting] = []
    for currency in draw(st.sets(st.sampled_from(["HKD", "USD"]), min_size=1)):
        accounts = [a for a in ACCOUNTS if f":{currency}:" in a]
        amounts = draw(st.lists(st.integers(-10**6, 10**6).filter(bool), min_size=1,
                                max_size=4))
        targets = draw(st.lists(st.sampled_from(accounts), min_size=len(amounts) + 1,
                                max_size=len(amounts) + 1))
        postings += [Posting(t, currency, a) for t, a in zip(targets, amounts, strict=False)]
        if sum(amounts):
            postings.append(Posting(targets[-1], currency, -sum(amounts)))
    return postings


@given(st.lists(balanced_transaction(), max_size=15))
def test_money_is_conserved_and_no_party_goes_negative(
    transactions: list[list[Posting]],
) -> None:
    balances: dict[str, int] = defaultdict(int)
    for postings in transactions:
        try:
            new = apply_postings(balances, postings, only_clearing)
        except InsufficientFunds:
            continue
        balances.update(new)
        for currency in ("HKD", "USD"):
            assert sum(v for k, v in balances.items() if f":{currency}:" in k) == 0
        assert all(v >= 0 for k, v in balances.items() if not only_clearing(k))


@given(balanced_transaction(), st.dictionaries(st.sampled_from(ACCOUNTS),
                                              st.integers(0, 10**7)))
def test_net_amounts_move_balances_as_the_postings_do(
    postings: list[Posting], held: dict[str, int],
) -> None:
    """The short paths of a big batch move each account by its net amount: the same new
    balances as applying the postings one by one, accounts in order of first appearance."""
    balances = {p.account: held.get(p.account, 0) for p in postings}
    net = net_amounts(postings)
    assert list(net) == list(dict.fromkeys(p.account for p in postings))
    assert {a: balances[a] + n for a, n in net.items()} == apply_postings(
        balances, postings, lambda _: True)


def test_net_amounts_refuse_unbalanced_postings() -> None:
    with pytest.raises(InvalidInput, match="do not balance"):
        net_amounts([Posting("a", "HKD", -1), Posting("b", "HKD", 2)])


# --- apply_unit_moves ------------------------------------------------------------------

def test_unit_transfer() -> None:
    before = {("alice", "ins"): (100, 0)}
    after = apply_unit_moves(before, [UnitMove("alice", "ins", -30), UnitMove("bob", "ins", 30)])
    assert after == {("alice", "ins"): (70, 0), ("bob", "ins"): (30, 0)}
    assert before == {("alice", "ins"): (100, 0)}  # not mutated


def test_unknown_holding_starts_empty() -> None:
    assert apply_unit_moves({}, [UnitMove("bob", "ins", 5)]) == {("bob", "ins"): (5, 0)}


def test_moves_to_one_holding_accumulate() -> None:
    after = apply_unit_moves({("a", "i"): (10, 0)},
                             [UnitMove("a", "i", -10), UnitMove("a", "i", 4, held=3)])
    assert after == {("a", "i"): (4, 3)}


def test_holding_and_releasing() -> None:
    held = apply_unit_moves({("a", "i"): (10, 0)}, [UnitMove("a", "i", held=10)])
    assert held == {("a", "i"): (10, 10)}
    assert apply_unit_moves(held, [UnitMove("a", "i", held=-4)]) == {("a", "i"): (10, 6)}
    # Selling held units takes them out of both.
    assert apply_unit_moves(held, [UnitMove("a", "i", -10, -10), UnitMove("b", "i", 10)]) == {
        ("a", "i"): (0, 0), ("b", "i"): (10, 0)}


@pytest.mark.parametrize(
    ("holdings", "moves"),
    [
        ({("a", "i"): (10, 0)}, [UnitMove("a", "i", -11), UnitMove("b", "i", 11)]),
        ({}, [UnitMove("a", "i", -1), UnitMove("b", "i", 1)]),
        ({("a", "i"): (10, 0)}, [UnitMove("a", "i", held=11)]),  # held above units
        ({("a", "i"): (10, 5)}, [UnitMove("a", "i", held=-6)]),  # held below zero
        ({("a", "i"): (10, 5)}, [UnitMove("a", "i", -6), UnitMove("b", "i", 6)]),  # held > units
    ],
)
def test_short_units_are_refused(holdings: dict[tuple[str, str], tuple[int, int]],
                                 moves: list[UnitMove]) -> None:
    with pytest.raises(InsufficientUnits, match="does not hold enough units"):
        apply_unit_moves(holdings, moves)


def test_other_instruments_are_independent() -> None:
    with pytest.raises(InsufficientUnits):
        apply_unit_moves({("a", "i"): (10, 0), ("a", "j"): (0, 0)},
                         [UnitMove("a", "j", -1), UnitMove("b", "j", 1)])
