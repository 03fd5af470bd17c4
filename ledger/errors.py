"""Errors of the domain. The API maps each class to an HTTP problem in one place."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a caller can cause; `slug` names the problem type."""

    slug = "domain-error"

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class InvalidInput(DomainError):
    slug = "invalid-input"


class NotFound(DomainError):
    slug = "not-found"


class PermissionDenied(DomainError):
    slug = "forbidden"


class Conflict(DomainError):
    slug = "conflict"


class InsufficientFunds(Conflict):
    slug = "insufficient-funds"


class InsufficientUnits(Conflict):
    slug = "insufficient-units"


class IdempotencyConflict(Conflict):
    slug = "idempotency-conflict"
