"""Tables of payment providers: intents, connected accounts, transfers and processed events."""

from __future__ import annotations
