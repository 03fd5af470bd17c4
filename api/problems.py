"""Every error leaves the API as RFC 9457 problem+json: domain errors and HTTP errors alike."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, json
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException

from ledger.errors import (
    Conflict,
    DomainError,
    IdempotencyConflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from payments.provider import ProviderUnavailable

PROBLEM_BASE = "https://ipx.dev/problems/"
# PostgreSQL aborts one of two transactions that wait on each other (deadlock_detected) or that
# a serializable snapshot cannot order (serialization_failure): the loser committed nothing.
RETRYABLE_SQLSTATES = {"40P01", "40001"}
CONCURRENT_CONFLICT = "concurrent-conflict"
PROBLEM_JSON = "application/problem+json"

_STATUS: list[tuple[type[DomainError], int]] = [
    (InvalidInput, 422),
    (NotFound, 404),
    (PermissionDenied, 403),
    (IdempotencyConflict, 422),
    (Conflict, 409),
    (ProviderUnavailable, 503),  # the payment provider did not answer: retry later
]


def problem(
    status: int, slug: str, title: str, detail: str, errors: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {"type": PROBLEM_BASE + slug, "title": title, "status": status,
                            "detail": detail}
    if errors:
        body["errors"] = errors
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _domain_status(error: DomainError) -> int:
    for cls, status in _STATUS:
        if isinstance(error, cls):
            return status
    return 400


def domain_problem(error: DomainError) -> Response:
    status = _domain_status(error)
    errors = {error.field: [error.detail]} if error.field else None
    title = error.slug.replace("-", " ").capitalize()
    return problem(status, error.slug, title, error.detail, errors)


def _flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as {'field.sub[0]': [...]} with the location dropped."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            if isinstance(key, int):
                name = f"{prefix}[{key}]"
            elif key == "_schema":
                name = prefix or "body"
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            out.update(_flatten(value, name))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        out[prefix or "body"] = list(messages)
    else:
        out[prefix or "body"] = [str(messages)]
    return out


def http_problem(error: HTTPException) -> Response:
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    messages = data.get("messages") or data.get("errors")
    if messages:
        # webargs nests by location (json, query, headers): the field name is what matters.
        if isinstance(messages, dict) and set(messages) <= {"json", "query", "headers", "form",
                                                             "path", "view_args", "files"}:
            merged: dict[str, Any] = {}
            for part in messages.values():
                merged.update(part if isinstance(part, dict) else {"body": part})
            messages = merged
        errors = _flatten(messages)
        names = ", ".join(sorted(errors))
        return problem(status, "validation-error", "Invalid request",
                       f"invalid fields: {names}", errors)
    slug = {404: "not-found", 405: "method-not-allowed", 413: "body-too-large",
            401: "unauthenticated", 415: "unsupported-media-type",
            429: "rate-limited"}.get(status, f"http-{status}")
    detail = data.get("message") or error.description or error.name
    return problem(status, slug, error.name, str(detail), headers=data.get("headers"))


def lost_a_race(response: Response) -> bool:
    """Whether this is the answer to a request that lost to a concurrent one: nothing was
    done, so the same request may simply be sent again."""
    return (response.status_code == 409 and response.mimetype == PROBLEM_JSON
            and (response.get_json(silent=True) or {}).get("type")
            == PROBLEM_BASE + CONCURRENT_CONFLICT)


def register(app: Flask) -> None:
    app.register_error_handler(DomainError, domain_problem)
    app.register_error_handler(HTTPException, http_problem)

    def _concurrent(error: DBAPIError) -> Response:
        # A uniqueness race lost to a concurrent request, or a transaction PostgreSQL aborted
        # for another's sake: nothing of this one was committed.
        app.logger.warning("lost to a concurrent request: %s", error.orig)
        return problem(409, CONCURRENT_CONFLICT, "Conflict",
                       "a concurrent request changed the same data; nothing was changed, retry")

    app.register_error_handler(IntegrityError, _concurrent)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        app.logger.exception("unhandled error", exc_info=error)
        return problem(500, "internal-error", "Internal Server Error",
                       "an unexpected error occurred; nothing was changed")

    @app.errorhandler(OperationalError)
    def _operational(error: OperationalError) -> Response:
        if getattr(error.orig, "sqlstate", None) in RETRYABLE_SQLSTATES:
            return _concurrent(error)
        return _unexpected(error)
