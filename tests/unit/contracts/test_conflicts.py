"""Conflict checks: examples for every exclusivity pair, and Hypothesis properties against a
brute-force oracle that enumerates the cells (asset, field, territory, day) of each box."""

from __future__ import annotations

import random
from datetime import date, timedelta
from itertools import product

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.conflicts import (
    GrantBox,
    collides,
    ensure_no_conflict,
    find_conflict,
    grant_box,
    overlaps,
)
from contracts.terms import Exclusivity
from ledger.errors import Conflict, InvalidInput
from tests.unit.contracts.helpers import terms

E, S, N = Exclusivity.EXCLUSIVE, Exclusivity.SOLE, Exclusivity.NON_EXCLUSIVE
D0 = date(2025, 1, 1)


def box(gid: str, licensee: str = "L1", kind: Exclusivity = N, *, assets: str = "A",
        fields: str = "f", territories: str = "HK", start: int = 0, end: int = 10) -> GrantBox:
    """A box; sets are given as space-separated names, dates as day offsets from D0."""
    return GrantBox(gid, licensee, kind, frozenset(assets.split()), frozenset(fields.split()),
                    frozenset(territories.split()), D0 + timedelta(start), D0 + timedelta(end))


# --------------------------------------------------------------------------- examples

PAIRS = [
    # existing kind, new kind, same licensee?, collides?
    (E, E, True, True), (E, E, False, True),
    (E, S, True, True), (E, S, False, True),
    (E, N, True, True), (E, N, False, True),
    (S, E, True, True), (S, E, False, True),
    (S, S, True, False), (S, S, False, True),
    (S, N, True, False), (S, N, False, True),
    (N, E, True, True), (N, E, False, True),
    (N, S, True, False), (N, S, False, True),
    (N, N, True, False), (N, N, False, False),
]


@pytest.mark.parametrize(("old_kind", "new_kind", "same", "expected"), PAIRS,
                         ids=[f"{o}-then-{n}-{'same' if s else 'other'}-licensee"
                              for o, n, s, _ in PAIRS])
def test_each_exclusivity_pair(old_kind: Exclusivity, new_kind: Exclusivity, same: bool,
                               expected: bool) -> None:
    old = box("g1", "L1", old_kind)
    new = box("g2", "L1" if same else "L2", new_kind, start=5, end=20)
    assert overlaps(new, old)
    assert collides(new, old) is expected
    assert collides(old, new) is expected  # symmetric
    assert (find_conflict(new, [old]) == old) is expected


@pytest.mark.parametrize(("other", "expected"), [
    pytest.param(box("g2", "L2", E, assets="B"), False, id="other-asset"),
    pytest.param(box("g2", "L2", E, fields="g"), False, id="other-field"),
    pytest.param(box("g2", "L2", E, territories="CN"), False, id="other-territory"),
    pytest.param(box("g2", "L2", E, start=10, end=20), False, id="starts-when-it-ends"),
    pytest.param(box("g2", "L2", E, start=-5, end=0), False, id="ends-when-it-starts"),
    pytest.param(box("g2", "L2", E, start=9, end=20), True, id="one-day-shared"),
    pytest.param(box("g2", "L2", E, territories="WORLD"), True, id="world-covers-hk"),
    pytest.param(box("g2", "L2", E, territories="CN HK"), True, id="one-territory-shared"),
    pytest.param(box("g2", "L2", E, fields="g f", assets="B A"), True, id="one-field-shared"),
    pytest.param(box("g2", "L2", E, start=2, end=3), True, id="inside"),
])
def test_box_overlap_examples(other: GrantBox, expected: bool) -> None:
    old = box("g1", "L1", E)
    assert overlaps(other, old) is expected
    assert overlaps(old, other) is expected
    assert collides(other, old) is expected


def test_world_overlaps_world() -> None:
    assert overlaps(box("a", territories="WORLD"), box("b", territories="WORLD"))


def test_find_conflict_is_deterministic_and_skips_itself() -> None:
    new = box("new", "L2", E, start=0, end=30)
    late = box("g-late", "L1", N, start=20, end=40)
    early_b = box("g-b", "L1", N, start=5, end=15)
    early_a = box("g-a", "L1", N, start=5, end=15)
    unrelated = box("g-x", "L1", N, territories="CN")
    for order in ([late, early_b, early_a, unrelated], [unrelated, early_a, early_b, late]):
        assert find_conflict(new, order) == early_a
    assert find_conflict(new, [new]) is None
    assert find_conflict(new, []) is None


def test_ensure_no_conflict_names_the_grant() -> None:
    old = box("grt_old", "pty_first", E, territories="HK CN", fields="dx rx")
    new = box("grt_new", "pty_second", N, territories="WORLD", fields="rx")
    ensure_no_conflict(new, [box("grt_far", "pty_first", E, territories="SG")])
    with pytest.raises(Conflict) as caught:
        ensure_no_conflict(new, [old])
    detail = caught.value.detail
    assert "grt_old" in detail and "pty_first" in detail and "exclusive" in detail
    assert "field(s) rx" in detail and "territory CN, HK" in detail


def test_grant_box_from_terms() -> None:
    t = terms(territory=["WORLD"], field_of_use=[{"code": "a", "label": "A"},
                                                 {"code": "b", "label": "B"}])
    b = grant_box("grt_1", t)
    assert b == GrantBox("grt_1", "pty_acme", E, frozenset({"ast_1"}), frozenset({"a", "b"}),
                         frozenset({"WORLD"}), date(2025, 1, 1), date(2030, 1, 1))
    with pytest.raises(InvalidInput):
        grant_box("grt_2", terms(licensee=None))


@pytest.mark.parametrize("bad", [
    dict(assets=frozenset()), dict(fields=frozenset()), dict(territories=frozenset()),
    dict(territories=frozenset({"WORLD", "HK"})), dict(end=D0),
])
def test_grant_box_validates(bad: dict[str, object]) -> None:
    fields: dict[str, object] = dict(grant_id="g", licensee="L", exclusivity=N,
                                     assets=frozenset({"A"}), fields=frozenset({"f"}),
                                     territories=frozenset({"HK"}), start=D0,
                                     end=D0 + timedelta(1))
    fields.update(bad)
    with pytest.raises(InvalidInput):
        GrantBox(**fields)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the oracle

UNIVERSE = ("HK", "CN", "SG")


def cells(g: GrantBox) -> set[tuple[str, str, str, date]]:
    """Every (asset, field, territory, day) the grant covers; WORLD is every territory."""
    territories = UNIVERSE if "WORLD" in g.territories else tuple(g.territories)
    days = [g.start + timedelta(i) for i in range((g.end - g.start).days)]
    return set(product(g.assets, g.fields, territories, days))


def forbidden(a: GrantBox, b: GrantBox) -> bool:
    """The rules of the issue, read literally, on enumerated cells."""
    if not cells(a) & cells(b):
        return False
    if a.exclusivity == "exclusive" or b.exclusivity == "exclusive":
        return True
    if "sole" in (a.exclusivity, b.exclusivity):
        return a.licensee != b.licensee
    return False


@st.composite
def grants(draw: st.DrawFn, gid: str) -> GrantBox:
    start = draw(st.integers(0, 15))
    world = draw(st.integers(0, 4)) == 0  # one grant in five is worldwide
    territories = ["WORLD"] if world else draw(
        st.lists(st.sampled_from(UNIVERSE), min_size=1, max_size=2, unique=True))
    return GrantBox(
        grant_id=gid,
        licensee=draw(st.sampled_from(["L1", "L2", "L3"])),
        exclusivity=draw(st.sampled_from([E, S, N])),
        assets=frozenset(draw(st.lists(st.sampled_from(["A1", "A2"]), min_size=1,
                                       max_size=2, unique=True))),
        fields=frozenset(draw(st.lists(st.sampled_from(["f1", "f2", "f3"]), min_size=1,
                                       max_size=2, unique=True))),
        territories=frozenset(territories),
        start=D0 + timedelta(start),
        end=D0 + timedelta(start + draw(st.integers(1, 8))),
    )


@st.composite
def offers(draw: st.DrawFn) -> list[GrantBox]:
    count = draw(st.integers(1, 14))
    return [draw(grants(f"g{i:02d}")) for i in range(count)]


@settings(max_examples=300, deadline=None)
@given(offers(), st.randoms(use_true_random=False))
def test_offering_grants_one_by_one_matches_the_oracle(sequence: list[GrantBox],
                                                       rnd: random.Random) -> None:
    accepted: list[GrantBox] = []
    for new in sequence:
        hit = find_conflict(new, accepted)
        colliding = [old for old in accepted if forbidden(new, old)]
        if hit is None:
            # Accepted: it really collides with nothing accepted so far.
            assert colliding == []
            accepted.append(new)
        else:
            # Refused: it really collides with the grant named, an accepted one, and that is
            # the earliest such grant whatever the order of the list.
            assert hit in accepted and forbidden(new, hit)
            assert hit == min(colliding, key=lambda g: (g.start, g.end, g.grant_id))
            shuffled = accepted[:]
            rnd.shuffle(shuffled)
            assert find_conflict(new, shuffled) == hit
            with pytest.raises(Conflict):
                ensure_no_conflict(new, accepted)
    # The accepted set never contains a forbidden pair.
    for i, a in enumerate(accepted):
        for b in accepted[i + 1:]:
            assert not forbidden(a, b)


@settings(max_examples=300, deadline=None)
@given(grants("a"), grants("b"))
def test_overlap_and_collision_agree_with_cells(a: GrantBox, b: GrantBox) -> None:
    assert overlaps(a, b) == bool(cells(a) & cells(b)) == overlaps(b, a)
    assert collides(a, b) == forbidden(a, b) == collides(b, a)


def test_grant_box_accepts_rows_as_read_from_a_database() -> None:
    row = GrantBox("g", "L", "sole", ["A", "A"], ["f"], ("HK",), D0,  # type: ignore[arg-type]
                   D0 + timedelta(1))
    assert row.assets == frozenset({"A"}) and row.territories == frozenset({"HK"})
    assert row.exclusivity is S
    assert collides(row, box("h", "M", N, assets="A", start=0, end=1))
    with pytest.raises(InvalidInput):
        GrantBox("g", "L", "semi", ["A"], ["f"], ["HK"], D0, D0 + timedelta(1))  # type: ignore[arg-type]
