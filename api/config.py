"""Configuration from the environment: the only place that reads it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    database_url: str
    home: Path
    origin: str
    max_body_bytes: int = 1 << 20

    @classmethod
    def from_env(cls) -> Settings:
        home = Path(os.environ.get("IPX_HOME", "var"))
        return cls(
            database_url=os.environ.get("IPX_DATABASE_URL", "sqlite:///var/ipx.sqlite3"),
            home=home,
            origin=os.environ.get("IPX_LOG_ORIGIN", "ipx.local/journal"),
        )
