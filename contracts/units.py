"""Licence units (IPXI's "unit licence right"): tranche arithmetic and consumption, pure.

A grantor issues a tranche of ``units`` units of one standard non-exclusive licence; each unit
is the right to make or sell ``products_per_unit`` products. Buyers subscribe at the fixed
``price_per_unit`` until the tranche sells out or reaches ``closes_at``; they pay at close, and
the units then trade as an exchange instrument. A holder consumes units by reporting
production, and consumed units are burned.

Consumption rounds *up*: a holder consumes whole units, enough to cover every product it
reports. To avoid losing the unused part of a unit on every report, pass the holder's earlier
production as ``products_before``: the units consumed are then
``ceil((before + reported) / K) - ceil(before / K)``, so the total consumed over any sequence
of reports is ``ceil(total products / K)``, the same as one report of everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from contracts.lifecycle import TrancheEvent
from contracts.terms import Exclusivity, LicenceTerms
from ledger.currency import CURRENCIES
from ledger.errors import Conflict, InsufficientUnits, InvalidInput

__all__ = ["LicenceUnitTranche", "consume", "units_to_consume", "validate_tranche_terms"]

_MAX_UNITS = 10**12
_MAX_PRODUCTS_PER_UNIT = 10**12
_MAX_PRICE = 10**18


def _whole(value: object, field: str, *, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("must be a whole number", field=field)
    if value < low or (high is not None and value > high):
        bound = f"from {low} to {high}" if high is not None else f"{low} or more"
        raise InvalidInput(f"must be {bound}", field=field)
    return value


@dataclass(frozen=True)
class LicenceUnitTranche:
    """One tranche: ``units`` units of ``products_per_unit`` products each, sold at
    ``price_per_unit`` minor units of ``currency`` until ``closes_at`` (UTC-aware).

    The constructor validates and raises ``InvalidInput`` naming the field.
    """

    units: int
    products_per_unit: int
    price_per_unit: int
    currency: str
    closes_at: datetime

    def __post_init__(self) -> None:
        _whole(self.units, "units", low=1, high=_MAX_UNITS)
        _whole(self.products_per_unit, "products_per_unit", low=1, high=_MAX_PRODUCTS_PER_UNIT)
        _whole(self.price_per_unit, "price_per_unit", low=0, high=_MAX_PRICE)
        if self.currency not in CURRENCIES:
            raise InvalidInput("must be an ISO 4217 currency code", field="currency")
        if not isinstance(self.closes_at, datetime) or self.closes_at.utcoffset() != timedelta(0):
            raise InvalidInput("must be a UTC date and time", field="closes_at")

    @property
    def total_products(self) -> int:
        """Products the whole tranche licenses."""
        return self.units * self.products_per_unit

    def price_of(self, units: int) -> int:
        """What ``units`` units cost, in minor units."""
        return _whole(units, "units", low=0) * self.price_per_unit

    def remaining(self, sold: int) -> int:
        """Units still for sale when ``sold`` have been subscribed."""
        return self.units - _whole(sold, "sold", low=0, high=self.units)

    def check_subscription(self, *, sold: int, requested: int, now: datetime) -> int:
        """Validate a subscription for ``requested`` units; return its price in minor units.

        Raises ``InvalidInput`` for a non-positive request, ``Conflict`` once the tranche has
        reached its end, and ``InsufficientUnits`` (a Conflict) for more than remain.
        """
        _whole(requested, "units", low=1)
        if now >= self.closes_at:
            raise Conflict("the tranche has closed: subscriptions ended at "
                           f"{self.closes_at.isoformat()}", field="units")
        left = self.remaining(sold)
        if requested > left:
            raise InsufficientUnits(f"only {left} unit(s) of this tranche remain; "
                                    f"{requested} requested", field="units")
        return self.price_of(requested)

    def close_event(self, *, sold: int, now: datetime) -> TrancheEvent | None:
        """The event that closes the tranche now (sold out first, then its end), or None."""
        if self.remaining(sold) == 0:
            return TrancheEvent.SELL_OUT
        if now >= self.closes_at:
            return TrancheEvent.REACH_END
        return None


def units_to_consume(products_reported: int, products_per_unit: int, *,
                     products_before: int = 0) -> int:
    """Whole units to burn for ``products_reported`` new products, rounding up.

    With ``products_before`` (the holder's earlier production on units of this licence), only
    the units the new products newly start are consumed (see the module docstring).
    """
    reported = _whole(products_reported, "products", low=0)
    per_unit = _whole(products_per_unit, "products_per_unit", low=1)
    before = _whole(products_before, "products_before", low=0)
    return -(-(before + reported) // per_unit) - -(-before // per_unit)


def consume(held: int, products_reported: int, products_per_unit: int, *,
            products_before: int = 0) -> int:
    """The units to burn from a holding of ``held`` units for a production report.

    Raises ``InvalidInput`` (field ``products``) when that needs more units than are held.
    """
    held = _whole(held, "held", low=0)
    needed = units_to_consume(products_reported, products_per_unit,
                              products_before=products_before)
    if needed > held:
        raise InvalidInput(f"{products_reported} product(s) need {needed} unit(s) but only "
                           f"{held} are held", field="products")
    return needed


def validate_tranche_terms(terms: LicenceTerms) -> None:
    """Licence units are of a standard non-exclusive licence open to any holder: refuse
    other terms (``InvalidInput`` naming the field)."""
    if terms.exclusivity is not Exclusivity.NON_EXCLUSIVE:
        raise InvalidInput("licence units need non_exclusive terms",
                           field="terms.exclusivity")
    if terms.licensee is not None:
        raise InvalidInput("licence unit terms name no licensee: each holder becomes one",
                           field="terms.licensee")
