"""Account life-cycle changes that end ties with other people (seed 000 §三)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from domain import quota
from domain.binding import end_binding
from domain.errors import LedgerInvariantError
from domain.mutual_aid import end_authorization
from domain.person import Person


def counterpart_ids(person: Person, *, bindings: bool = True) -> list[UUID]:
    """Everyone `person` is tied to, in a deterministic order (by aggregate id)."""
    ids = set(person.beneficiaries) | set(person.authorizers) | quota.local_counterparts(person)
    if bindings:
        ids |= set(person.members) | set(person.binders)
    return sorted(ids)


def close_account(person: Person, others: dict[UUID, Person], *, status: str, reason: str, at: datetime) -> None:
    """Cancel or expire `person`, then end every binding and authorization it takes part in,
    both directions, each with the reason `account_cancelled` / `account_expired`."""
    if status not in ("cancelled", "expired"):
        raise LedgerInvariantError(f"close_account: status {status!r}")
    tie_reason = "account_cancelled" if status == "cancelled" else "account_expired"
    _require_all_loaded(person, others, bindings=True)
    person.close(status=status, reason=reason, at=at)
    for other_id in sorted(person.members):
        end_binding(person, others[other_id], reason=tie_reason, initiated_by="system", at=at)
    for other_id in sorted(person.binders):
        end_binding(others[other_id], person, reason=tie_reason, initiated_by="system", at=at)
    _end_authorizations(person, others, reason=tie_reason, at=at)
    quota.end_quotas(person, others, reason=tie_reason, initiated_by="system", at=at)


def transfer_region(person: Person, others: dict[UUID, Person], *, region: str, at: datetime) -> None:
    """Move to another pooling region: every authorization of this person ends."""
    _require_all_loaded(person, others, bindings=False)
    person.transfer(region=region, at=at)
    _end_authorizations(person, others, reason="transferred", at=at)
    quota.end_quotas(person, others, reason="transferred", initiated_by="system", at=at)


def _end_authorizations(person: Person, others: dict[UUID, Person], *, reason: str, at: datetime) -> None:
    for other_id in sorted(person.beneficiaries):
        end_authorization(person, others[other_id], reason=reason, initiated_by="system", at=at)
    for other_id in sorted(person.authorizers):
        end_authorization(others[other_id], person, reason=reason, initiated_by="system", at=at)


def _require_all_loaded(person: Person, others: dict[UUID, Person], *, bindings: bool) -> None:
    missing = [i for i in counterpart_ids(person, bindings=bindings) if i not in others]
    if missing:
        raise LedgerInvariantError(f"counterparts not loaded: {missing}")
