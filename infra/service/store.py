"""The service's own tables, beside the event store (same SQLite file / same PostgreSQL schema):

- `ledger_api_keys`: one row per bearer key. Only SHA-256 of the token is kept; the token itself
  is shown once, when the key is created.
- `ledger_api_key_log`: append-only record of creating, using (at most once a minute per key and
  process, so that a busy client does not add a row per request) and revoking keys.
- `ledger_access_log`: append-only record of who read whose data (PIPL): key, role, person
  (aggregate id, never an ID number), endpoint, time, purpose.

Created with CREATE TABLE IF NOT EXISTS on first use, like infra.eventstore.keycheck's
`ledger_meta`. The in-memory store gets a private in-memory SQLite database (tests only).
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from infra.eventstore.backend import backend_of

ROLES = ("channel", "institution", "fund", "auditor", "operator", "admin")
USE_RECORD_INTERVAL_S = 60.0

_DDL = (
    "CREATE TABLE IF NOT EXISTS {keys} (key_id TEXT PRIMARY KEY, token_sha256 TEXT NOT NULL UNIQUE, "
    "role TEXT NOT NULL, channel TEXT, institution TEXT, region TEXT, name TEXT, created_at TEXT NOT NULL, "
    "expires_at TEXT, revoked_at TEXT)",
    "CREATE TABLE IF NOT EXISTS {key_log} (at TEXT NOT NULL, key_id TEXT NOT NULL, action TEXT NOT NULL, "
    "detail TEXT NOT NULL DEFAULT '')",
    "CREATE TABLE IF NOT EXISTS {access_log} (at TEXT NOT NULL, key_id TEXT NOT NULL, role TEXT NOT NULL, "
    "person TEXT NOT NULL, endpoint TEXT NOT NULL, purpose TEXT NOT NULL DEFAULT '')",
    "CREATE INDEX IF NOT EXISTS {access_log_index} ON {access_log} (person, at)",
)
_KEY_COLUMNS = ("key_id", "role", "channel", "institution", "region", "name", "created_at", "expires_at", "revoked_at")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class ServiceStore:
    """Keys, key log and access log in the ledger's own store."""

    def __init__(self, app: Any):
        self.kind = backend_of(app.recorder)
        self.recorder = app.recorder
        self._lock = threading.Lock()
        self._memory: sqlite3.Connection | None = None
        self._last_use: dict[str, float] = {}
        if self.kind == "memory":
            self._memory = sqlite3.connect(":memory:", check_same_thread=False)
        if self.kind == "postgres":
            schema = '"' + self.recorder.datastore.schema.replace('"', '""') + '"'
            self.names = {"keys": f"{schema}.ledger_api_keys", "key_log": f"{schema}.ledger_api_key_log",
                          "access_log": f"{schema}.ledger_access_log", "access_log_index": "ledger_access_log_person"}
        else:
            self.names = {"keys": "ledger_api_keys", "key_log": "ledger_api_key_log",
                          "access_log": "ledger_access_log", "access_log_index": "ledger_access_log_person"}
        self._run([(statement, ()) for statement in _DDL])

    # --- plumbing: one transaction, SQL written with ? placeholders and {table} names ----------
    def _run(self, statements: list[tuple[str, tuple]], fetch: bool = False) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        if self._memory is not None:
            with self._lock, self._memory:
                cursor = self._memory.cursor()
                for sql, params in statements:
                    cursor.execute(sql.format(**self.names), params)
                if fetch and cursor.description:
                    names = [d[0] for d in cursor.description]
                    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
            return rows
        with self.recorder.datastore.transaction(commit=True) as cursor:
            for sql, params in statements:
                text = sql.format(**self.names)
                if self.kind == "postgres":
                    text = text.replace("?", "%s")
                cursor.execute(text, params)
            if fetch:
                for row in cursor.fetchall():
                    rows.append(dict(row) if not isinstance(row, tuple) else
                                dict(zip([d[0] for d in cursor.description], row, strict=True)))
        return rows

    # --- keys ---------------------------------------------------------------------------------
    def create_key(self, role: str, *, channel: str | None = None, institution: str | None = None,
                   region: str | None = None, name: str | None = None, expires_days: int | None = None,
                   by: str = "cli") -> dict[str, Any]:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        key_id = "k_" + secrets.token_hex(8)
        token = "lk_" + secrets.token_urlsafe(32)  # 256 random bits
        created = now_iso()
        expires = None
        if expires_days is not None:
            expires = (datetime.now(UTC) + timedelta(days=expires_days)).isoformat(timespec="seconds")
        row = {"key_id": key_id, "role": role, "channel": channel, "institution": institution, "region": region,
               "name": name, "created_at": created, "expires_at": expires, "revoked_at": None}
        self._run([
            ("INSERT INTO {keys} (key_id, token_sha256, role, channel, institution, region, name, created_at, "
             "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
             (key_id, token_hash(token), role, channel, institution, region, name, created, expires)),
            ("INSERT INTO {key_log} (at, key_id, action, detail) VALUES (?, ?, 'created', ?)",
             (created, key_id, f"role={role} by={by}")),
        ])
        return {"key_id": key_id, "token": token, **{k: v for k, v in row.items() if k != "key_id"}}

    def list_keys(self) -> list[dict[str, Any]]:
        return self._run([(f"SELECT {', '.join(_KEY_COLUMNS)} FROM {{keys}} ORDER BY created_at, key_id", ())],
                         fetch=True)

    def revoke_key(self, key_id: str, by: str = "cli") -> bool:
        at = now_iso()
        found = self._run([("SELECT key_id FROM {keys} WHERE key_id = ? AND revoked_at IS NULL", (key_id,))],
                          fetch=True)
        if not found:
            return False
        self._run([("UPDATE {keys} SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL", (at, key_id)),
                   ("INSERT INTO {key_log} (at, key_id, action, detail) VALUES (?, ?, 'revoked', ?)",
                    (at, key_id, f"by={by}"))])
        return True

    def key_for_token(self, token: str) -> dict[str, Any] | None:
        """The key a bearer token belongs to, if it is known, not revoked and not expired."""
        rows = self._run([(f"SELECT {', '.join(_KEY_COLUMNS)} FROM {{keys}} WHERE token_sha256 = ?",
                           (token_hash(token),))], fetch=True)
        if not rows:
            return None
        key = rows[0]
        if key["revoked_at"] or (key["expires_at"] and key["expires_at"] <= now_iso()):
            return None
        return key

    def record_use(self, key_id: str, endpoint: str) -> None:
        """A key's use, at most once per USE_RECORD_INTERVAL_S per key in this process."""
        moment = time.monotonic()
        if moment - self._last_use.get(key_id, -USE_RECORD_INTERVAL_S) < USE_RECORD_INTERVAL_S:
            return
        self._last_use[key_id] = moment
        self._run([("INSERT INTO {key_log} (at, key_id, action, detail) VALUES (?, ?, 'used', ?)",
                    (now_iso(), key_id, endpoint))])

    def key_log(self, key_id: str | None = None) -> list[dict[str, Any]]:
        where, params = ("WHERE key_id = ?", (key_id,)) if key_id else ("", ())
        return self._run([(f"SELECT at, key_id, action, detail FROM {{key_log}} {where} ORDER BY at", params)],
                         fetch=True)

    # --- who read whose data ------------------------------------------------------------------
    def record_access(self, key: dict[str, Any], person: str, endpoint: str, purpose: str) -> None:
        self._run([("INSERT INTO {access_log} (at, key_id, role, person, endpoint, purpose) VALUES (?, ?, ?, ?, ?, ?)",
                    (now_iso(), key["key_id"], key["role"], person, endpoint, purpose))])

    def access_log(self, person: str, limit: int = 1000) -> list[dict[str, Any]]:
        return self._run([("SELECT at, key_id, role, person, endpoint, purpose FROM {access_log} WHERE person = ? "
                           "ORDER BY at LIMIT ?", (person, limit))], fetch=True)
