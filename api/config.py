"""Configuration from the environment: the only place that reads it."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from payments.config import PaymentSettings


@dataclass(frozen=True)
class Settings:
    database_url: str
    home: Path
    origin: str
    max_body_bytes: int = 1 << 20
    # Flask-Limiter: in memory by default (per process); `redis://...` shares limits across
    # processes. Writes are limited per party; failed authentications per client address.
    rate_limit_storage: str = "memory://"
    write_rate_limit: str = "600 per minute"
    auth_failure_limit: str = "30 per minute"
    # The payment provider: `manual` (default) or `stripe` (IPX_PAYMENTS_PROVIDER, IPX_STRIPE_*).
    payments: PaymentSettings = field(default_factory=PaymentSettings)

    @classmethod
    def from_env(cls) -> Settings:
        home = Path(os.environ.get("IPX_HOME", "var"))
        return cls(
            database_url=os.environ.get("IPX_DATABASE_URL", "sqlite:///var/ipx.sqlite3"),
            home=home,
            origin=os.environ.get("IPX_LOG_ORIGIN", "ipx.local/journal"),
            rate_limit_storage=os.environ.get("IPX_RATE_LIMIT_STORAGE", "memory://"),
            write_rate_limit=os.environ.get("IPX_WRITE_RATE_LIMIT", "600 per minute"),
            auth_failure_limit=os.environ.get("IPX_AUTH_FAILURE_LIMIT", "30 per minute"),
            payments=PaymentSettings.from_env(os.environ),
        )
