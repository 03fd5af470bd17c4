"""Licence terms as data: one versioned schema, strict parsing, a canonical form and its hash.

The schema is ``ipx.licence-terms/1``. A raw document (parsed JSON) looks like this; every key
not marked optional is required, and any key not listed is refused::

    {
      "schema": "ipx.licence-terms/1",
      "grantor": "pty_...",                      # party id
      "licensee": "pty_..." | null,              # optional: null/absent on an open offer
      "assets": ["ast_...", ...],                # asset ids, at least one, no duplicates
      "exclusivity": "exclusive" | "sole" | "non_exclusive",
      "field_of_use": [{"code": "diagnostics", "label": "Human diagnostics"}, ...],
      "territory": ["HK", "CN", ...] | ["WORLD"],   # ISO 3166-1 alpha-2, upper case
      "start": "2025-01-01",                     # ISO dates, YYYY-MM-DD
      "end": "2035-01-01",                       # exclusive: the first day not licensed
      "currency": "HKD",                         # ISO 4217; every amount below is in it
      "upfront_fee": "50000.00",                 # optional, default "0"
      "royalty": {                               # optional, default one 0% tier
        "tiers": [{"from": "0", "rate": "5"}, {"from": "1000000", "rate": "3"}],
        "minimum_annual": "10000",               # optional, default "0"
        "stacking": {"floor": "2", "deduction": "50"}   # optional, see below
      },
      "milestones": [{"event": "first_sale", "amount": "25000"}],   # optional
      "sublicence_share": "20",                  # optional, percent, default "0"
      "equity": {"shares": 50000, "share_class": "ordinary", "startup_id": "pty_..."},  # optional
      "report_frequency": "quarterly" | "semiannual" | "annual",
      "audit": {"allowed": true, "notice_days": 30}      # optional, default not allowed
    }

Amounts are plain decimal strings (no sign, no exponent) with at most the currency's
decimal places; in the parsed terms they are integer minor units. Percentages are plain
decimal strings from 0 to 100. A royalty tier applies from its ``from`` amount of
*cumulative* net sales upwards; tiers start at 0 and strictly ascend.

Stacking: when ``royalty.stacking`` is present, the licensee may deduct ``deduction`` percent
(default 100) of the royalties it pays third parties for the same sales, but never below
``floor`` percent of net sales. When it is absent, third-party royalties are not creditable.

Sets are canonicalised: ``assets``, ``territory``, ``field_of_use`` (by code) and
``milestones`` (by event) are sorted, so neither list order, key order nor the spelling of
decimals ("5" vs "5.00") changes :func:`terms_hash`. A party accepts an offer by sending the
hash it read; :func:`verify_terms_hash` refuses a stale one.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar

import iso3166

from ledger.canonical import canonical_bytes
from ledger.currency import CURRENCIES, format_minor, parse_amount, to_minor
from ledger.errors import Conflict, InvalidInput

__all__ = [
    "SCHEMA",
    "WORLD",
    "AuditRight",
    "Equity",
    "Exclusivity",
    "FieldOfUse",
    "LicenceTerms",
    "Milestone",
    "ReportFrequency",
    "RoyaltyTier",
    "Stacking",
    "bind_licensee",
    "is_territory_code",
    "parse_terms",
    "percent_text",
    "terms_hash",
    "terms_json",
    "verify_terms_hash",
]

SCHEMA = "ipx.licence-terms/1"
WORLD = "WORLD"
HUNDRED = Decimal(100)

_MAX_ITEMS = 250  # assets, fields, territories, tiers, milestones: each list at most this long
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
_CODE = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,63}$")
_SHARE_CLASS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,39}$")
_PLAIN_DECIMAL = re.compile(r"^[0-9]{1,18}(\.[0-9]{1,18})?$")
_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_MAX_LABEL = 200
_MAX_NOTICE_DAYS = 365
_MAX_SHARES = 10**15

# ISO 3166-1 reserves these alpha-2 ranges for user assignment (e.g. XK, used for Kosovo by
# some bodies); they are not country codes, so a grant's territory may not use them.
_USER_ASSIGNED = re.compile(r"^(AA|Q[M-Z]|X[A-Z]|ZZ)$")
_COUNTRIES: frozenset[str] = frozenset(
    code for code in iso3166.countries_by_alpha2 if not _USER_ASSIGNED.match(code)
)


class Exclusivity(StrEnum):
    """How exclusive a grant is; see :mod:`contracts.conflicts` for what each forbids."""

    EXCLUSIVE = "exclusive"
    SOLE = "sole"
    NON_EXCLUSIVE = "non_exclusive"


class ReportFrequency(StrEnum):
    """How often the licensee reports net sales; ``months`` is the length of one period."""

    QUARTERLY = "quarterly"
    SEMIANNUAL = "semiannual"
    ANNUAL = "annual"

    @property
    def months(self) -> int:
        """Length of one reporting period in months."""
        return {"quarterly": 3, "semiannual": 6, "annual": 12}[self.value]


@dataclass(frozen=True)
class FieldOfUse:
    """One field of use: a code (what conflicts compare) and a human label."""

    code: str
    label: str


@dataclass(frozen=True)
class RoyaltyTier:
    """A running-royalty rate (percent) applying from ``start`` minor units of cumulative sales."""

    start: int
    rate: Decimal


@dataclass(frozen=True)
class Milestone:
    """A one-off payment of ``amount`` minor units due when ``event`` is reported."""

    event: str
    amount: int


@dataclass(frozen=True)
class Equity:
    """Shares of a start-up given for the licence (the equity-for-IP issue builds on this)."""

    shares: int
    share_class: str
    startup_id: str


@dataclass(frozen=True)
class Stacking:
    """Royalty stacking: ``deduction`` percent of third-party royalties is creditable, but the
    royalty never falls below ``floor`` percent of net sales."""

    floor: Decimal
    deduction: Decimal


@dataclass(frozen=True)
class AuditRight:
    """Whether the grantor may audit the licensee's books, and on how many days' notice."""

    allowed: bool = False
    notice_days: int = 0


@dataclass(frozen=True)
class LicenceTerms:
    """Validated licence terms. Build with :func:`parse_terms`; amounts are minor units.

    Collections are sorted tuples (see the module docstring), dates are ``datetime.date``
    with ``end`` exclusive, and percentages are ``Decimal``.
    """

    grantor: str
    licensee: str | None
    assets: tuple[str, ...]
    exclusivity: Exclusivity
    field_of_use: tuple[FieldOfUse, ...]
    territory: tuple[str, ...]
    start: date
    end: date
    currency: str
    upfront_fee: int
    royalty_tiers: tuple[RoyaltyTier, ...]
    minimum_annual_royalty: int
    stacking: Stacking | None
    milestones: tuple[Milestone, ...]
    sublicence_share: Decimal
    equity: Equity | None
    report_frequency: ReportFrequency
    audit: AuditRight

    @property
    def is_worldwide(self) -> bool:
        """True when the territory is ``["WORLD"]``."""
        return self.territory == (WORLD,)

    @property
    def field_codes(self) -> tuple[str, ...]:
        """The field-of-use codes, sorted."""
        return tuple(f.code for f in self.field_of_use)


# --------------------------------------------------------------------------- parsing helpers

_T = TypeVar("_T")


def _object(raw: Any, where: str, required: Sequence[str], optional: Sequence[str] = ()
            ) -> Mapping[str, Any]:
    """``raw`` as a mapping with only known keys and every required one; else InvalidInput."""
    if not isinstance(raw, Mapping):
        raise InvalidInput("must be an object", field=where)
    known = set(required) | set(optional)
    for key in raw:
        if not isinstance(key, str):
            raise InvalidInput("object keys must be strings", field=where)
        if key not in known:
            raise InvalidInput(f"unknown field '{key}'", field=f"{where}.{key}")
    for key in required:
        if key not in raw:
            raise InvalidInput("is required", field=f"{where}.{key}")
    return raw


def _list(raw: Any, where: str, *, min_items: int = 1) -> list[Any]:
    if not isinstance(raw, list):
        raise InvalidInput("must be a list", field=where)
    if len(raw) < min_items:
        raise InvalidInput(f"must have at least {min_items} item(s)", field=where)
    if len(raw) > _MAX_ITEMS:
        raise InvalidInput(f"must have at most {_MAX_ITEMS} items", field=where)
    return raw


def _identifier(raw: Any, where: str) -> str:
    if not isinstance(raw, str) or not _ID.match(raw):
        raise InvalidInput("must be an id: 1-128 letters, digits, '_', '.', ':' or '-'",
                           field=where)
    return raw


def _code(raw: Any, where: str) -> str:
    if not isinstance(raw, str) or not _CODE.match(raw):
        raise InvalidInput("must be a code: 1-64 lowercase letters, digits, '_', '.', ':' or '-'",
                           field=where)
    return raw


def _decimal(raw: Any, where: str) -> Decimal:
    # Plain decimal strings only: no sign, exponent, NaN or surrounding space to store and hash.
    if not isinstance(raw, str) or not _PLAIN_DECIMAL.match(raw):
        raise InvalidInput('must be a plain decimal string such as "12.50"', field=where)
    return Decimal(raw)


def _amount(raw: Any, currency: str, where: str) -> int:
    value = parse_amount(_decimal(raw, where), currency, field=where)
    return to_minor(value, currency)


def _percent(raw: Any, where: str) -> Decimal:
    value = _decimal(raw, where)
    if value > HUNDRED:
        raise InvalidInput("a percentage must be between 0 and 100", field=where)
    return value


def _date(raw: Any, where: str) -> date:
    if isinstance(raw, date) and type(raw) is date:
        return raw
    if not isinstance(raw, str) or not _ISO_DATE.match(raw):
        raise InvalidInput("must be a date as YYYY-MM-DD", field=where)
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"'{raw}' is not a calendar date", field=where) from None


def _unique(items: Sequence[_T], key: Callable[[_T], str], where: str, what: str) -> None:
    seen: set[str] = set()
    for i, item in enumerate(items):
        k = key(item)
        if k in seen:
            raise InvalidInput(f"duplicate {what} '{k}'", field=f"{where}[{i}]")
        seen.add(k)


def is_territory_code(code: str) -> bool:
    """True for an assigned ISO 3166-1 alpha-2 code (upper case); ``WORLD`` is not one."""
    return code in _COUNTRIES


# --------------------------------------------------------------------------- parse_terms

_TOP_REQUIRED = ("schema", "grantor", "assets", "exclusivity", "field_of_use", "territory",
                 "start", "end", "currency", "report_frequency")
_TOP_OPTIONAL = ("licensee", "upfront_fee", "royalty", "milestones", "sublicence_share",
                 "equity", "audit")


def parse_terms(raw: Mapping[str, Any], *, field: str = "terms") -> LicenceTerms:
    """Validate a raw terms document and return :class:`LicenceTerms`.

    Refuses unknown fields at every level and raises ``InvalidInput`` for the first problem,
    with ``field`` a dotted path below ``field`` (e.g. ``terms.royalty.tiers[1].from``).
    """
    top = _object(raw, field, _TOP_REQUIRED, _TOP_OPTIONAL)
    f = field

    if top["schema"] != SCHEMA:
        raise InvalidInput(f"must be '{SCHEMA}'", field=f"{f}.schema")

    grantor = _identifier(top["grantor"], f"{f}.grantor")
    licensee_raw = top.get("licensee")
    licensee = None if licensee_raw is None else _identifier(licensee_raw, f"{f}.licensee")
    if licensee == grantor:
        raise InvalidInput("the licensee cannot be the grantor", field=f"{f}.licensee")

    assets_raw = _list(top["assets"], f"{f}.assets")
    assets = [_identifier(a, f"{f}.assets[{i}]") for i, a in enumerate(assets_raw)]
    _unique(assets, str, f"{f}.assets", "asset")

    try:
        exclusivity = Exclusivity(top["exclusivity"])
    except (ValueError, TypeError):
        raise InvalidInput("must be one of exclusive, sole, non_exclusive",
                           field=f"{f}.exclusivity") from None

    fields_out: list[FieldOfUse] = []
    for i, item in enumerate(_list(top["field_of_use"], f"{f}.field_of_use")):
        where = f"{f}.field_of_use[{i}]"
        obj = _object(item, where, ("code", "label"))
        code = _code(obj["code"], f"{where}.code")
        label = obj["label"]
        if not isinstance(label, str) or not label.strip() or len(label) > _MAX_LABEL:
            raise InvalidInput(f"must be a non-blank string of at most {_MAX_LABEL} characters",
                               field=f"{where}.label")
        fields_out.append(FieldOfUse(code, label))
    _unique(fields_out, lambda x: x.code, f"{f}.field_of_use", "field of use")

    territory = _territory(top["territory"], f"{f}.territory")

    start = _date(top["start"], f"{f}.start")
    end = _date(top["end"], f"{f}.end")
    if end <= start:
        raise InvalidInput("the end date must be after the start date", field=f"{f}.end")

    currency = top["currency"]
    if not isinstance(currency, str) or currency not in CURRENCIES:
        raise InvalidInput("must be an ISO 4217 currency code such as 'HKD'",
                           field=f"{f}.currency")

    upfront = _amount(top.get("upfront_fee", "0"), currency, f"{f}.upfront_fee")
    tiers, minimum, stacking = _royalty(top.get("royalty"), currency, f"{f}.royalty")

    milestones: list[Milestone] = []
    for i, item in enumerate(_list(top.get("milestones", []), f"{f}.milestones", min_items=0)):
        where = f"{f}.milestones[{i}]"
        obj = _object(item, where, ("event", "amount"))
        event = _code(obj["event"], f"{where}.event")
        amount = _amount(obj["amount"], currency, f"{where}.amount")
        if amount <= 0:
            raise InvalidInput("a milestone amount must be more than 0", field=f"{where}.amount")
        milestones.append(Milestone(event, amount))
    _unique(milestones, lambda m: m.event, f"{f}.milestones", "milestone event")

    sublicence = _percent(top.get("sublicence_share", "0"), f"{f}.sublicence_share")
    equity = _equity(top.get("equity"), f"{f}.equity")

    try:
        frequency = ReportFrequency(top["report_frequency"])
    except (ValueError, TypeError):
        raise InvalidInput("must be one of quarterly, semiannual, annual",
                           field=f"{f}.report_frequency") from None

    audit = _audit(top.get("audit"), f"{f}.audit")

    return LicenceTerms(
        grantor=grantor,
        licensee=licensee,
        assets=tuple(sorted(assets)),
        exclusivity=exclusivity,
        field_of_use=tuple(sorted(fields_out, key=lambda x: x.code)),
        territory=territory,
        start=start,
        end=end,
        currency=currency,
        upfront_fee=upfront,
        royalty_tiers=tiers,
        minimum_annual_royalty=minimum,
        stacking=stacking,
        milestones=tuple(sorted(milestones, key=lambda m: m.event)),
        sublicence_share=sublicence,
        equity=equity,
        report_frequency=frequency,
        audit=audit,
    )


def _territory(raw: Any, where: str) -> tuple[str, ...]:
    codes = _list(raw, where)
    for i, code in enumerate(codes):
        if not isinstance(code, str):
            raise InvalidInput("must be an ISO 3166-1 alpha-2 code", field=f"{where}[{i}]")
        if code == WORLD:
            if len(codes) != 1:
                raise InvalidInput("WORLD must be the only territory when it is used",
                                   field=where)
            return (WORLD,)
        if not is_territory_code(code):
            hint = f" (codes are upper case: '{code.upper()}')" if is_territory_code(
                code.upper()) else ""
            raise InvalidInput(f"'{code}' is not an ISO 3166-1 alpha-2 country code{hint}",
                               field=f"{where}[{i}]")
    _unique(codes, str, where, "territory")
    return tuple(sorted(codes))


def _royalty(raw: Any, currency: str, where: str
             ) -> tuple[tuple[RoyaltyTier, ...], int, Stacking | None]:
    if raw is None:
        return (RoyaltyTier(0, Decimal(0)),), 0, None
    obj = _object(raw, where, ("tiers",), ("minimum_annual", "stacking"))
    tiers: list[RoyaltyTier] = []
    for i, item in enumerate(_list(obj["tiers"], f"{where}.tiers")):
        at = f"{where}.tiers[{i}]"
        tier = _object(item, at, ("from", "rate"))
        start = _amount(tier["from"], currency, f"{at}.from")
        if not tiers and start != 0:
            raise InvalidInput("the first tier must start from 0", field=f"{at}.from")
        if tiers and start <= tiers[-1].start:
            raise InvalidInput("tiers must be in strictly ascending order of 'from'",
                               field=f"{at}.from")
        tiers.append(RoyaltyTier(start, _percent(tier["rate"], f"{at}.rate")))
    minimum = _amount(obj.get("minimum_annual", "0"), currency, f"{where}.minimum_annual")
    stacking: Stacking | None = None
    if obj.get("stacking") is not None:
        at = f"{where}.stacking"
        st = _object(obj["stacking"], at, ("floor",), ("deduction",))
        stacking = Stacking(floor=_percent(st["floor"], f"{at}.floor"),
                            deduction=_percent(st.get("deduction", "100"), f"{at}.deduction"))
    return tuple(tiers), minimum, stacking


def _equity(raw: Any, where: str) -> Equity | None:
    if raw is None:
        return None
    obj = _object(raw, where, ("shares", "share_class", "startup_id"))
    shares = obj["shares"]
    if isinstance(shares, bool) or not isinstance(shares, int) or not 1 <= shares <= _MAX_SHARES:
        raise InvalidInput("must be a whole number of shares from 1 to 10^15",
                           field=f"{where}.shares")
    share_class = obj["share_class"]
    if not isinstance(share_class, str) or not _SHARE_CLASS.match(share_class):
        raise InvalidInput("must be 1-40 letters, digits, spaces, '_', '.' or '-'",
                           field=f"{where}.share_class")
    return Equity(shares, share_class, _identifier(obj["startup_id"], f"{where}.startup_id"))


def _audit(raw: Any, where: str) -> AuditRight:
    if raw is None:
        return AuditRight()
    obj = _object(raw, where, ("allowed",), ("notice_days",))
    allowed = obj["allowed"]
    if not isinstance(allowed, bool):
        raise InvalidInput("must be true or false", field=f"{where}.allowed")
    if not allowed:
        if obj.get("notice_days", 0) != 0:
            raise InvalidInput("notice days apply only when an audit is allowed",
                               field=f"{where}.notice_days")
        return AuditRight()
    if "notice_days" not in obj:
        raise InvalidInput("is required when an audit is allowed", field=f"{where}.notice_days")
    days = obj["notice_days"]
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= _MAX_NOTICE_DAYS:
        raise InvalidInput(f"must be a whole number of days from 0 to {_MAX_NOTICE_DAYS}",
                           field=f"{where}.notice_days")
    return AuditRight(True, days)


# --------------------------------------------------------------------------- canonical form

def percent_text(value: Decimal) -> str:
    """A percentage as canonical text: no exponent or trailing zeros, so equal terms hash equal."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def terms_json(terms: LicenceTerms) -> dict[str, Any]:
    """The canonical JSON form: every key present (optional ones as null/defaults), sets
    sorted, amounts as decimal strings with the currency's places, percentages normalised.

    ``parse_terms(terms_json(t)) == t`` for any parsed ``t``.
    """
    c = terms.currency

    def money(minor: int) -> str:
        return format_minor(minor, c)

    return {
        "schema": SCHEMA,
        "grantor": terms.grantor,
        "licensee": terms.licensee,
        "assets": list(terms.assets),
        "exclusivity": terms.exclusivity.value,
        "field_of_use": [{"code": x.code, "label": x.label} for x in terms.field_of_use],
        "territory": list(terms.territory),
        "start": terms.start.isoformat(),
        "end": terms.end.isoformat(),
        "currency": c,
        "upfront_fee": money(terms.upfront_fee),
        "royalty": {
            "tiers": [{"from": money(t.start), "rate": percent_text(t.rate)}
                      for t in terms.royalty_tiers],
            "minimum_annual": money(terms.minimum_annual_royalty),
            "stacking": None if terms.stacking is None else {
                "floor": percent_text(terms.stacking.floor),
                "deduction": percent_text(terms.stacking.deduction),
            },
        },
        "milestones": [{"event": m.event, "amount": money(m.amount)} for m in terms.milestones],
        "sublicence_share": percent_text(terms.sublicence_share),
        "equity": None if terms.equity is None else {
            "shares": terms.equity.shares,
            "share_class": terms.equity.share_class,
            "startup_id": terms.equity.startup_id,
        },
        "report_frequency": terms.report_frequency.value,
        "audit": {"allowed": terms.audit.allowed, "notice_days": terms.audit.notice_days},
    }


def terms_hash(terms: LicenceTerms) -> str:
    """SHA-256 (lowercase hex) of the RFC 8785 canonical JSON of :func:`terms_json`."""
    return hashlib.sha256(canonical_bytes(terms_json(terms))).hexdigest()


def verify_terms_hash(terms: LicenceTerms, presented: str, *, field: str = "terms_hash") -> None:
    """Check the hash a party sent when accepting; a different one means it read other terms.

    Raises ``InvalidInput`` if ``presented`` is not 64 lowercase hex digits, and ``Conflict``
    if it is not the hash of ``terms`` (the offer changed since the party read it).
    """
    if not isinstance(presented, str) or not re.fullmatch(r"[0-9a-f]{64}", presented):
        raise InvalidInput("must be a SHA-256 hash as 64 lowercase hex digits", field=field)
    current = terms_hash(terms)
    if presented != current:
        raise Conflict(f"the terms changed: you accepted {presented[:12]}..., the current terms "
                       f"hash is {current}; read the terms again", field=field)


def bind_licensee(terms: LicenceTerms, licensee: str, *, field: str = "licensee"
                  ) -> LicenceTerms:
    """Terms of an open offer with ``licensee`` filled in (the terms the grant records).

    Returns ``terms`` unchanged if it already names ``licensee``; raises ``Conflict`` if it
    names someone else, and ``InvalidInput`` for a malformed id or the grantor itself.
    """
    licensee = _identifier(licensee, field)
    if licensee == terms.grantor:
        raise InvalidInput("the grantor cannot take a licence of its own offer", field=field)
    if terms.licensee is not None:
        if terms.licensee != licensee:
            raise Conflict("this offer is made to another licensee", field=field)
        return terms
    return replace(terms, licensee=licensee)
