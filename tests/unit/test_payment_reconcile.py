"""payments.reconcile.compare: every difference between ledger and provider, and only those."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from payments.reconcile import Movement, compare


def m(key: str, amount: int, currency: str = "HKD", ref: str = "r") -> Movement:
    return Movement(key, currency, amount, ref)


def test_matching_sides_have_no_difference() -> None:
    ledger = [m("ch_1", 1000), m("tr_1", -400), m("ch_1:refund", -100)]
    provider = [m("ch_1", 1000), m("ch_1:refund", -60), m("ch_1:refund", -40), m("tr_1", -400)]
    assert compare(ledger, provider) == []


def test_each_kind_of_difference_is_named() -> None:
    differences = compare(
        [m("ch_1", 1000), m("ch_2", 500), m("tr_1", -300, ref="journal 9")],
        [m("ch_1", 1000), m("ch_3", 700), m("tr_1", -200, ref="txn_1")])
    assert [(d.key, d.reason, d.ledger, d.provider) for d in differences] == [
        ("ch_2", "missing at the provider", 500, 0),
        ("ch_3", "missing from the ledger", 0, 700),
        ("tr_1", "amounts differ", -300, -200),
    ]
    assert differences[2].references == ("journal 9", "txn_1")


def test_currencies_are_kept_apart() -> None:
    assert [d.currency for d in compare([m("ch_1", 100, "HKD")],
                                        [m("ch_1", 100, "USD")])] == ["HKD", "USD"]


MOVES = st.lists(st.tuples(st.sampled_from(["ch_1", "ch_2", "tr_1", "ch_1:refund"]),
                           st.integers(-10**6, 10**6)), max_size=20)


@given(MOVES, st.randoms())
def test_the_same_movements_in_any_order_or_split_reconcile(moves: list[tuple[str, int]],
                                                              rnd: object) -> None:
    ledger = [m(k, a) for k, a in moves]
    provider = list(ledger)
    rnd.shuffle(provider)  # type: ignore[attr-defined]
    assert compare(ledger, provider) == []


@given(MOVES, st.sampled_from(["ch_1", "ch_9"]), st.integers(1, 10**6))
def test_any_extra_movement_is_found(moves: list[tuple[str, int]], key: str,
                                     extra: int) -> None:
    ledger = [m(k, a) for k, a in moves]
    differences = compare(ledger, ledger + [m(key, extra)])
    assert [d.key for d in differences] == [key]
    assert differences[0].provider - differences[0].ledger == extra
