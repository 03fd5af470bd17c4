"""The migrations build the schema the models declare, and every downgrade undoes its upgrade.

On PostgreSQL three foreign keys are statement-level triggers instead (migrations 0011 and
0012); nothing else may differ."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import migrations
from ledger.db import make_engine
from ledger.models import Base

CHECKED_BY_TRIGGERS = {
    "fk_accounts_party_id_parties",
    "fk_postings_account_id_accounts",
    "fk_postings_journal_seq_journal_entries",
}


def _differences(url: str) -> list[tuple[str, str]]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    return [(change[0], getattr(change[1], "name", str(change[1]))) for change in diff]


def test_migrations_build_the_models_schema(database_url: str) -> None:
    differences = _differences(database_url)
    if database_url.startswith("postgresql"):
        assert sorted(differences) == sorted(("add_fk", name) for name in CHECKED_BY_TRIGGERS)
    else:
        assert differences == []


def test_the_last_migrations_go_down_and_up(database_url: str) -> None:
    """Down past 0014 (a column; 0015 and 0017 change only how PostgreSQL stores a column,
    below, and 0016 and 0018 only rows, test_holders_accounts.py)."""
    config = migrations.alembic_config(database_url)
    command.downgrade(config, "0013")
    assert _differences(database_url) != []
    command.upgrade(config, "head")
    test_migrations_build_the_models_schema(database_url)


def _compression(url: str, table: str, column: str) -> str:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return str(connection.exec_driver_sql(
                "SELECT attcompression FROM pg_attribute WHERE attname = %(column)s "
                "AND attrelid = %(table)s::regclass",
                {"column": column, "table": table}).scalar_one())
    finally:
        engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize(("table", "column", "before"), [
    ("journal_entries", "body", "0014"), ("idempotency_records", "response_body", "0016")])
def test_large_texts_are_compressed_with_lz4(database_url: str, table: str, column: str,
                                             before: str) -> None:
    assert _compression(database_url, table, column) == "l"
    config = migrations.alembic_config(database_url)
    command.downgrade(config, before)
    assert _compression(database_url, table, column) == ""  # the server's default, pglz
    command.upgrade(config, "head")
    assert _compression(database_url, table, column) == "l"
