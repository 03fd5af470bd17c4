"""Migration 0009 drops `distribution_lines` (the journal entry holds the lines): going back
refills the table from the journal, and coming forward again reads the same lines."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

import migrations
from ledger.services import revenue
from tests.integration.conftest import World


def test_down_and_up_keep_every_line(world: World, database_url: str) -> None:
    views = [revenue.record_revenue(world.uow(), world.operator, world.listing.asset.id,
                                    amount, "HKD", "royalty", f"R{n}")
             for n, amount in enumerate(["100000.01", "333.33"])]
    world.sessions.kw["bind"].dispose()  # let the migration take the database
    config = migrations.alembic_config(database_url)
    command.downgrade(config, "0008")
    with world.sessions() as session:
        for view in views:
            stored = session.execute(text(
                "SELECT party_id, unit_class, units, amount_minor FROM distribution_lines "
                "WHERE distribution_id = :id ORDER BY id"), {"id": view.distribution.id}).all()
            assert [tuple(row) for row in stored] == [tuple(line) for line in view.lines]
    world.sessions.kw["bind"].dispose()
    command.upgrade(config, "head")
    for view in views:
        read = revenue.read_distribution(world.uow(), world.operator, view.distribution.id)
        assert read.lines == view.lines and read.steps == view.steps
