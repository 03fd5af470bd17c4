"""Parties and their API keys."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, select

from ledger.actor import PARTY_KINDS, Actor
from ledger.clock import isoformat
from ledger.errors import InvalidInput, NotFound
from ledger.ids import new_id
from ledger.models import ApiKey, Party
from ledger.unit_of_work import UnitOfWork

KEY_PREFIX = "ipx_"


@dataclass(frozen=True)
class IssuedKey:
    id: str
    party_id: str
    key: str  # shown once, never stored
    created_at: datetime


def hash_key(key: str) -> str:
    # Keys carry 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(key.encode()).hexdigest()


def _create_party(uow: UnitOfWork, actor_id: str | None, name: str, kind: str) -> Party:
    if kind not in PARTY_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(PARTY_KINDS)}", field="kind")
    name = name.strip()
    if not 1 <= len(name) <= 200:
        raise InvalidInput("name must be 1 to 200 characters", field="name")
    party = Party(id=new_id("pty"), name=name, kind=kind, created_at=uow.now)
    uow.session.add(party)
    uow.journal.append(
        "party.created",
        {"party_id": party.id, "name": name, "kind": kind},
        actor=actor_id,
        parties=[party.id],
    )
    return party


def _issue_key(uow: UnitOfWork, actor_id: str | None, party_id: str) -> IssuedKey:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(id=new_id("key"), party_id=party_id, key_hash=hash_key(key), created_at=uow.now)
    uow.session.add(row)
    uow.journal.append(
        "api_key.issued", {"key_id": row.id, "party_id": party_id}, actor=actor_id,
        parties=[party_id],
    )
    return IssuedKey(id=row.id, party_id=party_id, key=key, created_at=uow.now)


def register_party(uow: UnitOfWork, actor: Actor, name: str, kind: str) -> Party:
    """The operator registers a party of any kind."""
    actor.require_operator("register parties")
    with uow:
        party = _create_party(uow, actor.party_id, name, kind)
        uow.commit()
        return party


def bootstrap_operator(uow: UnitOfWork, name: str = "IPX operator") -> tuple[Party, IssuedKey]:
    """Used by `ipx init`: the first operator (or the existing one) and a new key for it."""
    with uow:
        party = uow.session.execute(
            select(Party).where(Party.kind == "operator").order_by(Party.created_at).limit(1)
        ).scalar_one_or_none()
        if party is None:
            party = _create_party(uow, None, name, "operator")
        key = _issue_key(uow, None, party.id)
        uow.commit()
        return party, key


def read_party(uow: UnitOfWork, actor: Actor, party_id: str) -> Party:
    """A party, for the operator or the party itself; to anyone else it does not exist."""
    with uow:
        party = uow.session.get(Party, party_id)
        if party is None or not (actor.is_operator or actor.party_id == party_id):
            raise NotFound(f"no party '{party_id}'", field="id")
        return party


def issue_api_key(uow: UnitOfWork, actor: Actor, party_id: str) -> IssuedKey:
    """A new key for a party, by the operator or the party itself."""
    with uow:
        if uow.session.get(Party, party_id) is None:
            raise NotFound(f"no party '{party_id}'", field="id")
        actor.require_self_or_operator(party_id, "issue keys for a party")
        issued = _issue_key(uow, actor.party_id, party_id)
        uow.commit()
        return issued


def revoke_api_key(uow: UnitOfWork, actor: Actor, key_id: str) -> None:
    with uow:
        row = uow.session.get(ApiKey, key_id)
        if row is None or not (actor.is_operator or row.party_id == actor.party_id):
            # Someone else's key is indistinguishable from a missing one.
            raise NotFound(f"no api key '{key_id}'", field="id")
        if row.revoked_at is None:
            row.revoked_at = uow.now
            uow.journal.append(
                "api_key.revoked",
                {"key_id": row.id, "party_id": row.party_id, "revoked_at": isoformat(uow.now)},
                actor=actor.party_id,
                parties=[row.party_id],
            )
        uow.commit()


# Built once: every authenticated request runs it.
_KEY_LOOKUP = (select(ApiKey.revoked_at, Party.id, Party.kind)
               .join(Party, Party.id == ApiKey.party_id)
               .where(ApiKey.key_hash == bindparam("key_hash")))


def authenticate(uow: UnitOfWork, key: str) -> Actor | None:
    """The party a presented key belongs to, or None for an unknown or revoked key."""
    with uow:
        return key_actor(uow.session.connection(), key)


def key_actor(connection: Connection, key: str) -> Actor | None:
    """`authenticate` on a connection of the caller's (the API's per-request lookup, without
    a session around one SELECT)."""
    if not key.startswith(KEY_PREFIX):
        return None
    row = connection.execute(_KEY_LOOKUP, {"key_hash": hash_key(key)}).one_or_none()
    if row is None or row.revoked_at is not None:
        return None
    return Actor(party_id=row.id, kind=row.kind)
