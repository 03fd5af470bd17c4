"""Shared fixtures: a migrated database per test (SQLite always, PostgreSQL when available),
a signing key in a temporary IPX_HOME, the Flask app and its test client, and parties.

PostgreSQL runs when CI=true (and must then be reachable) or when a server answers on
IPX_TEST_PG (default postgresql://postgres@127.0.0.1:5432/postgres); otherwise its tests skip.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

import migrations
from api.app import create_app
from api.config import Settings
from ledger.actor import Actor
from ledger.db import make_engine, make_session_factory
from ledger.services import parties
from ledger.signing_key import load_or_create_signing_key
from ledger.unit_of_work import UnitOfWork

PG_ADMIN_URL = os.environ.get("IPX_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() == "true"
ORIGIN = "test.ipx.local/journal"


def _pg_reachable() -> str | None:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.Error as error:
        return str(error).strip().splitlines()[0] if str(error).strip() else repr(error)


_PG_PROBLEM = _pg_reachable()


def pytest_report_header(config: pytest.Config) -> str:
    if _PG_PROBLEM is None:
        return f"PostgreSQL tests: on ({PG_ADMIN_URL})"
    return f"PostgreSQL tests: SKIPPED, no server at {PG_ADMIN_URL}: {_PG_PROBLEM}"


def _pg_admin(sql: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
        connection.execute(sql)  # type: ignore[arg-type]


def _pg_url(name: str) -> str:
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    migrations.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    if _PG_PROBLEM is not None:
        if IN_CI:
            pytest.fail(f"CI=true but PostgreSQL is unreachable: {_PG_PROBLEM}")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {_PG_PROBLEM}")
    name = f"ipx_tpl_{secrets.token_hex(4)}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    migrations.upgrade(_pg_url(name))
    yield name
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated, empty database: a copy of a template, one per test."""
    if request.param == "sqlite":
        path = tmp_path / "ipx.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    template = request.getfixturevalue("pg_template")
    name = f"ipx_test_{secrets.token_hex(4)}"
    _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield _pg_url(name)
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A fresh SQLite database only (for tests that need not run on both engines)."""
    path = tmp_path / "ipx.sqlite3"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    folder = tmp_path / "home"
    load_or_create_signing_key(folder)
    return folder


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def uow_factory(sessions: sessionmaker[Session]) -> Callable[[], UnitOfWork]:
    return lambda: UnitOfWork(sessions)


@pytest.fixture
def operator(uow_factory: Callable[[], UnitOfWork]) -> Actor:
    party, _ = parties.bootstrap_operator(uow_factory())
    return Actor(party.id, "operator")


@pytest.fixture
def make_party(uow_factory: Callable[[], UnitOfWork], operator: Actor) -> Callable[..., Actor]:
    def make(kind: str, name: str | None = None) -> Actor:
        party = parties.register_party(uow_factory(), operator, name or f"a {kind}", kind)
        return Actor(party.id, kind)

    return make


# --- the HTTP API, on SQLite -------------------------------------------------------------

@dataclass
class Caller:
    """A party with an API key, making requests through the test client."""

    client: FlaskClient
    party_id: str
    kind: str
    key: str

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", **(extra or {})}

    def get(self, url: str, **kw: Any) -> Any:
        return self.client.get(url, headers=self.headers(kw.pop("headers", None)), **kw)

    def post(self, url: str, json: Any = None, **kw: Any) -> Any:
        return self.client.post(url, json=json, headers=self.headers(kw.pop("headers", None)),
                                **kw)

    def delete(self, url: str, **kw: Any) -> Any:
        return self.client.delete(url, headers=self.headers(kw.pop("headers", None)), **kw)


@pytest.fixture
def app(sqlite_url: str, home: Path) -> Iterator[Flask]:
    application = create_app(Settings(database_url=sqlite_url, home=home, origin=ORIGIN))
    application.config["TESTING"] = True
    yield application
    application.extensions["ipx"].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def op(app: Flask, client: FlaskClient) -> Caller:
    """The operator, with a key from the same bootstrap `ipx init` uses."""
    party, key = parties.bootstrap_operator(UnitOfWork(app.extensions["ipx"].sessions))
    return Caller(client, party.id, "operator", key.key)


@pytest.fixture
def new_caller(client: FlaskClient, op: Caller) -> Callable[..., Caller]:
    """Register a party of `kind` through the API and give it a key."""

    def make(kind: str, name: str | None = None) -> Caller:
        created = op.post("/v1/parties", {"name": name or f"a {kind}", "kind": kind})
        assert created.status_code == 201, created.json
        key = op.post(f"/v1/parties/{created.json['id']}/api-keys")
        assert key.status_code == 201, key.json
        return Caller(client, created.json["id"], kind, key.json["key"])

    return make
