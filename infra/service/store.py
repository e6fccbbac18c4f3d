"""The service's own tables, beside the event store (same SQLite file / same PostgreSQL schema):

- `ledger_api_keys`: one row per bearer key. Only SHA-256 of the token is kept; the token itself
  is shown once, when the key is created.
- `ledger_api_key_log`: append-only record of creating, using (at most once a minute per key and
  process, so that a busy client does not add a row per request) and revoking keys.

A served store keeps each verified key in memory for `key_cache_s` (the server's
`--key-cache-seconds`, 1 s by default), so that a busy client's requests do not each read the
keys table. Expiry is checked on every request; a key revoked through the same store is dropped
at once, one revoked by another process (`ledger keys revoke`, another server) stops working
within `key_cache_s`. The CLI's stores cache nothing.
- `ledger_access_log`: append-only record of who read whose data (PIPL): key, role, person
  (aggregate id, never an ID number), endpoint, time, purpose; a hash chain
  (infra.service.access_chain), and
- `ledger_access_checkpoints`: its heads, signed with the seal key by `ledger seal`.

Created with CREATE TABLE IF NOT EXISTS on first use, like infra.eventstore.keycheck's
`ledger_meta`. The in-memory store gets a private in-memory SQLite database (tests only).
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from infra.eventstore.backend import backend_of
from infra.service import access_chain


class Run(Protocol):
    """One statement inside a transaction of `ServiceStore._transact`."""

    def __call__(self, sql: str, params: tuple = (), fetch: bool = False) -> list[dict[str, Any]]: ...


ROLES = ("channel", "institution", "fund", "auditor", "operator", "admin")
USE_RECORD_INTERVAL_S = 60.0
KEY_CACHE_ENTRIES = 4096

_DDL = (
    "CREATE TABLE IF NOT EXISTS {keys} (key_id TEXT PRIMARY KEY, token_sha256 TEXT NOT NULL UNIQUE, "
    "role TEXT NOT NULL, channel TEXT, institution TEXT, region TEXT, name TEXT, created_at TEXT NOT NULL, "
    "expires_at TEXT, revoked_at TEXT)",
    "CREATE TABLE IF NOT EXISTS {key_log} (at TEXT NOT NULL, key_id TEXT NOT NULL, action TEXT NOT NULL, "
    "detail TEXT NOT NULL DEFAULT '')",
    "CREATE TABLE IF NOT EXISTS {access_log} (sequence BIGINT PRIMARY KEY, at TEXT NOT NULL, key_id TEXT NOT NULL, "
    "role TEXT NOT NULL, person TEXT NOT NULL, endpoint TEXT NOT NULL, purpose TEXT NOT NULL DEFAULT '', "
    "previous_sha256 TEXT NOT NULL, entry_sha256 TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {access_checkpoints} (sequence BIGINT PRIMARY KEY, head_sha256 TEXT NOT NULL, "
    "sealed_at TEXT NOT NULL, previous_sha256 TEXT NOT NULL, public_key TEXT NOT NULL, signature TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS {access_log_index} ON {access_log} (person, at)",
)
_KEY_COLUMNS = ("key_id", "role", "channel", "institution", "region", "name", "created_at", "expires_at", "revoked_at")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class ServiceStore:
    """Keys, key log and access log in the ledger's own store."""

    def __init__(self, app: Any, *, create: bool = True, key_cache_s: float = 0.0):
        self.kind = backend_of(app.recorder)
        self.recorder = app.recorder
        self._lock = threading.Lock()
        self._memory: sqlite3.Connection | None = None
        self._last_use: dict[str, float] = {}
        self.key_cache_s = key_cache_s
        self._keys: dict[str, tuple[float, dict[str, Any]]] = {}  # token hash -> (read at, key row)
        self._keys_lock = threading.Lock()  # writers of _keys; readers use dict.get alone
        if self.kind == "memory":
            self._memory = sqlite3.connect(":memory:", check_same_thread=False)
        if self.kind == "postgres":
            schema = '"' + self.recorder.datastore.schema.replace('"', '""') + '"'
            self.names = {
                "keys": f"{schema}.ledger_api_keys",
                "key_log": f"{schema}.ledger_api_key_log",
                "access_log": f"{schema}.ledger_access_log",
                "access_log_index": "ledger_access_log_person",
                "access_checkpoints": f"{schema}.ledger_access_checkpoints",
            }
        else:
            self.names = {
                "keys": "ledger_api_keys",
                "key_log": "ledger_api_key_log",
                "access_log": "ledger_access_log",
                "access_log_index": "ledger_access_log_person",
                "access_checkpoints": "ledger_access_checkpoints",
            }
        if create:  # a reader (a replica, `verify`) creates nothing
            self._run([(statement, ()) for statement in _DDL])

    def has_access_log(self) -> bool:
        """Whether this store has the access-log tables (a ledger never served has none)."""
        if self.kind == "memory":
            return self._memory is not None and bool(
                self._run(
                    [("SELECT name FROM sqlite_master WHERE type='table' AND name='ledger_access_checkpoints'", ())],
                    True,
                )
            )
        if self.kind == "sqlite":
            return bool(
                self._run(
                    [("SELECT name FROM sqlite_master WHERE type='table' AND name='ledger_access_checkpoints'", ())],
                    fetch=True,
                )
            )
        rows = self._run(
            [("SELECT to_regclass(?) IS NOT NULL AS present", (self.names["access_checkpoints"],))], fetch=True
        )
        return bool(rows and rows[0]["present"])

    # --- plumbing: one transaction, SQL written with ? placeholders and {table} names ----------
    def _transact(self, work: Callable[[Run], Any]) -> Any:
        """Run `work(run)` in one transaction; `run(sql, params, fetch=False)` -> rows as dicts."""
        if self._memory is not None:
            with self._lock, self._memory:
                cursor = self._memory.cursor()

                def run_memory(sql: str, params: tuple = (), fetch: bool = False) -> list[dict[str, Any]]:
                    cursor.execute(sql.format(**self.names), params)
                    if not (fetch and cursor.description):
                        return []
                    names = [d[0] for d in cursor.description]
                    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

                return work(run_memory)
        with self.recorder.datastore.transaction(commit=True) as cursor:

            def run_store(sql: str, params: tuple = (), fetch: bool = False) -> list[dict[str, Any]]:
                text = sql.format(**self.names)
                cursor.execute(text.replace("?", "%s") if self.kind == "postgres" else text, params)
                if not fetch:
                    return []
                return [
                    dict(row)
                    if not isinstance(row, tuple)
                    else dict(zip([d[0] for d in cursor.description], row, strict=True))
                    for row in cursor.fetchall()
                ]

            return work(run_store)

    def _run(self, statements: list[tuple[str, tuple]], fetch: bool = False) -> list[dict[str, Any]]:
        def work(run: Run) -> list[dict[str, Any]]:
            rows: list[dict[str, Any]] = []
            for sql, params in statements:
                rows = run(sql, params, fetch)
            return rows

        return self._transact(work)

    # --- keys ---------------------------------------------------------------------------------
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
        row = {
            "key_id": key_id,
            "role": role,
            "channel": channel,
            "institution": institution,
            "region": region,
            "name": name,
            "created_at": created,
            "expires_at": expires,
            "revoked_at": None,
        }
        self._run(
            [
                (
                    "INSERT INTO {keys} (key_id, token_sha256, role, channel, institution, region, name, created_at, "
                    "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (key_id, token_hash(token), role, channel, institution, region, name, created, expires),
                ),
                (
                    "INSERT INTO {key_log} (at, key_id, action, detail) VALUES (?, ?, 'created', ?)",
                    (created, key_id, f"role={role} by={by}"),
                ),
            ]
        )
        return {"key_id": key_id, "token": token, **{k: v for k, v in row.items() if k != "key_id"}}

    def list_keys(self) -> list[dict[str, Any]]:
        return self._run(
            [(f"SELECT {', '.join(_KEY_COLUMNS)} FROM {{keys}} ORDER BY created_at, key_id", ())], fetch=True
        )

    def revoke_key(self, key_id: str, by: str = "cli") -> bool:
        at = now_iso()
        found = self._run(
            [("SELECT key_id FROM {keys} WHERE key_id = ? AND revoked_at IS NULL", (key_id,))], fetch=True
        )
        if not found:
            return False
        self._run(
            [
                ("UPDATE {keys} SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL", (at, key_id)),
                (
                    "INSERT INTO {key_log} (at, key_id, action, detail) VALUES (?, ?, 'revoked', ?)",
                    (at, key_id, f"by={by}"),
                ),
            ]
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
        rows = self._run(
            [(f"SELECT {', '.join(_KEY_COLUMNS)} FROM {{keys}} WHERE token_sha256 = ?", (digest,))], fetch=True
        )
        key = rows[0] if rows else None
        valid = not (key is None or key["revoked_at"] or (key["expires_at"] and key["expires_at"] <= now_iso()))
        with self._keys_lock:
            self._keys.pop(digest, None)
            if valid and self.key_cache_s > 0:
                if len(self._keys) >= KEY_CACHE_ENTRIES:
                    del self._keys[next(iter(self._keys))]  # the longest cached
                self._keys[digest] = (read_at, key)  # type: ignore[assignment]
        return key if valid else None

    def use_due(self, key_id: str) -> bool:
        """Whether `record_use` would write a row now (no I/O)."""
        return time.monotonic() - self._last_use.get(key_id, -USE_RECORD_INTERVAL_S) >= USE_RECORD_INTERVAL_S

    def record_use(self, key_id: str, endpoint: str) -> None:
        """A key's use, at most once per USE_RECORD_INTERVAL_S per key in this process."""
        if not self.use_due(key_id):
            return
        self._last_use[key_id] = time.monotonic()
        self._run(
            [
                (
                    "INSERT INTO {key_log} (at, key_id, action, detail) VALUES (?, ?, 'used', ?)",
                    (now_iso(), key_id, endpoint),
                )
            ]
        )

    def key_log(self, key_id: str | None = None) -> list[dict[str, Any]]:
        where, params = ("WHERE key_id = ?", (key_id,)) if key_id else ("", ())
        return self._run(
            [(f"SELECT at, key_id, action, detail FROM {{key_log}} {where} ORDER BY at", params)], fetch=True
        )

    # --- who read whose data ------------------------------------------------------------------
    def record_access(self, key: dict[str, Any], person: str, endpoint: str, purpose: str) -> None:
        """Append one entry to the hash chain (under a table lock on PostgreSQL: several server
        processes append to one chain, never to forks of it)."""
        entry = {
            "at": now_iso(),
            "key_id": key["key_id"],
            "role": key["role"],
            "person": person,
            "endpoint": endpoint,
            "purpose": purpose,
        }

        def append(run: Run) -> None:
            if self.kind == "postgres":
                run("LOCK TABLE {access_log} IN EXCLUSIVE MODE")
            last = run("SELECT sequence, entry_sha256 FROM {access_log} ORDER BY sequence DESC LIMIT 1", (), True)
            sequence = last[0]["sequence"] + 1 if last else 1
            previous = last[0]["entry_sha256"] if last else access_chain.GENESIS
            digest = access_chain.entry_digest(previous, {**entry, "sequence": sequence})
            run(
                "INSERT INTO {access_log} (sequence, at, key_id, role, person, endpoint, purpose, previous_sha256, "
                "entry_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (sequence, entry["at"], entry["key_id"], entry["role"], person, endpoint, purpose, previous, digest),
            )

        self._transact(append)

    def access_entries(self) -> list[dict[str, Any]]:
        return self._run(
            [
                (
                    "SELECT sequence, at, key_id, role, person, endpoint, purpose, previous_sha256, "
                    "entry_sha256 FROM {access_log} ORDER BY sequence",
                    (),
                )
            ],
            fetch=True,
        )

    def access_checkpoints(self) -> list[dict[str, Any]]:
        return self._run(
            [
                (
                    "SELECT sequence, head_sha256, sealed_at, previous_sha256, public_key, signature "
                    "FROM {access_checkpoints} ORDER BY sequence",
                    (),
                )
            ],
            fetch=True,
        )

    def seal_access_log(self, seed: bytes, sealed_at: str) -> dict[str, Any] | None:
        """Sign the chain's head (nothing new since the last checkpoint: no new checkpoint)."""

        def seal(run: Run) -> dict[str, Any] | None:
            if self.kind == "postgres":
                run("LOCK TABLE {access_log} IN EXCLUSIVE MODE")
            head = run("SELECT sequence, entry_sha256 FROM {access_log} ORDER BY sequence DESC LIMIT 1", (), True)
            last = run(
                "SELECT sequence, head_sha256, sealed_at, previous_sha256 FROM {access_checkpoints} "
                "ORDER BY sequence DESC LIMIT 1",
                (),
                True,
            )
            if not head or (last and last[0]["sequence"] == head[0]["sequence"]):
                return None
            previous = access_chain.checkpoint_digest(last[0]) if last else access_chain.GENESIS
            content = {
                "sequence": head[0]["sequence"],
                "head_sha256": head[0]["entry_sha256"],
                "sealed_at": sealed_at,
                "previous_sha256": previous,
            }
            checkpoint = access_chain.sign(seed, content)
            run(
                "INSERT INTO {access_checkpoints} (sequence, head_sha256, sealed_at, previous_sha256, public_key, "
                "signature) VALUES (?, ?, ?, ?, ?, ?)",
                tuple(
                    checkpoint[name]
                    for name in ("sequence", "head_sha256", "sealed_at", "previous_sha256", "public_key", "signature")
                ),
            )
            return checkpoint

        return self._transact(seal)

    def verify_access_log(self, trusted: bytes | None = None) -> dict[str, Any]:
        return access_chain.verify(self.access_entries(), self.access_checkpoints(), trusted)

    def access_log(self, person: str, limit: int = 1000) -> list[dict[str, Any]]:
        return self._run(
            [
                (
                    "SELECT at, key_id, role, person, endpoint, purpose FROM {access_log} WHERE person = ? "
                    "ORDER BY sequence LIMIT ?",
                    (person, limit),
                )
            ],
            fetch=True,
        )
