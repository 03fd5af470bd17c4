"""UTC time, in one place, so that services and tests agree on its format."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def isoformat(at: datetime) -> str:
    """ISO 8601 in UTC with a `Z`, microsecond precision: the form used in journal bodies."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
