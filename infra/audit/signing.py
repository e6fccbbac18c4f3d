"""Signed checkpoints (in the spirit of Certificate Transparency's signed tree heads).

A checkpoint is signed with Ed25519 (RFC 8032, pure, no pre-hash). The exact bytes signed are

    SIGNING_CONTEXT || canonical_json(content)

where SIGNING_CONTEXT is the 28 ASCII bytes b"family-ledger/checkpoint/v1\\n" and `content`
is the checkpoint's content (`hashing.checkpoint_content`: its eight fields, and what else it
covers) — the very bytes whose sha256 is `checkpoint_sha256`. They include `previous_sha256`, so
a signature also vouches for the whole chain of checkpoints before it. Keys are handled as raw
32-byte values, written as 64 lowercase hex characters: the private *seed* (RFC 8032's private
key) and the public key.
"""

from __future__ import annotations

import secrets
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from infra.audit import hashing as h
from infra.settings import DEVELOPMENT_SEAL_SEED

SIGNING_CONTEXT = b"family-ledger/checkpoint/v1\n"


def signed_bytes(checkpoint: dict[str, Any]) -> bytes:
    return SIGNING_CONTEXT + h.canonical_json(h.checkpoint_content(checkpoint))


def generate_seed() -> bytes:
    return secrets.token_bytes(32)


def public_key_of(seed: bytes) -> bytes:
    return (
        Ed25519PrivateKey.from_private_bytes(seed)
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )


def sign_checkpoint(seed: bytes, checkpoint: dict[str, Any]) -> tuple[str, str]:
    """(public key hex, signature hex) of the checkpoint's content."""
    private = Ed25519PrivateKey.from_private_bytes(seed)
    return public_key_of(seed).hex(), private.sign(signed_bytes(checkpoint)).hex()


def signature_problem(checkpoint: dict[str, Any], trusted: bytes | None) -> str | None:
    """Why the checkpoint's signature does not hold (None when it does).

    With `trusted` (the published public key) the checkpoint must be signed by that key. Without,
    a signature present is checked against the key the checkpoint names — that catches damage, not
    a forger, who can sign with a key of his own — and an unsigned checkpoint is not a problem."""
    signature, named = checkpoint.get("signature"), checkpoint.get("public_key")
    label = f"checkpoint {checkpoint.get('sequence')}"
    if not signature:
        return f"{label} is unsigned" if trusted is not None else None
    if trusted is not None and named != trusted.hex():
        return f"{label} is signed by another key ({str(named)[:16]}…), not the public key given"
    try:
        key = Ed25519PublicKey.from_public_bytes(trusted if trusted is not None else bytes.fromhex(str(named)))
        key.verify(bytes.fromhex(signature), signed_bytes(checkpoint))
    except (InvalidSignature, ValueError, TypeError):
        return f"{label}: the signature does not verify over its content"
    return None


def _development_public_key() -> str:
    return public_key_of(DEVELOPMENT_SEAL_SEED).hex()


DEVELOPMENT_PUBLIC_KEY = _development_public_key()  # its signatures prove nothing: the seed is public
