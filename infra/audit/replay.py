"""Replay of a disputed deduction, from the event store itself (never from views).

`gather` finds every event of one settlement and the states of the patient and of each
candidate account just before it (`repository.get(id, version=N)`); `replay` is pure: it runs
the domain's own allocation (`domain.deduction.accounts_for` + `domain.spending.allocate`)
under the recorded rule version and compares with what was recorded. The offline bundle
verifier calls the same `replay` on states it rebuilt from the bundle's events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from domain import events as ev
from domain.clock import local_iso
from domain.deduction import accounts_for
from domain.dispatch import topic_name
from domain.errors import UnknownSettlementError
from domain.person import Person
from domain.rules.model import RuleSet
from domain.settlement import Settlement, settlement_aggregate_id
from domain.spending import allocate
from infra.audit.chain import links_for
from infra.audit.evidence_store import EvidenceStore
from infra.eventstore.application import LedgerApp

SETTLEMENT_TOPICS = (
    "DeductionSettled",
    "DeductionReversed",
    "AidDebited",
    "AidRefunded",
    "SettlementOpened",
    "SettlementReversed",
    "QuotaDrawn",  # a line drawn on a cross-province quota (domain.quota), on the patient
    "QuotaDrawSettled",  # ...settled on its authorizer, when the authorizer is in this ledger
    "QuotaUndrawn",
    "QuotaDrawUndone",
)


@dataclass
class Involved:
    """One stored event of the settlement: where it is in the log and what it says."""

    position: int
    stored: Any  # Notification
    event: Any  # decoded domain event
    masked: str  # the person it is recorded on (the patient for the settlement index)


@dataclass
class Gathered:
    settlement_id: str
    patient_before: Person
    authorizers_before: dict[UUID, Person]
    settled: Involved
    involved: list[Involved] = field(default_factory=list)  # in global order
    presented_by_masked: str | None = None
    versions_before: dict[UUID, int] = field(default_factory=dict)


def _settlement_events(
    app: LedgerApp, store: EvidenceStore, originator: UUID, settlement_id: str, masked: str | None
) -> list[Involved]:
    found = []
    for position, stored in store.events_of(originator):
        if topic_name(stored.topic) not in SETTLEMENT_TOPICS:
            continue
        event = app.mapper.to_domain_event(stored)
        if getattr(event, "settlement_id", settlement_id) == settlement_id:
            found.append(Involved(position, stored, event, masked or cast(str, getattr(event, "masked", ""))))
    return found


def gather(app: LedgerApp, store: EvidenceStore, settlement_id: str) -> Gathered:
    try:
        settlement: Settlement = app.repository.get(settlement_aggregate_id(settlement_id))
    except AggregateNotFoundError:
        raise UnknownSettlementError(f"settlement_id: no deduction {settlement_id}", field="settlement_id") from None
    patient_id = settlement.patient
    patient_now: Person = app.repository.get(patient_id)
    mine = _settlement_events(app, store, patient_id, settlement_id, patient_now.masked)
    settled = next((i for i in mine if isinstance(i.event, ev.DeductionSettled)), None)
    if settled is None:
        raise UnknownSettlementError(
            f"settlement_id: {settlement_id} has no DeductionSettled event on its patient", field="settlement_id"
        )
    patient_before: Person = app.repository.get(patient_id, version=settled.event.originator_version - 1)
    involved = mine + _settlement_events(app, store, settlement.id, settlement_id, patient_now.masked)
    others = set(patient_before.authorizers) | {line.person for line in settled.event.lines} - {patient_id}
    authorizers_before: dict[UUID, Person] = {}
    versions = {patient_id: settled.event.originator_version - 1}
    for other in sorted(others):
        events = store.events_of(other)
        before = max((n.originator_version for p, n in events if p < settled.position), default=0)
        masked = app.repository.get(other).masked if events else str(other)
        for position, stored in events:
            if topic_name(stored.topic) in SETTLEMENT_TOPICS:
                event = app.mapper.to_domain_event(stored)
                if getattr(event, "settlement_id", None) == settlement_id:
                    involved.append(Involved(position, stored, event, masked))
        if other in patient_before.authorizers and before:
            authorizers_before[other] = app.repository.get(other, version=before)
            versions[other] = before
    presenter = settled.event.presented_by
    presented_by_masked = None
    if presenter is not None:
        presented_by_masked = patient_before.masked if presenter == patient_id else app.repository.get(presenter).masked
    involved.sort(key=lambda i: i.position)
    return Gathered(settlement_id, patient_before, authorizers_before, settled, involved, presented_by_masked, versions)


def _lines(lines: Any) -> list[dict[str, Any]]:
    return [{"person": masked, "amount_fen": amount} for _, masked, amount in lines]


def replay(gathered: Gathered, rules: RuleSet) -> dict[str, Any]:
    """Pure: recompute the split and compare it with the recorded events."""
    settled: ev.DeductionSettled = gathered.settled.event
    patient = gathered.patient_before
    own, others = accounts_for(patient, gathered.authorizers_before)
    allocation = allocate(settled.amount_fen, own, others, rules.spending)
    recorded_lines = [(line.person, line.masked, line.amount_fen) for line in settled.lines]
    paid = {person: amount for person, _, amount in allocation.lines}
    candidates = [
        {
            "person": c.masked,
            "role": "patient" if c.person == patient.id else "authorizer",
            "balance_before_fen": c.balance_before_fen,
            "available_fen": c.available_fen,
            "authorized_at": local_iso(c.authorized_at),
            "rank": c.rank,
            "why": c.why,
            "paid_fen": paid.get(c.person, 0),
        }
        for c in allocation.candidates
    ]
    differences = _differences(gathered, allocation, recorded_lines, rules)
    changed = rules_changed(settled.rule_version, settled.rule_digest, rules)
    if changed is not None:
        differences.insert(0, describe_rules_changed(changed))
    reversals = _reversals(gathered, settled)
    differences += [
        f"reversal at {r['at']} did not refund exactly the accounts that paid"
        for r in reversals
        if not r["refunds_exact"]
    ]
    return {
        "settlement_id": gathered.settlement_id,
        "verdict": "consistent" if not differences else "mismatch",
        "differences": differences,
        "rule_version": settled.rule_version,
        "patient": patient.masked,
        "amount_fen": settled.amount_fen,
        "category": settled.category,
        "institution": settled.institution,
        "presented_by": gathered.presented_by_masked,
        "at": local_iso(settled.timestamp),
        "recorded": {"lines": _lines(recorded_lines), "out_of_pocket_fen": settled.out_of_pocket_fen},
        "replayed": {"lines": _lines(allocation.lines), "out_of_pocket_fen": allocation.out_of_pocket_fen},
        "rule_digest": {
            "recorded": settled.rule_digest,
            "current": rules.digest,
            "note": "compared"
            if settled.rule_digest is not None
            else "not compared: the deduction was recorded before decisions kept a rule digest",
        },
        "rules_changed": changed,
        "rules": {
            "version": rules.version,
            **rules.spending.model_dump(mode="json"),
            "category_eligible": settled.category in rules.spending.eligible_categories,
        },
        "state_before": _state_before(gathered),
        "candidates": candidates,
        "steps": _steps(allocation, settled.amount_fen),
        "reversed": bool(reversals),
        "reversals": reversals,
    }


def rules_changed(rule_version: str, recorded_digest: str | None, rules: RuleSet) -> dict[str, str] | None:
    """RULES_CHANGED when the content now under `rule_version` is not the content the decision
    recorded (None when it is the same, or when the decision recorded no digest: not compared)."""
    if recorded_digest is None or recorded_digest == rules.digest:
        return None
    return {
        "code": "RULES_CHANGED",
        "rule_version": rule_version,
        "recorded_digest": recorded_digest,
        "current_digest": rules.digest,
    }


def describe_rules_changed(changed: dict[str, str]) -> str:
    return (
        f"RULES_CHANGED: rule set {changed['rule_version']} now has content digest {changed['current_digest']}, "
        f"but the decision was made under content digest {changed['recorded_digest']}"
    )


def _differences(gathered: Gathered, allocation: Any, recorded: list, rules: RuleSet) -> list[str]:
    settled: ev.DeductionSettled = gathered.settled.event
    out: list[str] = []
    if rules.version != settled.rule_version:
        out.append(f"rule set {rules.version} is not the recorded {settled.rule_version}")
    replayed = [(person, amount) for person, _, amount in allocation.lines]
    if replayed != [(person, amount) for person, _, amount in recorded]:
        out.append("recorded lines " + _fmt(recorded) + " differ from the replay " + _fmt(allocation.lines))
    if allocation.out_of_pocket_fen != settled.out_of_pocket_fen:
        out.append(f"recorded out of pocket {settled.out_of_pocket_fen} fen, replay {allocation.out_of_pocket_fen} fen")
    total = sum(amount for _, _, amount in recorded) + settled.out_of_pocket_fen
    if total != settled.amount_fen:
        out.append(f"recorded lines plus out of pocket = {total} fen, not the amount {settled.amount_fen} fen")
    debits = sorted(
        (i.event.originator_id, i.event.amount_fen) for i in gathered.involved if isinstance(i.event, ev.AidDebited)
    )
    quota_lines = sorted((line.transfer_id, line.amount_fen) for line in settled.lines if line.transfer_id)
    drawn = {line.person for line in settled.lines if line.transfer_id}
    expected = sorted((p, amount) for p, _, amount in recorded if p != settled.originator_id and p not in drawn)
    if debits != expected:
        out.append("AidDebited events on the authorizers do not match the recorded lines")
    draws = sorted(
        (i.event.transfer_id, i.event.amount_fen) for i in gathered.involved if isinstance(i.event, ev.QuotaDrawn)
    )
    if draws != quota_lines:
        out.append("QuotaDrawn events on the patient do not match the lines paid from quotas")
    for item in gathered.involved:
        if isinstance(item.event, ev.AidDebited):
            before = gathered.versions_before.get(item.event.originator_id)
            if before is not None and item.event.originator_version != before + 1:
                out.append(
                    f"{item.masked}: debit at version {item.event.originator_version}, "
                    f"but the state used was version {before}"
                )
            if item.event.rule_version != settled.rule_version:
                out.append(f"{item.masked}: AidDebited records rule version {item.event.rule_version}")
    return out


def _fmt(lines: Any) -> str:
    return "[" + ", ".join(f"{masked}:{amount}" for _, masked, amount in lines) + "]"


def _reversals(gathered: Gathered, settled: ev.DeductionSettled) -> list[dict[str, Any]]:
    recorded = sorted((line.person, line.amount_fen) for line in settled.lines)
    refunds = sorted(
        (i.event.originator_id, i.event.amount_fen) for i in gathered.involved if isinstance(i.event, ev.AidRefunded)
    )
    own = [(p, a) for p, a in recorded if p == settled.originator_id]
    out = []
    for item in gathered.involved:
        if isinstance(item.event, ev.DeductionReversed):
            lines = sorted((line.person, line.amount_fen) for line in item.event.lines)
            exact = lines == recorded and sorted(own + refunds) == recorded
            out.append(
                {
                    "at": local_iso(item.event.timestamp),
                    "reason": item.event.reason,
                    "refunded": [{"person": line.masked, "amount_fen": line.amount_fen} for line in item.event.lines],
                    "refunds_exact": exact,
                }
            )
    return out


def _state_before(gathered: Gathered) -> dict[str, Any]:
    def state(person: Person) -> dict[str, Any]:
        return {
            "person": person.masked,
            "version": person.version,
            "status": person.status,
            "region": person.region,
            "insurance": person.insurance,
            "balance_fen": person.balance_fen,
        }

    patient = gathered.patient_before
    return {
        "patient": {**state(patient), "authorizers": len(patient.authorizers)},
        "authorizers": [state(gathered.authorizers_before[i]) for i in sorted(gathered.authorizers_before)],
    }


def _steps(allocation: Any, amount_fen: int) -> list[dict[str, Any]]:
    paid = {person: amount for person, _, amount in allocation.lines}
    remaining = amount_fen
    steps = []
    for candidate in sorted((c for c in allocation.candidates if c.rank is not None), key=lambda c: c.rank):
        take = paid.get(candidate.person, 0)
        steps.append(
            {
                "step": candidate.rank,
                "person": candidate.masked,
                "available_fen": candidate.available_fen,
                "remaining_before_fen": remaining,
                "paid_fen": take,
                "remaining_after_fen": remaining - take,
                "why": candidate.why,
            }
        )
        remaining -= take
    steps.append(
        {
            "step": len(steps) + 1,
            "person": "out of pocket",
            "available_fen": None,
            "remaining_before_fen": remaining,
            "paid_fen": remaining,
            "remaining_after_fen": 0,
            "why": "what the accounts could not cover is paid by the patient in cash",
        }
    )
    return steps


def time_check(decision: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """Pure: whether the decision used only facts effective and recorded before it. `inputs`
    maps each account the decision read (masked) to the last event of it that the decision saw;
    an input effective after the decision, or recorded after it, must not have been used."""
    later = []
    for masked, event in sorted(inputs.items()):
        recorded_later = (
            event.recorded_at is not None
            and decision.recorded_at is not None
            and event.recorded_at > decision.recorded_at
        )
        if event.timestamp > decision.timestamp or recorded_later:
            later.append(
                {
                    "person": masked,
                    "version": event.originator_version,
                    "at": local_iso(event.timestamp),
                    "recorded_at": local_iso(event.recorded_at),
                }
            )
    return {
        "decision_at": local_iso(decision.timestamp),
        "decision_recorded_at": local_iso(decision.recorded_at),
        "accounts_read": len(inputs),
        "inputs_from_its_future": later,
        "ok": not later,
    }


def _inputs(app: LedgerApp, store: EvidenceStore, gathered: Gathered) -> dict[str, Any]:
    """The last event of each account the decision read (its state just before the decision)."""
    names = {
        gathered.patient_before.id: gathered.patient_before.masked,
        **{i: a.masked for i, a in gathered.authorizers_before.items()},
    }
    inputs = {}
    for account, version in gathered.versions_before.items():
        stored = next((n for _, n in store.events_of(account) if n.originator_version == version), None)
        if stored is not None:
            inputs[names.get(account, str(account))] = app.mapper.to_domain_event(stored)
    return inputs


def audit_deduction(
    app: LedgerApp, store: EvidenceStore, settlement_id: str
) -> tuple[dict[str, Any], Gathered, RuleSet]:
    """The audit of one settlement: the replay plus the evidence (events, positions, chain hashes)."""
    gathered = gather(app, store, settlement_id)
    rules = app.catalogue.get(gathered.settled.event.rule_version)
    result = replay(gathered, rules)
    links = links_for(store, [i.position for i in gathered.involved])
    result["evidence"] = [
        {
            "position": item.position,
            "person": item.masked,
            "type": topic_name(item.stored.topic),
            "version": item.stored.originator_version,
            "at": local_iso(item.event.timestamp),
            "recorded_at": local_iso(item.event.recorded_at),
            "sent_by": item.event.sent_by.model_dump() if item.event.sent_by else None,
            "hash": links[item.position][0],
            "sealed": links[item.position][1],
        }
        for item in gathered.involved
    ]
    result["time_check"] = time_check(gathered.settled.event, _inputs(app, store, gathered))
    return result, gathered, rules
