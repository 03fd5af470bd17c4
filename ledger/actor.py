"""Who is acting: the authenticated party behind a request or command."""

from __future__ import annotations

from dataclasses import dataclass

from ledger.errors import PermissionDenied

PARTY_KINDS = ("university", "inventor", "investor", "company", "startup", "government",
               "operator")


@dataclass(frozen=True)
class Actor:
    party_id: str
    kind: str

    @property
    def is_operator(self) -> bool:
        return self.kind == "operator"

    def require_operator(self, action: str) -> None:
        if not self.is_operator:
            raise PermissionDenied(f"only the operator may {action}")

    def require_self_or_operator(self, party_id: str, action: str) -> None:
        if not (self.is_operator or self.party_id == party_id):
            raise PermissionDenied(f"only the operator or the party itself may {action}")
