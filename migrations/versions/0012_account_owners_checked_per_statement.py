"""accounts: the owner checked once per statement on PostgreSQL; parties never deleted or re-keyed

A distribution's first receipt creates 100,000 accounts in one statement, and PostgreSQL checks
the foreign key to `parties` row by row (a lookup and a share lock of the party each): in psql,
100,000 new accounts took 1.86 s with it against 1.08 s without. As migration 0011 did for
postings, on PostgreSQL the key becomes one statement-level check of the inserted rows, and
the side a foreign key also guards is guarded by refusing what would orphan an account:
deleting or re-keying a party (nothing does either; the journal names parties forever) and
changing an account's owner. SQLite keeps its foreign key.

Revision ID: 0012
Revises: 0011
"""
from __future__ import annotations

from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

ACCOUNT_OWNERS = """
CREATE FUNCTION ipx_account_owners() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM new_accounts n
               WHERE n.party_id IS NOT NULL
                 AND NOT EXISTS (SELECT 1 FROM parties p WHERE p.id = n.party_id))
    THEN
        RAISE EXCEPTION 'an account names a party that does not exist'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END
$$
"""
# (trigger, table, when), refused by 0011's ipx_money_history: statement-level, whatever rows
# the statement touches; balance updates do not set party_id and do not fire them.
GUARDS = (
    ("accounts_owner_kept", "accounts", "BEFORE UPDATE OF party_id"),
    ("parties_kept", "parties", "BEFORE DELETE OR UPDATE OF id OR TRUNCATE"),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_constraint('fk_accounts_party_id_parties', 'accounts', type_='foreignkey')
    op.execute(ACCOUNT_OWNERS)
    op.execute("CREATE TRIGGER accounts_owners AFTER INSERT ON accounts "
               "REFERENCING NEW TABLE AS new_accounts FOR EACH STATEMENT "
               "EXECUTE FUNCTION ipx_account_owners()")
    for trigger, table, when in GUARDS:
        op.execute(f"CREATE TRIGGER {trigger} {when} ON {table} "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION ipx_money_history()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for trigger, table, _ in GUARDS:
        op.execute(f"DROP TRIGGER {trigger} ON {table}")
    op.execute("DROP TRIGGER accounts_owners ON accounts")
    op.execute("DROP FUNCTION ipx_account_owners()")
    op.create_foreign_key('fk_accounts_party_id_parties', 'accounts', 'parties', ['party_id'],
                          ['id'])
