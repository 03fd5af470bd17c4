"""Export licence terms as an ODRL 2.2 policy in JSON-LD, so other systems can read them.

Shape (compact JSON-LD with the ODRL context ``http://www.w3.org/ns/odrl.jsonld``)::

    {"@context": ..., "@type": "Agreement" | "Offer", "uid": ..., "profile": ...,
     "assigner": grantor, "assignee": licensee, "target": [assets],
     "urn:ipx:odrl:exclusivity": "exclusive" | "sole" | "non_exclusive",
     "permission": [{main licence}, {audit, when granted}],
     "prohibition": [{grantor's exclusivity undertaking, when exclusive or sole}]}

Choices, documented here because ODRL leaves them open:

* Identifiers. ODRL wants IRIs; IPX ids are opaque strings, so parties become
  ``urn:ipx:party:<id>`` and assets ``urn:ipx:asset:<id>``. ``uid`` is used as given when it is
  already an absolute IRI (has a scheme), else it becomes ``urn:ipx:licence:<uid>``.
* Policy type. Terms naming a licensee export as an ``Agreement``. An open offer (no licensee
  yet) exports as an ``Offer``, which ODRL allows without an assignee.
* Parties. The policy-level ``assigner``/``assignee``/``target`` give the agreement's parties
  and assets as the brief asks, and every rule also states its own, so each rule reads
  atomically and the two rules whose parties differ (the grantor's exclusivity undertaking,
  and the grantor's audit right) are unambiguous. The IPX profile (``profile``) says that a
  rule's own parties take precedence over the policy-level ones.
* Main permission. Actions ``use``, ``reproduce`` (make) and ``distribute`` (sell products;
  ODRL's ``sell`` means selling the asset itself, which a licence does not permit). Its
  constraints, all of which must hold: ``purpose isAnyOf`` the field-of-use codes; ``spatial
  isAnyOf`` the ISO 3166-1 alpha-2 codes (left out for ``WORLD``: no spatial limit);
  ``dateTime gteq`` start and ``dateTime lt`` end (``xsd:date``; the end is exclusive).
* Payments are ``compensate`` duties of the licensee, as in the ODRL model's own example: the
  action carries refinements (``payAmount`` with the currency as ``unit``, or ``percentage``)
  and the duty's constraints say when (``event``, ``timeInterval``, and for royalty tiers the
  profile's ``urn:ipx:odrl:cumulativeNetSales`` range). Currencies are ``urn:iso:std:iso:4217:
  <code>``; amounts are ``xsd:decimal`` in major units (decimal strings, never floats).
  Events: the upfront fee is due before first use (``event lt policyUsage``); milestones use
  ``event eq urn:ipx:event:<event>``; royalties and reports recur per report period
  (``timeInterval eq P3M``/``P6M``/``P1Y``); the minimum annual royalty is a ``payAmount gteq``
  per ``P1Y``; the sublicence share is a ``percentage`` on ``urn:ipx:event:sublicence-income``;
  royalty stacking is a ``urn:ipx:odrl:stackingDeduction`` / ``stackingFloor`` refinement.
* Reporting is an ``inform`` duty with the grantor as ``informedParty``.
* Equity is a ``compensate`` duty refined by the profile's ``shares``/``shareClass``/``issuer``.
* Exclusivity. ``exclusive``: a prohibition binding the grantor (its ``assignee``) from
  ``grantUse`` (licensing others) and ``use`` (practising itself) within the same field,
  territory and dates. ``sole``: the same with ``grantUse`` only, as the grantor keeps its own
  use. ``non_exclusive``: no prohibition. ``urn:ipx:odrl:exclusivity`` states it plainly too.
* Audit. A second permission: the grantor may ``read`` the licensee's records of this licence
  (target ``<uid>#records``), with ``delayPeriod gteq P<n>D`` for the notice.
"""

from __future__ import annotations

import re
from typing import Any

from contracts.terms import Exclusivity, LicenceTerms, ReportFrequency, percent_text
from ledger.currency import format_minor

__all__ = ["IPX_ODRL", "ODRL_CONTEXT", "PROFILE", "asset_iri", "party_iri", "to_odrl"]

ODRL_CONTEXT = "http://www.w3.org/ns/odrl.jsonld"
IPX_ODRL = "urn:ipx:odrl:"
"""Namespace of the IPX profile's own left operands and properties."""
PROFILE = "urn:ipx:odrl:profile:licence:1"

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_INTERVAL = {
    ReportFrequency.QUARTERLY: "P3M",
    ReportFrequency.SEMIANNUAL: "P6M",
    ReportFrequency.ANNUAL: "P1Y",
}


def party_iri(party_id: str) -> str:
    """The IRI a party id exports as."""
    return f"urn:ipx:party:{party_id}"


def asset_iri(asset_id: str) -> str:
    """The IRI an asset id exports as."""
    return f"urn:ipx:asset:{asset_id}"


def _typed(value: str, datatype: str) -> dict[str, str]:
    return {"@value": value, "@type": f"xsd:{datatype}"}


def _constraint(left: str, operator: str, right: Any, **extra: Any) -> dict[str, Any]:
    return {"leftOperand": left, "operator": operator, "rightOperand": right, **extra}


def _compensate(refinements: list[dict[str, Any]], when: list[dict[str, Any]],
                parties: dict[str, Any]) -> dict[str, Any]:
    return {
        **parties,
        "action": [{"rdf:value": {"@id": "odrl:compensate"}, "refinement": refinements}],
        "constraint": when,
    }


def to_odrl(terms: LicenceTerms, *, uid: str) -> dict[str, Any]:
    """The terms as an ODRL 2.2 ``Agreement`` (``Offer`` when no licensee), JSON-LD compact.

    The result is plain JSON (str, int, bool, list, dict); see the module docstring for how
    each term maps onto the ODRL vocabulary.
    """
    policy_uid = uid if _SCHEME.match(uid) else f"urn:ipx:licence:{uid}"
    grantor = party_iri(terms.grantor)
    licensee = None if terms.licensee is None else party_iri(terms.licensee)
    targets = [asset_iri(a) for a in terms.assets]
    unit = f"urn:iso:std:iso:4217:{terms.currency}"

    def money(minor: int) -> dict[str, str]:
        return _typed(format_minor(minor, terms.currency), "decimal")

    def pay(minor: int, operator: str = "eq") -> dict[str, Any]:
        return _constraint("payAmount", operator, money(minor), unit=unit)

    def percentage(value: Any) -> dict[str, Any]:
        return _constraint("percentage", "eq", _typed(percent_text(value), "decimal"))

    def event(name: str) -> dict[str, Any]:
        return _constraint("event", "eq", {"@id": f"urn:ipx:event:{name}"})

    per_period = _constraint("timeInterval", "eq",
                             _typed(_INTERVAL[terms.report_frequency], "duration"))
    per_year = _constraint("timeInterval", "eq", _typed("P1Y", "duration"))

    box: list[dict[str, Any]] = [
        _constraint("purpose", "isAnyOf", list(terms.field_codes)),
    ]
    if not terms.is_worldwide:
        box.append(_constraint("spatial", "isAnyOf", list(terms.territory)))
    box += [
        _constraint("dateTime", "gteq", _typed(terms.start.isoformat(), "date")),
        _constraint("dateTime", "lt", _typed(terms.end.isoformat(), "date")),
    ]

    # Duties of the licensee (or of whoever takes the offer).
    payer: dict[str, Any] = {"compensatedParty": grantor}
    if licensee is not None:
        payer["assignee"] = licensee
    duties: list[dict[str, Any]] = []
    if terms.upfront_fee:
        duties.append(_compensate(
            [pay(terms.upfront_fee)],
            [_constraint("event", "lt", {"@id": "odrl:policyUsage"})], payer))
    tiers = terms.royalty_tiers
    for i, tier in enumerate(tiers):
        if not tier.rate:
            continue
        sales = [_constraint(f"{IPX_ODRL}cumulativeNetSales", "gteq", money(tier.start),
                             unit=unit)]
        if i + 1 < len(tiers):
            sales.append(_constraint(f"{IPX_ODRL}cumulativeNetSales", "lt",
                                     money(tiers[i + 1].start), unit=unit))
        refinements = [percentage(tier.rate)]
        if terms.stacking is not None:
            refinements += [
                _constraint(f"{IPX_ODRL}stackingDeduction", "lteq",
                            _typed(percent_text(terms.stacking.deduction), "decimal")),
                _constraint(f"{IPX_ODRL}stackingFloor", "gteq",
                            _typed(percent_text(terms.stacking.floor), "decimal")),
            ]
        duties.append(_compensate(refinements, [per_period, *sales], payer))
    if terms.minimum_annual_royalty:
        duties.append(_compensate([pay(terms.minimum_annual_royalty, "gteq")], [per_year],
                                  payer))
    for milestone in terms.milestones:
        duties.append(_compensate([pay(milestone.amount)], [event(milestone.event)], payer))
    if terms.sublicence_share:
        duties.append(_compensate([percentage(terms.sublicence_share)],
                                  [event("sublicence-income")], payer))
    if terms.equity is not None:
        duties.append(_compensate(
            [
                _constraint(f"{IPX_ODRL}shares", "eq",
                            _typed(str(terms.equity.shares), "integer")),
                _constraint(f"{IPX_ODRL}shareClass", "eq", terms.equity.share_class),
                _constraint(f"{IPX_ODRL}issuer", "eq",
                            {"@id": party_iri(terms.equity.startup_id)}),
            ],
            [_constraint("event", "lt", {"@id": "odrl:policyUsage"})], payer))
    report = {k: v for k, v in payer.items() if k != "compensatedParty"}
    duties.append({**report, "action": "inform", "informedParty": grantor,
                   "constraint": [per_period]})

    main: dict[str, Any] = {"target": targets, "assigner": grantor}
    if licensee is not None:
        main["assignee"] = licensee
    main.update({"action": ["use", "reproduce", "distribute"], "constraint": box,
                 "duty": duties})
    permissions: list[dict[str, Any]] = [main]

    if terms.audit.allowed:
        records = policy_uid + ("#records" if "#" not in policy_uid else "-records")
        audit: dict[str, Any] = {"target": records, "assignee": grantor}
        if licensee is not None:
            audit["assigner"] = licensee
        audit.update({
            "action": "read",
            "constraint": [_constraint("delayPeriod", "gteq",
                                       _typed(f"P{terms.audit.notice_days}D", "duration"))],
        })
        permissions.append(audit)

    policy: dict[str, Any] = {
        "@context": ODRL_CONTEXT,
        "@type": "Offer" if licensee is None else "Agreement",
        "uid": policy_uid,
        "profile": PROFILE,
        "assigner": grantor,
    }
    if licensee is not None:
        policy["assignee"] = licensee
    policy.update({
        "target": targets,
        f"{IPX_ODRL}exclusivity": terms.exclusivity.value,
        "permission": permissions,
    })
    if terms.exclusivity is not Exclusivity.NON_EXCLUSIVE:
        actions = (["grantUse", "use"] if terms.exclusivity is Exclusivity.EXCLUSIVE
                   else ["grantUse"])
        policy["prohibition"] = [{
            "target": targets,
            "assigner": grantor,
            "assignee": grantor,
            "action": actions,
            "constraint": box,
        }]
    return policy
