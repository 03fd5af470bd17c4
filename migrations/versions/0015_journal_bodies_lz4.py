"""journal_entries.body: compressed with LZ4 on PostgreSQL

A distribution's entry to 100,000 holders is 16 MiB of JSON, compressed into TOAST while its
append holds the journal head, the one global lock. PostgreSQL's default, pglz, took 0.22-0.35 s
for such a body on the benchmark machine; LZ4 0.07-0.08 s, to the same 6 MiB, and it reads back
faster (bench/README.md). Bodies already stored keep pglz: PostgreSQL reads both. Skipped where
the server was built without LZ4, and on SQLite, which does not compress.

Revision ID: 0015
Revises: 0014
"""
from __future__ import annotations

from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def _lz4_available() -> bool:
    bind = op.get_bind()
    return bind.dialect.name == "postgresql" and bool(bind.exec_driver_sql(
        "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
    ).scalar())


def upgrade() -> None:
    if _lz4_available():
        op.execute("ALTER TABLE journal_entries ALTER COLUMN body SET COMPRESSION lz4")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE journal_entries ALTER COLUMN body SET COMPRESSION default")
