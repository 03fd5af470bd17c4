"""Conflict-free grants: a grant's box and the exclusivity rules, pure.

A grant occupies a *box*: assets x field-of-use codes x territory codes x [start, end).
Two boxes overlap when they share an asset, a field code and a territory (``WORLD`` overlaps
every territory) and their half-open date ranges intersect.

Rules, for two overlapping grants A (new) and B (existing):

* if either is ``exclusive``, they collide (an exclusive grant overlaps nothing, not even
  another grant to the same licensee);
* else if either is ``sole`` and they are for different licensees, they collide (a sole
  licence excludes every other licensee, but not the grantor's own use, which is not a grant);
* else (both non-exclusive, or sole with the same licensee's grants) they may overlap.

The rule is symmetric, so the order in which grants are made never matters for which pairs are
forbidden. The caller passes only live grants (not terminated or expired ones) and runs the
check under the asset's lock, in the transaction that records the new grant.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from contracts.terms import WORLD, Exclusivity, LicenceTerms
from ledger.errors import Conflict, InvalidInput

__all__ = ["GrantBox", "collides", "ensure_no_conflict", "find_conflict", "grant_box",
           "overlaps"]


@dataclass(frozen=True)
class GrantBox:
    """What one grant occupies; ``end`` is exclusive.

    The three sets are stored as frozensets (any iterable of strings given, e.g. a list read
    from a database row, is converted), and ``exclusivity`` as :class:`Exclusivity`.
    """

    grant_id: str
    licensee: str
    exclusivity: Exclusivity
    assets: frozenset[str]
    fields: frozenset[str]
    territories: frozenset[str]
    start: date
    end: date

    def __post_init__(self) -> None:
        for name in ("assets", "fields", "territories"):
            object.__setattr__(self, name, frozenset(getattr(self, name)))
        try:
            object.__setattr__(self, "exclusivity", Exclusivity(self.exclusivity))
        except ValueError:
            raise InvalidInput(f"'{self.exclusivity}' is not an exclusivity") from None
        if not (self.assets and self.fields and self.territories):
            raise InvalidInput("a grant needs at least one asset, field and territory")
        if WORLD in self.territories and len(self.territories) != 1:
            raise InvalidInput("WORLD must be the only territory when it is used")
        if self.end <= self.start:
            raise InvalidInput("a grant must end after it starts")


def grant_box(grant_id: str, terms: LicenceTerms) -> GrantBox:
    """The box of a grant made on ``terms`` (which must name a licensee)."""
    if terms.licensee is None:
        raise InvalidInput("a grant needs a licensee; bind one to the offer first",
                           field="licensee")
    return GrantBox(
        grant_id=grant_id,
        licensee=terms.licensee,
        exclusivity=terms.exclusivity,
        assets=frozenset(terms.assets),
        fields=frozenset(terms.field_codes),
        territories=frozenset(terms.territory),
        start=terms.start,
        end=terms.end,
    )


def _territories_overlap(a: frozenset[str], b: frozenset[str]) -> bool:
    return WORLD in a or WORLD in b or not a.isdisjoint(b)


def overlaps(a: GrantBox, b: GrantBox) -> bool:
    """True when the boxes share an asset, a field code, a territory and some day."""
    return (
        not a.assets.isdisjoint(b.assets)
        and not a.fields.isdisjoint(b.fields)
        and _territories_overlap(a.territories, b.territories)
        and a.start < b.end
        and b.start < a.end
    )


def collides(a: GrantBox, b: GrantBox) -> bool:
    """True when ``a`` and ``b`` may not both stand (symmetric; see the module docstring)."""
    if not overlaps(a, b):
        return False
    kinds = {a.exclusivity, b.exclusivity}
    if Exclusivity.EXCLUSIVE in kinds:
        return True
    return Exclusivity.SOLE in kinds and a.licensee != b.licensee


def find_conflict(new: GrantBox, existing: Iterable[GrantBox]) -> GrantBox | None:
    """The existing grant ``new`` collides with, or None.

    When several collide, the one returned is the earliest by ``(start, end, grant_id)``, so the
    answer does not depend on the order of ``existing``. A box with ``new``'s own grant id is
    skipped, so a grant can be re-checked against a list that already holds it.
    """
    hits = [old for old in existing if old.grant_id != new.grant_id and collides(new, old)]
    if not hits:
        return None
    return min(hits, key=lambda g: (g.start, g.end, g.grant_id))


def _describe(box: GrantBox) -> str:
    return (f"{box.exclusivity.value} grant {box.grant_id} to {box.licensee} "
            f"({box.start.isoformat()} to {box.end.isoformat()})")


def ensure_no_conflict(new: GrantBox, existing: Iterable[GrantBox]) -> None:
    """Raise ``Conflict`` naming the colliding grant (see :func:`find_conflict`), if any."""
    hit = find_conflict(new, existing)
    if hit is None:
        return
    shared_assets = sorted(new.assets & hit.assets)
    shared_fields = sorted(new.fields & hit.fields)
    if WORLD in new.territories:
        shared_territories = sorted(hit.territories)
    elif WORLD in hit.territories:
        shared_territories = sorted(new.territories)
    else:
        shared_territories = sorted(new.territories & hit.territories)
    raise Conflict(
        f"this {new.exclusivity.value} grant collides with {_describe(hit)} on asset(s) "
        f"{', '.join(shared_assets)}, field(s) {', '.join(shared_fields)} and territory "
        f"{', '.join(shared_territories)}",
        field="terms",
    )
