"""Helpers for the HTTP API tests: problem checks, the journal size, and a small world of
parties and assets to act on. The `app`, `client`, `op` and `new_caller` fixtures come from
tests/conftest.py (SQLite, a fresh database per test)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from api.app import create_app
from api.config import Settings
from ledger.services import parties
from ledger.signing_key import load_or_create_signing_key
from ledger.unit_of_work import UnitOfWork
from tests.conftest import ORIGIN, Caller

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://ipx.dev/problems/"
NEXT_LINK = re.compile(r'^<([^>]+)>; rel="next"$')


def tree_size(client: FlaskClient) -> int:
    """The journal's size, from its public checkpoint."""
    response = client.get("/v1/ledger/checkpoint")
    assert response.status_code == 200, response.get_data(as_text=True)
    size: int = response.json["tree_size"]
    return size


def assert_problem(
    response: Any, status: int, *, slug: str | None = None, fields: Iterable[str] = (),
) -> dict[str, Any]:
    """An RFC 9457 problem with this status; `fields` must be named in its `errors`."""
    text = response.get_data(as_text=True)
    assert response.status_code == status, text
    assert response.mimetype == PROBLEM_JSON, (response.mimetype, text)
    body: dict[str, Any] = response.json
    assert {"type", "title", "status", "detail"} <= set(body), body
    assert body["status"] == status
    assert body["type"].startswith(PROBLEM_BASE), body["type"]
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    if slug is not None:
        assert body["type"] == PROBLEM_BASE + slug, body
    wanted = list(fields)
    if wanted:
        errors = body.get("errors")
        assert isinstance(errors, dict), body
        for name in wanted:
            assert name in errors, (name, errors)
            assert errors[name] and all(isinstance(m, str) and m for m in errors[name]), errors
    return body


def assert_utc_timestamp(text: str) -> datetime:
    """ISO 8601 with an explicit UTC offset, not a naive local time."""
    at = datetime.fromisoformat(text)
    assert at.tzinfo is not None, text
    assert at.utcoffset() is not None and at.utcoffset().total_seconds() == 0, text
    return at.astimezone(UTC)


def money(amount: str, currency: str = "HKD") -> dict[str, str]:
    return {"amount": amount, "currency": currency}


def asset_body(inventors: list[tuple[str, str]], policy: Any = "hku-2023",
               **extra: Any) -> dict[str, Any]:
    return {
        "title": "A method of making things",
        "kind": "patent",
        "jurisdiction": "HK",
        "application_number": "HK 12345678.9",
        "inventors": [{"party_id": p, "share": s} for p, s in inventors],
        "policy": policy,
        **extra,
    }


def by_class(listing: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["class"]: i for i in listing["instruments"]}


def holdings(caller: Caller) -> list[dict[str, Any]]:
    response = caller.get("/v1/holdings")
    assert response.status_code == 200, response.json
    rows: list[dict[str, Any]] = response.json
    return rows


def units_of(caller: Caller, instrument_id: str) -> int:
    return sum(h["units"] for h in holdings(caller) if h["instrument_id"] == instrument_id)


def balances(caller: Caller) -> list[dict[str, Any]]:
    response = caller.get("/v1/accounts")
    assert response.status_code == 200, response.json
    rows: list[dict[str, Any]] = response.json
    return rows


@dataclass
class World:
    """Parties with keys, one listed asset per university, money on the investor's account."""

    op: Caller
    uni: Caller
    other_uni: Caller
    alice: Caller  # inventor, 60% of the asset
    bob: Caller  # inventor, 40%
    investor: Caller
    asset: dict[str, Any]
    other_asset: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def inventor_instrument(self) -> str:
        return str(by_class(self.asset)["inventor"]["id"])

    @property
    def university_instrument(self) -> str:
        return str(by_class(self.asset)["university"]["id"])


def list_asset(uni: Caller, inventors: list[tuple[str, str]], policy: Any = "hku-2023",
               **extra: Any) -> dict[str, Any]:
    response = uni.post("/v1/assets", asset_body(inventors, policy, **extra))
    assert response.status_code == 201, response.json
    listing: dict[str, Any] = response.json
    return listing


def build_world(op: Caller, new_caller: Callable[..., Caller]) -> World:
    uni = new_caller("university", "University of Hong Kong")
    other_uni = new_caller("university", "Another University")
    alice = new_caller("inventor", "Alice")
    bob = new_caller("inventor", "Bob")
    investor = new_caller("investor", "Ivy Investor")
    asset = list_asset(uni, [(alice.party_id, "0.6"), (bob.party_id, "0.4")])
    other_asset = list_asset(other_uni, [(alice.party_id, "1")], "uc-1997")
    deposited = op.post("/v1/deposits", {"party_id": investor.party_id,
                                         "amount": money("1000.00"), "reference": "seed-1"})
    assert deposited.status_code == 201, deposited.json
    return World(op, uni, other_uni, alice, bob, investor, asset, other_asset)


@pytest.fixture
def world(op: Caller, new_caller: Callable[..., Caller]) -> World:
    """A fresh world in this test's own database."""
    return build_world(op, new_caller)


@pytest.fixture(scope="module")
def shared_world(tmp_path_factory: pytest.TempPathFactory,
                 sqlite_template: Path) -> Iterator[World]:
    """One world for a whole module, for tests that must not change anything (and check it).

    Building a world per test is what makes a long table of cases slow; the refusals it
    collects write nothing, so they can share one.
    """
    folder = tmp_path_factory.mktemp("shared")
    shutil.copy(sqlite_template, folder / "ipx.sqlite3")
    load_or_create_signing_key(folder / "home")
    app = create_app(Settings(database_url=f"sqlite:///{folder / 'ipx.sqlite3'}",
                              home=folder / "home", origin=ORIGIN))
    app.config["TESTING"] = True
    client = app.test_client()
    party, key = parties.bootstrap_operator(UnitOfWork(app.extensions["ipx"].sessions))
    op = Caller(client, party.id, "operator", key.key)

    def new_caller(kind: str, name: str | None = None) -> Caller:
        created = op.post("/v1/parties", {"name": name or f"a {kind}", "kind": kind})
        assert created.status_code == 201, created.json
        issued = op.post(f"/v1/parties/{created.json['id']}/api-keys")
        assert issued.status_code == 201, issued.json
        return Caller(client, created.json["id"], kind, issued.json["key"])

    yield build_world(op, new_caller)
    app.extensions["ipx"].dispose()

def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "fuzz: schemathesis property-based run over the whole OpenAPI document "
        "(bounded to about a minute; deselect with -m 'not fuzz')")
