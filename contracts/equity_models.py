"""Tables of equity-for-IP deals: start-ups' share capital, deals and their steps."""

from __future__ import annotations
