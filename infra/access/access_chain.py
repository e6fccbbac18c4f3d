"""The access log's hash chain (infra.access.log_chain), and its checkpoints of before.

    entry_sha256 = SHA-256("family-ledger/access-log/v1\\n" || previous_sha256 (64 hex, ASCII)
                           || canonical JSON of {sequence, at, key_id, role, person, endpoint, purpose})

Each signed checkpoint of the events now carries the access log's head (docs/evidence-format.md,
"What a checkpoint covers"). Ledgers sealed before that signed the access log's head apart, in
`ledger_access_checkpoints`: {sequence, head_sha256, sealed_at, previous_sha256}, signed with the
seal key (Ed25519) over "family-ledger/access-checkpoint/v1\\n" || its canonical JSON, each naming
the previous one's digest. Those checkpoints are no longer written; `verify` still checks them.
"""

from __future__ import annotations

import hashlib
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from domain.canonical import canonical_json
from infra.access.log_chain import GENESIS, LogChain
from infra.audit.signing import public_key_of
from infra.row_macs import RowMacs

ENTRY_CONTEXT = b"family-ledger/access-log/v1\n"
ENTRY_FIELDS = ("sequence", "at", "key_id", "role", "person", "endpoint", "purpose")
CHECKPOINT_CONTEXT = b"family-ledger/access-checkpoint/v1\n"
CHECKPOINT_FIELDS = ("sequence", "head_sha256", "sealed_at", "previous_sha256")


def access_chain(pseudonym_key: bytes) -> LogChain:
    return LogChain("access_log", ENTRY_CONTEXT, ENTRY_FIELDS, RowMacs(pseudonym_key, "access-log"))


def checkpoint_digest(checkpoint: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json({name: checkpoint[name] for name in CHECKPOINT_FIELDS})).hexdigest()


def sign(seed: bytes, checkpoint: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint of the former kind, with its public key and signature."""
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


def former_checkpoint_problems(
    entries: list[dict[str, Any]], checkpoints: list[dict[str, Any]], trusted: bytes | None
) -> list[str]:
    """What is wrong with the checkpoints of the former kind, against the entries as they are."""
    heads = {entry["sequence"]: entry["entry_sha256"] for entry in entries}
    problems: list[str] = []
    previous = GENESIS
    for checkpoint in checkpoints:
        label = f"access-log checkpoint at entry {checkpoint['sequence']}"
        if heads.get(checkpoint["sequence"]) != checkpoint["head_sha256"]:
            problems.append(f"{label}: the entries it sealed changed")
        if checkpoint["previous_sha256"] != previous:
            problems.append(f"{label}: the checkpoint chain is broken")
        problem = signature_problem(checkpoint, trusted)
        if problem:
            problems.append(problem)
        previous = checkpoint_digest(checkpoint)
    return problems
