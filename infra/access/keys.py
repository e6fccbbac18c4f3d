"""Bearer keys of the service, in the ledger's own store (beside the event store):

- `ledger_api_keys`: one row per key. Only SHA-256 of the token is kept; the token itself is
  shown once, when the key is created.
- `ledger_api_key_log`: append-only record of creating, using (at most once a minute per key and
  process, so that a busy client does not add a row per request) and revoking keys.

A served store keeps each verified key in memory for `key_cache_s` (the server's
`--key-cache-seconds`, 1 s by default), so that a busy client's requests do not each read the
keys table. Expiry is checked on every request; a key revoked through the same store is dropped
at once, one revoked by another process (`ledger keys revoke`, another server) stops working
within `key_cache_s`. The CLI's stores cache nothing.

Created with CREATE TABLE IF NOT EXISTS on first use, like `ledger_meta`; a reader (a replica,
`verify`) creates nothing.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from infra.storage.base import LedgerRecorder

ROLES = ("channel", "institution", "fund", "auditor", "operator", "admin")
USE_RECORD_INTERVAL_S = 60.0
KEY_CACHE_ENTRIES = 4096

_DDL = (
    "CREATE TABLE IF NOT EXISTS {ledger_api_keys} (key_id TEXT PRIMARY KEY, token_sha256 TEXT NOT NULL UNIQUE, "
    "role TEXT NOT NULL, channel TEXT, institution TEXT, region TEXT, name TEXT, created_at TEXT NOT NULL, "
    "expires_at TEXT, revoked_at TEXT)",
    "CREATE TABLE IF NOT EXISTS {ledger_api_key_log} (at TEXT NOT NULL, key_id TEXT NOT NULL, action TEXT NOT NULL, "
    "detail TEXT NOT NULL DEFAULT '')",
)
_KEY_COLUMNS = ("key_id", "role", "channel", "institution", "region", "name", "created_at", "expires_at", "revoked_at")
_SELECT_KEYS = f"SELECT {', '.join(_KEY_COLUMNS)} FROM {{ledger_api_keys}}"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class KeyStore:
    """Keys and the key log in the ledger's own store."""

    def __init__(self, recorder: LedgerRecorder, *, create: bool = True, key_cache_s: float = 0.0):
        self.tables = recorder.tables
        self._last_use: dict[str, float] = {}
        self.key_cache_s = key_cache_s
        self._keys: dict[str, tuple[float, dict[str, Any]]] = {}  # token hash -> (read at, key row)
        self._keys_lock = threading.Lock()  # writers of _keys; readers use dict.get alone
        if create:
            with self.tables.transaction() as run:
                for statement in _DDL:
                    run(statement)

    def create_key(
        self,
        role: str,
        *,
        channel: str | None = None,
        institution: str | None = None,
        region: str | None = None,
        name: str | None = None,
        expires_days: int | None = None,
        by: str = "cli",
    ) -> dict[str, Any]:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        key_id = "k_" + secrets.token_hex(8)
        token = "lk_" + secrets.token_urlsafe(32)  # 256 random bits
        created = now_iso()
        expires = None
        if expires_days is not None:
            expires = (datetime.now(UTC) + timedelta(days=expires_days)).isoformat(timespec="seconds")
        row = {"role": role, "channel": channel, "institution": institution, "region": region, "name": name,
               "created_at": created, "expires_at": expires, "revoked_at": None}  # fmt: skip
        with self.tables.transaction() as run:
            run(
                "INSERT INTO {ledger_api_keys} (key_id, token_sha256, role, channel, institution, region, name, "
                "created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key_id, token_hash(token), role, channel, institution, region, name, created, expires),
            )
            run(
                "INSERT INTO {ledger_api_key_log} (at, key_id, action, detail) VALUES (?, ?, 'created', ?)",
                (created, key_id, f"role={role} by={by}"),
            )
        return {"key_id": key_id, "token": token, **row}

    def list_keys(self) -> list[dict[str, Any]]:
        with self.tables.transaction(commit=False) as run:
            return run(f"{_SELECT_KEYS} ORDER BY created_at, key_id", (), True)

    def revoke_key(self, key_id: str, by: str = "cli") -> bool:
        at = now_iso()
        with self.tables.transaction() as run:
            if not run("SELECT key_id FROM {ledger_api_keys} WHERE key_id = ? AND revoked_at IS NULL", (key_id,), True):
                return False
            run("UPDATE {ledger_api_keys} SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL", (at, key_id))
            run(
                "INSERT INTO {ledger_api_key_log} (at, key_id, action, detail) VALUES (?, ?, 'revoked', ?)",
                (at, key_id, f"by={by}"),
            )
        with self._keys_lock:
            for digest in [d for d, (_, key) in self._keys.items() if key["key_id"] == key_id]:
                del self._keys[digest]
        return True

    def cached_key(self, token: str) -> dict[str, Any] | None:
        """The key of `token` if this store read it less than `key_cache_s` ago and it has not
        expired since; None otherwise (then ask `key_for_token`). No I/O."""
        cached = self._keys.get(token_hash(token))
        if cached is None or time.monotonic() - cached[0] >= self.key_cache_s:
            return None
        key = cached[1]
        return None if key["expires_at"] and key["expires_at"] <= now_iso() else key

    def key_for_token(self, token: str) -> dict[str, Any] | None:
        """The key a bearer token belongs to, if it is known, not revoked and not expired."""
        cached = self.cached_key(token)
        if cached is not None:
            return cached
        digest = token_hash(token)
        read_at = time.monotonic()
        with self.tables.transaction(commit=False) as run:
            rows = run(f"{_SELECT_KEYS} WHERE token_sha256 = ?", (digest,), True)
        key = rows[0] if rows else None
        valid = not (key is None or key["revoked_at"] or (key["expires_at"] and key["expires_at"] <= now_iso()))
        with self._keys_lock:
            self._keys.pop(digest, None)
            if key is not None and valid and self.key_cache_s > 0:
                if len(self._keys) >= KEY_CACHE_ENTRIES:
                    del self._keys[next(iter(self._keys))]  # the longest cached
                self._keys[digest] = (read_at, key)
        return key if valid else None

    def use_due(self, key_id: str) -> bool:
        """Whether `record_use` would write a row now (no I/O)."""
        return time.monotonic() - self._last_use.get(key_id, -USE_RECORD_INTERVAL_S) >= USE_RECORD_INTERVAL_S

    def record_use(self, key_id: str, endpoint: str) -> None:
        """A key's use, at most once per USE_RECORD_INTERVAL_S per key in this process."""
        if not self.use_due(key_id):
            return
        self._last_use[key_id] = time.monotonic()
        with self.tables.transaction() as run:
            run(
                "INSERT INTO {ledger_api_key_log} (at, key_id, action, detail) VALUES (?, ?, 'used', ?)",
                (now_iso(), key_id, endpoint),
            )

    def key_log(self, key_id: str | None = None) -> list[dict[str, Any]]:
        where, params = ("WHERE key_id = ?", (key_id,)) if key_id else ("", ())
        with self.tables.transaction(commit=False) as run:
            return run(
                f"SELECT at, key_id, action, detail FROM {{ledger_api_key_log}} {where} ORDER BY at", params, True
            )
