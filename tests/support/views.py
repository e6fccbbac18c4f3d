"""Views against aggregates: the same JSON, person by person."""

from __future__ import annotations

from typing import Any

from infra.eventstore import person_reads
from infra.readmodels import view_reads


def assert_views_agree_with_aggregates(app: Any, views: Any, numbers: list[str], persons: dict | None = None) -> int:
    """For every ID number: bindings, authorizations and balance from the views equal those
    from the aggregate (given in `persons`, or loaded from the repository); and the balance
    counters satisfy balance = credited - paid own - paid for others + refunded."""
    for number in numbers:
        pid, masked, _ = app.person_ref(number, "person")
        person = persons[pid] if persons is not None else app.repository.get(pid)
        assert view_reads.bindings_view(views, pid, masked) == person_reads.bindings_view(person), masked
        assert view_reads.authorizations_view(views, pid, masked) == person_reads.authorizations_view(person), masked
        assert view_reads.balance_view(views, pid, masked) == person_reads.balance_view(person), masked
        detail = view_reads.balance_detail(views, pid, masked)
        assert detail["balance_fen"] == (
            detail["credited_fen"] - detail["paid_own_fen"] - detail["paid_for_others_fen"] + detail["refunded_fen"]
        ), masked
    return len(numbers)
