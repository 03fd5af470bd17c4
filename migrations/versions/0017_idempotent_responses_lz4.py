"""idempotency_records.response_body: compressed with LZ4 on PostgreSQL

A stored response can be as large as the request's answer: the 201 of a receipt to 100,000
holders carries 8 MiB of lines, compressed into TOAST inside the request. PostgreSQL's default,
pglz, took 0.11-0.13 s for such a body on the benchmark machine, LZ4 0.04 s (bench/README.md).
As 0015 for journal bodies: stored responses keep pglz, and SQLite and servers without LZ4 are
left as they are.

Revision ID: 0017
Revises: 0016
"""
from __future__ import annotations

from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def _lz4_available() -> bool:
    bind = op.get_bind()
    return bind.dialect.name == "postgresql" and bool(bind.exec_driver_sql(
        "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
    ).scalar())


def upgrade() -> None:
    if _lz4_available():
        op.execute("ALTER TABLE idempotency_records ALTER COLUMN response_body "
                   "SET COMPRESSION lz4")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE idempotency_records ALTER COLUMN response_body "
                   "SET COMPRESSION default")
