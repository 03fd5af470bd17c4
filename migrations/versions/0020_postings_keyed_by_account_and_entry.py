"""postings: keyed by (account, journal entry, line), without a row id or a transaction id

A posting was (id, transaction_id, account_id, amount_minor), with an index by (account,
transaction). Each of a distribution's 100,000 postings then cost two index insertions (the
sequence-drawn id's and the account's), and the index by account carried a 30-character
transaction id per posting. Now a posting is line `line` of journal entry `journal_seq`'s
"postings", and its key (account_id, journal_seq, line) is its one index, which answers
what the index by account did. Copying 100,000 postings into a table of 1,000,000 took a
median of 0.25 s against 0.43 s, and wrote 11.5 MiB of WAL against 21 MiB (bench/README.md).

The rows are rebuilt from the journal (each entry's "postings", which list exactly the rows
its money transaction wrote) and checked against the old rows before those are dropped. On
PostgreSQL the statement-level check of the references (0011, 0019) now looks up the entry's
money transaction by its seq.

Revision ID: 0020
Revises: 0019
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0019'
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
    IF 0 < (SELECT count(*) FROM (SELECT DISTINCT {column} FROM new_postings) n
            WHERE NOT EXISTS (SELECT 1 FROM money_transactions t WHERE t.{key} = n.{column}))
    THEN
        RAISE EXCEPTION 'a posting names a money transaction that does not exist'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END
$$
"""
TRIGGERS = (
    "CREATE TRIGGER postings_references AFTER INSERT ON postings "
    "REFERENCING NEW TABLE AS new_postings FOR EACH STATEMENT "
    "EXECUTE FUNCTION ipx_postings_references()",
    "CREATE TRIGGER postings_kept BEFORE DELETE OR UPDATE OR TRUNCATE ON postings "
    "FOR EACH STATEMENT EXECUTE FUNCTION ipx_money_history()",
)
# Each money entry's postings, from its body: (account id, seq, line, minor units). An amount
# is written with exactly its currency's decimals, so without its point it is in minor units.
FROM_JOURNAL = {
    "postgresql": (
        "SELECT a.id, e.seq, p.line - 1, replace(p.posting ->> 'amount', '.', '')::bigint "
        "FROM journal_entries e JOIN money_transactions t ON t.journal_seq = e.seq "
        "CROSS JOIN LATERAL jsonb_array_elements(e.body::jsonb -> 'postings') "
        "WITH ORDINALITY AS p(posting, line) "
        "JOIN accounts a ON a.code = p.posting ->> 'account'"),
    "sqlite": (
        "SELECT a.id, e.seq, p.key, "
        "CAST(replace(json_extract(p.value, '$.amount'), '.', '') AS INTEGER) "
        "FROM journal_entries e JOIN money_transactions t ON t.journal_seq = e.seq "
        "JOIN json_each(e.body, '$.postings') AS p "
        "JOIN accounts a ON a.code = json_extract(p.value, '$.account')"),
}
# The same postings from the old rows and the new, to compare: per account and entry, their
# count and sum.
OLD_TOTALS = ("SELECT p.account_id, t.journal_seq, count(*), sum(p.amount_minor) "
              "FROM postings_0019 p JOIN money_transactions t ON t.id = p.transaction_id "
              "GROUP BY p.account_id, t.journal_seq")
NEW_TOTALS = ("SELECT account_id, journal_seq, count(*), sum(amount_minor) FROM postings "
              "GROUP BY account_id, journal_seq")


def _set_aside(name: str) -> None:
    """Rename `postings` to `name`, with its key's name on PostgreSQL, where the key's index
    would clash with the new table's (its triggers go when it is dropped)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE postings RENAME CONSTRAINT pk_postings TO pk_{name}")
    op.rename_table('postings', name)


def upgrade() -> None:
    bind = op.get_bind()
    postgresql = bind.dialect.name == "postgresql"
    op.drop_index('ix_postings_account_transaction', table_name='postings')
    _set_aside("postings_0019")
    op.create_table(
        'postings',
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('journal_seq', sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  nullable=False),
        sa.Column('line', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('amount_minor', sa.BigInteger(), nullable=False),
        *(() if postgresql else (
            sa.ForeignKeyConstraint(['account_id'], ['accounts.id'],
                                    name='fk_postings_account_id_accounts'),
            sa.ForeignKeyConstraint(['journal_seq'], ['journal_entries.seq'],
                                    name='fk_postings_journal_seq_journal_entries'))),
        sa.PrimaryKeyConstraint('account_id', 'journal_seq', 'line', name='pk_postings'),
    )
    op.execute("INSERT INTO postings (account_id, journal_seq, line, amount_minor) "
               + FROM_JOURNAL[bind.dialect.name])
    old = set(bind.exec_driver_sql(OLD_TOTALS).all())
    new = set(bind.exec_driver_sql(NEW_TOTALS).all())
    if old != new:
        raise RuntimeError(
            f"the journal's postings differ from the postings table: {len(old - new)} "
            f"(account, entry) totals only in the table, {len(new - old)} only in the journal")
    op.drop_table('postings_0019')
    if postgresql:
        op.execute(CHECK.format(column="journal_seq", key="journal_seq"))
        for trigger in TRIGGERS:
            op.execute(trigger)


def downgrade() -> None:
    bind = op.get_bind()
    postgresql = bind.dialect.name == "postgresql"
    _set_aside("postings_0020")
    op.create_table(
        'postings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('transaction_id', sa.String(length=40), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('amount_minor', sa.BigInteger(), nullable=False),
        *(() if postgresql else (
            sa.ForeignKeyConstraint(['account_id'], ['accounts.id'],
                                    name='fk_postings_account_id_accounts'),
            sa.ForeignKeyConstraint(['transaction_id'], ['money_transactions.id'],
                                    name='fk_postings_transaction_id_money_transactions'))),
        sa.PrimaryKeyConstraint('id', name='pk_postings'),
    )
    # Numbered in entry order, then account order, as 0019's writers inserted them.
    op.execute("INSERT INTO postings (transaction_id, account_id, amount_minor) "
               "SELECT t.id, p.account_id, p.amount_minor FROM postings_0020 p "
               "JOIN money_transactions t ON t.journal_seq = p.journal_seq "
               "ORDER BY p.journal_seq, p.account_id, p.line")
    op.drop_table('postings_0020')
    op.create_index('ix_postings_account_transaction', 'postings',
                    ['account_id', 'transaction_id'])
    if postgresql:
        op.execute(CHECK.format(column="transaction_id", key="id"))
        for trigger in TRIGGERS:
            op.execute(trigger)
