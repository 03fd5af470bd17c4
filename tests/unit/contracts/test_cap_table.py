"""Cap tables: validation, issuances and transfers, fully diluted counts and percentages."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.cap_table import (
    CapTable,
    ClassType,
    Issuance,
    OptionPool,
    ShareClass,
    Stakeholder,
    StakeholderKind,
    Transfer,
    apply_issuance,
    apply_transfer,
    fully_diluted,
    holding,
    holdings_by_stakeholder,
    issued_shares,
    percent_of_fully_diluted,
    with_stakeholder,
)
from ledger.errors import Conflict, InsufficientUnits, InvalidInput

D1 = date(2024, 1, 15)
D2 = date(2024, 6, 1)

FOUNDER = Stakeholder("pty_ann", "Ann Founder", StakeholderKind.INDIVIDUAL)
FUND = Stakeholder("pty_fund", "Harbour Ventures")
UNI = Stakeholder("pty_hku", "The University of Hong Kong")


def table(**overrides: Any) -> CapTable:
    """A start-up: 2M authorised ordinary, 500k preferred; 900k + 100k issued; 0 pool."""
    fields: dict[str, Any] = dict(
        issuer_id="pty_start",
        currency="HKD",
        classes=(ShareClass("ordinary", 2_000_000),
                 ShareClass("Series A", 500_000, seniority=2,
                            class_type=ClassType.PREFERRED)),
        stakeholders=(FOUNDER, FUND),
        transactions=(
            Issuance("iss_1", "pty_ann", "ordinary", 900_000, D1, Decimal("0.0001")),
            Issuance("iss_2", "pty_fund", "Series A", 100_000, D2, Decimal("5")),
        ),
    )
    fields.update(overrides)
    return CapTable(**fields)


def test_counts_and_holdings() -> None:
    t = table()
    assert issued_shares(t) == 1_000_000
    assert issued_shares(t, "ordinary") == 900_000
    assert fully_diluted(t) == 1_000_000
    assert holding(t, "pty_ann", "ordinary") == 900_000
    assert holding(t, "pty_ann", "Series A") == 0
    assert holdings_by_stakeholder(t) == {"pty_ann": {"ordinary": 900_000},
                                          "pty_fund": {"Series A": 100_000}}
    assert t.available("ordinary") == 1_100_000
    assert t.issuances == t.transactions and t.transfers == ()


def test_option_pool_counts_in_fully_diluted_and_against_authorised() -> None:
    t = table(option_pool=OptionPool("ordinary", 100_000))
    assert fully_diluted(t) == 1_100_000
    assert issued_shares(t) == 1_000_000
    assert t.available("ordinary") == 1_000_000
    with pytest.raises(InvalidInput) as caught:
        table(option_pool=OptionPool("ordinary", 1_100_001))
    assert caught.value.field == "option_pool.reserved"


def test_issuance_returns_a_new_table() -> None:
    t = with_stakeholder(table(), UNI)
    after = apply_issuance(t, Issuance("iss_3", "pty_hku", "ordinary", 52_631, D2))
    assert holding(after, "pty_hku", "ordinary") == 52_631
    assert fully_diluted(after) == 1_052_631
    assert holding(t, "pty_hku", "ordinary") == 0 and fully_diluted(t) == 1_000_000


def test_issuing_beyond_authorised_is_refused_naming_the_field() -> None:
    t = with_stakeholder(table(), UNI)
    ok = apply_issuance(t, Issuance("iss_3", "pty_hku", "ordinary", 1_100_000, D2))
    assert ok.available("ordinary") == 0
    with pytest.raises(InvalidInput) as caught:
        apply_issuance(t, Issuance("iss_3", "pty_hku", "ordinary", 1_100_001, D2))
    assert caught.value.field == "issuance.shares"
    assert "authorised" in caught.value.detail and "1,100,000" in caught.value.detail


@pytest.mark.parametrize(("issuance", "error", "field"), [
    (Issuance("iss_3", "pty_hku", "common", 1, D2), InvalidInput, "issuance.share_class"),
    (Issuance("iss_3", "pty_nobody", "ordinary", 1, D2), InvalidInput, "issuance.stakeholder"),
    (Issuance("iss_3", "pty_hku", "ordinary", 0, D2), InvalidInput, "issuance.shares"),
    (Issuance("iss_3", "pty_hku", "ordinary", True, D2), InvalidInput, "issuance.shares"),
    (Issuance("iss_3", "pty_hku", "ordinary", 1, D1), InvalidInput, "issuance.date"),
    (Issuance("iss 3", "pty_hku", "ordinary", 1, D2), InvalidInput, "issuance.id"),
    (Issuance("iss_1", "pty_hku", "ordinary", 1, D2), Conflict, "issuance.id"),
    (Issuance("iss_3", "pty_hku", "ordinary", 1, D2, Decimal("0.00000000001")), InvalidInput,
     "issuance.price_per_share"),
    (Issuance("iss_3", "pty_hku", "ordinary", 1, D2, Decimal(-1)), InvalidInput,
     "issuance.price_per_share"),
])
def test_bad_issuances(issuance: Issuance, error: type[Exception], field: str) -> None:
    t = with_stakeholder(table(), UNI)
    with pytest.raises(error) as caught:
        apply_issuance(t, issuance)
    assert getattr(caught.value, "field", None) == field


def test_transfers() -> None:
    t = apply_transfer(table(), Transfer("trf_1", "pty_ann", "pty_fund", "ordinary", 100_000,
                                         D2, Decimal("3")))
    assert holdings_by_stakeholder(t) == {
        "pty_ann": {"ordinary": 800_000},
        "pty_fund": {"ordinary": 100_000, "Series A": 100_000},
    }
    assert issued_shares(t) == 1_000_000  # a transfer issues nothing
    all_out = apply_transfer(t, Transfer("trf_2", "pty_ann", "pty_fund", "ordinary", 800_000,
                                         D2))
    assert "pty_ann" not in holdings_by_stakeholder(all_out)


@pytest.mark.parametrize(("transfer", "error", "field"), [
    (Transfer("trf_1", "pty_ann", "pty_fund", "ordinary", 900_001, D2), InsufficientUnits,
     "transfer.shares"),
    (Transfer("trf_1", "pty_fund", "pty_ann", "ordinary", 1, D2), InsufficientUnits,
     "transfer.shares"),
    (Transfer("trf_1", "pty_ann", "pty_ann", "ordinary", 1, D2), InvalidInput,
     "transfer.to_stakeholder"),
    (Transfer("trf_1", "pty_ann", "pty_zed", "ordinary", 1, D2), InvalidInput,
     "transfer.to_stakeholder"),
    (Transfer("trf_1", "pty_zed", "pty_ann", "ordinary", 1, D2), InvalidInput,
     "transfer.from_stakeholder"),
    (Transfer("iss_2", "pty_ann", "pty_fund", "ordinary", 1, D2), Conflict, "transfer.id"),
])
def test_bad_transfers(transfer: Transfer, error: type[Exception], field: str) -> None:
    with pytest.raises(error) as caught:
        apply_transfer(table(), transfer)
    assert getattr(caught.value, "field", None) == field


@pytest.mark.parametrize(("overrides", "field"), [
    ({"issuer_id": ""}, "issuer_id"),
    ({"currency": "XYZ"}, "currency"),
    ({"classes": ()}, "classes"),
    ({"classes": (ShareClass("ordinary", 0),)}, "classes[0].authorised"),
    ({"classes": (ShareClass("ordinary", 10**6), ShareClass("ordinary", 10**6))},
     "classes[1].name"),
    ({"classes": (ShareClass("bad/name", 10),)}, "classes[0].name"),
    ({"stakeholders": (FOUNDER, FOUNDER)}, "stakeholders[1].id"),
    ({"stakeholders": (Stakeholder("pty_x", " "),)}, "stakeholders[0].name"),
    ({"option_pool": OptionPool("common", 10)}, "option_pool.share_class"),
    ({"transactions": (Issuance("iss_1", "pty_ann", "ordinary", 2_000_001, D1),)},
     "transactions[0].shares"),
    ({"transactions": (Issuance("iss_1", "pty_ann", "ordinary", 1, D2),
                       Issuance("iss_2", "pty_ann", "ordinary", 1, D1))},
     "transactions[1].date"),
])
def test_table_validation(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        table(**overrides)
    assert caught.value.field == field


def test_with_stakeholder() -> None:
    t = table()
    assert with_stakeholder(t, FOUNDER) is t
    with pytest.raises(Conflict) as caught:
        with_stakeholder(t, replace(FOUNDER, name="Someone Else"))
    assert caught.value.field == "stakeholder.id"
    assert with_stakeholder(t, UNI).stakeholder("pty_hku") == UNI


def test_percent_of_fully_diluted() -> None:
    t = with_stakeholder(table(), UNI)
    after = apply_issuance(t, Issuance("iss_3", "pty_hku", "ordinary", 52_631, D2))
    assert percent_of_fully_diluted(52_631, after) == Decimal("4.9999477500")
    assert percent_of_fully_diluted(900_000, table()) == Decimal("90.0000000000")
    assert percent_of_fully_diluted(1, table()) == Decimal("0.0001000000")
    # 1 / 3 of a percent rounds half-even at 10 places; 2/3 rounds up.
    three = table(classes=(ShareClass("ordinary", 300),),
                  transactions=(Issuance("i", "pty_ann", "ordinary", 300, D1),))
    assert percent_of_fully_diluted(1, three) == Decimal("0.3333333333")
    assert percent_of_fully_diluted(2, three) == Decimal("0.6666666667")
    with pytest.raises(InvalidInput):
        percent_of_fully_diluted(1_000_001, table())
    with pytest.raises(InvalidInput) as empty:
        percent_of_fully_diluted(0, table(transactions=()))
    assert empty.value.field == "cap_table"


# --------------------------------------------------------------------------- properties

_PEOPLE = ("pty_a", "pty_b", "pty_c")
_CLASSES = ("ordinary", "pref")


@st.composite
def _operations(draw: st.DrawFn) -> list[tuple[str, str, str, str, int]]:
    n = draw(st.integers(0, 25))
    return [(draw(st.sampled_from(("issue", "transfer"))), draw(st.sampled_from(_PEOPLE)),
             draw(st.sampled_from(_PEOPLE)), draw(st.sampled_from(_CLASSES)),
             draw(st.integers(1, 400))) for _ in range(n)]


@settings(max_examples=150, deadline=None)
@given(_operations(), st.integers(0, 300))
def test_replay_invariants(ops: list[tuple[str, str, str, str, int]], pool: int) -> None:
    t = CapTable("pty_s", "HKD", (ShareClass("ordinary", 2_000), ShareClass("pref", 1_000)),
                 tuple(Stakeholder(p, p.upper()) for p in _PEOPLE),
                 option_pool=OptionPool("ordinary", pool))
    issued = dict.fromkeys(_CLASSES, 0)
    for i, (kind, a, b, cls, n) in enumerate(ops):
        try:
            if kind == "issue":
                t = apply_issuance(t, Issuance(f"tx{i}", a, cls, n, D1))
                issued[cls] += n
            else:
                t = apply_transfer(t, Transfer(f"tx{i}", a, b, cls, n, D1))
        except (InvalidInput, Conflict):
            continue  # refused changes leave the table as it was
    held = holdings_by_stakeholder(t)
    for cls in _CLASSES:
        assert sum(h.get(cls, 0) for h in held.values()) == issued[cls] == issued_shares(t, cls)
        assert issued_shares(t, cls) + (pool if cls == "ordinary" else 0) <= (
            t.authorised(cls))
    assert all(v > 0 for h in held.values() for v in h.values())
    assert fully_diluted(t) == sum(issued.values()) + pool
    # A table rebuilt from its own parts is equal and valid.
    assert CapTable(t.issuer_id, t.currency, t.classes, t.stakeholders, t.transactions,
                    t.option_pool) == t
