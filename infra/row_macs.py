"""MACs of rows the ledger writes beside its events, under a key the database never holds.

Someone with write access to the database but not the ledger's secrets can change any row; a
row whose MAC does not verify was not written by the ledger, and is never trusted: a snapshot
is not used (the aggregate is loaded from its events), a key does not authenticate, a log entry
is reported by `ledger verify`. The key is derived from the pseudonym key (LEDGER_PSEUDONYM_KEY,
which every process that opens the ledger holds and the database only knows by a one-way check),
one key per purpose, so a MAC of one kind of row is never valid for another:

    key(purpose) = HMAC-SHA256(pseudonym key, "family-ledger row MAC v1\\n" || purpose)
    mac(row)     = HMAC-SHA256(key(purpose), canonical_json(row's content))   -- 64 hex
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from domain.canonical import canonical_json

_CONTEXT = b"family-ledger row MAC v1\n"
PURPOSES = ("event", "meta", "snapshot", "key", "key-log", "access-log", "session", "console-login")


class RowMacs:
    def __init__(self, pseudonym_key: bytes, purpose: str):
        if purpose not in PURPOSES:
            raise ValueError(f"row MAC purpose must be one of {', '.join(PURPOSES)}")
        self.purpose = purpose
        key = hmac.new(pseudonym_key, _CONTEXT + purpose.encode("ascii"), hashlib.sha256).digest()
        # HMAC (RFC 2104) with its two padded-key states computed once: a MAC per stored event
        # then costs two SHA-256 continuations, not a key schedule.
        padded = key.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in padded))
        self._outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in padded))

    def of_bytes(self, data: bytes) -> str:
        """HMAC-SHA256(key(purpose), data), 64 hex."""
        inner = self._inner.copy()
        inner.update(data)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()

    def of(self, content: dict[str, Any]) -> str:
        return self.of_bytes(canonical_json(content))

    def holds(self, content: dict[str, Any], mac: str | None) -> bool:
        """Whether `mac` is this content's MAC (a missing MAC never holds)."""
        return bool(mac) and hmac.compare_digest(self.of(content), str(mac))
