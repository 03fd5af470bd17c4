"""How money accounts are named: `owner:currency:purpose`, stable, as the journal records them.

An account is opened on first use: by a posting to it or a lock taken on it; and ahead of the
distributions that pay through it (`ledger.account_opening`): a holder's with its holding, IPX's
clearing account and the owner's, operator's and residual holder's with an asset's listing, so
that a distribution to an instrument's holders finds every account already there.
"""

from __future__ import annotations

from ledger.journal import SYSTEM_OWNER

# Purposes of a party's accounts, and of IPX's own.
AVAILABLE = "available"  # the party's to spend or withdraw
HELD = "held"  # reserved for open orders and other commitments
PAYOUT = "payout"  # withdrawn, waiting to be paid out
CLEARING = "clearing"  # IPX's side of money entering and leaving: may go negative
FEES = "fees"  # the operator's fee income

SYSTEM_PURPOSES = {CLEARING: True, FEES: False}


def party_account(party_id: str, currency: str, purpose: str) -> str:
    return f"{party_id}:{currency}:{purpose}"


def system_account(currency: str, purpose: str) -> str:
    return f"{SYSTEM_OWNER}:{currency}:{purpose}"


def account_fields(code: str) -> tuple[str | None, str, str, bool]:
    """A new account's owning party (None for IPX's own), currency, purpose and overdraft
    rule, all read from its code."""
    owner, currency, purpose = code.split(":")
    return (None if owner == SYSTEM_OWNER else owner, currency, purpose,
            may_go_negative(code))


def may_go_negative(code: str) -> bool:
    """The overdraft rule a new account gets: only IPX's clearing accounts may go negative."""
    owner, _, purpose = code.split(":")
    return owner == SYSTEM_OWNER and SYSTEM_PURPOSES.get(purpose, False)
