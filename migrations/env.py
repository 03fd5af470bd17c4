"""Alembic environment: the IPX metadata, and the engine settings IPX uses everywhere."""

from __future__ import annotations

from alembic import context

import contracts.challenge_models  # noqa: F401  (registers the tables on the metadata)
import contracts.equity_models  # noqa: F401
import contracts.models  # noqa: F401
import exchange.models  # noqa: F401
import ledger.models  # noqa: F401
import payments.models  # noqa: F401
from ledger.db import Base, is_sqlite, make_engine

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url") or ""
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=is_sqlite(url),
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
