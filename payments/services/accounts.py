"""IPX's own accounts for money held at the payment provider.

`ipx:{CUR}:stripe` is the provider's clearing account: its movements mirror the provider's
balance transactions (money in is a debit, money out a credit), which is what reconciliation
compares. `ipx:{CUR}:receivable` holds what the operator must recover when the provider takes
money back (a refund) that has already been spent or distributed. Both may go negative.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from ledger.account_codes import system_account
from ledger.db import insert_missing
from ledger.models import Account

PROVIDER_CLEARING = "stripe"
RECEIVABLE = "receivable"


def provider_clearing(currency: str) -> str:
    return system_account(currency, PROVIDER_CLEARING)


def receivable(currency: str) -> str:
    return system_account(currency, RECEIVABLE)


def ensure_system_accounts(session: Session, currency: str) -> None:
    """Create the provider's accounts in `currency` if missing, allowed to go negative (the
    ledger creates unknown system accounts as non-negative; these mirror outside money)."""
    insert_missing(session, Account, [
        {"code": system_account(currency, purpose), "party_id": None, "currency": currency,
         "purpose": purpose, "balance_minor": 0, "allow_negative": True}
        for purpose in (PROVIDER_CLEARING, RECEIVABLE)
    ], ["code"])
