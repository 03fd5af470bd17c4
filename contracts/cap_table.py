"""A start-up's share capital as data, pure: classes, stakeholders, issuances and transfers.

A :class:`CapTable` is an immutable value. It names its issuer (the start-up's party id), the
currency its share prices are quoted in, its share classes (name, authorised shares, optional
seniority: higher is more senior, as in OCF), the stakeholders who may hold shares, an
optional reserved option pool, and the *transactions* that moved shares, in the order they
were recorded: :class:`Issuance` (new shares to a stakeholder) and :class:`Transfer` (shares
from one stakeholder to another). Holdings are what replaying those transactions gives.

:func:`apply_issuance`, :func:`apply_transfer` and :func:`with_stakeholder` return new tables;
nothing is ever changed in place. Every table is validated when it is built, and a refused
change raises (``InvalidInput`` naming the field with a dotted path, ``Conflict`` for an id
collision, ``InsufficientUnits`` for transferring shares the sender does not hold):

* class names, stakeholder ids and transaction ids are unique;
* each class's issued shares plus the option pool reserved in it never exceed its
  authorised shares (issuing beyond them is refused with field ``issuance.shares``);
* transactions are in date order and only name known classes and stakeholders.

**Fully diluted shares** are every issued share (of every class) plus the unissued option
pool reserved, if any: :func:`fully_diluted`. There are no options, warrants or convertibles
in this model, so nothing else dilutes.

Share counts are integers. A share price is a ``Decimal`` per share in the table's currency
(a per-share price may be finer than the minor unit, so it is not money in minor units); it
has at most 10 decimal places, as OCF's ``Numeric`` type allows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Any

from ledger.currency import CURRENCIES
from ledger.errors import Conflict, InsufficientUnits, InvalidInput

__all__ = [
    "MAX_SHARES",
    "CapTable",
    "ClassType",
    "Issuance",
    "OptionPool",
    "ShareClass",
    "Stakeholder",
    "StakeholderKind",
    "Transaction",
    "Transfer",
    "apply_issuance",
    "apply_transfer",
    "fully_diluted",
    "holding",
    "holdings_by_stakeholder",
    "issued_shares",
    "percent_of_fully_diluted",
    "with_stakeholder",
]

MAX_SHARES = 10**15
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
_CLASS_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,39}$")  # as contracts.terms.Equity
_MAX_NAME = 200
_MAX_TEXT = 1000
_PRICE_PLACES = 10
_PRICE_QUANTUM = Decimal(1).scaleb(-_PRICE_PLACES)
_MAX_PRICE = Decimal(10) ** 15
_PERCENT_PLACES = 10


class StakeholderKind(StrEnum):
    """A person or an institution (OCF's ``INDIVIDUAL`` / ``INSTITUTION``)."""

    INDIVIDUAL = "individual"
    INSTITUTION = "institution"


class ClassType(StrEnum):
    """Common or preferred stock (OCF's ``COMMON`` / ``PREFERRED``)."""

    COMMON = "common"
    PREFERRED = "preferred"


@dataclass(frozen=True)
class ShareClass:
    """A class of shares: ``authorised`` shares may be issued; higher ``seniority`` ranks first."""

    name: str
    authorised: int
    seniority: int | None = None
    class_type: ClassType = ClassType.COMMON
    votes_per_share: int = 1


@dataclass(frozen=True)
class Stakeholder:
    """Someone who may hold shares: an IPX party id, its legal name and its kind."""

    id: str
    name: str
    kind: StakeholderKind = StakeholderKind.INSTITUTION


@dataclass(frozen=True)
class OptionPool:
    """Shares of ``share_class`` reserved (authorised, not issued) for an option plan."""

    share_class: str
    reserved: int
    name: str = "Option pool"


@dataclass(frozen=True)
class Issuance:
    """``shares`` new shares of ``share_class`` issued to ``stakeholder`` on ``date``."""

    id: str
    stakeholder: str
    share_class: str
    shares: int
    date: date
    price_per_share: Decimal = Decimal(0)
    consideration: str | None = None


@dataclass(frozen=True)
class Transfer:
    """``shares`` shares of ``share_class`` moved from one stakeholder to another on ``date``."""

    id: str
    from_stakeholder: str
    to_stakeholder: str
    share_class: str
    shares: int
    date: date
    price_per_share: Decimal | None = None
    consideration: str | None = None


Transaction = Issuance | Transfer


# --------------------------------------------------------------------------- field checks

def _whole(value: Any, where: str, *, low: int, high: int = MAX_SHARES) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("must be a whole number", field=where)
    if not low <= value <= high:
        raise InvalidInput(f"must be from {low} to {high}", field=where)
    return value


def _identifier(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise InvalidInput("must be an id: 1-128 letters, digits, '_', '.', ':' or '-'",
                           field=where)
    return value


def _text(value: Any, where: str, *, limit: int = _MAX_NAME, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise InvalidInput(f"must be a non-blank string of at most {limit} characters",
                           field=where)


def _date(value: Any, where: str) -> None:
    if not isinstance(value, date) or type(value) is not date:
        raise InvalidInput("must be a date", field=where)


def _price(value: Any, where: str, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
        raise InvalidInput("must be a non-negative decimal", field=where)
    if value >= _MAX_PRICE or value != value.quantize(_PRICE_QUANTUM):
        raise InvalidInput(f"must be below 10^15 with at most {_PRICE_PLACES} decimal places",
                           field=where)


def _check_class(c: Any, where: str) -> None:
    if not isinstance(c, ShareClass):
        raise InvalidInput("must be a share class", field=where)
    if not isinstance(c.name, str) or not _CLASS_NAME.match(c.name):
        raise InvalidInput("must be 1-40 letters, digits, spaces, '_', '.' or '-'",
                           field=f"{where}.name")
    _whole(c.authorised, f"{where}.authorised", low=1)
    if c.seniority is not None:
        _whole(c.seniority, f"{where}.seniority", low=0, high=1000)
    if not isinstance(c.class_type, ClassType):
        raise InvalidInput("must be common or preferred", field=f"{where}.class_type")
    _whole(c.votes_per_share, f"{where}.votes_per_share", low=0, high=1000)


def _check_stakeholder(s: Any, where: str) -> None:
    if not isinstance(s, Stakeholder):
        raise InvalidInput("must be a stakeholder", field=where)
    _identifier(s.id, f"{where}.id")
    _text(s.name, f"{where}.name")
    if not isinstance(s.kind, StakeholderKind):
        raise InvalidInput("must be individual or institution", field=f"{where}.kind")


# --------------------------------------------------------------------------- the table

@dataclass(frozen=True)
class CapTable:
    """A start-up's share capital. Validated on construction (see the module docstring).

    ``transactions`` are in recorded order; holdings are their replay.
    """

    issuer_id: str
    currency: str
    classes: tuple[ShareClass, ...]
    stakeholders: tuple[Stakeholder, ...] = ()
    transactions: tuple[Transaction, ...] = ()
    option_pool: OptionPool | None = None
    _issued: Mapping[str, int] = field(init=False, repr=False, compare=False)
    _holdings: Mapping[tuple[str, str], int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _identifier(self.issuer_id, "issuer_id")
        if not isinstance(self.currency, str) or self.currency not in CURRENCIES:
            raise InvalidInput("must be an ISO 4217 currency code", field="currency")
        if not isinstance(self.classes, tuple) or not self.classes:
            raise InvalidInput("must be a non-empty tuple of share classes", field="classes")
        names: set[str] = set()
        for i, c in enumerate(self.classes):
            _check_class(c, f"classes[{i}]")
            if c.name in names:
                raise InvalidInput(f"duplicate share class '{c.name}'", field=f"classes[{i}].name")
            names.add(c.name)
        if not isinstance(self.stakeholders, tuple):
            raise InvalidInput("must be a tuple of stakeholders", field="stakeholders")
        ids: set[str] = set()
        for i, s in enumerate(self.stakeholders):
            _check_stakeholder(s, f"stakeholders[{i}]")
            if s.id in ids:
                raise InvalidInput(f"duplicate stakeholder '{s.id}'",
                                   field=f"stakeholders[{i}].id")
            ids.add(s.id)
        pool = self.option_pool
        if pool is not None:
            if not isinstance(pool, OptionPool):
                raise InvalidInput("must be an option pool", field="option_pool")
            if pool.share_class not in names:
                raise InvalidInput(f"unknown share class '{pool.share_class}'",
                                   field="option_pool.share_class")
            _whole(pool.reserved, "option_pool.reserved", low=0)
            _text(pool.name, "option_pool.name")
        if not isinstance(self.transactions, tuple):
            raise InvalidInput("must be a tuple of transactions", field="transactions")

        issued = {c.name: 0 for c in self.classes}
        held: dict[tuple[str, str], int] = {}
        seen: set[str] = set()
        last: date | None = None
        object.__setattr__(self, "_issued", issued)
        object.__setattr__(self, "_holdings", held)
        for i, tx in enumerate(self.transactions):
            where = f"transactions[{i}]"
            _check_transaction(self, tx, where, seen=seen, last=last, count_pool=False)
            _apply(issued, held, tx)
            seen.add(tx.id)
            last = tx.date
        for c in self.classes:
            reserved = pool.reserved if pool is not None and pool.share_class == c.name else 0
            if issued[c.name] + reserved > c.authorised:
                raise InvalidInput(
                    f"class '{c.name}' has {issued[c.name]:,} shares issued and {reserved:,} "
                    f"reserved, more than its {c.authorised:,} authorised",
                    field="option_pool.reserved" if reserved else "transactions")

    def share_class(self, name: str) -> ShareClass | None:
        """The class called ``name``, or None."""
        return next((c for c in self.classes if c.name == name), None)

    def stakeholder(self, stakeholder_id: str) -> Stakeholder | None:
        """The stakeholder with id ``stakeholder_id``, or None."""
        return next((s for s in self.stakeholders if s.id == stakeholder_id), None)

    @property
    def issuances(self) -> tuple[Issuance, ...]:
        """The issuances, in recorded order."""
        return tuple(t for t in self.transactions if isinstance(t, Issuance))

    @property
    def transfers(self) -> tuple[Transfer, ...]:
        """The transfers, in recorded order."""
        return tuple(t for t in self.transactions if isinstance(t, Transfer))

    def authorised(self, share_class: str) -> int:
        """Authorised shares of ``share_class``; ``InvalidInput`` for an unknown class."""
        c = self.share_class(share_class)
        if c is None:
            raise InvalidInput(f"unknown share class '{share_class}'", field="share_class")
        return c.authorised

    def available(self, share_class: str) -> int:
        """Shares of ``share_class`` that may still be issued (authorised, not issued or
        reserved for the option pool)."""
        authorised = self.authorised(share_class)
        pool = self.option_pool
        reserved = pool.reserved if pool is not None and pool.share_class == share_class else 0
        return authorised - self._issued[share_class] - reserved


def _check_transaction(table: CapTable, tx: Any, where: str, *, seen: set[str],
                       last: date | None, count_pool: bool = True) -> None:
    """Validate one transaction against the state replayed so far (``table._holdings``).

    With ``count_pool`` False (replaying a whole table) an issuance is checked against the
    authorised shares alone; the pool is checked once at the end, so an over-large pool is
    reported as such rather than as the issuance it collides with.
    """
    if not isinstance(tx, (Issuance, Transfer)):
        raise InvalidInput("must be an issuance or a transfer", field=where)
    _identifier(tx.id, f"{where}.id")
    if tx.id in seen:
        raise Conflict(f"a transaction with id '{tx.id}' is already recorded",
                       field=f"{where}.id")
    if table.share_class(tx.share_class) is None:
        raise InvalidInput(f"unknown share class '{tx.share_class}'",
                           field=f"{where}.share_class")
    _whole(tx.shares, f"{where}.shares", low=1)
    _date(tx.date, f"{where}.date")
    if last is not None and tx.date < last:
        raise InvalidInput(f"transactions are recorded in date order; {tx.date.isoformat()} "
                           f"is before the previous one, {last.isoformat()}",
                           field=f"{where}.date")
    _text(tx.consideration, f"{where}.consideration", limit=_MAX_TEXT, optional=True)
    if isinstance(tx, Issuance):
        _price(tx.price_per_share, f"{where}.price_per_share")
        if table.stakeholder(tx.stakeholder) is None:
            raise InvalidInput(f"'{tx.stakeholder}' is not a stakeholder of this cap table; "
                               "add it first", field=f"{where}.stakeholder")
        available = table.available(tx.share_class)
        if not count_pool:
            available = table.authorised(tx.share_class) - table._issued[tx.share_class]
        if tx.shares > available:
            authorised = table.authorised(tx.share_class)
            raise InvalidInput(
                f"issuing {tx.shares:,} '{tx.share_class}' shares exceeds the class's "
                f"authorised shares: only {available:,} of {authorised:,} remain unissued"
                f"{' and unreserved' if count_pool else ''}", field=f"{where}.shares")
        return
    _price(tx.price_per_share, f"{where}.price_per_share", optional=True)
    for side in ("from_stakeholder", "to_stakeholder"):
        if table.stakeholder(getattr(tx, side)) is None:
            raise InvalidInput(f"'{getattr(tx, side)}' is not a stakeholder of this cap table; "
                               "add it first", field=f"{where}.{side}")
    if tx.from_stakeholder == tx.to_stakeholder:
        raise InvalidInput("a transfer needs two different stakeholders",
                           field=f"{where}.to_stakeholder")
    has = table._holdings.get((tx.from_stakeholder, tx.share_class), 0)
    if tx.shares > has:
        raise InsufficientUnits(f"'{tx.from_stakeholder}' holds {has:,} '{tx.share_class}' "
                                f"shares; cannot transfer {tx.shares:,}",
                                field=f"{where}.shares")


def _apply(issued: dict[str, int], held: dict[tuple[str, str], int], tx: Transaction) -> None:
    if isinstance(tx, Issuance):
        issued[tx.share_class] += tx.shares
        key = (tx.stakeholder, tx.share_class)
        held[key] = held.get(key, 0) + tx.shares
    else:
        src = (tx.from_stakeholder, tx.share_class)
        dst = (tx.to_stakeholder, tx.share_class)
        held[src] -= tx.shares
        if held[src] == 0:
            del held[src]
        held[dst] = held.get(dst, 0) + tx.shares


# --------------------------------------------------------------------------- changes

def with_stakeholder(table: CapTable, stakeholder: Stakeholder, *,
                     field: str = "stakeholder") -> CapTable:
    """The table with ``stakeholder`` added (unchanged if it is already there, identical).

    Raises ``Conflict`` if another stakeholder already has its id, ``InvalidInput`` if it is
    malformed.
    """
    _check_stakeholder(stakeholder, field)
    existing = table.stakeholder(stakeholder.id)
    if existing == stakeholder:
        return table
    if existing is not None:
        raise Conflict(f"stakeholder '{stakeholder.id}' is already recorded with other details",
                       field=f"{field}.id")
    return replace(table, stakeholders=(*table.stakeholders, stakeholder))


def apply_issuance(table: CapTable, issuance: Issuance, *, field: str = "issuance") -> CapTable:
    """The table after ``issuance``.

    Refuses (``InvalidInput`` naming ``issuance.<field>``) an unknown class or stakeholder, a
    date before the last transaction, and shares beyond the class's authorised shares less
    those issued and reserved; ``Conflict`` for a transaction id already recorded.
    """
    if not isinstance(issuance, Issuance):
        raise InvalidInput("must be an issuance", field=field)
    last = table.transactions[-1].date if table.transactions else None
    _check_transaction(table, issuance, field, seen={t.id for t in table.transactions},
                       last=last)
    return replace(table, transactions=(*table.transactions, issuance))


def apply_transfer(table: CapTable, transfer: Transfer, *, field: str = "transfer") -> CapTable:
    """The table after ``transfer``.

    Refuses (``InvalidInput`` naming ``transfer.<field>``) unknown classes or stakeholders and
    a transfer to oneself; ``InsufficientUnits`` (a Conflict) for more shares than the sender
    holds; ``Conflict`` for a transaction id already recorded.
    """
    if not isinstance(transfer, Transfer):
        raise InvalidInput("must be a transfer", field=field)
    last = table.transactions[-1].date if table.transactions else None
    _check_transaction(table, transfer, field, seen={t.id for t in table.transactions},
                       last=last)
    return replace(table, transactions=(*table.transactions, transfer))


# --------------------------------------------------------------------------- queries

def issued_shares(table: CapTable, share_class: str | None = None) -> int:
    """Shares issued, in one class or (``None``) in all classes."""
    if share_class is None:
        return sum(table._issued.values())
    if share_class not in table._issued:
        raise InvalidInput(f"unknown share class '{share_class}'", field="share_class")
    return table._issued[share_class]


def fully_diluted(table: CapTable) -> int:
    """Every issued share plus the option pool's reserved shares (if there is a pool)."""
    pool = table.option_pool.reserved if table.option_pool is not None else 0
    return issued_shares(table) + pool


def holding(table: CapTable, stakeholder: str, share_class: str) -> int:
    """Shares of ``share_class`` that ``stakeholder`` holds (0 if none)."""
    return table._holdings.get((stakeholder, share_class), 0)


def holdings_by_stakeholder(table: CapTable) -> dict[str, dict[str, int]]:
    """``{stakeholder id: {class name: shares}}`` for every non-zero holding, sorted by
    stakeholder id, then by class in the table's class order."""
    order = {c.name: i for i, c in enumerate(table.classes)}
    out: dict[str, dict[str, int]] = {}
    for (who, cls), shares in sorted(table._holdings.items(),
                                     key=lambda kv: (kv[0][0], order[kv[0][1]])):
        out.setdefault(who, {})[cls] = shares
    return out


def percent_of_fully_diluted(shares: int, cap_table: CapTable) -> Decimal:
    """``shares`` as a percentage of the table's fully diluted shares, rounded half-even to
    10 decimal places (e.g. ``Decimal("4.9999952500")``).

    For display and reports: compare against a cap exactly with
    :func:`contracts.equity.check_equity_cap`, which never rounds. Raises ``InvalidInput``
    when the table has no shares, or ``shares`` is negative or more than the table has.
    """
    shares = _whole(shares, "shares", low=0)
    total = fully_diluted(cap_table)
    if total == 0:
        raise InvalidInput("the cap table has no shares yet", field="cap_table")
    if shares > total:
        raise InvalidInput(f"{shares:,} is more than the {total:,} fully diluted shares",
                           field="shares")
    # Integer arithmetic, so the one rounding is exact half-even (no 28-digit Decimal step).
    scaled = Fraction(shares * 100 * 10**_PERCENT_PLACES, total)
    return Decimal(round(scaled)).scaleb(-_PERCENT_PLACES)
