"""Opaque identifiers: a short type prefix and 80 random bits."""

import secrets


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(10)}"
