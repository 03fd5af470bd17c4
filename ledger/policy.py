"""Distribution policies as data, pure: the presets, validation, and the hash that pins them.

A policy says how one receipt of an asset's revenue is split: fee steps in order (an
administration fee, recovery of the asset's unrecovered costs), then tiers by the asset's
cumulative net income that divide the rest between unit classes. Percentages are decimal
strings; a tier applies from its `from` amount (in the asset's currency) upwards.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ledger.canonical import canonical_bytes
from ledger.errors import InvalidInput

DEFAULT_UNITS_PER_CLASS = 1_000_000
STEP_KINDS = ("admin_fee", "cost_recovery")
# Names a distribution already gives to its non-class lines.
RESERVED_CLASSES = frozenset({"residual", "platform_fee", *STEP_KINDS})
_CLASS_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_POLICY_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
HUNDRED = Decimal(100)
_PLAIN_DECIMAL = re.compile(r"^[0-9]{1,20}(\.[0-9]{1,20})?$")


def _tier(start: str, **shares: str) -> dict[str, Any]:
    return {"from": start, "shares": shares}


PRESETS: dict[str, dict[str, Any]] = {
    "hku-2023": {
        "name": "hku-2023",
        "steps": [{"kind": "cost_recovery"}],
        "classes": ["inventor", "university"],
        "tiers": [_tier("0", inventor="70", university="30")],
    },
    "hk-legacy": {
        "name": "hk-legacy",
        "steps": [{"kind": "cost_recovery"}],
        "classes": ["inventor", "university"],
        "tiers": [_tier("0", inventor="33.3", university="66.7")],
    },
    "uc-1997": {
        "name": "uc-1997",
        "steps": [{"kind": "admin_fee", "percent": "15"}, {"kind": "cost_recovery"}],
        "classes": ["inventor", "research", "university"],
        "tiers": [_tier("0", inventor="35", research="15", university="50")],
    },
    "stanford-tiers": {
        "name": "stanford-tiers",
        "steps": [{"kind": "admin_fee", "percent": "15"}, {"kind": "cost_recovery"}],
        "classes": ["inventor", "department", "school", "university"],
        "tiers": [
            _tier("0", inventor="33.34", department="24.66", school="21", university="21"),
            _tier("3000000", inventor="33.34", department="14.66", school="26", university="26"),
        ],
    },
}


def _decimal(value: Any, field: str) -> Decimal:
    # Plain decimal strings only: no exponents, signs or huge magnitudes to store and hash.
    if not isinstance(value, str) or not _PLAIN_DECIMAL.match(value):
        raise InvalidInput("must be a decimal string such as \"33.3\"", field=field)
    return Decimal(value)


def _text(number: Decimal) -> str:
    """A decimal as text with no exponent or trailing zeros, so equal policies hash equal."""
    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def _percent(value: Any, field: str) -> Decimal:
    number = _decimal(value, field)
    if not Decimal(0) <= number <= HUNDRED:
        raise InvalidInput("a percentage must be between 0 and 100", field=field)
    return number


def normalise_policy(raw: Mapping[str, Any], *, field: str = "policy") -> dict[str, Any]:
    """Validate a policy and return it in canonical form; raise InvalidInput naming the field."""
    if not isinstance(raw, Mapping):
        raise InvalidInput("must be a preset name or a policy object", field=field)
    known = {"name", "steps", "classes", "tiers", "residual_holder", "units_per_class",
             "equity_cap"}
    for key in raw:
        if key not in known:
            raise InvalidInput(f"unknown field '{key}'", field=f"{field}.{key}")

    name = raw.get("name", "custom")
    if not isinstance(name, str) or not _POLICY_NAME.match(name):
        raise InvalidInput("must be 1-100 lowercase letters, digits, '.', '_' or '-'",
                           field=f"{field}.name")

    classes = raw.get("classes")
    if not isinstance(classes, list) or not classes:
        raise InvalidInput("must be a non-empty list of class names", field=f"{field}.classes")
    for i, cls in enumerate(classes):
        if not isinstance(cls, str) or not _CLASS_NAME.match(cls):
            raise InvalidInput("class names are lowercase identifiers",
                               field=f"{field}.classes[{i}]")
    if len(set(classes)) != len(classes):
        raise InvalidInput("class names must be unique", field=f"{field}.classes")
    if RESERVED_CLASSES & set(classes):
        raise InvalidInput(f"{', '.join(sorted(RESERVED_CLASSES))} name distribution lines, "
                           "not classes", field=f"{field}.classes")

    steps_out: list[dict[str, Any]] = []
    steps = raw.get("steps", [])
    if not isinstance(steps, list):
        raise InvalidInput("must be a list", field=f"{field}.steps")
    for i, step in enumerate(steps):
        where = f"{field}.steps[{i}]"
        if not isinstance(step, Mapping) or step.get("kind") not in STEP_KINDS:
            raise InvalidInput(f"kind must be one of {', '.join(STEP_KINDS)}", field=where)
        if any(s["kind"] == step["kind"] for s in steps_out):
            raise InvalidInput(f"step '{step['kind']}' appears twice", field=where)
        if step["kind"] == "admin_fee":
            if set(step) - {"kind", "percent"}:
                raise InvalidInput("admin_fee takes only 'percent'", field=where)
            percent = _percent(step.get("percent"), f"{where}.percent")
            steps_out.append({"kind": "admin_fee", "percent": _text(percent)})
        else:
            if set(step) - {"kind"}:
                raise InvalidInput("cost_recovery takes no parameters", field=where)
            steps_out.append({"kind": "cost_recovery"})

    tiers = raw.get("tiers")
    if not isinstance(tiers, list) or not tiers:
        raise InvalidInput("must be a non-empty list of tiers", field=f"{field}.tiers")
    tiers_out: list[dict[str, Any]] = []
    previous: Decimal | None = None
    for i, tier in enumerate(tiers):
        where = f"{field}.tiers[{i}]"
        if not isinstance(tier, Mapping) or set(tier) != {"from", "shares"}:
            raise InvalidInput("a tier is {from, shares}", field=where)
        start = _decimal(tier["from"], f"{where}.from")
        if previous is None and start != 0:
            raise InvalidInput("the first tier must start from 0", field=f"{where}.from")
        if previous is not None and start <= previous:
            raise InvalidInput("tiers must be in strictly ascending order", field=f"{where}.from")
        previous = start
        shares = tier["shares"]
        if not isinstance(shares, Mapping) or set(shares) != set(classes):
            raise InvalidInput("shares must name every class exactly once",
                               field=f"{where}.shares")
        parsed = {c: _percent(shares[c], f"{where}.shares.{c}") for c in classes}
        if sum(parsed.values()) != HUNDRED:
            raise InvalidInput(f"shares sum to {_text(sum(parsed.values(), Decimal(0)))}, not 100",
                               field=f"{where}.shares")
        tiers_out.append({"from": _text(start), "shares": {c: _text(v) for c, v in parsed.items()}})

    residual = raw.get("residual_holder", "owner")
    if not isinstance(residual, str) or not residual:
        raise InvalidInput("must be 'owner' or a party id", field=f"{field}.residual_holder")

    units = raw.get("units_per_class", DEFAULT_UNITS_PER_CLASS)
    if isinstance(units, bool) or not isinstance(units, int) or not 1 <= units <= 10**12:
        raise InvalidInput("must be an integer from 1 to 10^12", field=f"{field}.units_per_class")

    out: dict[str, Any] = {
        "name": name,
        "steps": steps_out,
        "classes": list(classes),
        "tiers": tiers_out,
        "residual_holder": residual,
        "units_per_class": units,
    }
    # Optional, and absent from the canonical form when not given, so that every policy
    # pinned before it existed keeps its hash: the most equity (percent of a start-up's
    # fully diluted shares after issuance) the owner asks for a licence of the asset.
    if "equity_cap" in raw:
        cap = _percent(raw["equity_cap"], f"{field}.equity_cap")
        if cap == 0:
            raise InvalidInput("a cap must be more than 0", field=f"{field}.equity_cap")
        out["equity_cap"] = _text(cap)
    return out


def resolve_policy(spec: str | Mapping[str, Any], *, field: str = "policy") -> dict[str, Any]:
    """A preset name or a policy object, validated and canonical."""
    if isinstance(spec, str):
        if spec not in PRESETS:
            raise InvalidInput(
                f"unknown preset '{spec}'; presets are {', '.join(sorted(PRESETS))}", field=field
            )
        return normalise_policy(PRESETS[spec], field=field)
    return normalise_policy(spec, field=field)


def policy_hash(policy: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the policy's canonical JSON: what assets and journal entries pin."""
    return hashlib.sha256(canonical_bytes(policy)).hexdigest()


def split_units(total: int, shares: list[tuple[str, Decimal]]) -> dict[str, int]:
    """Split `total` units by decimal shares summing to 1, exactly (largest remainder).

    Ties in the remainder go to the earlier-listed holder, so the split is deterministic.
    """
    floors = {who: int((Decimal(total) * share).to_integral_value(rounding="ROUND_FLOOR"))
              for who, share in shares}
    left = total - sum(floors.values())
    order = sorted(
        range(len(shares)),
        key=lambda i: (-(Decimal(total) * shares[i][1] - floors[shares[i][0]]), i),
    )
    for i in order[:left]:
        floors[shares[i][0]] += 1
    return floors
