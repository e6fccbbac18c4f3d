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
        "earmarked_fen": person.earmarked_fen,
        "spendable_fen": person.spendable_fen,
        "quotas": quota_rows(person),
        "members": len(person.members),
        "binders": len(person.binders),
        "authorizers": len(person.authorizers),
        "beneficiaries": len(person.beneficiaries),
        "deductions": person.deductions_count,
        "version": person.version,
        "enrolled_at": local_iso(person.created_on),
    }


def quota_rows(person: Person) -> list[dict[str, Any]]:
    """The cross-province quotas a person gives (as authorizer) and receives (as beneficiary),
    open ones first, each with what is drawn and left (domain.quota)."""
    rows = []
    for role, ties, counterpart in (("authorizer", person.quotas_given, "beneficiary"),
                                    ("beneficiary", person.quotas_received, "donor")):  # fmt: skip
        for transfer_id, tie in sorted(ties.items()):
            rows.append({
                "transfer_id": transfer_id, "role": role, "person": tie["masked"], "counterpart_role": counterpart,
                "relationship": tie["relationship"], "quota_fen": tie["quota_fen"], "drawn_fen": tie["drawn_fen"],
                "left_fen": tie["quota_fen"] - tie["drawn_fen"] if tie["open"] else 0,
                "province": tie["province"], "open": tie["open"], "since": local_iso(tie["since"]),
            })  # fmt: skip
    return sorted(rows, key=lambda r: (not r["open"], r["since"], r["transfer_id"]))
