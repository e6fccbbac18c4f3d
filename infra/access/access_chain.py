"""The access log (who read whose data) as a hash chain, sealed like the events.

Each entry is numbered (`sequence` 1, 2, ...) and carries the digest of the one before it:

    entry_sha256 = SHA-256("family-ledger/access-log/v1\\n" || previous_sha256 (64 hex, ASCII)
                           || canonical JSON of {sequence, at, key_id, role, person, endpoint, purpose})

with previous_sha256 of the first entry 64 zeros, and canonical JSON as for the events
(docs/evidence-format.md). So an entry changed, removed, inserted or reordered breaks every
digest after it. `ledger seal` (and POST /v1/seal) also signs the head: a checkpoint
{sequence, head_sha256, sealed_at, previous_sha256} is signed with the seal key (Ed25519) over
"family-ledger/access-checkpoint/v1\\n" || its canonical JSON, each naming the previous
checkpoint's digest. Someone who can write the database but does not hold the seal key cannot
rewrite what was sealed without `verify` noticing, given the published public key.
"""

from __future__ import annotations

import hashlib
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from infra.audit.hashing import canonical_json
from infra.audit.signing import public_key_of

ENTRY_CONTEXT = b"family-ledger/access-log/v1\n"
CHECKPOINT_CONTEXT = b"family-ledger/access-checkpoint/v1\n"
GENESIS = "0" * 64
ENTRY_FIELDS = ("sequence", "at", "key_id", "role", "person", "endpoint", "purpose")
CHECKPOINT_FIELDS = ("sequence", "head_sha256", "sealed_at", "previous_sha256")
PROBLEMS_MAX = 20


def entry_digest(previous_sha256: str, entry: dict[str, Any]) -> str:
    content = canonical_json({name: entry[name] for name in ENTRY_FIELDS})
    return hashlib.sha256(ENTRY_CONTEXT + previous_sha256.encode("ascii") + content).hexdigest()


def checkpoint_digest(checkpoint: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json({name: checkpoint[name] for name in CHECKPOINT_FIELDS})).hexdigest()


def sign(seed: bytes, checkpoint: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint with its public key and signature."""
    content = CHECKPOINT_CONTEXT + canonical_json({name: checkpoint[name] for name in CHECKPOINT_FIELDS})
    signature = Ed25519PrivateKey.from_private_bytes(seed).sign(content)
    return {**checkpoint, "public_key": public_key_of(seed).hex(), "signature": signature.hex()}


def signature_problem(checkpoint: dict[str, Any], trusted: bytes | None) -> str | None:
    label = f"access-log checkpoint at entry {checkpoint['sequence']}"
    named = checkpoint.get("public_key") or ""
    if trusted is not None and named != trusted.hex():
        return f"{label} is not signed by the public key given"
    content = CHECKPOINT_CONTEXT + canonical_json({name: checkpoint[name] for name in CHECKPOINT_FIELDS})
    try:
        key = Ed25519PublicKey.from_public_bytes(trusted if trusted is not None else bytes.fromhex(named))
        key.verify(bytes.fromhex(checkpoint.get("signature") or ""), content)
    except (InvalidSignature, ValueError, TypeError):
        return f"{label}: the signature does not verify over its content"
    return None


def verify(
    entries: list[dict[str, Any]], checkpoints: list[dict[str, Any]], trusted: bytes | None = None
) -> dict[str, Any]:
    """Recompute the chain and check every checkpoint against it (pure)."""
    problems: list[str] = []
    heads: dict[int, str] = {}
    previous = GENESIS
    for number, entry in enumerate(entries, start=1):
        if entry["sequence"] != number:
            problems.append(f"entry {number}: numbered {entry['sequence']} (an entry removed or inserted)")
            break
        digest = entry_digest(previous, entry)
        if entry["previous_sha256"] != previous or entry["entry_sha256"] != digest:
            problems.append(f"entry {number}: its digest does not follow from its content and the entry before")
        heads[number] = previous = digest
    previous_checkpoint = GENESIS
    for checkpoint in checkpoints:
        if heads.get(checkpoint["sequence"]) != checkpoint["head_sha256"]:
            problems.append(f"access-log checkpoint at entry {checkpoint['sequence']}: the entries it sealed changed")
        if checkpoint["previous_sha256"] != previous_checkpoint:
            problems.append(f"access-log checkpoint at entry {checkpoint['sequence']}: the checkpoint chain is broken")
        problem = signature_problem(checkpoint, trusted)
        if problem:
            problems.append(problem)
        previous_checkpoint = checkpoint_digest(checkpoint)
    sealed = checkpoints[-1]["sequence"] if checkpoints else 0
    return {
        "ok": not problems,
        "entries": len(entries),
        "sealed_through": sealed,
        "unsealed": max(0, len(entries) - sealed),
        "head_sha256": previous if entries else None,
        "signatures_checked": trusted is not None,
        "problems": problems[:PROBLEMS_MAX],
    }
