"""Lists bound to PostgreSQL as one array literal come back element for element, are planned
as constant arrays, and big ones are planned for their own values."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import BigInteger, Boolean, Engine, Text, bindparam, text

from ledger.db import BIG_BATCH, ArrayLiteral, make_engine, planned_for_values

pytestmark = [pytest.mark.postgres,
              pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)]


@pytest.fixture
def engine(database_url: str) -> Any:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def _round_trip(engine: Engine, item: Any, values: list[Any]) -> list[Any]:
    statement = text("SELECT v FROM unnest(:values) WITH ORDINALITY AS a(v, n) ORDER BY n"
                     ).bindparams(bindparam("values", type_=ArrayLiteral(item)))
    with engine.connect() as connection:
        return list(connection.execute(statement, {"values": values}).scalars())


AWKWARD = ["", "NULL", "null", " padded ", "a,b", "{braces}", 'quote"d', "back\\slash",
           '\\"', "tab\there", "new\nline", "ünï©ødé", "pty_1:HKD:available"]


def test_text_elements_survive_quoting(engine: Engine) -> None:
    assert _round_trip(engine, Text, AWKWARD) == AWKWARD
    assert _round_trip(engine, Text, ["plain", None, "NULL"]) == ["plain", None, "NULL"]
    assert _round_trip(engine, Text, []) == []


def test_integers_and_booleans(engine: Engine) -> None:
    values = [0, -1, 2**63 - 1, -(2**63), 42]
    assert _round_trip(engine, BigInteger, values) == values
    assert _round_trip(engine, Boolean, [True, False, True]) == [True, False, True]


# The engine is only read from: sharing it between examples is safe.
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.one_of(st.none(), st.text(st.characters(blacklist_characters="\x00",
                                                                 blacklist_categories=["Cs"])))))
def test_any_text_list_round_trips(engine: Engine, values: list[str | None]) -> None:
    assert _round_trip(engine, Text, values) == values


def test_the_parameter_is_the_array_itself(engine: Engine) -> None:
    # Typed by its cast, the parameter becomes a constant array in a plan made for its value;
    # behind a text-to-array conversion (`::cstring`) it would be re-parsed for every row.
    statement = text("EXPLAIN SELECT g FROM generate_series(1, 100) AS g WHERE g = ANY(:v)"
                     ).bindparams(bindparam("v", type_=ArrayLiteral(BigInteger)))
    with engine.connect() as connection:
        plan = "\n".join(connection.execute(statement, {"v": list(range(50))}).scalars())
    assert "'{0,1,2," in plan and "::bigint[]" in plan and "cstring" not in plan


def _prepared(connection: Any) -> int:
    return connection.execute(text(
        "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%ipx_probe%'"
    )).scalar_one()


def test_big_batches_are_not_prepared(engine: Engine) -> None:
    statement = text("SELECT 1 AS ipx_probe WHERE 1 = ANY(:v)").bindparams(
        bindparam("v", type_=ArrayLiteral(BigInteger)))
    with engine.connect() as connection:
        driver = connection.connection.driver_connection
        threshold = driver.prepare_threshold  # type: ignore[union-attr]
        with planned_for_values(connection, BIG_BATCH):
            for _ in range(10):
                connection.execute(statement, {"v": [1]})
        assert _prepared(connection) == 0
        assert driver.prepare_threshold == threshold  # type: ignore[union-attr]
        with planned_for_values(connection, BIG_BATCH - 1):
            for _ in range(10):
                connection.execute(statement, {"v": [1]})
        assert _prepared(connection) == 1
