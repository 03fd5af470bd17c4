"""Every holder has an available account in its instrument's currency

Since 0016 a holding opens its holder's account in the instrument's currency when it is created
(`ledger.holdings.create_holdings`), so that a distribution to 100,000 holders updates their
accounts instead of creating them while it holds the asset (bench/README.md). This opens the
accounts that holdings created before it lack, at zero: nothing is posted, so the journal is
unchanged (replay counts a missing account as zero). Code as `party_account` names it.

Revision ID: 0016
Revises: 0015
"""
from __future__ import annotations

from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The WHERE settles SQLite's parse of INSERT ... SELECT ... ON CONFLICT. As the driver's
    # own SQL: SQLAlchemy's text() would take ':available' for a parameter.
    op.get_bind().exec_driver_sql(
        "INSERT INTO accounts (code, party_id, currency, purpose, balance_minor, allow_negative) "
        "SELECT DISTINCT h.party_id || ':' || i.currency || ':available', h.party_id, "
        "i.currency, 'available', 0, false "
        "FROM holdings AS h JOIN instruments AS i ON i.id = h.instrument_id WHERE true "
        "ON CONFLICT (code) DO NOTHING")


def downgrade() -> None:
    """The opened accounts stay: an empty account is valid at every revision, and one opened
    here cannot be told from one opened by use."""
