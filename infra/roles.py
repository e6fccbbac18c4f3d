"""Who uses the ledger: the roles a service key holds, who sends a command, and the refusal
when a key asks for more than its role and scope allow.

| role | may |
|---|---|
| channel | bind, unbind, authorize, revoke; a command's `channel` must be the key's channel |
| institution | deduct, reverse, record-settlement, national envelopes; for its own institution (reverse: the settler) |
| fund | enroll, credit, suspend, resume, cancel, expire, transfer |
| auditor | person reads, lookup, history, deduction audit and bundle, compliance reports, access log |
| operator | seal, verify, projections status, rebuild, checksum |
| admin | keys (CLI), access log |

Which role may send which command is declared once, on each command's spec
(infra.commands.table); a command without a role cannot be sent by any key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from domain.errors import LedgerError

Role = Literal["channel", "institution", "fund", "auditor", "operator", "admin"]
ROLES: tuple[Role, ...] = ("channel", "institution", "fund", "auditor", "operator", "admin")
WRITER_ROLES: tuple[Role, ...] = ("channel", "institution", "fund")
LOCAL_TENANT = "ledger"  # the operator's command line: commands sent with no key


class ForbiddenError(LedgerError):
    """The key's role or scope does not allow this (HTTP 403)."""

    code = "FORBIDDEN"


class UnauthenticatedError(LedgerError):
    """No key, or an unknown, expired or revoked one (HTTP 401)."""

    code = "UNAUTHORIZED"


@dataclass(frozen=True)
class Principal:
    """Who asks: a service key (its id, role and scope: the channel or institution it sends
    for, the region prefix it reads). The operator's own CLI on the ledger's machine asks as
    nobody in particular: `None` where a Principal is expected."""

    key_id: str
    role: Role
    channel: str | None = None
    institution: str | None = None
    region: str | None = None

    @property
    def tenant(self) -> str:
        """Whose commands these are: a channel's or an institution's own (`channel:alipay`,
        `institution:H-1`), else the role's (`fund`). Command ids are scoped to it."""
        if self.role == "channel":
            return f"channel:{self.channel}"
        if self.role == "institution":
            return f"institution:{self.institution}"
        return self.role

    @classmethod
    def of_key(cls, key: dict[str, Any]) -> Principal:
        return cls(key["key_id"], key["role"], key.get("channel"), key.get("institution"), key.get("region"))

    def check_role(self, *roles: str) -> None:
        if self.role not in roles:
            raise ForbiddenError(f"role {self.role} may not use this endpoint (needs {' or '.join(roles)})")

    def check_region(self, region: str) -> None:
        prefix = self.region or ""
        if not region.startswith(prefix):
            raise ForbiddenError(f"this key reads region {prefix}* only")
