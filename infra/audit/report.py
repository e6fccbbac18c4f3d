"""The monthly compliance report: one streaming fold over the event log, in global order.

It reads stored events page by page (bounded) and decodes their canonical JSON itself; it does
not use the projections' views, so it is an independent check on them. Attribution:
a binding, an unbind or a rejected bind counts in the binder's region; an authorization in the
authorizer's; a deduction, its mutual aid and its reversal in the patient's; each at the region
the person had at that point of the log. Months are natural months in UTC+8. "Active at month
end" counts ties started and not ended by events dated before the first instant of next month.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from domain import events as ev
from domain.clock import CST
from domain.dispatch import handler_table, handles, topic_of
from domain.errors import InvalidInputError
from infra.audit.chain_verification import verify as chain_verify
from infra.storage.event_macs import decoded_state


def month_bounds(month: str) -> tuple[datetime, datetime]:
    try:
        year, number = (int(part) for part in month.split("-"))
        start = datetime(year, number, 1, tzinfo=CST)
    except ValueError:
        raise InvalidInputError(f"month: {month!r} is not YYYY-MM", field="month") from None
    if len(month) != 7:
        raise InvalidInputError(f"month: {month!r} is not YYYY-MM", field="month")
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=CST)
    return start, end


UNSPECIFIED = "unspecified"  # an unbind or authorization whose command named no channel


@dataclass
class ComplianceFold:
    month: str
    region: str = ""
    start: datetime = field(init=False)
    end: datetime = field(init=False)
    regions: dict[str, str] = field(default_factory=dict)  # person -> region, as of this point of the log
    counts: Counter = field(default_factory=Counter)
    by_channel: Counter = field(default_factory=Counter)
    unbinds_by_channel: Counter = field(default_factory=Counter)
    authorizations_by_channel: Counter = field(default_factory=Counter)
    unbind_reasons: Counter = field(default_factory=Counter)
    authorization_end_reasons: Counter = field(default_factory=Counter)
    rejections: Counter = field(default_factory=Counter)
    categories: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    daily: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    bindings_active: set = field(default_factory=set)
    authorizations_active: set = field(default_factory=set)
    pairs: set = field(default_factory=set)
    last_position: int = 0

    def __post_init__(self) -> None:
        self.start, self.end = month_bounds(self.month)

    def feed(self, position: int, originator_id: str, topic: str, state: dict[str, Any]) -> None:
        self.last_position = position
        if topic == _ENROLLED:
            self.regions[originator_id] = state["region"]
        elif topic == _TRANSFERRED:
            self.regions[originator_id] = state["region_to"]
        name = _HANDLERS.get(topic)
        if name is None:
            return
        handler = getattr(self, name)
        at = datetime.fromisoformat(state["timestamp"])
        in_scope = self.regions.get(originator_id, "").startswith(self.region)
        handler(originator_id, state, at, in_scope, self.start <= at < self.end)

    def _day(self, at: datetime) -> str:
        return at.astimezone(CST).date().isoformat()

    @handles(ev.BindingStarted)
    def _BindingStarted(self, oid: str, s: dict, at: datetime, scope: bool, month: bool) -> None:
        if s["role"] != "binder" or not scope:
            return
        if month:
            self.counts["bindings_created"] += 1
            self.by_channel[s["channel"]] += 1
            self.daily[self._day(at)]["bindings"] += 1
        if at < self.end:
            self.bindings_active.add((oid, s["counterpart"]))

    @handles(ev.BindingEnded)
    def _BindingEnded(self, oid: str, s: dict, at: datetime, scope: bool, month: bool) -> None:
        if s["role"] != "binder":
            return
        if at < self.end:
            self.bindings_active.discard((oid, s["counterpart"]))
        if month and scope:
            self.counts["bindings_ended"] += 1
            self.unbind_reasons[s["reason"]] += 1
            self.unbinds_by_channel[s.get("channel") or UNSPECIFIED] += 1
            self.daily[self._day(at)]["unbinds"] += 1

    @handles(ev.BindRejected)
    def _BindRejected(self, oid: str, s: dict, at: datetime, scope: bool, month: bool) -> None:
        if s["role"] == "binder" and scope and month:
            self.counts["bindings_rejected"] += 1
            self.rejections[s["code"]] += 1

    @handles(ev.AuthorizationGranted)
    def _AuthorizationGranted(self, oid: str, s: dict, at: datetime, scope: bool, month: bool) -> None:
        if s["role"] != "authorizer" or not scope:
            return
        if month:
            self.counts["authorizations_created"] += 1
            self.authorizations_by_channel[s.get("channel") or UNSPECIFIED] += 1
        if at < self.end:
            self.authorizations_active.add((oid, s["counterpart"]))

    @handles(ev.AuthorizationEnded)
    def _AuthorizationEnded(self, oid: str, s: dict, at: datetime, scope: bool, month: bool) -> None:
        if s["role"] != "authorizer":
            return
        if at < self.end:
            self.authorizations_active.discard((oid, s["counterpart"]))
        if month and scope:
            self.counts["authorizations_ended"] += 1
            self.authorization_end_reasons[s["reason"]] += 1

    @handles(ev.DeductionSettled)
    def _DeductionSettled(self, oid: str, s: dict, at: datetime, scope: bool, month: bool) -> None:
        if not (scope and month):
            return
        paid = sum(line["amount_fen"] for line in s["lines"])
        others = [line for line in s["lines"] if line["person"] != oid]
        self.counts["deductions"] += 1
        self.counts["deductions_amount_fen"] += s["amount_fen"]
        self.counts["paid_from_accounts_fen"] += paid
        self.counts["out_of_pocket_fen"] += s["out_of_pocket_fen"]
        self.counts["paid_for_others_fen"] += sum(line["amount_fen"] for line in others)
        self.counts["deductions_with_aid"] += bool(others)
        self.pairs.update((line["person"], oid) for line in others)
        self.categories[s["category"]]["count"] += 1
        self.categories[s["category"]]["amount_fen"] += s["amount_fen"]
        day = self.daily[self._day(at)]
        day["deductions"] += 1
        day["deductions_amount_fen"] += s["amount_fen"]

    @handles(ev.DeductionReversed)
    def _DeductionReversed(self, oid: str, s: dict, at: datetime, scope: bool, month: bool) -> None:
        if scope and month:
            self.counts["reversals"] += 1
            self.counts["reversals_amount_fen"] += sum(line["amount_fen"] for line in s["lines"])

    # --- the result ---------------------------------------------------------------------
    def result(self, integrity: dict[str, Any]) -> dict[str, Any]:
        c = self.counts
        return {
            "month": self.month,
            "region": self.region or None,
            "bindings": {
                "created": c["bindings_created"],
                "by_channel": dict(sorted(self.by_channel.items())),
                "ended": {
                    "count": c["bindings_ended"],
                    "by_reason": dict(sorted(self.unbind_reasons.items())),
                    "by_channel": dict(sorted(self.unbinds_by_channel.items())),
                },
                "rejected": {"count": c["bindings_rejected"], "by_code": dict(sorted(self.rejections.items()))},
                "active_at_month_end": len(self.bindings_active),
            },
            "authorizations": {
                "created": c["authorizations_created"],
                "created_by_channel": dict(sorted(self.authorizations_by_channel.items())),
                "ended": c["authorizations_ended"],
                "ended_by_reason": dict(sorted(self.authorization_end_reasons.items())),
                "active_at_month_end": len(self.authorizations_active),
            },
            "deductions": {
                "count": c["deductions"],
                "amount_fen": c["deductions_amount_fen"],
                "paid_from_accounts_fen": c["paid_from_accounts_fen"],
                "out_of_pocket_fen": c["out_of_pocket_fen"],
                "by_category": {k: dict(sorted(v.items())) for k, v in sorted(self.categories.items())},
            },
            "mutual_aid": {
                "paid_for_others_fen": c["paid_for_others_fen"],
                "pairs": len(self.pairs),
                "deductions_with_aid": c["deductions_with_aid"],
            },
            "reversals": {"count": c["reversals"], "amount_fen": c["reversals_amount_fen"]},
            "by_day": self._days(),
            "log_position": self.last_position,
            "integrity": integrity,
        }

    def _days(self) -> list[dict[str, Any]]:
        days, day = [], self.start.date()
        while day < self.end.date():
            counts = self.daily.get(day.isoformat(), Counter())
            days.append(
                {
                    "date": day.isoformat(),
                    "bindings": counts["bindings"],
                    "unbinds": counts["unbinds"],
                    "deductions": counts["deductions"],
                    "deductions_amount_fen": counts["deductions_amount_fen"],
                }
            )
            day += timedelta(days=1)
        return days


EVIDENCE_PARTS = ("events", "access_log", "key_log", "keys", "snapshots")  # beside the chain

_HANDLERS = handler_table(ComplianceFold)
_ENROLLED = topic_of(ev.PersonEnrolled)
_TRANSFERRED = topic_of(ev.PersonTransferred)


def fold_log(records: Iterable[Any], month: str, region: str = "") -> ComplianceFold:
    fold = ComplianceFold(month, region)
    for record in records:
        fold.feed(record.id, str(record.originator_id), record.topic, decoded_state(record.state))
    return fold


def compliance_report(
    store: Any, month: str, region: str = "", verify: Callable[[], dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The month's figures, and the integrity of the evidence they come from: `verify` is the
    core's verdict (infra.core.evidence_service, as `ledger verify` gives it); without it, the
    event chain's alone."""
    if region and not (region.isdigit() and len(region) <= 6):
        raise InvalidInputError(f"region: {region!r} is not a prefix of a 6-digit region code", field="region")
    month_bounds(month)
    stop = store.max_position()
    fold = fold_log(store.iter_log(0, stop), month, region)
    checked = verify() if verify is not None else chain_verify(store)
    checkpoint = checked["checkpoint"]
    failed = [name for name in EVIDENCE_PARTS if not checked.get(name, {"ok": True})["ok"]]
    integrity = {
        "sealed_through": checkpoint["position"] if checkpoint else None,
        "verified": bool(checked["ok"] and checkpoint),
        "checkpoint_sha256": checkpoint["checkpoint_sha256"] if checkpoint else None,
        "sealed_at": checkpoint["sealed_at"] if checkpoint else None,
        "problems": checked["problem_count"] + sum(len(checked[name]["problems"]) for name in failed),
        "failed_parts": failed,
        "signatures_checked": checked["signatures_checked"],
        "unsealed": checked["unsealed"],
    }
    return fold.result(integrity)


def to_csv(report: dict[str, Any]) -> str:
    """One row per figure: section, key, value (amounts in fen)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["section", "key", "value"])

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else key, inner)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict) and "date" in item:
                    for key, inner in item.items():
                        if key != "date":
                            writer.writerow([f"{prefix}.{key}", item["date"], inner])
        else:
            section, _, key = prefix.rpartition(".")
            writer.writerow([section or prefix, key if section else "", "" if value is None else value])

    walk("", report)
    return buffer.getvalue()
