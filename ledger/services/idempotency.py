"""Idempotency keys of HTTP requests: the first response is kept and replayed on a retry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from ledger.errors import Conflict, IdempotencyConflict
from ledger.models import IdempotencyRecord
from ledger.unit_of_work import UnitOfWork

ABANDONED_AFTER = timedelta(minutes=2)


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: str
    content_type: str


def claim(uow: UnitOfWork, party_id: str, key: str, request_hash: str) -> StoredResponse | None:
    """Claim `key` for a new request, or return the stored response of the first one.

    Raises IdempotencyConflict when the key was used for a different request, and Conflict
    while the first request with the key is still running.
    """
    try:
        with uow:
            record = uow.session.execute(
                select(IdempotencyRecord).where(
                    IdempotencyRecord.party_id == party_id, IdempotencyRecord.key == key)
            ).scalar_one_or_none()
            if record is None:
                uow.session.add(IdempotencyRecord(party_id=party_id, key=key,
                                                  request_hash=request_hash, created_at=uow.now))
                uow.commit()
                return None
    except IntegrityError:
        # Another request claimed the key between our read and our insert.
        raise Conflict("a request with this Idempotency-Key is in progress",
                       field="Idempotency-Key") from None
    if record.request_hash != request_hash:
        raise IdempotencyConflict("this Idempotency-Key was used with a different request",
                                  field="Idempotency-Key")
    if record.status_code is None or record.response_body is None:
        if uow.now - record.created_at < ABANDONED_AFTER:
            raise Conflict("a request with this Idempotency-Key is in progress",
                           field="Idempotency-Key")
        # The first request's process died before it answered: the key is free again.
        with uow:
            uow.session.execute(update(IdempotencyRecord).where(
                IdempotencyRecord.party_id == party_id, IdempotencyRecord.key == key,
                IdempotencyRecord.created_at == record.created_at).values(created_at=uow.now))
            uow.commit()
        return None
    return StoredResponse(record.status_code, record.response_body,
                          record.content_type or "application/json")


def complete(uow: UnitOfWork, party_id: str, key: str, response: StoredResponse | None) -> None:
    """Store the response for `key`, or release the key (None) so the request can be retried."""
    with uow:
        if response is None:
            uow.session.execute(delete(IdempotencyRecord).where(
                IdempotencyRecord.party_id == party_id, IdempotencyRecord.key == key))
        else:
            record = uow.session.get_one(IdempotencyRecord, (party_id, key))
            record.status_code = response.status_code
            record.response_body = response.body
            record.content_type = response.content_type
        uow.commit()
