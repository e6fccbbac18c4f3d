"""The data-subject report (PIPL art. 45): everything the ledger holds about one person, and the
chain positions that prove it complete.

- `person`: the state now (masked identity, region, insurance, status, balance, version);
- `events`: the whole history in log order, each with its position, both times and who sent it;
- `bindings` and `authorizations`, both directions (whom they bound, who bound them; whom they
  pay for, who pays for them), as they stand now;
- `deductions`: as patient (who paid each one) and as payer (whose settlement it paid);
- `quota`: binds counted per natural month, as binder and as member;
- `access`: who read their data, when, through which endpoint, and why;
- `completeness`: the positions of their events, how many a signed checkpoint covers, and the
  evidence verdict (infra.core.evidence_service): sealed history cannot have lost or gained one.

Built from the aggregate, the event log and the access log; nothing else holds personal data
(the views are derived from the log). The report names people by masked number only.
"""

from __future__ import annotations

from typing import Any

from domain import events as ev
from domain.clock import local_iso
from domain.person import Person
from infra.audit.evidence_store import EvidenceStore
from infra.audit.history import person_history
from infra.eventstore import person_reads
from infra.eventstore.application import LedgerApp

FORMAT = "family-ledger-subject-report/1"


def subject_report(
    app: LedgerApp, person: Person, access: list[dict[str, Any]], evidence: dict[str, Any]
) -> dict[str, Any]:
    store = EvidenceStore(app)
    history = person_history(app, store, person.id, None)
    events = [app.mapper.to_domain_event(stored) for _, stored in store.events_of(person.id)]
    positions = [entry["position"] for entry in history["timeline"]]
    checkpoint = evidence.get("checkpoint") or {}
    sealed_through = checkpoint.get("position", 0)
    return {
        "format": FORMAT,
        "person": person_reads.person_view(person),
        "events": history["timeline"],
        "events_truncated": history.get("truncated", False),
        "bindings": person_reads.bindings_view(person),
        "authorizations": person_reads.authorizations_view(person),
        "deductions": _deductions(events),
        "quota": {
            "new_members_by_month": dict(sorted(person.new_members_by_month.items())),
            "new_binders_by_month": dict(sorted(person.new_binders_by_month.items())),
        },
        "access": access,
        "completeness": {
            "positions": positions,
            "events": len(positions),
            "sealed": sum(1 for p in positions if p <= sealed_through),
            "sealed_through": sealed_through,
            "checkpoint_sha256": checkpoint.get("checkpoint_sha256"),
            "evidence_ok": bool(evidence.get("ok")),
            "signatures_checked": bool(evidence.get("signatures_checked")),
        },
    }


def _deductions(events: list[Any]) -> dict[str, list[dict[str, Any]]]:
    as_patient: list[dict[str, Any]] = []
    as_payer: list[dict[str, Any]] = []
    reversed_ids = {e.settlement_id for e in events if isinstance(e, ev.DeductionReversed | ev.AidRefunded)}
    for event in events:
        if isinstance(event, ev.DeductionSettled):
            as_patient.append({
                "settlement_id": event.settlement_id,
                "at": local_iso(event.timestamp),
                "amount_fen": event.amount_fen,
                "institution": event.institution,
                "paid_by": [{"person": line.masked, "amount_fen": line.amount_fen} for line in event.lines],
                "out_of_pocket_fen": event.out_of_pocket_fen,
                "reversed": event.settlement_id in reversed_ids,
            })  # fmt: skip
        elif isinstance(event, ev.AidDebited):
            as_payer.append({
                "settlement_id": event.settlement_id,
                "at": local_iso(event.timestamp),
                "patient": event.patient_masked,
                "amount_fen": event.amount_fen,
                "reversed": event.settlement_id in reversed_ids,
            })  # fmt: skip
    return {"as_patient": as_patient, "as_payer": as_payer}
