"""The revenue waterfall, pure: one receipt of an asset's revenue split to the minor unit.

All money is in integer minor units and every step rounds DOWN to the minor unit:

1. ``platform_fee`` = floor(gross x bps / 10000), to the operator;
2. the policy's steps in order, each on what is left: ``admin_fee`` = floor(left x percent
   / 100) to the owner, ``cost_recovery`` = min(left, unrecovered costs) to the owner;
3. the *net* (what is left) is split between classes by the tiers of the asset's
   cumulative net income: the receipt covers the cumulative range
   ``[cumulative_net_before, cumulative_net_before + net)`` and each tier takes the part
   overlapping it; within a tier portion each class gets floor(portion x percent / 100);
4. within a class each holder gets :func:`holder_share` = floor(class_total x units /
   class_units); a class with no units distributes nothing;
5. every leftover minor unit (tier rounding, holder rounding, empty classes) goes to the
   policy's ``residual_holder`` (``"owner"`` means the asset owner) as one ``residual`` line.

Conventions (the journal entry and the offline verifier rely on them):

* ``steps`` always holds the platform fee step first, then one step per policy step, in
  policy order, *even when an amount is 0*: the list's shape depends only on the policy.
* ``lines`` holds one line per (holder, class) for every holder with units > 0, *even when
  its amount is 0*, so the lines of a class account for all of its ``class_units``; holders
  listed with 0 units are dropped, and a party listed twice in a class is merged (units
  summed). Lines are ordered by class in policy order, then by ``party_id``; the residual
  line (``unit_class="residual"``, ``units=0``) comes last, and only if it is not 0.
* ``class_totals`` and ``class_units`` name every policy class, in policy order, zeros
  included.
* A tier's ``from`` (a decimal string in the currency) becomes the minor-unit boundary
  ceil(from x 10^exponent): minor unit k of cumulative net income is in a tier iff
  k >= that boundary. Two `from` values finer than the minor unit may round to the same
  boundary: the tier between them is then empty and takes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any, NamedTuple

__all__ = [
    "RESIDUAL_CLASS",
    "Holder",
    "Line",
    "Step",
    "TierPortion",
    "WaterfallInput",
    "WaterfallResult",
    "holder_share",
    "run_waterfall",
]

RESIDUAL_CLASS = "residual"
_BPS = 10_000
_HUNDRED = 100


# Holder and Line are named tuples rather than frozen dataclasses: a distribution to 100,000
# holders makes 100,000 of each, and a frozen dataclass costs about twice as much to build.
class Holder(NamedTuple):
    """A party holding ``units`` units of one class (units in open orders included)."""

    party_id: str
    units: int


@dataclass(frozen=True)
class WaterfallInput:
    """Everything one receipt's split depends on; see the module docstring for the rules."""

    gross: int
    currency_exponent: int
    policy: Mapping[str, Any]
    platform_fee_bps: int
    unrecovered_costs: int
    cumulative_net_before: int
    holdings: Mapping[str, Sequence[tuple[str, int]]]  # per class, Holders or (party, units) rows
    owner_id: str
    operator_id: str


@dataclass(frozen=True)
class Step:
    """A fee taken before the split: ``platform_fee``, ``admin_fee`` or ``cost_recovery``."""

    kind: str
    amount: int
    party_id: str


@dataclass(frozen=True)
class TierPortion:
    """The part of the net falling in one tier, and what each class gets of it.

    ``start``/``end`` are the tier's own bounds of cumulative net income in minor units
    (``end`` is None for the last, open-ended tier); ``amount`` is the portion of this
    receipt's net inside them; ``shares`` is each class's floor of it.
    """

    start: int
    end: int | None
    amount: int
    shares: dict[str, int]


class Line(NamedTuple):
    """What one party receives for its units of one class (or the ``residual``)."""

    party_id: str
    unit_class: str
    units: int
    amount: int


@dataclass(frozen=True)
class WaterfallResult:
    """The split: steps, net, tier portions, per-class totals and units, and lines."""

    steps: list[Step]
    net: int
    tiers: list[TierPortion]
    class_totals: dict[str, int]
    class_units: dict[str, int]
    lines: list[Line]
    residual: int


def holder_share(class_amount: int, units: int, class_units: int) -> int:
    """floor(class_amount x units / class_units): a holder's share of its class's total.

    A class with no units gives nothing. This is the one rule a holder needs to check its
    own line from the class total and the class's units alone.
    """
    if class_units <= 0:
        return 0
    return class_amount * units // class_units


def _int(value: Any, name: str, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return value


def _fraction(text: Any, name: str) -> Fraction:
    """An exact decimal string (or int) as a Fraction; floats are refused."""
    if isinstance(text, bool) or not isinstance(text, (str, int)):
        raise ValueError(f"{name} must be a decimal string")
    try:
        number = Decimal(str(text))
    except InvalidOperation:
        raise ValueError(f"{name} '{text}' is not a decimal number") from None
    if not number.is_finite():
        raise ValueError(f"{name} must be finite")
    return Fraction(number)


def _floor_percent(amount: int, percent: Fraction) -> int:
    """floor(amount x percent / 100), exactly."""
    return amount * percent.numerator // (percent.denominator * _HUNDRED)


def _boundary(start: Fraction, exponent: int) -> int:
    """A tier's `from` in minor units, rounded up (see the module docstring)."""
    scaled = start * Fraction(10) ** exponent
    return -((-scaled.numerator) // scaled.denominator)


def _policy_steps(
    policy: Mapping[str, Any], left: int, unrecovered: int, owner_id: str
) -> tuple[list[Step], int]:
    steps: list[Step] = []
    for i, step in enumerate(policy.get("steps", [])):
        kind = step.get("kind") if isinstance(step, Mapping) else None
        if kind == "admin_fee":
            amount = _floor_percent(left, _fraction(step.get("percent"), f"steps[{i}].percent"))
        elif kind == "cost_recovery":
            amount = min(left, unrecovered)
        else:
            raise ValueError(f"steps[{i}]: unknown step kind {kind!r}")
        if not 0 <= amount <= left:
            raise ValueError(f"steps[{i}]: a percentage must be between 0 and 100")
        steps.append(Step(kind, amount, owner_id))
        left -= amount
    return steps, left


def _tier_portions(
    policy: Mapping[str, Any], classes: list[str], net: int, before: int, exponent: int
) -> list[TierPortion]:
    tiers = policy.get("tiers")
    if not isinstance(tiers, list) or not tiers:
        raise ValueError("the policy has no tiers")
    bounds = [_boundary(_fraction(t.get("from"), f"tiers[{i}].from"), exponent)
              for i, t in enumerate(tiers)]
    if bounds[0] > 0 or any(a > b for a, b in zip(bounds, bounds[1:], strict=False)):
        raise ValueError("tiers must start at 0 and ascend")
    low, high = before, before + net
    portions: list[TierPortion] = []
    for i, tier in enumerate(tiers):
        start = bounds[i]
        end = bounds[i + 1] if i + 1 < len(bounds) else None
        overlap = (high if end is None else min(end, high)) - max(start, low)
        if overlap <= 0:
            continue
        percents = tier.get("shares")
        if not isinstance(percents, Mapping) or set(percents) != set(classes):
            raise ValueError(f"tiers[{i}].shares must name every class exactly once")
        parsed = {c: _fraction(percents[c], f"tiers[{i}].shares.{c}") for c in classes}
        if any(p < 0 for p in parsed.values()) or sum(parsed.values()) != _HUNDRED:
            raise ValueError(f"tiers[{i}].shares must be non-negative and sum to 100")
        shares = {c: _floor_percent(overlap, parsed[c]) for c in classes}
        portions.append(TierPortion(start, end, overlap, shares))
    return portions


def _class_holders(
    holdings: Mapping[str, Sequence[tuple[str, int]]], classes: list[str]
) -> dict[str, dict[str, int]]:
    """Per class, units per party (merged, zeros dropped), refusing unknown classes."""
    unknown = set(holdings) - set(classes)
    if unknown:
        raise ValueError(f"holdings name classes not in the policy: {sorted(unknown)}")
    out: dict[str, dict[str, int]] = {c: {} for c in classes}
    for cls, holders in holdings.items():
        merged = out[cls]
        for party_id, units in holders:
            # The check of `_int`, inline: this loop runs once per holder.
            if type(units) is not int or units < 0:
                _int(units, f"units of {party_id} in {cls}", 0)
            if units:
                merged[party_id] = merged.get(party_id, 0) + units
    return out


def run_waterfall(inp: WaterfallInput) -> WaterfallResult:
    """Split one receipt by the policy; raise ValueError on invalid input.

    Guarantees: sum(step amounts) + sum(line amounts) == gross, every amount is >= 0, and
    the result does not depend on the order in which holders are listed.
    """
    gross = _int(inp.gross, "gross", 1)
    exponent = _int(inp.currency_exponent, "currency_exponent", 0, 18)
    bps = _int(inp.platform_fee_bps, "platform_fee_bps", 0, _BPS)
    unrecovered = _int(inp.unrecovered_costs, "unrecovered_costs", 0)
    before = _int(inp.cumulative_net_before, "cumulative_net_before", 0)
    policy = inp.policy
    classes = list(policy.get("classes", []))
    if not classes or len(set(classes)) != len(classes) or RESIDUAL_CLASS in classes:
        raise ValueError("the policy needs unique class names other than 'residual'")

    platform_fee = gross * bps // _BPS
    steps = [Step("platform_fee", platform_fee, inp.operator_id)]
    policy_steps, net = _policy_steps(policy, gross - platform_fee, unrecovered, inp.owner_id)
    steps.extend(policy_steps)

    tiers = _tier_portions(policy, classes, net, before, exponent)
    class_totals = {c: sum(t.shares[c] for t in tiers) for c in classes}
    holders = _class_holders(inp.holdings, classes)
    class_units = {c: sum(holders[c].values()) for c in classes}

    lines: list[Line] = []
    residual = net
    for cls in classes:
        total, units_in_class = class_totals[cls], class_units[cls]
        if units_in_class <= 0:  # no holders: the class total goes to the residual
            continue
        # holder_share(total, units, units_in_class), inline: this runs once per holder.
        units_of = holders[cls]
        shares = [Line(party_id, cls, units_of[party_id],
                       total * units_of[party_id] // units_in_class)
                  for party_id in sorted(units_of)]
        residual -= sum(line.amount for line in shares)
        lines += shares
    if residual:
        holder = policy.get("residual_holder", "owner")
        residual_party = inp.owner_id if holder == "owner" else str(holder)
        lines.append(Line(residual_party, RESIDUAL_CLASS, 0, residual))

    assert residual >= 0 and sum(s.amount for s in steps) + net == gross
    return WaterfallResult(
        steps=steps,
        net=net,
        tiers=tiers,
        class_totals=class_totals,
        class_units=class_units,
        lines=lines,
        residual=residual,
    )
