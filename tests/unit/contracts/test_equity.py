"""Equity-for-IP deals: the deal machine, the cap (measured after issuance), negotiation."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.cap_table import (
    CapTable,
    Issuance,
    OptionPool,
    ShareClass,
    Stakeholder,
    StakeholderKind,
    apply_issuance,
    fully_diluted,
    holding,
    percent_of_fully_diluted,
    with_stakeholder,
)
from contracts.equity import (
    EQUITY_CAP_PRESETS,
    DealTerms,
    EquityCap,
    EquityDeal,
    accept_deal,
    check_deal_terms,
    check_equity_cap,
    check_licence_terms,
    counter_deal,
    deal_terms_hash,
    deal_terms_json,
    equity_cap,
    execute_deal,
    max_shares_within_cap,
    parse_deal_terms,
    propose_deal,
    reject_deal,
    withdraw_deal,
)
from contracts.lifecycle import (
    DEAL_AND_CHALLENGE_MACHINES,
    EQUITY_DEAL,
    DealEvent,
    DealState,
    StateMachine,
    transition,
)
from contracts.terms import terms_hash
from ledger.errors import Conflict, InvalidInput, PermissionDenied
from tests.unit.contracts.helpers import terms as licence_terms

HKU = equity_cap("hku-2023")
LEGACY = equity_cap("hk-legacy")
LICENCE = terms_hash(licence_terms())
UNI = Stakeholder("pty_uni", "The University")
D1, D2, D3 = date(2024, 1, 1), date(2024, 3, 1), date(2024, 9, 1)


def startup(issued: int = 1_000_000, authorised: int = 2_000_000, *,
            pool: int = 0) -> CapTable:
    """A start-up with ``issued`` fully diluted shares (founder shares plus the pool)."""
    return CapTable(
        "pty_start", "HKD", (ShareClass("ordinary", authorised),),
        (Stakeholder("pty_ann", "Ann", StakeholderKind.INDIVIDUAL),),
        (Issuance("iss_founder", "pty_ann", "ordinary", issued - pool, D1),),
        OptionPool("ordinary", pool) if pool else None)


def deal_terms(shares: int = 50_000, **overrides: Any) -> DealTerms:
    fields: dict[str, Any] = dict(licence_terms_hash=LICENCE, shares=shares,
                                  share_class="ordinary")
    fields.update(overrides)
    return DealTerms(**fields)


def proposed(shares: int = 50_000, table: CapTable | None = None) -> EquityDeal:
    return propose_deal(startup="pty_start", university="pty_uni", asset="ast_1",
                        terms=deal_terms(shares), cap_table=table or startup(), cap=HKU)


# --------------------------------------------------------------------------- the machine

EXPECTED: dict[tuple[str, str], str] = {
    ("proposed", "counter"): "countered",
    ("countered", "counter"): "countered",
    ("proposed", "accept"): "accepted",
    ("countered", "accept"): "accepted",
    ("proposed", "reject"): "rejected",
    ("countered", "reject"): "rejected",
    ("proposed", "withdraw"): "withdrawn",
    ("countered", "withdraw"): "withdrawn",
    ("accepted", "withdraw"): "withdrawn",
    ("accepted", "execute"): "executed",
}
STATES = ("proposed", "countered", "accepted", "executed", "withdrawn", "rejected")
EVENTS = ("counter", "accept", "reject", "withdraw", "execute")


@pytest.mark.parametrize(("state", "event"), [(s, e) for s in STATES for e in EVENTS])
def test_deal_machine_table(state: str, event: str) -> None:
    expected = EXPECTED.get((state, event))
    if expected is not None:
        assert transition(EQUITY_DEAL, state, event) == expected
    else:
        with pytest.raises(Conflict) as caught:
            transition(EQUITY_DEAL, state, event)
        assert f"'{state}'" in caught.value.detail and f"'{event}'" in caught.value.detail


def test_deal_machine_shape() -> None:
    assert dict(EQUITY_DEAL.transitions) == EXPECTED
    assert EQUITY_DEAL.initial == "proposed"
    assert EQUITY_DEAL.states == set(STATES) == {s.value for s in DealState}
    assert EQUITY_DEAL.events == set(EVENTS) == {e.value for e in DealEvent}
    assert EQUITY_DEAL.terminal_states == {"executed", "withdrawn", "rejected"}
    assert DEAL_AND_CHALLENGE_MACHINES["equity deal"] is EQUITY_DEAL
    assert isinstance(EQUITY_DEAL, StateMachine)


# --------------------------------------------------------------------------- the cap

def test_presets() -> None:
    assert EQUITY_CAP_PRESETS == {"hku-2023": "5", "hk-legacy": "10"}
    assert (HKU.policy, HKU.max_percent) == ("hku-2023", Decimal(5))
    assert (LEGACY.policy, LEGACY.max_percent) == ("hk-legacy", Decimal(10))
    assert equity_cap({"policy": "uni-x", "max_percent": "7.5"}) == EquityCap("uni-x",
                                                                               Decimal("7.5"))


@pytest.mark.parametrize(("spec", "field"), [
    ("stanford", "equity_cap"),
    ({"max_percent": "0"}, "equity_cap.max_percent"),
    ({"max_percent": "100.5"}, "equity_cap.max_percent"),
    ({"max_percent": 5}, "equity_cap.max_percent"),
    ({"max_percent": "-1"}, "equity_cap.max_percent"),
    ({"policy": "x"}, "equity_cap.max_percent"),
    ({"policy": "Bad Name", "max_percent": "5"}, "equity_cap.policy"),
    ({"max_percent": "5", "extra": 1}, "equity_cap.extra"),
])
def test_bad_caps(spec: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        equity_cap(spec)
    assert caught.value.field == field


def _issue_to_uni(table: CapTable, shares: int) -> CapTable:
    return apply_issuance(with_stakeholder(table, UNI),
                          Issuance("iss_uni", "pty_uni", "ordinary", shares, D2))


def test_hku_golden_cases_after_issuance() -> None:
    before = startup(1_000_000)
    assert fully_diluted(before) == 1_000_000
    assert max_shares_within_cap(1_000_000, HKU) == 52_631
    # 52,631 / 1,052,631 = 4.99995%: within the 5% cap.
    within = _issue_to_uni(before, 52_631)
    check_equity_cap(52_631, within, HKU)
    assert percent_of_fully_diluted(52_631, within) < 5
    # 52,632 / 1,052,632 = 5.000038%: over, and the reason does not print "5.0%".
    over = _issue_to_uni(before, 52_632)
    with pytest.raises(InvalidInput) as caught:
        check_equity_cap(52_632, over, HKU)
    assert caught.value.field == "shares"
    assert caught.value.detail.startswith(
        "asks 5.00004% of fully diluted shares; the university's policy caps equity at 5%")
    assert "52,632 of 1,052,632" in caught.value.detail
    assert "at most 52,631 new shares" in caught.value.detail


def test_the_percentage_is_measured_after_issuance_not_before() -> None:
    before = startup(1_000_000)
    # On the count before issuance 52,631 would be 5.26% and wrongly refused: the check
    # must be given the table *after* the shares are issued.
    with pytest.raises(InvalidInput):
        check_equity_cap(52_631, before, HKU)
    check_equity_cap(52_631, _issue_to_uni(before, 52_631), HKU)
    # check_deal_terms takes the table before the deal and adds the shares itself.
    check_deal_terms(deal_terms(52_631), before, HKU)
    with pytest.raises(InvalidInput) as caught:
        check_deal_terms(deal_terms(52_632), before, HKU)
    assert caught.value.field == "terms.shares"


def test_reason_wording() -> None:
    before = startup(1_000_000)
    with pytest.raises(InvalidInput) as caught:
        check_deal_terms(deal_terms(66_200), before, HKU)  # 66,200 / 1,066,200 = 6.209%
    assert caught.value.detail.startswith(
        "asks 6.2% of fully diluted shares; the university's policy caps equity at 5%")
    check_deal_terms(deal_terms(66_200), before, LEGACY)  # the legacy 10% cap allows it


def test_exactly_at_the_cap_is_allowed_and_the_pool_dilutes() -> None:
    check_deal_terms(deal_terms(50_000), startup(950_000), HKU)  # 50,000 / 1,000,000 = 5%
    with pytest.raises(InvalidInput):
        check_deal_terms(deal_terms(50_001), startup(950_000), HKU)
    # A reserved option pool is part of the fully diluted count.
    check_deal_terms(deal_terms(52_631), startup(1_000_000, pool=200_000), HKU)


def test_over_authorised_shares_are_refused() -> None:
    table = startup(1_000_000, authorised=1_040_000)
    with pytest.raises(InvalidInput) as caught:
        check_deal_terms(deal_terms(50_000), table, HKU)
    assert caught.value.field == "terms.shares"
    assert "authorised" in caught.value.detail and "40,000" in caught.value.detail
    with pytest.raises(InvalidInput) as unknown:
        check_deal_terms(deal_terms(1, share_class="preferred"), table, HKU)
    assert unknown.value.field == "terms.share_class"


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 10**12), st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99.99"),
                                            places=2))
def test_max_shares_within_cap_is_the_exact_boundary(before: int, percent: Decimal) -> None:
    cap = EquityCap("p", percent)
    n = max_shares_within_cap(before, cap)
    assert n * 100 <= percent * (before + n)
    assert (n + 1) * 100 > percent * (before + n + 1)


# --------------------------------------------------------------------------- terms

RAW: dict[str, Any] = {"licence_terms_hash": LICENCE, "shares": 50_000,
                       "share_class": "ordinary",
                       "cash": {"amount": "250000.50", "currency": "HKD"},
                       "royalty_percent": "2.50"}


def test_parse_and_canonical_form() -> None:
    t = parse_deal_terms(RAW)
    assert t == DealTerms(LICENCE, 50_000, "ordinary", 25_000_050, "HKD", Decimal("2.50"))
    assert parse_deal_terms(deal_terms_json(t)) == t
    assert deal_terms_json(t)["royalty_percent"] == "2.5"
    same = parse_deal_terms({**RAW, "royalty_percent": "2.5"})
    assert deal_terms_hash(same) == deal_terms_hash(t)
    assert deal_terms_hash(deal_terms()) != deal_terms_hash(t)
    bare = parse_deal_terms({k: RAW[k] for k in ("licence_terms_hash", "shares",
                                                 "share_class")})
    assert bare == deal_terms() and deal_terms_json(bare)["cash"] is None


@pytest.mark.parametrize(("overrides", "field"), [
    ({"licence_terms_hash": "abc"}, "terms.licence_terms_hash"),
    ({"shares": 0}, "terms.shares"),
    ({"shares": "100"}, "terms.shares"),
    ({"share_class": ""}, "terms.share_class"),
    ({"cash": {"amount": "1.001", "currency": "HKD"}}, "terms.cash.amount"),
    ({"cash": {"amount": "-1", "currency": "HKD"}}, "terms.cash.amount"),
    ({"cash": {"amount": "1", "currency": "XXX"}}, "terms.cash.currency"),
    ({"cash": {"amount": "1"}}, "terms.cash"),
    ({"royalty_percent": "101"}, "terms.royalty_percent"),
    ({"royalty_percent": "1e1"}, "terms.royalty_percent"),
    ({"schema": "other/1"}, "terms.schema"),
    ({"extra": True}, "terms.extra"),
])
def test_bad_terms(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_deal_terms({**RAW, **overrides})
    assert caught.value.field == field


# --------------------------------------------------------------------------- negotiation

def test_a_negotiation_through_execution() -> None:
    table = startup(1_000_000)
    deal = proposed(30_000, table)
    assert (deal.state, deal.offered_by, deal.awaiting) == ("proposed", "pty_start", "pty_uni")
    deal = counter_deal(deal, by="pty_uni", terms=deal_terms(52_631, cash=10_000_00,
                                                             currency="HKD"),
                        cap_table=table, cap=HKU)
    assert (deal.state, deal.awaiting) == ("countered", "pty_start")
    deal = counter_deal(deal, by="pty_start", terms=deal_terms(45_000), cap_table=table, cap=HKU)
    deal = accept_deal(deal, by="pty_uni", terms_hash=deal.terms_hash)
    assert deal.state == "accepted" and deal.awaiting is None
    done = execute_deal(deal, by="pty_uni", cap_table=table, cap=HKU, issuance_id="iss_deal",
                        on=D3, university_stakeholder=UNI)
    assert done.deal.state == "executed"
    assert done.issuance == Issuance("iss_deal", "pty_uni", "ordinary", 45_000, D3, Decimal(0),
                                     f"licence of ast_1 (terms {LICENCE})")
    assert holding(done.cap_table, "pty_uni", "ordinary") == 45_000
    assert fully_diluted(done.cap_table) == 1_045_000
    assert [(s.seq, s.event, s.by, s.state) for s in done.deal.steps] == [
        (1, "propose", "pty_start", "proposed"),
        (2, "counter", "pty_uni", "countered"),
        (3, "counter", "pty_start", "countered"),
        (4, "accept", "pty_uni", "accepted"),
        (5, "execute", "pty_uni", "executed"),
    ]
    assert done.deal.steps[3].terms_hash == deal_terms_hash(deal_terms(45_000))


def test_only_the_addressee_answers() -> None:
    deal = proposed()
    with pytest.raises(Conflict) as own:
        counter_deal(deal, by="pty_start", terms=deal_terms(1), cap_table=startup(), cap=HKU)
    assert "yours" in own.value.detail
    with pytest.raises(Conflict):
        accept_deal(deal, by="pty_start", terms_hash=deal.terms_hash)
    with pytest.raises(Conflict):
        reject_deal(deal, by="pty_start", reason="no")
    with pytest.raises(PermissionDenied):
        accept_deal(deal, by="pty_mallory", terms_hash=deal.terms_hash)


def test_accepting_stale_terms_is_refused() -> None:
    deal = proposed()
    old_hash = deal.terms_hash
    deal = counter_deal(deal, by="pty_uni", terms=deal_terms(40_000), cap_table=startup(),
                        cap=HKU)
    with pytest.raises(Conflict) as caught:
        accept_deal(deal, by="pty_start", terms_hash=old_hash)
    assert caught.value.field == "terms_hash" and "changed" in caught.value.detail
    with pytest.raises(InvalidInput):
        accept_deal(deal, by="pty_start", terms_hash="nope")


def test_proposals_and_counters_over_the_cap_are_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        proposed(60_000)
    assert caught.value.field == "terms.shares"
    assert "caps equity at 5%" in caught.value.detail
    with pytest.raises(InvalidInput):
        counter_deal(proposed(), by="pty_uni", terms=deal_terms(60_000), cap_table=startup(),
                     cap=HKU)
    counter_deal(proposed(), by="pty_uni", terms=deal_terms(60_000), cap_table=startup(),
                 cap=LEGACY)


def test_propose_checks_the_parties_and_the_table() -> None:
    with pytest.raises(InvalidInput) as other:
        propose_deal(startup="pty_other", university="pty_uni", asset="ast_1",
                     terms=deal_terms(), cap_table=startup(), cap=HKU)
    assert other.value.field == "cap_table"
    with pytest.raises(InvalidInput) as same:
        propose_deal(startup="pty_start", university="pty_start", asset="ast_1",
                     terms=deal_terms(), cap_table=startup(), cap=HKU)
    assert same.value.field == "university"


def test_reject_and_withdraw_end_the_deal() -> None:
    rejected = reject_deal(proposed(), by="pty_uni", reason="too little equity")
    assert rejected.state == "rejected" and rejected.steps[-1].reason == "too little equity"
    with pytest.raises(InvalidInput):
        reject_deal(proposed(), by="pty_uni", reason="  ")
    withdrawn = withdraw_deal(proposed(), by="pty_start")
    assert withdrawn.state == "withdrawn"
    accepted = accept_deal(proposed(), by="pty_uni", terms_hash=proposed().terms_hash)
    assert withdraw_deal(accepted, by="pty_uni", reason="cap table changed").state == (
        "withdrawn")
    for final in (rejected, withdrawn):
        with pytest.raises(Conflict):
            withdraw_deal(final, by="pty_start")
        with pytest.raises(Conflict):
            accept_deal(final, by="pty_uni", terms_hash=final.terms_hash)


def test_execution_rechecks_the_table_as_it_is_now() -> None:
    with_pool = startup(1_000_000, pool=100_000)
    deal = proposed(52_631, with_pool)
    deal = accept_deal(deal, by="pty_uni", terms_hash=deal.terms_hash)
    # The pool was cancelled since: 900,000 + 52,631 fully diluted makes 5.52%.
    shrunk = CapTable("pty_start", "HKD", with_pool.classes, with_pool.stakeholders,
                      with_pool.transactions)
    with pytest.raises(InvalidInput) as caught:
        execute_deal(deal, by="pty_start", cap_table=shrunk, cap=HKU, issuance_id="iss_x",
                     on=D3, university_stakeholder=UNI)
    assert caught.value.field == "terms.shares"
    with pytest.raises(InvalidInput) as missing:
        execute_deal(deal, by="pty_start", cap_table=with_pool, cap=HKU, issuance_id="iss_x",
                     on=D3)
    assert missing.value.field == "university_stakeholder"
    with pytest.raises(Conflict):
        execute_deal(proposed(), by="pty_start", cap_table=with_pool, cap=HKU,
                     issuance_id="iss_x", on=D3, university_stakeholder=UNI)
    done = execute_deal(deal, by="pty_start", cap_table=with_pool, cap=HKU,
                        issuance_id="iss_x", on=D3, university_stakeholder=UNI)
    with pytest.raises(Conflict):
        execute_deal(done.deal, by="pty_start", cap_table=done.cap_table, cap=HKU,
                     issuance_id="iss_y", on=D3)


def test_demo_startup_licenses_a_patent_for_five_percent() -> None:
    table = startup(950_000)
    deal = proposed(50_000, table)
    deal = accept_deal(deal, by="pty_uni", terms_hash=deal.terms_hash)
    done = execute_deal(deal, by="pty_uni", cap_table=table, cap=HKU, issuance_id="iss_hku",
                        on=D3, university_stakeholder=UNI)
    assert percent_of_fully_diluted(50_000, done.cap_table) == Decimal(5)


def test_the_licence_must_be_the_one_the_deal_names() -> None:
    # helpers.BASE: grantor pty_uni, licensee pty_acme, asset ast_1, equity 50,000 ordinary
    # of pty_acme; a start-up licence names pty_start instead.
    fitting = licence_terms(licensee="pty_start",
                            equity={"shares": 50_000, "share_class": "ordinary",
                                    "startup_id": "pty_start"})
    deal = propose_deal(startup="pty_start", university="pty_uni", asset="ast_1",
                        terms=deal_terms(50_000, licence_terms_hash=terms_hash(fitting)),
                        cap_table=startup(), cap=HKU)
    check_licence_terms(deal, fitting)
    with pytest.raises(Conflict):
        check_licence_terms(deal, licence_terms())  # another licence altogether

    def named(licence: Any) -> EquityDeal:
        return propose_deal(startup="pty_start", university="pty_uni", asset="ast_1",
                            terms=deal_terms(50_000, licence_terms_hash=terms_hash(licence)),
                            cap_table=startup(), cap=HKU)

    cases = [
        (licence_terms(licensee="pty_start", grantor="pty_other_uni", equity=None),
         "licence_terms.grantor"),
        (licence_terms(equity=None), "licence_terms.licensee"),
        (licence_terms(licensee="pty_start", assets=["ast_2"], equity=None),
         "licence_terms.assets"),
        (licence_terms(licensee="pty_start"), "licence_terms.equity"),
    ]
    for licence, field in cases:
        with pytest.raises(InvalidInput) as caught:
            check_licence_terms(named(licence), licence)
        assert caught.value.field == field
    open_offer = licence_terms(licensee=None, equity=None)
    check_licence_terms(named(open_offer), open_offer)
