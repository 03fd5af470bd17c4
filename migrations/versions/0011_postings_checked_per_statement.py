"""postings: references checked once per statement on PostgreSQL; money history immutable;
an entry's readers through its postings

A distribution writes 100,000 postings in one statement. PostgreSQL checks a foreign key row
by row (a lookup and a share lock of the referenced row each): 0.9 s of the 100,000-posting
insert against 0.3 s without the keys, and 0.4 s with the check below (psql, bench/README.md).
So on PostgreSQL the two keys of `postings` become one statement-level check of the inserted
rows, and the side a foreign key also guards, the referenced rows, is guarded by refusing
what would orphan a posting: deleting or re-keying an account or a money transaction (neither
is ever deleted) and changing or deleting a posting (money history, like the journal, is
never rewritten). SQLite keeps its foreign keys (checked per row, cheaply, in process).

The parties an entry concerns through its postings (the owners of the accounts) are no longer
written to `journal_entry_parties` (100,000 rows for a distribution): who may read an entry
is derived from the postings, which these two indexes make a direct lookup.

Revision ID: 0011
Revises: 0010
"""
from __future__ import annotations

from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

POSTINGS_REFERENCES = """
CREATE FUNCTION ipx_postings_references() RETURNS trigger LANGUAGE plpgsql AS $$
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
MONEY_HISTORY = """
CREATE FUNCTION ipx_money_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'IPX money history is never rewritten: % on % is not allowed', TG_OP,
        TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END
$$
"""
# (trigger, table, when): statement-level, refusing the statement whatever rows it touches;
# balance updates (which do not set `id`) and inserts do not fire them.
GUARDS = (
    ("accounts_kept", "accounts", "BEFORE DELETE OR UPDATE OF id OR TRUNCATE"),
    ("money_transactions_kept", "money_transactions", "BEFORE DELETE OR UPDATE OR TRUNCATE"),
    ("postings_kept", "postings", "BEFORE DELETE OR UPDATE OR TRUNCATE"),
)
FOREIGN_KEYS = (
    ("fk_postings_account_id_accounts", "accounts", "account_id", "id"),
    ("fk_postings_transaction_id_money_transactions", "money_transactions", "transaction_id",
     "id"),
)


def upgrade() -> None:
    op.create_index('ix_money_transactions_journal_seq', 'money_transactions', ['journal_seq'])
    op.drop_index('ix_postings_transaction_id', table_name='postings')
    op.create_index('ix_postings_transaction_account', 'postings',
                    ['transaction_id', 'account_id'])
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, _, _, _ in FOREIGN_KEYS:
        op.drop_constraint(name, 'postings', type_='foreignkey')
    op.execute(POSTINGS_REFERENCES)
    op.execute("CREATE TRIGGER postings_references AFTER INSERT ON postings "
               "REFERENCING NEW TABLE AS new_postings FOR EACH STATEMENT "
               "EXECUTE FUNCTION ipx_postings_references()")
    op.execute(MONEY_HISTORY)
    for trigger, table, when in GUARDS:
        op.execute(f"CREATE TRIGGER {trigger} {when} ON {table} "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION ipx_money_history()")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for trigger, table, _ in GUARDS:
            op.execute(f"DROP TRIGGER {trigger} ON {table}")
        op.execute("DROP FUNCTION ipx_money_history()")
        op.execute("DROP TRIGGER postings_references ON postings")
        op.execute("DROP FUNCTION ipx_postings_references()")
        for name, referred, column, key in FOREIGN_KEYS:
            op.create_foreign_key(name, 'postings', referred, [column], [key])
    op.drop_index('ix_postings_transaction_account', table_name='postings')
    op.create_index('ix_postings_transaction_id', 'postings', ['transaction_id'])
    op.drop_index('ix_money_transactions_journal_seq', table_name='money_transactions')
