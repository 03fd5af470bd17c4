"""Every listed asset's distribution accounts are open

Since 0018 a listing opens the accounts its distributions pay through besides the holders'
(`ledger.account_opening`): IPX's clearing account in the asset's currency, and the owner's,
the operators' and a named residual holder's available accounts in it. A distribution that
finds one missing creates it, but locks its 100,000 accounts twice to do so (bench/README.md).
This opens them, at zero, for assets listed before: nothing is posted, so the journal is
unchanged (replay counts a missing account as zero). Codes as `ledger.account_codes` names
them.

Revision ID: 0018
Revises: 0017
"""
from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    operators = [row[0] for row in bind.exec_driver_sql(
        "SELECT id FROM parties WHERE kind = 'operator'")]
    accounts: dict[str, tuple[str | None, str, str, bool]] = {}
    for owner, currency, body in bind.exec_driver_sql(
            "SELECT a.owner_id, a.currency, p.body FROM assets AS a "
            "JOIN policies AS p ON p.id = a.policy_id"):
        residual = json.loads(body).get("residual_holder", "owner")
        accounts[f"ipx:{currency}:clearing"] = (None, currency, "clearing", True)
        for party in {owner, *operators} | ({residual} - {"owner"}):
            accounts[f"{party}:{currency}:available"] = (party, currency, "available", False)
    if not accounts:
        return
    # The WHERE settles SQLite's parse of INSERT ... SELECT ... ON CONFLICT.
    bind.execute(sa.text(
        "INSERT INTO accounts (code, party_id, currency, purpose, balance_minor, "
        "allow_negative) SELECT :code, :party, :currency, :purpose, 0, :negative WHERE true "
        "ON CONFLICT (code) DO NOTHING"),
        [{"code": code, "party": party, "currency": currency, "purpose": purpose,
          "negative": negative}
         for code, (party, currency, purpose, negative) in sorted(accounts.items())])


def downgrade() -> None:
    """The opened accounts stay: an empty account is valid at every revision, and one opened
    here cannot be told from one opened by use."""
