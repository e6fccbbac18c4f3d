"""Checking an evidence bundle offline (`ledger verify-bundle`): nothing but the file, and, if
given, the shipped rule catalogue, the published public key of the seal key and a published
anchor. Every check is listed with its verdict; a file that cannot be read is a failed check,
never an error. The format is docs/evidence-format.md; bundles are built by infra.audit.bundle.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from domain import events as ev
from domain.clock import local_iso
from domain.dispatch import topic_name
from domain.errors import LedgerError
from domain.rules.model import RuleSet
from domain.settlement import settlement_aggregate_id
from infra.audit import hashing as h
from infra.audit import signing
from infra.audit.bundle import FORMAT
from infra.audit.chain import trust
from infra.audit.replay import (
    SETTLEMENT_TOPICS,
    Gathered,
    Involved,
    describe_rules_changed,
    replay,
    rules_changed,
    time_check,
)
from infra.storage.event_macs import decoded_state
from infra.storage.mapper import decode_event


# --- offline verification ----------------------------------------------------------------------
class _Checks:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, name: str, ok: bool, detail: str = "") -> bool:
        self.items.append({"check": name, "ok": bool(ok), "detail": detail})
        return bool(ok)

    @property
    def ok(self) -> bool:
        return all(item["ok"] for item in self.items)


def verify_bundle(
    data: bytes, catalogue: Any = None, public_key: bytes | None = None, anchor: str | None = None
) -> dict[str, Any]:
    """Check a bundle with nothing but the file (and, if given, the shipped rule catalogue, the
    published public key of the seal key and a published anchor)."""
    anchor = anchor.strip().lower() if anchor else None
    result = _verify(data, catalogue, public_key, anchor)
    return {**result, **trust(public_key, anchor)}


def _verify(data: bytes, catalogue: Any, public_key: bytes | None, anchor: str | None) -> dict[str, Any]:
    checks = _Checks()
    try:
        bundle = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        checks.add("readable", False, f"not a JSON document: {error}")
        return _verdict(checks, None, None)
    if not isinstance(bundle, dict) or bundle.get("format") != FORMAT:
        checks.add("format", False, f"expected format {FORMAT}")
        return _verdict(checks, None, None)
    checks.add(
        "canonical", data == h.canonical_json(bundle) + b"\n", "the file is exactly the canonical JSON of its content"
    )
    body = {k: v for k, v in bundle.items() if k != "bundle_sha256"}
    checks.add(
        "bundle_digest",
        hashlib.sha256(h.canonical_json(body)).hexdigest() == bundle.get("bundle_sha256"),
        "sha256 of the content equals bundle_sha256",
    )
    try:
        checkpoints = _check_checkpoints(bundle, checks)
        _check_signatures(bundle, checks, public_key)
        if anchor is not None:
            _check_anchor(bundle, checks, anchor)
        events = _check_events(bundle, checkpoints, checks)
        recomputed = _check_replay(bundle, events, checks, catalogue)
    except Exception as error:  # noqa: BLE001 - any failure to read a forged file is a failed check
        checks.add("structure", False, f"{type(error).__name__}: {error}")
        return _verdict(checks, None, bundle.get("anchor"))
    return _verdict(checks, recomputed, bundle.get("anchor"))


def _verdict(checks: _Checks, recomputed: dict | None, anchor: str | None) -> dict[str, Any]:
    found = next((c["ok"] for c in checks.items if c["check"] == "anchor"), None)
    development = any(c["check"] == "checkpoint_signatures" and "DEVELOPMENT" in c["detail"] for c in checks.items)
    return {
        "ok": checks.ok,
        "verdict": recomputed["verdict"] if recomputed else None,
        "anchor": anchor,
        "anchor_found": found,
        "development_key": development,
        "checks": checks.items,
    }


def _check_checkpoints(bundle: dict, checks: _Checks) -> dict[int, dict]:
    checkpoints = bundle["checkpoints"]
    ok, previous = bool(checkpoints), None
    for checkpoint in checkpoints:
        ok &= h.checkpoint_digest(checkpoint) == checkpoint["checkpoint_sha256"]
        if previous is not None:
            ok &= checkpoint["previous_sha256"] == previous["checkpoint_sha256"]
            ok &= checkpoint["sequence"] == previous["sequence"] + 1
            ok &= checkpoint["first_position"] > previous["position"]
        elif checkpoint["sequence"] == 1:
            ok &= checkpoint["previous_sha256"] == h.GENESIS.hex()
        previous = checkpoint
    ok &= bool(checkpoints) and checkpoints[-1]["checkpoint_sha256"] == bundle["anchor"]
    checks.add(
        "checkpoint_chain", ok, "each checkpoint's digest is recomputed and chains to the next, ending at the anchor"
    )
    return {c["sequence"]: c for c in checkpoints}


def _check_signatures(bundle: dict, checks: _Checks, public_key: bytes | None) -> None:
    problems = [p for p in (signing.signature_problem(c, public_key) for c in bundle["checkpoints"]) if p]
    development = any(c.get("public_key") == signing.DEVELOPMENT_PUBLIC_KEY for c in bundle["checkpoints"])
    if public_key is not None:
        detail = "every checkpoint is signed by the public key given"
    else:
        detail = (
            "NOT compared with a published key (none given): each signature present verifies with the key "
            "its checkpoint names, which a forger can replace"
        )
    if development:
        detail += "; WARNING: signed with the public DEVELOPMENT seal key, which proves nothing"
    checks.add("checkpoint_signatures", not problems, detail + (f"; {'; '.join(problems)}" if problems else ""))


def _check_anchor(bundle: dict, checks: _Checks, anchor: str) -> None:
    """The anchor must be one of the bundle's (verified, chained) checkpoints, at or after the
    checkpoint of every event: then everything the bundle proves was sealed when it was published."""
    sequence = next((c["sequence"] for c in bundle["checkpoints"] if c["checkpoint_sha256"] == anchor), None)
    needed = max(e["proof"]["checkpoint"] for e in bundle["events"])
    checks.add(
        "anchor",
        sequence is not None and sequence >= needed,
        f"the anchor given is checkpoint {sequence} of the bundle's chain, which covers every event"
        if sequence is not None and sequence >= needed
        else f"the anchor given is {'not in the bundle' if sequence is None else f'checkpoint {sequence}'}, "
        f"but the events need checkpoint {needed} or later",
    )


def _check_events(bundle: dict, checkpoints: dict[int, dict], checks: _Checks) -> list[dict]:
    bad: list[str] = []
    for item in bundle["events"]:
        oid, version = item["originator_id"], item["originator_version"]
        topic, position = item["topic"], item["position"]
        withheld = item.get("withheld") is True  # carried by its digest: its bytes are not shown
        digest = (
            bytes.fromhex(item["record_sha256"])
            if withheld
            else h.record_digest(UUID(oid), version, topic, item["state"].encode("utf-8"))
        )
        proof = item["proof"]
        checkpoint = checkpoints.get(proof["checkpoint"])
        fine = (
            digest.hex() == item["record_sha256"]
            and checkpoint is not None
            and checkpoint["first_position"] <= position <= checkpoint["position"]
            and proof["tree_size"] == checkpoint["record_count"]
            and h.verify_inclusion(
                proof["leaf_index"],
                proof["tree_size"],
                h.leaf(position, digest),
                [bytes.fromhex(p) for p in proof["path"]],
                bytes.fromhex(checkpoint["merkle_root_sha256"]),
            )
        )
        if not fine:
            bad.append(str(position))
    checks.add(
        "events_included",
        not bad and bool(bundle["events"]),
        "every event's bytes hash to its sealed leaf, and its Merkle path reaches the checkpoint root"
        + (f"; failing positions: {', '.join(bad)}" if bad else ""),
    )
    hidden = sorted({e["originator_id"] for e in bundle["events"] if e.get("withheld") is True})
    if hidden or bundle.get("disclosed"):
        checks.add(
            "disclosed_states",
            set(hidden) <= set(bundle.get("disclosed") or {}),
            f"{len(hidden)} authorizer(s) outside the requester's scope: their events are proven sealed by "
            "digest, not shown, and the replay uses the balance and status disclosed for them (a claim of "
            "the ledger that built the bundle, not rebuilt here; a bundle built in their scope rebuilds it)",
        )
    evidence = {(e["position"], e["record_sha256"]) for e in bundle["replay"]["evidence"]}
    digests = {(e["position"], e["record_sha256"]) for e in bundle["events"]}
    checks.add(
        "evidence_hashes",
        evidence <= digests,
        "the replay's evidence names events of the bundle by their record digests",
    )
    return bundle["events"]


@dataclass(frozen=True)
class LastEvent:
    originator_version: int
    timestamp: datetime
    recorded_at: datetime | None


@dataclass(frozen=True)
class Disclosed:
    """A withheld authorizer as the replay reads them (infra.audit.bundle `disclosed`)."""

    id: UUID
    masked: str
    balance_fen: int
    is_active: bool
    status: str
    region: str
    insurance: str
    version: int
    last_event: LastEvent
    earmarked_fen: int = 0  # disclosed only when cross-province quotas hold part of the balance

    @property
    def spendable_fen(self) -> int:
        return self.balance_fen - self.earmarked_fen

    @classmethod
    def of(cls, account: UUID, data: dict[str, Any]) -> Disclosed:
        last = data["last_event"]
        recorded = datetime.fromisoformat(last["recorded_at"]) if last.get("recorded_at") else None
        version = int(data["version"])
        moment = LastEvent(version, datetime.fromisoformat(last["at"]), recorded)
        return cls(account, str(data["masked"]), int(data["balance_fen"]), bool(data["active"]), str(data["status"]),
                   str(data["region"]), str(data["insurance"]), version, moment,
                   int(data.get("earmarked_fen", 0)))  # fmt: skip


def _rebuild(events: list[dict], originator: str, version: int) -> Any:
    mine = sorted(
        (e for e in events if e["originator_id"] == originator and e["originator_version"] <= version),
        key=lambda e: e["originator_version"],
    )
    if [e["originator_version"] for e in mine] != list(range(1, version + 1)):
        raise ValueError(f"events of {originator} up to version {version} are not all in the bundle")
    aggregate = None
    for item in mine:
        aggregate = _decode(item).mutate(aggregate)
    return aggregate


ALLOWED_AGGREGATES = ("domain.person:Person", "domain.settlement:Settlement")
EVENT_MODULES = ("domain.events", "domain.quota_events")  # every event class is named in domain.events


def _decode(item: dict) -> Any:
    """Decode an event from the file; only the ledger's own topics are resolved (a forged topic
    must never make the verifier import an arbitrary module)."""
    topic, state = item["topic"], decoded_state(item["state"].encode("utf-8"))
    module, _, name = topic.partition(":")
    if module not in EVENT_MODULES or not name.isidentifier() or not isinstance(getattr(ev, name, None), type):
        raise ValueError(f"unexpected event topic {topic!r}")
    if "originator_topic" in state and state["originator_topic"] not in ALLOWED_AGGREGATES:
        raise ValueError(f"unexpected aggregate topic {state['originator_topic']!r}")
    return decode_event(topic, state, UUID(item["originator_id"]), item["originator_version"])


def _check_replay(bundle: dict, events: list[dict], checks: _Checks, catalogue: Any) -> dict:
    settlement_id, patient_id = bundle["settlement_id"], bundle["patient"]
    versions = {UUID(k): v for k, v in bundle["states_before"].items()}
    disclosed = bundle.get("disclosed") or {}
    patient = _rebuild(events, patient_id, versions[UUID(patient_id)])
    authorizers: dict[UUID, Any] = {
        k: Disclosed.of(k, disclosed[str(k)]) if str(k) in disclosed else _rebuild(events, str(k), v)
        for k, v in versions.items()
        if str(k) != patient_id
    }
    masked = {UUID(patient_id): patient.masked, **{k: a.masked for k, a in authorizers.items()}}
    involved = []
    for item in sorted(events, key=lambda e: e["position"]):
        if topic_name(item["topic"]) in SETTLEMENT_TOPICS:
            event = _decode(item)
            if getattr(event, "settlement_id", None) == settlement_id:
                owner = UUID(item["originator_id"])
                involved.append(Involved(item["position"], None, event, masked.get(owner, patient.masked)))
    settled = next(
        i for i in involved if isinstance(i.event, ev.DeductionSettled) and str(i.event.originator_id) == patient_id
    )
    rules = RuleSet.model_validate_json(h.canonical_json(bundle["rule_set"]))
    checks.add(
        "rule_version",
        rules.version == settled.event.rule_version,
        f"the rule set is {rules.version}; the deduction recorded {settled.event.rule_version}",
    )
    recorded_digest = settled.event.rule_digest
    changed = rules_changed(rules.version, recorded_digest, rules)
    checks.add(
        "rule_digest",
        changed is None,
        describe_rules_changed(changed)
        if changed
        else "the bundle's rule set is the content the deduction recorded (its digest)"
        if recorded_digest
        else "not compared: the deduction was recorded before decisions kept a rule digest",
    )
    if catalogue is not None:
        try:
            shipped = catalogue.get(rules.version)
        except LedgerError:
            shipped = None
        local = rules_changed(rules.version, recorded_digest or rules.digest, shipped) if shipped else None
        checks.add(
            "rule_set_as_shipped",
            shipped is None or (shipped == rules and local is None),
            "this rule version is not in the local catalogue (not compared)"
            if shipped is None
            else describe_rules_changed(local).replace("now has", "in the local catalogue has")
            if local
            else "the bundle's rule set equals the local catalogue's",
        )
    gathered = Gathered(
        settlement_id, patient, authorizers, settled, involved, bundle["replay"].get("presented_by"), versions
    )
    recomputed = replay(gathered, rules)
    claimed = {k: v for k, v in bundle["replay"].items() if k not in ("evidence", "time_check")}
    inputs = {
        masked[account]: _decode(item)
        for item in events
        for account, version in versions.items()
        if item["originator_id"] == str(account) and item["originator_version"] == version and "state" in item
    }
    inputs |= {masked[k]: a.last_event for k, a in authorizers.items() if isinstance(a, Disclosed)}
    checks.add(
        "time_check_reproduced",
        bundle["replay"].get("time_check") == time_check(settled.event, inputs),
        "the decision read no account's event effective or recorded after it, as the bundle says",
    )
    fields = ("position", "type", "version", "at", "sent_by")
    listed = [{k: e.get(k) for k in fields} for e in bundle["replay"]["evidence"]]
    index = str(settlement_aggregate_id(settlement_id))  # its events carry no settlement_id of their own
    rebuilt = []
    for item in sorted(events, key=lambda e: e["position"]):
        if topic_name(item["topic"]) in SETTLEMENT_TOPICS:
            event = _decode(item)
            if getattr(event, "settlement_id", None) == settlement_id or item["originator_id"] == index:
                rebuilt.append(
                    {
                        "position": item["position"],
                        "type": topic_name(item["topic"]),
                        "version": item["originator_version"],
                        "at": local_iso(event.timestamp),
                        "sent_by": event.sent_by.model_dump() if event.sent_by else None,
                    }
                )
    checks.add(
        "evidence_reproduced",
        listed == rebuilt,
        "the replay's evidence list is exactly the settlement's events in the bundle, in log order, each "
        "with who sent it",
    )
    checks.add(
        "replay_reproduced",
        h.canonical_json(json.loads(json.dumps(recomputed))) == h.canonical_json(claimed),
        f"re-running the allocation from the rebuilt states gives the bundle's replay (verdict "
        f"{recomputed['verdict']})",
    )
    return recomputed
