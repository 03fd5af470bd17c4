"""Equity-for-IP deals, pure: a start-up's shares (and optionally cash and a royalty) for a
licence, negotiated between the start-up and the university, capped by the university's policy.

**Terms.** :class:`DealTerms` name the licence by the hash of its licence terms
(:func:`contracts.terms.terms_hash`), the shares offered (a number of shares of one class of the
start-up), optional cash (minor units of a currency) and an optional running royalty (percent
of net sales). :func:`parse_deal_terms` reads the JSON form::

    {
      "licence_terms_hash": "<64 lowercase hex digits>",
      "shares": 52631,
      "share_class": "ordinary",
      "cash": {"amount": "250000.00", "currency": "HKD"},    # optional, default none
      "royalty_percent": "2"                                 # optional, default "0"
    }

**Negotiation.** The start-up proposes (:func:`propose_deal`); the party the terms on the
table are addressed to may counter with new terms (:func:`counter_deal`), accept them by
sending the hash of the deal terms it read (:func:`accept_deal`), or reject them
(:func:`reject_deal`); either party may withdraw before execution (:func:`withdraw_deal`).
:func:`execute_deal` turns an accepted deal into an issuance of the start-up's shares to the
university and returns the new cap table. Every step is appended to ``EquityDeal.steps`` for
the journal. The states are :data:`contracts.lifecycle.EQUITY_DEAL`.

**The equity cap.** A university's policy caps the equity it takes for a licence as a
percentage of the start-up's *fully diluted* shares (:class:`EquityCap`; presets
``hku-2023``: 5%, ``hk-legacy``: 10%, the cap HKU applied before 2023). The percentage is the
deal's new shares over the fully diluted count **after** those shares are issued: the new
shares dilute everyone, themselves included, so ``N / (F + N)`` and not ``N / F``. With
``F = 1,000,000`` fully diluted shares before the deal, 52,631 new shares are
52,631 / 1,052,631 = 4.999948% (within 5%), but 52,632 are 5.000038% (over). The comparison is
exact (integer arithmetic), never on a rounded percentage. Every proposal, counter-proposal
and execution is checked against the cap and against the class's authorised shares; a
refusal is ``InvalidInput`` with the reason, e.g. "asks 6.2% of fully diluted shares; the
university's policy caps equity at 5%".

The cap concerns the shares this deal asks; shares the university already holds in the
start-up (from an earlier deal or a purchase) are not added.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

from contracts.cap_table import (
    CapTable,
    Issuance,
    Stakeholder,
    apply_issuance,
    fully_diluted,
    with_stakeholder,
)
from contracts.lifecycle import EQUITY_DEAL, DealEvent, DealState, transition
from contracts.terms import LicenceTerms, percent_text, terms_hash
from ledger.canonical import canonical_bytes
from ledger.currency import CURRENCIES, format_minor, parse_amount, to_minor
from ledger.errors import Conflict, InvalidInput, PermissionDenied
from ledger.policy import resolve_policy

__all__ = [
    "DEAL_TERMS_SCHEMA",
    "EQUITY_CAP_PRESETS",
    "DealExecution",
    "DealStep",
    "DealTerms",
    "EquityCap",
    "EquityDeal",
    "accept_deal",
    "check_deal_terms",
    "check_equity_cap",
    "check_licence_terms",
    "counter_deal",
    "deal_terms_hash",
    "deal_terms_json",
    "equity_cap",
    "execute_deal",
    "max_shares_within_cap",
    "parse_deal_terms",
    "policy_equity_cap",
    "propose_deal",
    "reject_deal",
    "withdraw_deal",
]

DEAL_TERMS_SCHEMA = "ipx.equity-deal-terms/1"
EQUITY_CAP_PRESETS: Mapping[str, str] = {"hku-2023": "5", "hk-legacy": "10"}
"""Policy name -> the most equity (percent of fully diluted shares) the university asks."""

_HUNDRED = Decimal(100)
_MAX_SHARES = 10**15
_MAX_REASON = 1000
_HASH = re.compile(r"^[0-9a-f]{64}$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
_CLASS_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,39}$")
_PLAIN_DECIMAL = re.compile(r"^[0-9]{1,18}(\.[0-9]{1,18})?$")
_POLICY_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")


# --------------------------------------------------------------------------- helpers

def _identifier(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise InvalidInput("must be an id: 1-128 letters, digits, '_', '.', ':' or '-'",
                           field=where)
    return value


def _percent(value: Any, where: str, *, low_exclusive: bool = False) -> Decimal:
    if not isinstance(value, str) or not _PLAIN_DECIMAL.match(value):
        raise InvalidInput('must be a plain decimal string such as "5" or "2.5"', field=where)
    number = Decimal(value)
    if number > _HUNDRED or (low_exclusive and number == 0):
        bound = "more than 0 and at most 100" if low_exclusive else "from 0 to 100"
        raise InvalidInput(f"a percentage must be {bound}", field=where)
    return number


def _reason(value: Any, where: str, *, optional: bool) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > _MAX_REASON:
        raise InvalidInput(f"must be a non-blank string of at most {_MAX_REASON} characters",
                           field=where)
    return value


def _shown_percent(shares: int, total: int, cap: Decimal) -> str:
    """``shares / total`` (over ``cap``) as a percent with one decimal place, or as many more
    as it takes to print a value above the cap (so "5.00004%", never "5.0%", over 5%)."""
    exact = Fraction(shares * 100, total)
    for places in range(1, 13):
        shown = Decimal(round(exact * 10**places)).scaleb(-places)
        if shown > cap:
            return format(shown, "f")
    return format(Decimal(exact.numerator) / Decimal(exact.denominator), "f")


# --------------------------------------------------------------------------- the cap

@dataclass(frozen=True)
class EquityCap:
    """The most equity a university's policy lets it ask: ``max_percent`` percent of the
    start-up's fully diluted shares after issuance. ``policy`` names where it comes from."""

    policy: str
    max_percent: Decimal


def equity_cap(spec: str | Mapping[str, Any], *, field: str = "equity_cap") -> EquityCap:
    """A cap from a preset name (``"hku-2023"``: 5%, ``"hk-legacy"``: 10%) or an object
    ``{"policy": "custom-name", "max_percent": "7.5"}`` (more than 0, at most 100)."""
    if isinstance(spec, str):
        if spec not in EQUITY_CAP_PRESETS:
            raise InvalidInput(f"unknown equity cap preset '{spec}'; presets are "
                               f"{', '.join(sorted(EQUITY_CAP_PRESETS))}", field=field)
        return EquityCap(spec, Decimal(EQUITY_CAP_PRESETS[spec]))
    if not isinstance(spec, Mapping):
        raise InvalidInput("must be a preset name or an object", field=field)
    for key in spec:
        if key not in ("policy", "max_percent"):
            raise InvalidInput(f"unknown field '{key}'", field=f"{field}.{key}")
    policy = spec.get("policy", "custom")
    if not isinstance(policy, str) or not _POLICY_NAME.match(policy):
        raise InvalidInput("must be 1-100 lowercase letters, digits, '.', '_' or '-'",
                           field=f"{field}.policy")
    if "max_percent" not in spec:
        raise InvalidInput("is required", field=f"{field}.max_percent")
    return EquityCap(policy, _percent(spec["max_percent"], f"{field}.max_percent",
                                      low_exclusive=True))


def policy_equity_cap(policy: Mapping[str, Any]) -> EquityCap:
    """The cap a pinned distribution policy (its canonical body) sets for its asset.

    A policy states it as ``equity_cap`` (a percent, see :mod:`ledger.policy`). A preset
    pinned as published (its body exactly the preset's, so its hash is the preset's) caps
    at its :data:`EQUITY_CAP_PRESETS` entry, so ``hku-2023`` asks at most 5% without its
    pinned hash changing. Any other policy states no cap: only the authorised shares limit
    the deal (a cap of 100%).
    """
    name = policy.get("name", "custom")
    stated = policy.get("equity_cap")
    if stated is not None:
        return equity_cap({"policy": name, "max_percent": stated}, field="policy.equity_cap")
    if name in EQUITY_CAP_PRESETS and dict(policy) == resolve_policy(name):
        return equity_cap(name)
    return EquityCap(name if _POLICY_NAME.match(str(name)) else "custom", _HUNDRED)


def max_shares_within_cap(fully_diluted_before: int, cap: EquityCap) -> int:
    """The most new shares ``N`` with ``N / (fully_diluted_before + N) <= cap``.

    That is ``floor(F x p / (100 - p))``, unbounded for a 100% cap (returns ``10^15``).
    """
    if isinstance(fully_diluted_before, bool) or not isinstance(fully_diluted_before, int) \
            or fully_diluted_before < 0:
        raise InvalidInput("must be a whole number, 0 or more", field="fully_diluted")
    p = Fraction(cap.max_percent)
    if p >= 100:
        return _MAX_SHARES
    return int(fully_diluted_before * p / (100 - p))


def check_equity_cap(shares: int, cap_table_after: CapTable, cap: EquityCap, *,
                     field: str = "shares") -> None:
    """Refuse ``shares`` new shares over ``cap``, measured on ``cap_table_after``: the table
    *with those shares already issued* (see the module docstring).

    Raises ``InvalidInput`` (at ``field``) with the reason, e.g. "asks 6.2% of fully diluted
    shares; the university's policy caps equity at 5% (...)".
    """
    if isinstance(shares, bool) or not isinstance(shares, int) or shares < 1:
        raise InvalidInput("must be a whole number of shares, 1 or more", field=field)
    total = fully_diluted(cap_table_after)
    if shares > total:
        raise InvalidInput(f"{shares:,} new shares cannot be more than the {total:,} fully "
                           "diluted shares after issuing them; pass the table after issuance",
                           field=field)
    _refuse_over_cap(shares, total, cap, field)


def _refuse_over_cap(shares: int, total_after: int, cap: EquityCap, field: str) -> None:
    """The exact comparison ``shares / total_after > cap`` and its refusal."""
    if Fraction(shares * 100, total_after) <= Fraction(cap.max_percent):
        return
    limit = max_shares_within_cap(total_after - shares, cap)
    raise InvalidInput(
        f"asks {_shown_percent(shares, total_after, cap.max_percent)}% of fully diluted "
        f"shares; the university's policy caps equity at {percent_text(cap.max_percent)}% "
        f"({shares:,} of {total_after:,} fully diluted shares after issuance; policy "
        f"{cap.policy} allows at most {limit:,} new shares)", field=field)


# --------------------------------------------------------------------------- deal terms

@dataclass(frozen=True)
class DealTerms:
    """What the start-up gives for the licence ``licence_terms_hash``: ``shares`` shares of
    ``share_class``, ``cash`` minor units of ``currency`` (``currency`` is None when there
    is no cash) and a running royalty of ``royalty_percent`` percent of net sales."""

    licence_terms_hash: str
    shares: int
    share_class: str
    cash: int = 0
    currency: str | None = None
    royalty_percent: Decimal = Decimal(0)


def parse_deal_terms(raw: Mapping[str, Any], *, field: str = "terms") -> DealTerms:
    """Validate the JSON form (module docstring) and return :class:`DealTerms`.

    Raises ``InvalidInput`` for the first problem, naming it with a dotted path below
    ``field`` (e.g. ``terms.cash.amount``).
    """
    if not isinstance(raw, Mapping):
        raise InvalidInput("must be an object", field=field)
    known = ("schema", "licence_terms_hash", "shares", "share_class", "cash", "royalty_percent")
    for key in raw:
        if key not in known:
            raise InvalidInput(f"unknown field '{key}'", field=f"{field}.{key}")
    for key in ("licence_terms_hash", "shares", "share_class"):
        if key not in raw:
            raise InvalidInput("is required", field=f"{field}.{key}")
    if raw.get("schema", DEAL_TERMS_SCHEMA) != DEAL_TERMS_SCHEMA:
        raise InvalidInput(f"must be '{DEAL_TERMS_SCHEMA}'", field=f"{field}.schema")
    cash, currency = 0, None
    money = raw.get("cash")
    if money is not None:
        if not isinstance(money, Mapping) or set(money) != {"amount", "currency"}:
            raise InvalidInput('must be {"amount": "...", "currency": "..."}',
                               field=f"{field}.cash")
        currency = money["currency"]
        if not isinstance(currency, str) or currency not in CURRENCIES:
            raise InvalidInput("must be an ISO 4217 currency code", field=f"{field}.cash.currency")
        amount = money["amount"]
        if not isinstance(amount, str) or not _PLAIN_DECIMAL.match(amount):
            raise InvalidInput('must be a plain decimal string such as "250000.00"',
                               field=f"{field}.cash.amount")
        cash = to_minor(parse_amount(amount, currency, field=f"{field}.cash.amount"), currency)
    royalty = _percent(raw.get("royalty_percent", "0"), f"{field}.royalty_percent")
    terms = DealTerms(raw["licence_terms_hash"], raw["shares"], raw["share_class"], cash,
                      currency, royalty)
    _check_terms_shape(terms, field)
    return terms


def _check_terms_shape(terms: Any, field: str) -> DealTerms:
    if not isinstance(terms, DealTerms):
        raise InvalidInput("must be deal terms", field=field)
    h = terms.licence_terms_hash
    if not isinstance(h, str) or not _HASH.match(h):
        raise InvalidInput("must be a SHA-256 hash as 64 lowercase hex digits",
                           field=f"{field}.licence_terms_hash")
    s = terms.shares
    if isinstance(s, bool) or not isinstance(s, int) or not 1 <= s <= _MAX_SHARES:
        raise InvalidInput("must be a whole number of shares from 1 to 10^15",
                           field=f"{field}.shares")
    if not isinstance(terms.share_class, str) or not _CLASS_NAME.match(terms.share_class):
        raise InvalidInput("must be 1-40 letters, digits, spaces, '_', '.' or '-'",
                           field=f"{field}.share_class")
    c = terms.cash
    if isinstance(c, bool) or not isinstance(c, int) or c < 0:
        raise InvalidInput("must be a whole number of minor units, 0 or more",
                           field=f"{field}.cash.amount")
    if terms.currency is None and c:
        raise InvalidInput("cash needs a currency", field=f"{field}.cash.currency")
    if terms.currency is not None and terms.currency not in CURRENCIES:
        raise InvalidInput("must be an ISO 4217 currency code", field=f"{field}.cash.currency")
    r = terms.royalty_percent
    if not isinstance(r, Decimal) or not r.is_finite() or not 0 <= r <= _HUNDRED:
        raise InvalidInput("a percentage must be from 0 to 100",
                           field=f"{field}.royalty_percent")
    return terms


def deal_terms_json(terms: DealTerms) -> dict[str, Any]:
    """The canonical JSON form; ``parse_deal_terms(deal_terms_json(t)) == t`` (with
    ``currency`` None when there is no cash)."""
    cash = None
    if terms.currency is not None and terms.cash:
        cash = {"amount": format_minor(terms.cash, terms.currency), "currency": terms.currency}
    return {
        "schema": DEAL_TERMS_SCHEMA,
        "licence_terms_hash": terms.licence_terms_hash,
        "shares": terms.shares,
        "share_class": terms.share_class,
        "cash": cash,
        "royalty_percent": percent_text(terms.royalty_percent),
    }


def deal_terms_hash(terms: DealTerms) -> str:
    """SHA-256 (lowercase hex) of the RFC 8785 canonical JSON of :func:`deal_terms_json`:
    what a party sends to accept."""
    return hashlib.sha256(canonical_bytes(deal_terms_json(terms))).hexdigest()


def check_deal_terms(terms: DealTerms, cap_table: CapTable, cap: EquityCap, *,
                     field: str = "terms") -> None:
    """Check ``terms`` against the start-up's current ``cap_table`` (before the deal) and
    the university's ``cap``.

    Refuses (``InvalidInput``) an unknown class, shares beyond the class's authorised shares
    (``<field>.shares``), and shares over the cap measured on the fully diluted count after
    issuing them (``<field>.shares``).
    """
    _check_terms_shape(terms, field)
    if cap_table.share_class(terms.share_class) is None:
        raise InvalidInput(f"the start-up has no share class '{terms.share_class}'",
                           field=f"{field}.share_class")
    available = cap_table.available(terms.share_class)
    if terms.shares > available:
        raise InvalidInput(
            f"asks {terms.shares:,} '{terms.share_class}' shares but only {available:,} of the "
            f"{cap_table.authorised(terms.share_class):,} authorised remain unissued and "
            "unreserved", field=f"{field}.shares")
    _refuse_over_cap(terms.shares, fully_diluted(cap_table) + terms.shares, cap,
                     f"{field}.shares")


def check_licence_terms(deal: EquityDeal, licence: LicenceTerms, *,
                        field: str = "licence_terms") -> None:
    """Check that ``licence`` is the licence the deal's terms name and fits the deal.

    Raises ``Conflict`` when its hash is not the deal's ``licence_terms_hash`` (the licence
    changed), and ``InvalidInput`` when it is not granted by the university, names another
    licensee than the start-up, does not cover the deal's asset, or carries an ``equity``
    clause that disagrees with the deal's shares, class or start-up.
    """
    current = terms_hash(licence)
    if current != deal.terms.licence_terms_hash:
        raise Conflict(f"the deal names licence terms {deal.terms.licence_terms_hash[:12]}..., "
                       f"these hash to {current}", field=field)
    if licence.grantor != deal.university:
        raise InvalidInput("the licence must be granted by the university of the deal",
                           field=f"{field}.grantor")
    if licence.licensee not in (None, deal.startup):
        raise InvalidInput("the licence is made to another licensee than the start-up",
                           field=f"{field}.licensee")
    if deal.asset not in licence.assets:
        raise InvalidInput(f"the licence does not cover {deal.asset}", field=f"{field}.assets")
    equity = licence.equity
    if equity is not None and (equity.shares, equity.share_class, equity.startup_id) != (
            deal.terms.shares, deal.terms.share_class, deal.startup):
        raise InvalidInput("the licence's equity clause disagrees with the deal: "
                           f"{equity.shares:,} '{equity.share_class}' shares of "
                           f"{equity.startup_id} against {deal.terms.shares:,} "
                           f"'{deal.terms.share_class}' shares of {deal.startup}",
                           field=f"{field}.equity")


# --------------------------------------------------------------------------- the deal

@dataclass(frozen=True)
class DealStep:
    """One recorded step: ``by`` sent ``event`` and the deal became ``state``.

    ``terms_hash`` is the hash of the terms the step put on the table (propose, counter) or
    accepted (accept, execute); ``reason`` is a rejection's or withdrawal's reason.
    """

    seq: int
    event: str
    by: str
    state: str
    terms_hash: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class EquityDeal:
    """A deal between a start-up and a university for a licence of ``asset``.

    ``terms`` are the terms on the table, made by ``offered_by``; ``steps`` the full record.
    """

    startup: str
    university: str
    asset: str
    state: str
    terms: DealTerms
    offered_by: str
    steps: tuple[DealStep, ...]

    @property
    def terms_hash(self) -> str:
        """The hash of the terms on the table."""
        return deal_terms_hash(self.terms)

    @property
    def awaiting(self) -> str | None:
        """The party whose answer the terms on the table await (None once accepted or final)."""
        if self.state not in (DealState.PROPOSED, DealState.COUNTERED):
            return None
        return self.university if self.offered_by == self.startup else self.startup


@dataclass(frozen=True)
class DealExecution:
    """An executed deal, the start-up's cap table after the issuance, and the issuance."""

    deal: EquityDeal
    cap_table: CapTable
    issuance: Issuance


def _step(deal: EquityDeal, event: DealEvent, by: str, *, terms: DealTerms | None = None,
          hash_: str | None = None, reason: str | None = None) -> EquityDeal:
    state = transition(EQUITY_DEAL, deal.state, event)
    step = DealStep(len(deal.steps) + 1, event.value, by, state,
                    hash_ if hash_ is not None else (deal_terms_hash(terms) if terms else None),
                    reason)
    changes: dict[str, Any] = {"state": state, "steps": (*deal.steps, step)}
    if terms is not None:
        changes.update(terms=terms, offered_by=by)
    return replace(deal, **changes)


def _party(deal: EquityDeal, by: str, field: str = "by") -> str:
    _identifier(by, field)
    if by not in (deal.startup, deal.university):
        raise PermissionDenied("only the start-up and the university are parties to this deal",
                               field=field)
    return by


def _answering(deal: EquityDeal, by: str, event: DealEvent) -> str:
    _party(deal, by)
    transition(EQUITY_DEAL, deal.state, event)  # refuse a final or accepted deal first
    if by == deal.offered_by:
        raise Conflict(f"the terms on the table are yours; only {deal.awaiting} can "
                       f"{event.value} them (you may withdraw)", field="by")
    return by


def propose_deal(*, startup: str, university: str, asset: str, terms: DealTerms,
                 cap_table: CapTable, cap: EquityCap, field: str = "terms") -> EquityDeal:
    """A start-up's proposal, checked against its cap table and the university's cap.

    ``cap_table`` must be the proposing start-up's (``InvalidInput`` otherwise).
    """
    _identifier(startup, "startup")
    _identifier(university, "university")
    _identifier(asset, "asset")
    if startup == university:
        raise InvalidInput("the university cannot be the start-up", field="university")
    if cap_table.issuer_id != startup:
        raise InvalidInput(f"the cap table is {cap_table.issuer_id}'s, not {startup}'s",
                           field="cap_table")
    check_deal_terms(terms, cap_table, cap, field=field)
    h = deal_terms_hash(terms)
    return EquityDeal(startup, university, asset, DealState.PROPOSED, terms, startup,
                      (DealStep(1, "propose", startup, DealState.PROPOSED, h),))


def counter_deal(deal: EquityDeal, *, by: str, terms: DealTerms, cap_table: CapTable,
                 cap: EquityCap, field: str = "terms") -> EquityDeal:
    """``by`` answers the terms on the table with new ones (checked like a proposal)."""
    _answering(deal, by, DealEvent.COUNTER)
    if cap_table.issuer_id != deal.startup:
        raise InvalidInput(f"the cap table is {cap_table.issuer_id}'s, not {deal.startup}'s",
                           field="cap_table")
    check_deal_terms(terms, cap_table, cap, field=field)
    return _step(deal, DealEvent.COUNTER, by, terms=terms)


def accept_deal(deal: EquityDeal, *, by: str, terms_hash: str,
                field: str = "terms_hash") -> EquityDeal:
    """``by`` accepts the terms on the table, naming them by the hash it read.

    Raises ``Conflict`` for stale terms (the hash of other terms) or when ``by`` made them.
    """
    _answering(deal, by, DealEvent.ACCEPT)
    if not isinstance(terms_hash, str) or not _HASH.match(terms_hash):
        raise InvalidInput("must be a SHA-256 hash as 64 lowercase hex digits", field=field)
    current = deal.terms_hash
    if terms_hash != current:
        raise Conflict(f"the terms changed: you accepted {terms_hash[:12]}..., the terms on the "
                       f"table hash to {current}; read them again", field=field)
    return _step(deal, DealEvent.ACCEPT, by, hash_=current)


def reject_deal(deal: EquityDeal, *, by: str, reason: str) -> EquityDeal:
    """``by`` rejects the terms on the table, ending the deal; ``reason`` is required."""
    _answering(deal, by, DealEvent.REJECT)
    text = _reason(reason, "reason", optional=False)
    return _step(deal, DealEvent.REJECT, by, reason=text)


def withdraw_deal(deal: EquityDeal, *, by: str, reason: str | None = None) -> EquityDeal:
    """Either party withdraws before execution (also from an accepted deal that can no
    longer execute, e.g. because the cap table changed)."""
    _party(deal, by)
    text = _reason(reason, "reason", optional=True)
    return _step(deal, DealEvent.WITHDRAW, by, reason=text)


def execute_deal(deal: EquityDeal, *, by: str, cap_table: CapTable, cap: EquityCap,
                 issuance_id: str, on: date,
                 university_stakeholder: Stakeholder | None = None) -> DealExecution:
    """Execute an accepted deal: issue its shares to the university in ``cap_table``.

    The cap and the authorised shares are checked again on the table as it is now (it may
    have changed since acceptance). The university must already be a stakeholder of the
    table, or be given as ``university_stakeholder``. The licence grant itself is the
    service's (it holds the licence terms the hash names).
    """
    _party(deal, by)
    transition(EQUITY_DEAL, deal.state, DealEvent.EXECUTE)
    if cap_table.issuer_id != deal.startup:
        raise InvalidInput(f"the cap table is {cap_table.issuer_id}'s, not {deal.startup}'s",
                           field="cap_table")
    check_deal_terms(deal.terms, cap_table, cap)
    table = cap_table
    if table.stakeholder(deal.university) is None:
        if university_stakeholder is None:
            raise InvalidInput("the university is not yet a stakeholder of the start-up; "
                               "give its stakeholder record", field="university_stakeholder")
        if university_stakeholder.id != deal.university:
            raise InvalidInput(f"must be the record of {deal.university}",
                               field="university_stakeholder.id")
        table = with_stakeholder(table, university_stakeholder,
                                 field="university_stakeholder")
    consideration = f"licence of {deal.asset} (terms {deal.terms.licence_terms_hash})"
    issuance = Issuance(issuance_id, deal.university, deal.terms.share_class,
                        deal.terms.shares, on, Decimal(0), consideration)
    table = apply_issuance(table, issuance)
    executed = _step(deal, DealEvent.EXECUTE, by, hash_=deal.terms_hash)
    return DealExecution(executed, table, issuance)

