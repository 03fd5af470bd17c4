"""Builders shared by the contracts tests."""

from __future__ import annotations

import copy
from typing import Any

from contracts.terms import LicenceTerms, parse_terms

BASE: dict[str, Any] = {
    "schema": "ipx.licence-terms/1",
    "grantor": "pty_uni",
    "licensee": "pty_acme",
    "assets": ["ast_1"],
    "exclusivity": "exclusive",
    "field_of_use": [{"code": "diagnostics", "label": "Human diagnostics"}],
    "territory": ["HK", "CN"],
    "start": "2025-01-01",
    "end": "2030-01-01",
    "currency": "HKD",
    "upfront_fee": "50000.00",
    "royalty": {
        "tiers": [{"from": "0", "rate": "5"}, {"from": "1000000", "rate": "3"}],
        "minimum_annual": "20000",
        "stacking": {"floor": "2", "deduction": "50"},
    },
    "milestones": [{"event": "first_sale", "amount": "25000"},
                   {"event": "regulatory_approval", "amount": "100000.50"}],
    "sublicence_share": "20",
    "equity": {"shares": 50000, "share_class": "ordinary", "startup_id": "pty_acme"},
    "report_frequency": "quarterly",
    "audit": {"allowed": True, "notice_days": 30},
}


def raw(**overrides: Any) -> dict[str, Any]:
    """A deep copy of BASE with top-level keys replaced (a value of ... deletes the key)."""
    out = copy.deepcopy(BASE)
    for key, value in overrides.items():
        if value is ...:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def terms(**overrides: Any) -> LicenceTerms:
    """Parsed terms: BASE with overrides."""
    return parse_terms(raw(**overrides))
