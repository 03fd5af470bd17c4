"""payment provider records (Stripe)

Revision ID: 0008
Revises: 0007
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('payment_intents',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('party_id', sa.String(length=40), nullable=False),
    sa.Column('purpose', sa.String(length=10), nullable=False),
    sa.Column('invoice_id', sa.String(length=40), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('refunded_minor', sa.BigInteger(), nullable=False),
    sa.Column('provider', sa.String(length=20), nullable=False),
    sa.Column('provider_id', sa.String(length=255), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('failure', sa.String(length=500), nullable=True),
    sa.Column('journal_seq', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_payment_intents_invoice_id_invoices')),
    sa.ForeignKeyConstraint(['party_id'], ['parties.id'], name=op.f('fk_payment_intents_party_id_parties')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_intents')),
    sa.UniqueConstraint('invoice_id', name=op.f('uq_payment_intents_invoice_id')),
    sa.UniqueConstraint('provider_id', name=op.f('uq_payment_intents_provider_id'))
    )
    with op.batch_alter_table('payment_intents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_intents_party_id'), ['party_id'], unique=False)

    op.create_table('payment_connected_accounts',
    sa.Column('party_id', sa.String(length=40), nullable=False),
    sa.Column('provider', sa.String(length=20), nullable=False),
    sa.Column('provider_account_id', sa.String(length=255), nullable=False),
    sa.Column('payouts_status', sa.String(length=20), nullable=False),
    sa.Column('last_failure', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['party_id'], ['parties.id'], name=op.f('fk_payment_connected_accounts_party_id_parties')),
    sa.PrimaryKeyConstraint('party_id', name=op.f('pk_payment_connected_accounts')),
    sa.UniqueConstraint('provider_account_id', name=op.f('uq_payment_connected_accounts_provider_account_id'))
    )

    op.create_table('payment_transfers',
    sa.Column('withdrawal_id', sa.String(length=40), nullable=False),
    sa.Column('party_id', sa.String(length=40), nullable=False),
    sa.Column('destination', sa.String(length=255), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('reversed_minor', sa.BigInteger(), nullable=False),
    sa.Column('provider_id', sa.String(length=255), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('failure', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['party_id'], ['parties.id'], name=op.f('fk_payment_transfers_party_id_parties')),
    sa.ForeignKeyConstraint(['withdrawal_id'], ['withdrawals.id'], name=op.f('fk_payment_transfers_withdrawal_id_withdrawals')),
    sa.PrimaryKeyConstraint('withdrawal_id', name=op.f('pk_payment_transfers')),
    sa.UniqueConstraint('provider_id', name=op.f('uq_payment_transfers_provider_id'))
    )
    with op.batch_alter_table('payment_transfers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_transfers_party_id'), ['party_id'], unique=False)

    op.create_table('payment_events',
    sa.Column('event_id', sa.String(length=255), nullable=False),
    sa.Column('provider', sa.String(length=20), nullable=False),
    sa.Column('type', sa.String(length=100), nullable=False),
    sa.Column('outcome', sa.String(length=200), nullable=False),
    sa.Column('journal_seq', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('event_id', name=op.f('pk_payment_events'))
    )


def downgrade() -> None:
    op.drop_table('payment_events')
    with op.batch_alter_table('payment_transfers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_transfers_party_id'))
    op.drop_table('payment_transfers')
    op.drop_table('payment_connected_accounts')
    with op.batch_alter_table('payment_intents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_intents_party_id'))
    op.drop_table('payment_intents')
