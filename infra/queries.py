"""Plain-value views of one person, read from the aggregate (the source of truth)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.clock import CST
from domain.person import Person


def local_iso(at: datetime) -> str:
    return at.astimezone(CST).isoformat()


def _ties(ties: dict, with_channel: bool) -> list[dict[str, Any]]:
    rows = []
    for tie in sorted(ties.values(), key=lambda t: (t["since"], t["masked"])):
        row = {"person": tie["masked"], "relationship": tie["relationship"]}
        if with_channel:
            row["channel"] = tie["channel"]
        row["since"] = local_iso(tie["since"])
        rows.append(row)
    return rows


def balance_view(person: Person) -> dict[str, Any]:
    return {"person": person.masked, "balance_fen": person.balance_fen, "status": person.status,
            "insurance": person.insurance}


def bindings_view(person: Person) -> dict[str, Any]:
    return {"person": person.masked, "members": _ties(person.members, True), "binders": _ties(person.binders, True)}


def authorizations_view(person: Person) -> dict[str, Any]:
    return {"person": person.masked, "authorizers": _ties(person.authorizers, False),
            "beneficiaries": _ties(person.beneficiaries, False)}


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
