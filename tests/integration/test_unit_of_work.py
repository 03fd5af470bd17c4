"""How a unit of work ends: committed, rolled back, or, on PostgreSQL, a transaction that wrote
nothing ended with COMMIT, which keeps the connection's prepared statements (psycopg drops them
all on a ROLLBACK)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from ledger.actor import Actor
from ledger.models import Party
from ledger.unit_of_work import UnitOfWork

Uow = Callable[[], UnitOfWork]
PROBE = "SELECT count(*) AS ipx_uow_probe FROM parties"


def _parties(uow_factory: Uow) -> int:
    with uow_factory() as uow:
        return int(uow.session.execute(select(func.count()).select_from(Party)).scalar_one())


def test_uncommitted_writes_are_rolled_back(uow_factory: Uow,
                                            make_party: Callable[..., Actor]) -> None:
    make_party("inventor")
    before = _parties(uow_factory)
    with uow_factory() as uow:  # written (flushed) and not committed
        uow.session.execute(text("UPDATE parties SET name = 'changed'"))
    with uow_factory() as uow:  # pending in the session, never flushed
        uow.session.execute(select(Party.id)).all()
        uow.session.add(Party(id="pty_pending", kind="investor", name="Pending",
                              created_at=uow.now))
    with uow_factory() as uow:
        names = set(uow.session.execute(select(Party.name)).scalars())
    assert "changed" not in names and _parties(uow_factory) == before


def test_an_error_rolls_back_even_a_read(uow_factory: Uow) -> None:
    with pytest.raises(RuntimeError), uow_factory() as uow:
        uow.session.execute(select(Party.id)).all()
        raise RuntimeError("the service failed")


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_read_only_unit_keeps_the_prepared_statements(
        uow_factory: Uow, make_party: Callable[..., Actor]) -> None:
    make_party("inventor")

    def prepared(uow: UnitOfWork) -> int:
        return int(uow.session.execute(text(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE "
            "'%ipx_uow_probe%'")).scalar_one())

    with uow_factory() as uow:
        for _ in range(6):  # psycopg prepares a statement on its fifth run
            uow.session.execute(text(PROBE)).scalar_one()
        assert prepared(uow) == 1
    with uow_factory() as uow:  # the same pooled connection, after a read-only unit
        assert prepared(uow) == 1
        uow.session.execute(text("UPDATE parties SET name = name WHERE false"))  # no row
        assert prepared(uow) == 1
    with uow_factory() as uow:  # still: that update changed nothing
        assert prepared(uow) == 1
        uow.session.execute(text("SELECT 1 FROM parties FOR UPDATE")).all()  # a row lock
    with uow_factory() as uow:  # after one that locked rows: rolled back, statements gone
        assert prepared(uow) == 0


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_caught_error_leaves_an_aborted_transaction_to_roll_back(uow_factory: Uow) -> None:
    caught: list[DBAPIError] = []
    with uow_factory() as uow:
        try:
            uow.session.execute(text("SELECT 1 / 0"))
        except DBAPIError as error:  # a service that handles the error and returns
            caught.append(error)
    # Leaving the block did not fail on the aborted transaction, and the pool is usable.
    assert caught and _parties(uow_factory) >= 0


def test_the_api_s_reading_unit_of_work_refuses_to_write(database_url: str,
                                                         tmp_path: Path) -> None:
    """`read_uow()` reads what the writing one committed, and a write through it fails
    (SQLite's `query_only`, PostgreSQL's READ ONLY transaction) and changes nothing; on
    SQLite it begins without the write lock."""
    from api.app import create_app
    from api.config import Settings
    from api.context import read_uow, runtime, uow
    from ledger.signing_key import load_or_create_signing_key

    load_or_create_signing_key(tmp_path / "home")
    app = create_app(Settings(database_url=database_url, home=tmp_path / "home",
                              origin="test.ipx.local/journal"))
    try:
        with app.app_context():
            with uow() as writing:
                writing.session.add(Party(id="pty_reader", kind="investor", name="Reader",
                                          created_at=writing.now))
                writing.commit()
            with read_uow() as reading:
                assert reading.session.get_one(Party, "pty_reader").name == "Reader"
            with read_uow() as reading, pytest.raises(DBAPIError, match="(?i)read.?only"):
                reading.session.execute(text("UPDATE parties SET name = 'changed'"))
            with uow() as writing:
                assert writing.session.get_one(Party, "pty_reader").name == "Reader"
            # Its own connections on SQLite; on PostgreSQL the main engine's pool.
            assert (runtime().read_engine.pool is not runtime().engine.pool) == (
                database_url.startswith("sqlite"))
    finally:
        app.extensions["ipx"].dispose()
