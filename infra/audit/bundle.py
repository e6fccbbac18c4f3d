"""Evidence bundles: one JSON file that settles a dispute without the database.

Contents: the replay; the rule set used (`model_dump`); every stored event needed to rebuild the
patient and each candidate account up to just before the deduction, plus the settlement's own
events, each with its exact stored bytes, its record digest and a Merkle inclusion proof
(RFC 9162) into the sealed checkpoint of its segment; the checkpoints, each with its Ed25519
signature, from the oldest one needed to the latest, which chain to one another (`anchor` = the
latest digest, printed by `ledger seal` and `ledger verify`, to be compared with a copy kept
elsewhere). The exact format is docs/evidence-format.md.

What is covered by a signature: record bytes -> record digest -> Merkle leaf -> root -> signed
checkpoint. The chain links of the log are *not* in a bundle (they could only be checked against
each other); the replay's evidence list names each event by its record digest instead.

The file is canonical JSON (sorted keys, no spaces) plus a newline, and carries the sha256 of
its own content: a changed byte either breaks the canonical form or the digest. A forger who
re-digests the file, or builds it from a rewritten database, still has to match checkpoints
signed by the published public key (`--public-key`) and the published anchor (`--anchor`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any
from uuid import UUID

from domain.errors import LedgerError
from domain.rules.model import RuleSet
from infra.audit import hashing as h
from infra.audit.evidence_store import EvidenceStore
from infra.audit.replay import (
    Gathered,
    audit_deduction,
)
from infra.eventstore.application import LedgerApp

FORMAT = "family-ledger-evidence-bundle/1"


class NotSealedError(LedgerError):
    code = "NOT_SEALED"


class BundleTamperedError(LedgerError):
    code = "LOG_ALTERED"


def build_bundle(
    app: LedgerApp, store: EvidenceStore, settlement_id: str, withhold: Callable[[UUID], bool] | None = None
) -> tuple[bytes, dict[str, Any]]:
    """The bundle of one deduction. `withhold(account)`: an authorizer whose history the reader may
    not see (outside an auditor's region): their events before the deduction are carried as record
    digests and proofs only, and `disclosed` carries what the replay needs of them instead."""
    return bundle_of(app, store, audit_deduction(app, store, settlement_id), withhold)


def bundle_of(
    app: LedgerApp,
    store: EvidenceStore,
    audited: tuple[dict[str, Any], Gathered, RuleSet],
    withhold: Callable[[UUID], bool] | None = None,
) -> tuple[bytes, dict[str, Any]]:
    """`build_bundle` from an audit already made (`infra.audit.replay.audit_deduction`)."""
    result, gathered, rules = audited
    settlement_id = gathered.settlement_id
    wanted = _wanted(store, gathered)
    checkpoints = store.checkpoints()
    last_position = max(wanted)
    if not checkpoints or checkpoints[-1]["position"] < last_position:
        raise NotSealedError(f"position {last_position} is not sealed yet: run `ledger seal`, then build the bundle")
    withheld = {a for a in gathered.authorizers_before if withhold is not None and withhold(a)}
    settlement_positions = {item.position for item in gathered.involved}
    events = [
        _withheld(e) if UUID(e["originator_id"]) in withheld and e["position"] not in settlement_positions else e
        for e in _events_with_proofs(store, checkpoints, wanted)
    ]
    first = min(e["proof"]["checkpoint"] for e in events)
    digests = {e["position"]: e["record_sha256"] for e in events}
    evidence = [
        {**{k: v for k, v in item.items() if k != "hash"}, "record_sha256": digests[item["position"]]}
        for item in result["evidence"]
    ]
    body = {
        "format": FORMAT,
        "settlement_id": settlement_id,
        "replay": {**result, "evidence": evidence},
        "rule_set": rules.model_dump(mode="json"),
        "states_before": {str(k): v for k, v in sorted(gathered.versions_before.items())},
        "disclosed": {str(a): _disclosed(app, store, gathered, a) for a in sorted(withheld)},
        "patient": str(gathered.patient_before.id),
        "events": events,
        "checkpoints": [c for c in checkpoints if c["sequence"] >= first],
        "anchor": checkpoints[-1]["checkpoint_sha256"],
    }
    body["bundle_sha256"] = hashlib.sha256(h.canonical_json(body)).hexdigest()
    return h.canonical_json(body) + b"\n", result


def _withheld(event: dict[str, Any]) -> dict[str, Any]:
    """An event carried by its record digest and proof only: its sealing is proven, its content
    (the person's enrolment, credits, relations) is not shown."""
    return {**{k: v for k, v in event.items() if k != "state"}, "withheld": True}


def _disclosed(app: LedgerApp, store: EvidenceStore, gathered: Gathered, account: UUID) -> dict[str, Any]:
    """What the replay needs of a withheld authorizer: masked identity, balance and status just
    before the deduction, and the times of the last event the decision read (its time check)."""
    person = gathered.authorizers_before[account]
    version = gathered.versions_before[account]
    last = next(n for _, n in store.events_of(account) if n.originator_version == version)
    event: Any = app.mapper.to_domain_event(last)
    earmark = {"earmarked_fen": person.earmarked_fen} if person.earmarked_fen else {}  # only when quotas hold some
    return earmark | {
        "masked": person.masked,
        "balance_fen": person.balance_fen,
        "active": person.is_active,
        "status": person.status,
        "region": person.region,
        "insurance": person.insurance,
        "version": version,
        "last_event": {
            "at": event.timestamp.isoformat(),
            "recorded_at": event.recorded_at.isoformat() if event.recorded_at else None,
        },
    }


def _wanted(store: EvidenceStore, gathered: Gathered) -> dict[int, Any]:
    """Positions -> stored events the offline verifier needs."""
    wanted = {item.position: item.stored for item in gathered.involved}
    for originator, version in gathered.versions_before.items():
        for position, stored in store.events_of(originator):
            if stored.originator_version <= version:
                wanted[position] = stored
    return wanted


def _events_with_proofs(store: EvidenceStore, checkpoints: list[dict], wanted: dict[int, Any]) -> list[dict[str, Any]]:
    out = []
    by_segment: dict[int, list[int]] = {}
    for position in sorted(wanted):
        segment = next(c for c in checkpoints if c["first_position"] <= position <= c["position"])
        by_segment.setdefault(segment["sequence"], []).append(position)
    for checkpoint in checkpoints:
        positions = by_segment.get(checkpoint["sequence"])
        if not positions:
            continue
        rows = list(store.iter_links(checkpoint["first_position"] - 1, checkpoint["position"]))
        leaves = [h.leaf(row.position, bytes.fromhex(row.record_sha256)) for row in rows]
        index_of = {row.position: i for i, row in enumerate(rows)}
        for position in positions:
            stored = wanted[position]
            i = index_of[position]
            digest = h.record_digest(stored.originator_id, stored.originator_version, stored.topic, stored.state)
            if digest.hex() != rows[i].record_sha256:
                raise BundleTamperedError(
                    f"the record at position {position} differs from what was sealed: run `ledger verify`"
                )
            out.append(
                {
                    "position": position,
                    "originator_id": str(stored.originator_id),
                    "originator_version": stored.originator_version,
                    "topic": stored.topic,
                    "state": stored.state.decode("utf-8"),
                    "record_sha256": rows[i].record_sha256,
                    "proof": {
                        "checkpoint": checkpoint["sequence"],
                        "leaf_index": i,
                        "tree_size": len(rows),
                        "path": [p.hex() for p in h.inclusion_path(i, leaves)],
                    },
                }
            )
    return out
