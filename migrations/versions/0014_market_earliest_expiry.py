"""markets.earliest_expiry_at: no open GTD order of the market expires before it

Every order first closes its instrument's GTD orders whose time has come. Knowing, on the
market row that the order locks anyway, a time before which none can be due spares that read
(one statement of about 13) on every order of a market whose GTD orders are not yet due, or
that has none (NULL). Filled from the open GTD orders already resting.

Revision ID: 0014
Revises: 0013
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('markets', sa.Column('earliest_expiry_at', sa.DateTime(timezone=True),
                                       nullable=True))
    op.execute("UPDATE markets SET earliest_expiry_at = (SELECT min(o.expires_at) FROM orders o "
               "WHERE o.instrument_id = markets.instrument_id AND o.status_open "
               "AND o.expires_at IS NOT NULL)")


def downgrade() -> None:
    with op.batch_alter_table('markets') as batch:
        batch.drop_column('earliest_expiry_at')
