"""Lists bound to PostgreSQL as one array literal come back element for element."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import BigInteger, Boolean, Engine, Text, bindparam, text

from ledger.db import ArrayLiteral, make_engine

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
