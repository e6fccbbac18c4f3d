"""`ledger --federation F audit deduction ID [--bundle FILE]`: a deduction that drew on
cross-province quotas, with both halves.

The beneficiary's ledger (the one holding the settlement) gives the usual replay and evidence
bundle (infra.audit); for each quota line, the authorizer's ledger gives the transfer's own
events there (the earmark, raises, and this settlement's settlement or undoing), each with its
chain position. The bundle carries both: the deduction's bundle as it is, and per authorizer's
ledger its events' exact bytes with Merkle inclusion proofs into that ledger's signed
checkpoints (infra.audit.bundle). `ledger verify-bundle` checks every part offline
(infra.federation.bundle_check)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from domain import events as ev
from domain.errors import UnknownSettlementError
from domain.person import Person
from domain.settlement import Settlement, settlement_aggregate_id
from infra.audit import hashing as h
from infra.audit.bundle import NotSealedError, _events_with_proofs
from infra.audit.evidence_store import EvidenceStore
from infra.core.ledger import Ledger
from infra.federation.ledgers import FederatedLedgers

FORMAT = "family-ledger-federation-bundle/1"
HALF_TOPICS = (ev.QuotaEarmarked, ev.QuotaRaised, ev.QuotaDrawSettled, ev.QuotaDrawUndone)


def _home(ledgers: FederatedLedgers, settlement_id: str) -> tuple[str, Ledger, Settlement]:
    province = ledgers.province_of(settlement_aggregate_id(settlement_id))
    if province is None:
        raise UnknownSettlementError(
            f"settlement_id: no deduction {settlement_id} in any ledger", field="settlement_id"
        )
    ledger = ledgers.ledger(province)
    return province, ledger, ledger.app.repository.get(settlement_aggregate_id(settlement_id))


def donor_halves(ledgers: FederatedLedgers, settlement: Settlement, patient: Person) -> list[dict[str, Any]]:
    """Per quota line: the authorizer's ledger, and the transfer's events there that this
    deduction rests on (position, stored event), in log order."""
    halves = []
    for line in settlement.lines:
        if line.transfer_id is None:
            continue
        tie = patient.quotas_received[line.transfer_id]
        province = tie["province"] or ""
        app = ledgers.ledger(province).app if tie["remote"] else None
        store = EvidenceStore(app) if app is not None else None
        found = []
        for position, stored in store.events_of(line.person) if store is not None else []:
            event: Any = app.mapper.to_domain_event(stored)  # type: ignore[union-attr]  # store implies app
            ours = getattr(event, "settlement_id", settlement.settlement_id) == settlement.settlement_id
            if isinstance(event, HALF_TOPICS) and event.transfer_id == line.transfer_id and ours:
                found.append((position, stored, event))
        halves.append({"transfer_id": line.transfer_id, "province": province, "authorizer": line.masked,
                       "amount_fen": line.amount_fen, "events": found, "store": store})  # fmt: skip
    return halves


def _shown(half: dict[str, Any]) -> dict[str, Any]:
    settled = sum(e.amount_fen for _, _, e in half["events"] if isinstance(e, ev.QuotaDrawSettled))
    return {
        "transfer_id": half["transfer_id"], "province": half["province"], "authorizer": half["authorizer"],
        "drawn_fen": half["amount_fen"], "settled_fen": settled,
        "settled": settled == half["amount_fen"],
        "events": [{"position": p, "type": type(e).__name__, "amount_fen": e.amount_fen,
                    "at": e.timestamp.isoformat()} for p, _, e in half["events"]],
    }  # fmt: skip


def audit_across(ledgers: FederatedLedgers, settlement_id: str, *, bundle: bool = False) -> tuple[dict, bytes | None]:
    """The replay on the beneficiary's ledger plus the authorizers' halves (and the bundle)."""
    province, ledger, settlement = _home(ledgers, settlement_id)
    patient: Person = ledger.app.repository.get(settlement.patient)
    data, result = ledger.audits.bundle(settlement_id) if bundle else (None, ledger.audits.deduction(settlement_id))
    halves = donor_halves(ledgers, settlement, patient)
    shown = [_shown(half) for half in halves]
    result = {**result, "province": province, "quota_halves": shown}
    if any(not half["settled"] for half in shown) and result["verdict"] == "consistent":
        result["verdict"] = "pending"  # a draw not yet settled on its authorizer's ledger (relay behind)
    if data is None:
        return result, None
    parts = {province: json.loads(data)}
    for half in halves:
        parts.setdefault(f"{half['province']}:{half['transfer_id']}", _half_bundle(half))
    body: dict[str, Any] = {"format": FORMAT, "settlement_id": settlement_id, "province": province,
                            "quota_halves": shown, "parts": parts}  # fmt: skip
    body["bundle_sha256"] = hashlib.sha256(h.canonical_json(body)).hexdigest()
    return result, h.canonical_json(body) + b"\n"


def _half_bundle(half: dict[str, Any]) -> dict[str, Any]:
    store: EvidenceStore = half["store"]
    checkpoints = store.checkpoints()
    wanted = {position: stored for position, stored, _ in half["events"]}
    if not wanted:
        return {"province": half["province"], "events": [], "checkpoints": [], "anchor": None}
    if not checkpoints or checkpoints[-1]["position"] < max(wanted):
        raise NotSealedError(
            f"province {half['province']}: position {max(wanted)} is not sealed yet: run `ledger seal`"
        )
    events = _events_with_proofs(store, checkpoints, wanted)
    first = min(e["proof"]["checkpoint"] for e in events)
    evidence = [{"position": e["position"], "record_sha256": e["record_sha256"]} for e in events]
    return {"province": half["province"], "transfer_id": half["transfer_id"], "events": events,
            "replay": {"evidence": evidence},
            "checkpoints": [c for c in checkpoints if c["sequence"] >= first],
            "anchor": checkpoints[-1]["checkpoint_sha256"]}  # fmt: skip
