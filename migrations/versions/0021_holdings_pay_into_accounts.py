"""holdings.account_id: the account a holding's revenue is paid into

A holding is opened with its holder's available account in the instrument's currency
(0016); the holding now names that account, so that a distribution moves its holders'
accounts by id, the order the table holds them in, without reading them by code first: the
one UPDATE of 100,000 accounts took 0.34-0.42 s on the server by code and 0.19-0.22 s by id
(bench/README.md). Filled from the accounts that exist; a holding whose holder has no such
account keeps NULL, and a distribution reads that account by code.

Revision ID: 0021
Revises: 0020
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

FK = "fk_holdings_account_id_accounts"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # In place: SQLite adds a column with its reference, where a batch would copy the table.
        op.execute(f"ALTER TABLE holdings ADD COLUMN account_id INTEGER CONSTRAINT {FK} "
                   "REFERENCES accounts (id)")
    else:
        op.add_column("holdings", sa.Column("account_id", sa.Integer(), nullable=True))
        op.create_foreign_key(FK, "holdings", "accounts", ["account_id"], ["id"])
    # An account's code is owner:currency:purpose (ledger/account_codes.py).
    op.execute("UPDATE holdings SET account_id = (SELECT a.id FROM instruments i JOIN accounts a "
               "ON a.code = holdings.party_id || ':' || i.currency || ':' || 'available' "
               "WHERE i.id = holdings.instrument_id)")


def downgrade() -> None:
    with op.batch_alter_table("holdings") as batch:
        if op.get_bind().dialect.name != "sqlite":  # there the copy leaves it out with the column
            batch.drop_constraint(FK, type_="foreignkey")
        batch.drop_column("account_id")
