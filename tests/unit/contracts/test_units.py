"""Licence-unit tranches: subscription, closing and consumption arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.lifecycle import TrancheEvent
from contracts.units import LicenceUnitTranche, consume, units_to_consume, validate_tranche_terms
from ledger.errors import Conflict, InsufficientUnits, InvalidInput
from tests.unit.contracts.helpers import terms

END = datetime(2025, 6, 30, 12, tzinfo=UTC)


def tranche(**overrides: Any) -> LicenceUnitTranche:
    fields: dict[str, Any] = dict(units=1_000, products_per_unit=500, price_per_unit=250_000,
                                  currency="HKD", closes_at=END)
    fields.update(overrides)
    return LicenceUnitTranche(**fields)


@pytest.mark.parametrize(("overrides", "field"), [
    ({"units": 0}, "units"),
    ({"units": 2.0}, "units"),
    ({"units": True}, "units"),
    ({"products_per_unit": 0}, "products_per_unit"),
    ({"price_per_unit": -1}, "price_per_unit"),
    ({"currency": "XYZ"}, "currency"),
    ({"closes_at": datetime(2025, 6, 30)}, "closes_at"),
    ({"closes_at": datetime(2025, 6, 30, tzinfo=timezone(timedelta(hours=8)))}, "closes_at"),
])
def test_tranche_validation(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        tranche(**overrides)
    assert caught.value.field == field


def test_subscription_arithmetic() -> None:
    t = tranche()
    before = END - timedelta(days=1)
    assert t.total_products == 500_000
    assert t.remaining(sold=0) == 1_000
    assert t.check_subscription(sold=0, requested=10, now=before) == 2_500_000  # 10 x 2,500.00
    assert t.check_subscription(sold=990, requested=10, now=before) == 2_500_000
    with pytest.raises(InsufficientUnits) as short:
        t.check_subscription(sold=995, requested=10, now=before)
    assert "only 5 unit(s)" in short.value.detail
    with pytest.raises(Conflict):
        t.check_subscription(sold=0, requested=1, now=END)
    with pytest.raises(InvalidInput):
        t.check_subscription(sold=0, requested=0, now=before)
    with pytest.raises(InvalidInput):
        t.remaining(sold=1_001)


def test_close_event() -> None:
    t = tranche()
    assert t.close_event(sold=999, now=END - timedelta(seconds=1)) is None
    assert t.close_event(sold=1_000, now=END - timedelta(seconds=1)) is TrancheEvent.SELL_OUT
    assert t.close_event(sold=1_000, now=END) is TrancheEvent.SELL_OUT
    assert t.close_event(sold=3, now=END) is TrancheEvent.REACH_END


@pytest.mark.parametrize(("products", "per_unit", "before", "units"), [
    (0, 500, 0, 0),
    (1, 500, 0, 1),        # one product still needs a whole unit
    (500, 500, 0, 1),
    (501, 500, 0, 2),      # rounds up so production is always covered
    (1_000, 500, 0, 2),
    (100, 500, 450, 1),    # 450 were covered by 1 unit; 550 need 2: one more
    (40, 500, 450, 0),     # 490 still fit in the first unit
    (50, 500, 450, 0),     # 500 exactly fill it
    (1, 500, 500, 1),
])
def test_units_to_consume(products: int, per_unit: int, before: int, units: int) -> None:
    assert units_to_consume(products, per_unit, products_before=before) == units


def test_consume_refuses_more_than_held() -> None:
    assert consume(3, 1_500, 500) == 3
    with pytest.raises(InvalidInput) as caught:
        consume(3, 1_501, 500)
    assert caught.value.field == "products" and "need 4 unit(s)" in caught.value.detail
    with pytest.raises(InvalidInput):
        consume(3, -1, 500)
    with pytest.raises(InvalidInput):
        units_to_consume(1, 0)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 5_000), max_size=10), st.integers(1, 1_000))
def test_consumption_over_many_reports_equals_one_report(reports: list[int],
                                                         per_unit: int) -> None:
    before, burned = 0, 0
    for products in reports:
        burned += units_to_consume(products, per_unit, products_before=before)
        before += products
    assert burned == -(-before // per_unit)
    assert burned * per_unit >= before  # always covered


def test_tranche_terms_must_be_standard_non_exclusive() -> None:
    validate_tranche_terms(terms(exclusivity="non_exclusive", licensee=None))
    with pytest.raises(InvalidInput) as exclusive:
        validate_tranche_terms(terms(exclusivity="exclusive", licensee=None))
    assert exclusive.value.field == "terms.exclusivity"
    with pytest.raises(InvalidInput) as named:
        validate_tranche_terms(terms(exclusivity="non_exclusive"))
    assert named.value.field == "terms.licensee"
