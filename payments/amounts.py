"""Amounts between IPX (ISO 4217 decimals, integer minor units) and Stripe's integer amounts.

Stripe writes every amount as an integer in the currency's "smallest unit", which is mostly,
but not always, the ISO 4217 minor unit (https://docs.stripe.com/currencies):

- zero-decimal currencies (JPY, KRW, CLP, VND, ...) take whole units: 500 JPY is 500;
  MGA is zero-decimal at Stripe although ISO 4217 gives it two places;
- ISK and UGX are zero-decimal in ISO 4217, but for backwards compatibility Stripe takes them
  as two-decimal values whose last two digits are always 0: 5 ISK is 500;
- three-decimal currencies (BHD, JOD, KWD, OMR, TND) take three places, and a charge's last
  digit must be 0: 12.340 KWD is 12340, 12.345 KWD cannot be charged;
- HUF and TWD are two-decimal, but payouts must be whole units (divisible by 100).

Currencies that Stripe does not present (four-decimal CLF and UYW, IQD, LYD, ...) are refused.
Pure: no Flask, no SQLAlchemy.
"""

from __future__ import annotations

from decimal import Decimal
from enum import Enum

from ledger.currency import exponent, from_minor, to_minor
from ledger.errors import InvalidInput

# Stripe's exponent where it differs from ISO 4217's.
_STRIPE_EXPONENT_OVERRIDES: dict[str, int] = {"MGA": 0, "ISK": 2, "UGX": 2}
# ISO 4217 currencies Stripe has no presentment for (or whose minor unit it does not follow).
_UNSUPPORTED = frozenset({"CLF", "UYW", "UYI", "IQD", "LYD", "KPW", "IRR", "SYP", "CUP",
                          "VES", "SSP", "ERN", "TMT", "BTN", "SDG", "MRU", "STN", "ZWL",
                          "SLE"})
_THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})
_WHOLE_UNIT_PAYOUTS = frozenset({"HUF", "TWD"})


class Use(Enum):
    """What an amount is for: Stripe's granularity rules differ between charges and payouts."""

    CHARGE = "charge"
    PAYOUT = "payout"
    REPORTED = "reported"  # an amount Stripe sent us: no granularity rule applies


def stripe_exponent(currency: str) -> int:
    """Decimal places of Stripe's integer amounts in `currency` (InvalidInput if unsupported)."""
    iso = exponent(currency)
    if currency in _UNSUPPORTED:
        raise InvalidInput(f"Stripe does not take payments in {currency}",
                           field="amount.currency")
    return _STRIPE_EXPONENT_OVERRIDES.get(currency, iso)


def _granularity(currency: str, use: Use) -> int:
    """The Stripe amount must be a multiple of this."""
    if use is Use.REPORTED:
        return 1
    if currency in ("ISK", "UGX"):
        return 100
    if currency in _THREE_DECIMAL and use is Use.CHARGE:
        return 10
    if currency in _WHOLE_UNIT_PAYOUTS and use is Use.PAYOUT:
        return 100
    return 1


def to_stripe(amount: Decimal, currency: str, use: Use = Use.CHARGE) -> int:
    """A decimal amount as Stripe's integer; InvalidInput when Stripe cannot represent it
    exactly (never rounds: 0.5 JPY, 12.345 KWD, 0.50 MGA are refused)."""
    places = stripe_exponent(currency)
    scaled = amount.scaleb(places)
    if scaled != scaled.to_integral_value():
        raise InvalidInput(f"Stripe takes {currency} with {places} decimal places; "
                           f"{amount} has more", field="amount.amount")
    value = int(scaled)
    step = _granularity(currency, use)
    if value % step:
        smallest = Decimal(step).scaleb(-places)
        raise InvalidInput(f"Stripe takes {currency} {use.value}s in steps of {smallest}",
                           field="amount.amount")
    return value


def from_stripe(value: int, currency: str) -> Decimal:
    """Stripe's integer amount as a decimal with the currency's ISO 4217 places; InvalidInput
    if it is not a whole number of ISO minor units (e.g. 150 ISK-cents)."""
    places = stripe_exponent(currency)
    amount = Decimal(value).scaleb(-places)
    return from_minor(to_minor(amount, currency), currency)


def ledger_to_stripe(minor: int, currency: str, use: Use = Use.CHARGE) -> int:
    """IPX integer minor units (ISO 4217) as Stripe's integer amount."""
    return to_stripe(from_minor(minor, currency), currency, use)


def stripe_to_ledger(value: int, currency: str) -> int:
    """Stripe's integer amount as IPX integer minor units (ISO 4217)."""
    return to_minor(from_stripe(value, currency), currency)


def normalise_currency(code: str) -> str:
    """Stripe writes currencies in lower case; IPX in ISO 4217 upper case."""
    upper = code.upper()
    exponent(upper)
    return upper
