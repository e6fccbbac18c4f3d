"""Plain-value views of one person, read from the aggregate (the source of truth)."""

from __future__ import annotations

from typing import Any

from domain.clock import local_iso
from domain.person import Person

BINDING_FIELDS = ("relationship", "channel")
AID_FIELDS = ("relationship",)


def tie_rows(ties: dict, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    """A person's ties as rows, oldest first (ties broken by masked number)."""
    return [
        {"person": tie["masked"], **{f: tie[f] for f in fields}, "since": local_iso(tie["since"])}
        for tie in sorted(ties.values(), key=lambda t: (t["since"], t["masked"]))
    ]


def balance_view(person: Person) -> dict[str, Any]:
    return {
        "person": person.masked,
        "balance_fen": person.balance_fen,
        "earmarked_fen": person.earmarked_fen,
        "spendable_fen": person.spendable_fen,
        "quota_received_left_fen": sum(
            t["quota_fen"] - t["drawn_fen"] for t in person.quotas_received.values() if t["open"]
        ),
        "status": person.status,
        "insurance": person.insurance,
    }


def bindings_view(person: Person) -> dict[str, Any]:
    return {
        "person": person.masked,
        "members": tie_rows(person.members, BINDING_FIELDS),
        "binders": tie_rows(person.binders, BINDING_FIELDS),
    }


def authorizations_view(person: Person) -> dict[str, Any]:
    return {
        "person": person.masked,
        "authorizers": tie_rows(person.authorizers, AID_FIELDS),
        "beneficiaries": tie_rows(person.beneficiaries, AID_FIELDS),
    }


def person_view(person: Person) -> dict[str, Any]:
    return {
        "person": person.masked,
        "insurance": person.insurance,
        "region": person.region,
        "status": person.status,
        "balance_fen": person.balance_fen,
        "members": len(person.members),
        "binders": len(person.binders),
        "authorizers": len(person.authorizers),
        "beneficiaries": len(person.beneficiaries),
        "deductions": person.deductions_count,
        "version": person.version,
        "enrolled_at": local_iso(person.created_on),
    }
