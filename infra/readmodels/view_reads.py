"""Person queries answered from the views, in exactly the JSON shapes of infra.eventstore.person_reads
(which answers from the aggregates); and the monthly quota with remaining quota under a rule version."""

from __future__ import annotations

import calendar
import re
from datetime import date
from typing import Any
from uuid import UUID

from domain.clock import MONTH_PATTERN
from domain.errors import InvalidInputError, UnknownPersonError
from domain.rules import Catalogue, RuleSet
from projections.balances import AMOUNTS, BalancesProjection
from projections.earmarks import EarmarksProjection
from projections.quota import METRICS as QUOTA_METRICS
from projections.quota import QuotaProjection
from projections.ties import AuthorizationsProjection, BindingsProjection, PersonsProjection

# ties are ordered as infra.eventstore.person_reads orders them: by time since, then masked number
_MEMBERS = (
    "SELECT member_masked, relationship, channel, since FROM {bindings} WHERE binder = ? "
    "ORDER BY since_us, member_masked"
)
_BINDERS = (
    "SELECT binder_masked, relationship, channel, since FROM {bindings} WHERE member = ? "
    "ORDER BY since_us, binder_masked"
)
_AUTHORIZERS = (
    "SELECT authorizer_masked, relationship, since FROM {authorizations} WHERE beneficiary = ? "
    "ORDER BY since_us, authorizer_masked"
)
_BENEFICIARIES = (
    "SELECT beneficiary_masked, relationship, since FROM {authorizations} WHERE authorizer = ? "
    "ORDER BY since_us, beneficiary_masked"
)


def person_row(views: Any, pid: UUID, masked: str) -> dict[str, Any]:
    row = views.read(
        PersonsProjection,
        lambda r: r.fetchone("SELECT masked, region, insurance, status FROM {persons} WHERE person = ?", (str(pid),)),
    )
    if row is None:
        raise UnknownPersonError(f"person: no enrolled person {masked}", field="person")
    return dict(zip(("masked", "region", "insurance", "status"), row, strict=True))


def _ties(rows: list[tuple], with_channel: bool) -> list[dict[str, Any]]:
    if with_channel:
        return [{"person": m, "relationship": r, "channel": c, "since": s} for m, r, c, s in rows]
    return [{"person": m, "relationship": r, "since": s} for m, r, s in rows]


def bindings_view(views: Any, pid: UUID, masked: str) -> dict[str, Any]:
    person = person_row(views, pid, masked)

    def read(r: Any) -> dict[str, Any]:
        return {
            "person": person["masked"],
            "members": _ties(r.fetchall(_MEMBERS, (str(pid),)), True),
            "binders": _ties(r.fetchall(_BINDERS, (str(pid),)), True),
        }

    return views.read(BindingsProjection, read)


def authorizations_view(views: Any, pid: UUID, masked: str) -> dict[str, Any]:
    person = person_row(views, pid, masked)

    def read(r: Any) -> dict[str, Any]:
        return {
            "person": person["masked"],
            "authorizers": _ties(r.fetchall(_AUTHORIZERS, (str(pid),)), False),
            "beneficiaries": _ties(r.fetchall(_BENEFICIARIES, (str(pid),)), False),
        }

    return views.read(AuthorizationsProjection, read)


def balance_view(views: Any, pid: UUID, masked: str) -> dict[str, Any]:
    person = person_row(views, pid, masked)
    row = views.read(
        BalancesProjection, lambda r: r.fetchone("SELECT balance_fen FROM {balances} WHERE person = ?", (str(pid),))
    )
    balance_fen = row[0] if row else 0
    quota = views.read(
        EarmarksProjection,
        lambda r: r.fetchone("SELECT earmarked_fen, quota_left_fen FROM {earmarks} WHERE person = ?", (str(pid),)),
    )
    earmarked_fen, quota_left_fen = quota if quota else (0, 0)
    return {
        "person": person["masked"],
        "balance_fen": balance_fen,
        "earmarked_fen": earmarked_fen,
        "spendable_fen": balance_fen - earmarked_fen,
        "quota_received_left_fen": quota_left_fen,
        "status": person["status"],
        "insurance": person["insurance"],
    }


def balance_detail(views: Any, pid: UUID, masked: str) -> dict[str, Any]:
    """All the balance counters, and the mutual-aid flows this person is part of, per month."""
    base = balance_view(views, pid, masked)

    def read(r: Any) -> dict[str, Any]:
        row = r.fetchone(f"SELECT {', '.join(AMOUNTS)} FROM {{balances}} WHERE person = ?", (str(pid),))
        flows = r.fetchall(
            "SELECT authorizer, beneficiary, month, paid_fen, refunded_fen, payments, refunds "
            "FROM {aid_flows} WHERE authorizer = ? OR beneficiary = ? ORDER BY month, authorizer, "
            "beneficiary",
            (str(pid), str(pid)),
        )
        return {"counters": dict(zip(AMOUNTS, row or (0,) * len(AMOUNTS), strict=True)), "flows": flows}

    detail = views.read(BalancesProjection, read)
    flows = [
        {
            "month": month,
            "direction": "paid_for" if authorizer == str(pid) else "received_from",
            "counterpart": masks_of(views, beneficiary if authorizer == str(pid) else authorizer),
            "paid_fen": paid,
            "refunded_fen": refunded,
            "payments": payments,
            "refunds": refunds,
        }
        for authorizer, beneficiary, month, paid, refunded, payments, refunds in detail["flows"]
    ]
    return {**base, **detail["counters"], "flows": flows}


def masks_of(views: Any, person: str) -> str:
    row = views.read(
        PersonsProjection, lambda r: r.fetchone("SELECT masked FROM {persons} WHERE person = ?", (person,))
    )
    return row[0] if row else "?"


def parse_month(text: str) -> tuple[int, int]:
    """(year, month) of a YYYY-MM month, exactly as MONTH_PATTERN (the API's schema) states it."""
    if not re.fullmatch(MONTH_PATTERN, text):
        raise InvalidInputError("month: must be YYYY-MM (year 0001 to 9999, month 01 to 12)", field="month")
    return int(text[:4]), int(text[5:])


def quota_rules(catalogue: Catalogue, month: str, region: str, rules_name: str | None) -> RuleSet:
    """The rule version a month's quota is judged by: the one in force on the month's last day
    for the person's region (or the named variant / version, for what-if)."""
    year, number = parse_month(month)
    last_day = date(year, number, calendar.monthrange(year, number)[1])
    return catalogue.named(rules_name, last_day) if rules_name else catalogue.in_force(last_day, region)


def quota_view(
    views: Any, catalogue: Catalogue, pid: UUID, masked: str, month: str, rules_name: str | None = None
) -> dict[str, Any]:
    parse_month(month)
    person = person_row(views, pid, masked)
    rows = views.read(
        QuotaProjection,
        lambda r: r.fetchall(
            "SELECT metric, key, channel, count FROM {quota_counters} WHERE person = ? AND month = ? "
            "ORDER BY metric, key, channel",
            (str(pid), month),
        ),
    )
    counts = {"new_members": 0, "new_binders": 0, "authorizations": 0}
    detail: dict[str, dict[str, int]] = {"unbinds": {}, "rejected": {}}
    by_channel: dict[str, dict[str, int]] = {}
    for metric, key, channel, count in rows:
        if metric in counts:
            counts[metric] += count
        else:
            detail[metric][key] = detail[metric].get(key, 0) + count
        per_channel = by_channel.setdefault(channel, dict.fromkeys(QUOTA_METRICS, 0))
        per_channel[metric] += count
    active = views.read(
        BindingsProjection,
        lambda r: (
            r.fetchone("SELECT COUNT(*) FROM {bindings} WHERE binder = ?", (str(pid),))[0],
            r.fetchone("SELECT COUNT(*) FROM {bindings} WHERE member = ?", (str(pid),))[0],
        ),
    )
    rules = quota_rules(catalogue, month, person["region"], rules_name)
    b = rules.binding
    return {
        "person": person["masked"],
        "month": month,
        "new_members": counts["new_members"],
        "new_binders": counts["new_binders"],
        "authorizations": counts["authorizations"],
        "unbinds": detail["unbinds"],
        "rejected": detail["rejected"],
        "by_channel": dict(sorted(by_channel.items())),
        "remaining": {
            "new_members": _remaining(b.members_new_per_month_max, counts["new_members"]),
            "new_binders": _remaining(b.binders_new_per_month_max, counts["new_binders"]),
            "members_active": _remaining(b.members_active_max, active[0]),
            "binders_active": _remaining(b.binders_active_max, active[1]),
        },
        "rule_version": rules.version,
    }


def _remaining(limit: int | None, used: int) -> int | None:
    """None = no limit under this rule version."""
    return None if limit is None else max(0, limit - used)
