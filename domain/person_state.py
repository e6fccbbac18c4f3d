"""What a person's events assign: the state of the per-person aggregate, as a protocol.

`domain.events` types the `apply` of each event against this protocol and `domain.person.Person`
provides it, so the events need not import the aggregate that triggers them (no import circle).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol
from uuid import UUID


class PersonState(Protocol):
    id: UUID
    masked: str
    region: str
    insurance: str
    status: str
    balance_fen: int
    members: dict[UUID, dict[str, Any]]  # as binder: member -> tie
    binders: dict[UUID, dict[str, Any]]  # as member: binder -> tie
    new_members_by_month: dict[str, int]
    new_binders_by_month: dict[str, int]
    last_unbound_at: dict[UUID, datetime]
    beneficiaries: dict[UUID, dict[str, Any]]  # as authorizer
    authorizers: dict[UUID, dict[str, Any]]  # as beneficiary
    deductions_count: int
    earmarked_fen: int  # as authorizer: the part of the balance set aside as cross-province quotas
    quotas_given: dict[str, dict[str, Any]]  # as authorizer: transfer id -> quota tie
    quotas_received: dict[str, dict[str, Any]]  # as beneficiary: transfer id -> quota tie
