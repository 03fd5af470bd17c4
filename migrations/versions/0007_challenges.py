"""challenges, applications and milestones

Revision ID: 0007
Revises: 0006
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('challenges',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('poster_id', sa.String(length=40), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('problem', sa.Text(), nullable=False),
    sa.Column('field', sa.String(length=64), nullable=False),
    sa.Column('deadline', sa.DateTime(timezone=True), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('bounty_minor', sa.BigInteger(), nullable=False),
    sa.Column('ip_terms', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('spec_hash', sa.String(length=64), nullable=False),
    sa.Column('closing_reason', sa.Text(), nullable=True),
    sa.Column('journal_seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('closed_seq', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['journal_seq'], ['journal_entries.seq'], name=op.f('fk_challenges_journal_seq_journal_entries')),
    sa.ForeignKeyConstraint(['poster_id'], ['parties.id'], name=op.f('fk_challenges_poster_id_parties')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_challenges'))
    )
    with op.batch_alter_table('challenges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_challenges_field'), ['field'], unique=False)
        batch_op.create_index(batch_op.f('ix_challenges_poster_id'), ['poster_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_challenges_status'), ['status'], unique=False)
    op.create_table('challenge_applications',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('challenge_id', sa.String(length=40), nullable=False),
    sa.Column('applicant_id', sa.String(length=40), nullable=False),
    sa.Column('university_id', sa.String(length=40), nullable=True),
    sa.Column('proposal', sa.Text(), nullable=False),
    sa.Column('shortlist_position', sa.Integer(), nullable=True),
    sa.Column('journal_seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['applicant_id'], ['parties.id'], name=op.f('fk_challenge_applications_applicant_id_parties')),
    sa.ForeignKeyConstraint(['challenge_id'], ['challenges.id'], name=op.f('fk_challenge_applications_challenge_id_challenges')),
    sa.ForeignKeyConstraint(['journal_seq'], ['journal_entries.seq'], name=op.f('fk_challenge_applications_journal_seq_journal_entries')),
    sa.ForeignKeyConstraint(['university_id'], ['parties.id'], name=op.f('fk_challenge_applications_university_id_parties')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_challenge_applications'))
    )
    with op.batch_alter_table('challenge_applications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_challenge_applications_applicant_id'), ['applicant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_challenge_applications_challenge_id'), ['challenge_id'], unique=False)
    op.create_table('challenge_funders',
    sa.Column('challenge_id', sa.String(length=40), nullable=False),
    sa.Column('party_id', sa.String(length=40), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('committed_minor', sa.BigInteger(), nullable=False),
    sa.Column('held_minor', sa.BigInteger(), nullable=False),
    sa.Column('released_minor', sa.BigInteger(), nullable=False),
    sa.Column('refunded_minor', sa.BigInteger(), nullable=False),
    sa.Column('hold_seq', sa.BigInteger(), nullable=True),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['challenge_id'], ['challenges.id'], name=op.f('fk_challenge_funders_challenge_id_challenges')),
    sa.ForeignKeyConstraint(['party_id'], ['parties.id'], name=op.f('fk_challenge_funders_party_id_parties')),
    sa.PrimaryKeyConstraint('challenge_id', 'party_id', name=op.f('pk_challenge_funders'))
    )
    with op.batch_alter_table('challenge_funders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_challenge_funders_party_id'), ['party_id'], unique=False)
    op.create_table('challenge_milestone_events',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('challenge_id', sa.String(length=40), nullable=False),
    sa.Column('milestone_key', sa.String(length=64), nullable=False),
    sa.Column('event', sa.String(length=20), nullable=False),
    sa.Column('party_id', sa.String(length=40), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('amount_minor', sa.BigInteger(), nullable=True),
    sa.Column('journal_seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['challenge_id'], ['challenges.id'], name=op.f('fk_challenge_milestone_events_challenge_id_challenges')),
    sa.ForeignKeyConstraint(['journal_seq'], ['journal_entries.seq'], name=op.f('fk_challenge_milestone_events_journal_seq_journal_entries')),
    sa.ForeignKeyConstraint(['party_id'], ['parties.id'], name=op.f('fk_challenge_milestone_events_party_id_parties')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_challenge_milestone_events'))
    )
    with op.batch_alter_table('challenge_milestone_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_challenge_milestone_events_challenge_id'), ['challenge_id'], unique=False)
    op.create_table('challenge_milestones',
    sa.Column('challenge_id', sa.String(length=40), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('percent', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('reports', sa.Integer(), nullable=False),
    sa.Column('released_minor', sa.BigInteger(), nullable=False),
    sa.Column('accepted_seq', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['challenge_id'], ['challenges.id'], name=op.f('fk_challenge_milestones_challenge_id_challenges')),
    sa.PrimaryKeyConstraint('challenge_id', 'key', name=op.f('pk_challenge_milestones'))
    )
    op.create_table('challenge_results',
    sa.Column('challenge_id', sa.String(length=40), nullable=False),
    sa.Column('asset_id', sa.String(length=40), nullable=False),
    sa.Column('owner_id', sa.String(length=40), nullable=False),
    sa.Column('licensee_id', sa.String(length=40), nullable=True),
    sa.Column('exclusivity', sa.String(length=20), nullable=True),
    sa.Column('journal_seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['assets.id'], name=op.f('fk_challenge_results_asset_id_assets')),
    sa.ForeignKeyConstraint(['challenge_id'], ['challenges.id'], name=op.f('fk_challenge_results_challenge_id_challenges')),
    sa.ForeignKeyConstraint(['journal_seq'], ['journal_entries.seq'], name=op.f('fk_challenge_results_journal_seq_journal_entries')),
    sa.ForeignKeyConstraint(['licensee_id'], ['parties.id'], name=op.f('fk_challenge_results_licensee_id_parties')),
    sa.ForeignKeyConstraint(['owner_id'], ['parties.id'], name=op.f('fk_challenge_results_owner_id_parties')),
    sa.PrimaryKeyConstraint('challenge_id', name=op.f('pk_challenge_results')),
    sa.UniqueConstraint('asset_id', name=op.f('uq_challenge_results_asset_id'))
    )
    op.create_table('challenge_awards',
    sa.Column('challenge_id', sa.String(length=40), nullable=False),
    sa.Column('application_id', sa.String(length=40), nullable=False),
    sa.Column('ip_terms', sa.String(length=20), nullable=False),
    sa.Column('terms_hash', sa.String(length=64), nullable=False),
    sa.Column('journal_seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('awarded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['challenge_applications.id'], name=op.f('fk_challenge_awards_application_id_challenge_applications')),
    sa.ForeignKeyConstraint(['challenge_id'], ['challenges.id'], name=op.f('fk_challenge_awards_challenge_id_challenges')),
    sa.ForeignKeyConstraint(['journal_seq'], ['journal_entries.seq'], name=op.f('fk_challenge_awards_journal_seq_journal_entries')),
    sa.PrimaryKeyConstraint('challenge_id', name=op.f('pk_challenge_awards')),
    sa.UniqueConstraint('application_id', name=op.f('uq_challenge_awards_application_id'))
    )
    op.create_table('challenge_team_members',
    sa.Column('application_id', sa.String(length=40), nullable=False),
    sa.Column('party_id', sa.String(length=40), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('percent', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['challenge_applications.id'], name=op.f('fk_challenge_team_members_application_id_challenge_applications')),
    sa.ForeignKeyConstraint(['party_id'], ['parties.id'], name=op.f('fk_challenge_team_members_party_id_parties')),
    sa.PrimaryKeyConstraint('application_id', 'party_id', name=op.f('pk_challenge_team_members'))
    )
    with op.batch_alter_table('challenge_team_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_challenge_team_members_party_id'), ['party_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('challenge_team_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_challenge_team_members_party_id'))
    op.drop_table('challenge_team_members')
    op.drop_table('challenge_awards')
    op.drop_table('challenge_results')
    op.drop_table('challenge_milestones')
    with op.batch_alter_table('challenge_milestone_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_challenge_milestone_events_challenge_id'))
    op.drop_table('challenge_milestone_events')
    with op.batch_alter_table('challenge_funders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_challenge_funders_party_id'))
    op.drop_table('challenge_funders')
    with op.batch_alter_table('challenge_applications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_challenge_applications_challenge_id'))
        batch_op.drop_index(batch_op.f('ix_challenge_applications_applicant_id'))
    op.drop_table('challenge_applications')
    with op.batch_alter_table('challenges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_challenges_status'))
        batch_op.drop_index(batch_op.f('ix_challenges_poster_id'))
        batch_op.drop_index(batch_op.f('ix_challenges_field'))
    op.drop_table('challenges')
