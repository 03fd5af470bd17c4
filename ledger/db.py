"""Database engine and sessions: the storage adapter every store and service shares.

SQLite is the embedded default (WAL, foreign keys on, writers serialised by BEGIN IMMEDIATE so
that two writers never deadlock on a lock upgrade); PostgreSQL is the production engine.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Engine,
    MetaData,
    Text,
    TypeDecorator,
    cast,
    create_engine,
    event,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, class_mapper, sessionmaker
from sqlalchemy.types import UserDefinedType

from ledger.sqlite_writers import QueuedWriterConnection

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def is_sqlite_file(engine: Engine) -> bool:
    """A SQLite database in a file, which a second engine can open too (not in memory)."""
    return (engine.url.get_backend_name() == "sqlite"
            and engine.url.database not in (None, "", ":memory:"))


def make_engine(url: str, *, read_only: bool = False, **kwargs: Any) -> Engine:
    """Create an engine for `url` with the settings IPX relies on.

    `read_only` engines (long readers such as `ipx ledger verify`, the API's reads) begin
    SQLite transactions without taking the write lock, so that writers are not held up while
    they run, and refuse to write (PostgreSQL's transactions are READ ONLY).
    """
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if is_sqlite(url):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30,
                               "factory": QueuedWriterConnection}, **kwargs
        )
        _configure_sqlite(engine, read_only)
        return engine
    engine = create_engine(url, **kwargs)
    _ping_when_idle(engine)
    return read_only_view(engine) if read_only else engine


def read_only_view(engine: Engine) -> Engine:
    """`engine`'s pool, its transactions READ ONLY on PostgreSQL (reset when a connection
    goes back to the pool)."""
    return (engine.execution_options(postgresql_readonly=True)
            if engine.dialect.name == "postgresql" else engine)


# A pooled connection returned less than this long ago has just worked: checking it out again
# skips the liveness ping (a round trip, and as much again on the server). Under load every
# checkout is such a reuse; one idle longer (after a quiet spell, when a restart or an idle
# timeout may have closed it) is pinged as `pool_pre_ping` would, and replaced if dead.
PING_AFTER_IDLE_S = 1.0


def _ping_when_idle(engine: Engine) -> None:
    """`pool_pre_ping`, but only for connections that sat idle in the pool for a while."""

    @event.listens_for(engine, "connect")
    def _on_connect(_dbapi_connection: Any, record: Any) -> None:
        record.info["ipx_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info["ipx_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("ipx_idle_since")
        if idle_since is not None and time.monotonic() - idle_since < PING_AFTER_IDLE_S:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            if engine.dialect.is_disconnect(error, dbapi_connection, None):
                # The pool discards this connection and checks out a fresh one.
                raise DisconnectionError("connection found dead on checkout") from error
            raise


M = TypeVar("M", bound="Base")


def detached_rows(model: type[M], columns: list[str], rows: Iterable[Iterable[Any]]) -> list[M]:
    """Instances of `model` from plain rows, outside any session, as the ORM's own loading
    builds them (state and values set directly): a tenth of the cost of `model(**values)`,
    whose every attribute goes through the change-tracking events."""
    new_instance = class_mapper(model).class_manager.new_instance
    made = []
    for row in rows:
        instance = new_instance()
        instance.__dict__.update(zip(columns, row, strict=True))
        made.append(instance)
    return made


def _configure_sqlite(engine: Engine, read_only: bool) -> None:
    # pysqlite's own transaction handling defers BEGIN and cannot do BEGIN IMMEDIATE; take over.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        if read_only:  # a write through it fails instead of taking the write lock unqueued
            cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if read_only:
            conn.exec_driver_sql("BEGIN")
            return
        conn.connection.dbapi_connection.queue_to_write()
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


def insert_missing(session: Session, model: type[Base], rows: list[dict[str, Any]],
                   keys: list[str]) -> None:
    """INSERT rows, skipping any whose key exists: concurrent first uses both succeed."""
    if not rows:
        return
    insert = pg_insert if is_postgresql(session) else sqlite_insert
    # One statement executed for every row (SQLAlchemy batches the rows within each engine's
    # limit on bound parameters), not one multi-row VALUES: a distribution may create 100,000
    # accounts, which no single statement can bind and which took seconds to compile in chunks.
    session.execute(insert(model).on_conflict_do_nothing(index_elements=keys), rows)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every engine (SQLite stores no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetimes are not stored: use UTC-aware ones")
        return None if value is None else value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class _Untyped(UserDefinedType[str]):
    """A string bound without a cast of its own: psycopg sends it as of unknown type, so the
    server gives the parameter the type of the cast written around it."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "TEXT"


class ArrayLiteral(TypeDecorator[Sequence[Any]]):
    """A list bound on PostgreSQL as one array literal string (`{1,2,3}`), cast to the array
    type in SQL. psycopg adapts a list element by element in Python, testing each element's
    text against a regular expression: 0.5 s of a distribution to 100,000 holders, whose
    statements bind 500,000 values in arrays; building the literal takes a few milliseconds.
    Elements are `int`s (`BigInteger`), `bool`s (`Boolean`) or `str`s and `None` (`Text`).

    The parameter itself is the array (`CAST($1 AS TEXT[])`, not `CAST($1::VARCHAR AS
    TEXT[])`): a plan made for the bound value then sees a constant array, its length and,
    for `= ANY`, a hashed lookup. Behind a text-to-array conversion the array is an
    expression, which a scan filtering by it may evaluate again for every row (a first
    receipt's lock of 100,000 accounts ran for over 4 minutes)."""

    impl = _Untyped
    cache_ok = True

    def __init__(self, item: type[BigInteger] | type[Boolean] | type[Text]) -> None:
        super().__init__()
        self.item = item

    def process_bind_param(self, value: Sequence[Any] | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if self.item is Text:
            return _text_array(value)
        if self.item is Boolean:
            return "{" + ",".join("t" if v else "f" for v in value) + "}"
        return "{" + ",".join(map(str, map(int, value))) + "}"

    def bind_expression(self, bindvalue: Any) -> Any:
        return cast(bindvalue, ARRAY(self.item))


def _text_array(values: Sequence[str | None]) -> str:
    # Every element quoted, so that commas, braces, spaces and the word NULL stay text;
    # inside quotes only a quote and a backslash need escaping.
    if not values:
        return "{}"
    if None not in values:
        joined = "".join(values)  # type: ignore[arg-type]  # no None, just checked
        if '"' not in joined and "\\" not in joined:
            return '{"' + '","'.join(values) + '"}'  # type: ignore[arg-type]
    return "{" + ",".join(
        "NULL" if v is None else '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        for v in values) + "}"


# A batch this big is planned for its own values: a cached generic plan, made once for the
# statement with a guessed array length of 10 and the table statistics of that moment (an
# empty table, say), may scan every row and search the whole array for each.
BIG_BATCH = 1000


@contextmanager
def planned_for_values(connection: Connection, size: int) -> Iterator[None]:
    """Run the statements inside unprepared on PostgreSQL when `size` (the number of values
    a statement binds in one array) is at least BIG_BATCH, so that each is planned for the
    values it binds; psycopg prepares a statement run often and PostgreSQL may then reuse one
    generic plan for it. Small batches keep their prepared statements."""
    driver = connection.connection.driver_connection
    if size < BIG_BATCH or connection.dialect.name != "postgresql" or driver is None:
        yield
        return
    threshold = driver.prepare_threshold
    driver.prepare_threshold = None
    try:
        yield
    finally:
        driver.prepare_threshold = threshold


K = TypeVar("K")
V = TypeVar("V")


# Keys of rows known to exist, per engine. Accounts and holdings are never deleted (migration
# 0012 guards accounts; nothing deletes a holding), so a row seen by a committed transaction
# exists for good, and locking rows all known needs no savepoint: two statements less per
# order (about 1 ms of CPU per order in bench/orders_inprocess.py). Learnt from small lock
# sets only, when their transaction commits; bounded.
_KNOWN_LIMIT = 100_000
_known: WeakKeyDictionary[Any, set[Any]] = WeakKeyDictionary()
_SEEN = "ipx_rows_seen"  # session.info: keys locked in the current transaction


@event.listens_for(Session, "after_commit")
def _learn_seen(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint released: the transaction goes on
        return
    seen = session.info.pop(_SEEN, None)
    if seen:
        known = _known.setdefault(session.get_bind(), set())
        if len(known) + len(seen) > _KNOWN_LIMIT:
            known.clear()
        known.update(seen)


@event.listens_for(Session, "after_transaction_end")
def _forget_seen(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # rolled back or closed: what it saw may not exist
        session.info.pop(_SEEN, None)


def lock_creating_missing(session: Session, wanted: Sequence[K],
                          lock: Callable[[], Mapping[K, V]],
                          create: Callable[[list[K]], None]) -> Mapping[K, V]:
    """The rows `lock()` locks, by key, once every key in `wanted` has one: the missing are
    first created by `create(missing)`.

    Never creates while holding locks: a transaction inserting a row that another is also
    inserting waits for that other one, which may be waiting for a row the first has locked
    (eight threads creating accounts as they transferred deadlocked so). On PostgreSQL the
    first `lock()` runs in a savepoint, rolled back when rows are missing (which releases its
    locks); then the rows are created and locked again, so locks are only ever taken in
    `lock()`'s own order; unless every key was seen by a committed transaction before, so
    that nothing can be missing. SQLite's writers hold the whole database (`BEGIN
    IMMEDIATE`)."""
    postgresql = is_postgresql(session)
    remember = postgresql and len(wanted) < BIG_BATCH
    known = remember and _known.get(session.get_bind(), set()).issuperset(wanted)
    savepoint = session.begin_nested() if postgresql and not known else None
    found = lock()
    missing = [key for key in wanted if key not in found]
    if missing:
        if savepoint is not None:
            savepoint.rollback()
        create(missing)
        found = lock()
    elif savepoint is not None:
        savepoint.commit()
    if remember:
        session.info.setdefault(_SEEN, set()).update(wanted)
    return found
