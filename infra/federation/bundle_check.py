"""Offline check of a federation's evidence bundle (infra.federation.audit): the deduction's own
bundle, as `ledger verify-bundle` checks any (infra.audit.bundle_check); and each authorizer's
ledger's part: its checkpoints chain and are signed, each event's bytes are proven into them,
and the settlement recorded there equals what the deduction drew on that transfer."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from infra.audit import hashing as h
from infra.audit.bundle_check import _check_checkpoints, _check_events, _check_signatures, _Checks, verify_bundle
from infra.federation.audit import FORMAT
from infra.storage.event_macs import decoded_state


def is_federation_bundle(data: bytes) -> bool:
    return f'"format":"{FORMAT}"'.encode() in data


def verify_federation_bundle(
    data: bytes, catalogue: Any = None, public_key: bytes | None = None, anchor: str | None = None
) -> dict[str, Any]:
    """`public_key`, `anchor`: of the deduction's ledger (the authorizers' parts are checked
    against the keys their checkpoints name, and each part's own anchor, which it reports)."""
    checks = _Checks()
    bundle = json.loads(data.decode("utf-8"))
    checks.add(
        "canonical", data == h.canonical_json(bundle) + b"\n", "the file is exactly the canonical JSON of its content"
    )
    body = {k: v for k, v in bundle.items() if k != "bundle_sha256"}
    checks.add("bundle_digest", hashlib.sha256(h.canonical_json(body)).hexdigest() == bundle.get("bundle_sha256"),
               "sha256 of the content equals bundle_sha256")  # fmt: skip
    home = bundle["province"]
    deduction = verify_bundle(h.canonical_json(bundle["parts"][home]) + b"\n", catalogue, public_key, anchor)
    checks.add(
        f"ledger_{home}",
        deduction["ok"],
        f"the deduction's bundle of ledger {home} holds (verdict {deduction['verdict']})",
    )
    lines = {item["transfer_id"]: item["drawn_fen"] for item in bundle["quota_halves"]}
    anchors = {home: deduction["anchor"]}
    for name, part in sorted(bundle["parts"].items()):
        if name == home:
            continue
        anchors[name] = _check_part(name, part, lines, checks)
    return {"ok": checks.ok, "verdict": deduction["verdict"], "anchors": anchors, "checks": checks.items,
            "deduction": deduction}  # fmt: skip


def _check_part(name: str, part: dict[str, Any], lines: dict[str, int], checks: _Checks) -> str | None:
    try:
        if not part["events"]:
            checks.add(f"ledger_{name}", False, "the authorizer's ledger holds no settlement of this draw yet")
            return None
        inner = _Checks()
        proven = _check_events(part, _check_checkpoints(part, inner), inner)
        _check_signatures(part, inner, None)
        settled = sum(
            decoded_state(e["state"].encode("utf-8"))["amount_fen"]
            for e in proven
            if e["topic"].endswith(":QuotaDrawSettled")
        )
        drawn = lines.get(part["transfer_id"])
        inner.add(
            "settled", settled == drawn, f"settled {settled} fen on the authorizer's ledger for a draw of {drawn} fen"
        )
        details = "; ".join(f"{c['check']}: {'ok' if c['ok'] else 'FAIL'}" for c in inner.items)
        checks.add(f"ledger_{name}", inner.ok, f"the authorizer's half in ledger {name}: {details}")
        return part["anchor"]
    except Exception as error:  # noqa: BLE001 - any failure to read a forged part is a failed check
        checks.add(f"ledger_{name}", False, f"{type(error).__name__}: {error}")
        return None
