"""postings: on PostgreSQL, the statement-level check of their references made cheaper

The check of 0011 asked EXISTS (a posting whose account or money transaction is missing).
For EXISTS the planner plans for the first row, so it looked up each posting's account by
index, fetching every account's row to see it (accounts are updated too often for an
index-only scan): 0.13-0.15 s for a distribution's 100,000 postings. Counting them instead,
it plans for all the rows, and for a big batch hashes the accounts table once: 0.06-0.07 s
(psql, bench/README.md); for a few postings it still looks each up. And a distribution's
100,000 postings all name one money transaction: it is now looked up once, not 100,000 times.

Revision ID: 0019
Revises: 0018
"""
from __future__ import annotations

from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

CHECK = """
CREATE OR REPLACE FUNCTION ipx_postings_references() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF 0 < (SELECT count(*) FROM new_postings n
            WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = n.account_id))
    THEN
        RAISE EXCEPTION 'a posting names an account that does not exist'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF 0 < (SELECT count(*) FROM (SELECT DISTINCT transaction_id FROM new_postings) n
            WHERE NOT EXISTS (SELECT 1 FROM money_transactions t WHERE t.id = n.transaction_id))
    THEN
        RAISE EXCEPTION 'a posting names a money transaction that does not exist'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END
$$
"""
CHECK_0011 = """
CREATE OR REPLACE FUNCTION ipx_postings_references() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM new_postings n
               WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = n.account_id))
    THEN
        RAISE EXCEPTION 'a posting names an account that does not exist'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF EXISTS (SELECT 1 FROM new_postings n
               WHERE NOT EXISTS (SELECT 1 FROM money_transactions t WHERE t.id = n.transaction_id))
    THEN
        RAISE EXCEPTION 'a posting names a money transaction that does not exist'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(CHECK)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(CHECK_0011)
