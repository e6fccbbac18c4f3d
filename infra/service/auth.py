"""Who may do what: bearer keys, roles and scopes.

| role | may |
|---|---|
| channel | bind, unbind, authorize, revoke; a command's `channel` must be the key's channel |
| institution | deduct, reverse; `institution` (for reverse: the settlement's) must be the key's |
| fund | enroll, credit, suspend, resume, cancel, expire, transfer |
| auditor | person reads, lookup, history, deduction audit and bundle, compliance reports, access log (see below) |
| operator | seal, verify, projections status, rebuild, checksum |
| admin | keys (CLI), access log |

An auditor reads only within its region prefix and says why (X-Purpose).
Any valid key may read /readyz and /metrics; /healthz needs none.
"""

from __future__ import annotations

from typing import Any

from infra.service.problems import Problem
from infra.service.store import ROLES

ROLES_ALL = ROLES  # every role a key may hold

COMMAND_ROLE = {
    "bind": "channel",
    "unbind": "channel",
    "authorize": "channel",
    "revoke": "channel",
    "deduct": "institution",
    "reverse": "institution",
    "enroll": "fund",
    "credit": "fund",
    "suspend": "fund",
    "resume": "fund",
    "cancel": "fund",
    "expire": "fund",
    "transfer": "fund",
}
WRITERS = ("channel", "institution", "fund")


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise Problem(401, "UNAUTHORIZED", "Authorization: Bearer TOKEN is required")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "UNAUTHORIZED", "Authorization: must be Bearer TOKEN")
    return token.strip()


def forbid(detail: str) -> Problem:
    return Problem(403, "FORBIDDEN", detail)


def check_role(key: dict[str, Any], roles: tuple[str, ...]) -> None:
    if key["role"] not in roles:
        raise forbid(f"role {key['role']} may not use this endpoint (needs {' or '.join(roles)})")


def check_command(key: dict[str, Any], data: dict[str, Any], settlement_institution: Any = None) -> None:
    """Role and scope of one command (a dict parsed from the JSON line). A line of unknown type
    is left to the ledger, which answers INVALID_INPUT."""
    check_role(key, WRITERS)
    kind = data.get("type")
    if kind not in COMMAND_ROLE:
        return
    if COMMAND_ROLE[kind] != key["role"]:
        raise forbid(f"a {key['role']} key may not send {kind} (a {COMMAND_ROLE[kind]} command)")
    if key["role"] == "channel" and "channel" in data and data["channel"] != key["channel"]:
        raise forbid(f"channel: this key sends for channel {key['channel']} only")
    if key["role"] == "institution":
        if kind == "deduct" and data.get("institution") != key["institution"]:
            raise forbid(f"institution: this key settles for institution {key['institution']} only")
        if kind == "reverse" and settlement_institution is not None:
            institution = settlement_institution(data.get("settlement_id"))
            if institution is not None and institution != key["institution"]:
                raise forbid(f"settlement_id: settled by another institution than {key['institution']}")


def check_region(key: dict[str, Any], region: str) -> None:
    prefix = key.get("region") or ""
    if not region.startswith(prefix):
        raise forbid(f"this key reads region {prefix}* only")
