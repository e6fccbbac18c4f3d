"""Bearer keys of the service, in the ledger's own store (beside the event store):

- `ledger_api_keys`: one row per key, with its row MAC (infra.row_macs, purpose "key"). Only
  SHA-256 of the token is kept; the token itself is shown once, when the key is created. A row
  whose MAC does not verify (written or changed by SQL, or made before rows carried a MAC and not
  adopted) authenticates nothing.
- `ledger_api_key_log`: append-only record of creating, adopting, revoking and using keys (a use
  at most once a minute per key and process, so that a busy client does not add a row per
  request), a hash chain of MAC'd entries that the signed checkpoints cover (infra.access.key_log).

A served store keeps each verified key in memory for `key_cache_s` (the server's
`--key-cache-seconds`, 1 s by default), so that a busy client's requests do not each read the
keys table. Expiry is checked on every request; a key revoked through the same store is dropped
at once, one revoked by another process (`ledger keys revoke`, another server) stops working
within `key_cache_s`. The CLI's stores cache nothing.

Created with CREATE TABLE IF NOT EXISTS on first use; a reader (a replica, `verify`) creates
nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.masking import mask_digit_runs
from infra.access.key_log import KEY_COLUMNS, check_keys, implied_keys, key_log_chain, keys_digest, row_content
from infra.access.log_chain import EMPTY, Head
from infra.roles import ROLES
from infra.row_macs import RowMacs
from infra.storage.base import LedgerRecorder, Run

log = logging.getLogger(__name__)
USE_RECORD_INTERVAL_S = 60.0
KEY_CACHE_ENTRIES = 4096

_DDL = (
    "CREATE TABLE IF NOT EXISTS {ledger_api_keys} (key_id TEXT PRIMARY KEY, token_sha256 TEXT NOT NULL UNIQUE, "
    "role TEXT NOT NULL, channel TEXT, institution TEXT, region TEXT, name TEXT, created_at TEXT NOT NULL, "
    "expires_at TEXT, revoked_at TEXT, row_mac TEXT)",
    "CREATE TABLE IF NOT EXISTS {ledger_api_key_log} (at TEXT NOT NULL, key_id TEXT NOT NULL, action TEXT NOT NULL, "
    "detail TEXT NOT NULL DEFAULT '', sequence BIGINT, content TEXT, previous_sha256 TEXT, entry_sha256 TEXT, "
    "row_mac TEXT)",
    "CREATE INDEX IF NOT EXISTS ledger_api_key_log_key ON {ledger_api_key_log} (key_id, action)",
)
_ADDED = {  # columns an older store's tables gain
    "ledger_api_keys": ("row_mac",),
    "ledger_api_key_log": ("sequence", "content", "previous_sha256", "entry_sha256", "row_mac"),
}
_LOG_COLUMNS = ("sequence", "at", "key_id", "action", "detail", "content", "previous_sha256", "entry_sha256", "row_mac")
_SELECT_KEYS = f"SELECT {', '.join(KEY_COLUMNS)}, row_mac FROM {{ledger_api_keys}}"
_PUBLIC_COLUMNS = ("key_id", "role", "channel", "institution", "region", "name", "created_at", "expires_at",
                   "revoked_at")  # fmt: skip


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class KeyStore:
    """Keys and the key log in the ledger's own store."""

    def __init__(
        self, recorder: LedgerRecorder, pseudonym_key: bytes, *, create: bool = True, key_cache_s: float = 0.0
    ):
        self.tables = recorder.tables
        self.row_macs = RowMacs(pseudonym_key, "key")
        self.chain = key_log_chain(pseudonym_key)
        self._last_use: dict[str, float] = {}
        self.key_cache_s = key_cache_s
        self._keys: dict[str, tuple[float, dict[str, Any]]] = {}  # token hash -> (read at, key row)
        self._keys_lock = threading.Lock()  # writers of _keys; readers use dict.get alone
        if create:
            self._create_tables()

    def _create_tables(self) -> None:
        with self.tables.transaction() as run:
            for statement in _DDL:
                run(statement)
        for table, columns in _ADDED.items():
            present = self.tables.columns(table)
            with self.tables.transaction() as run:
                for column in columns:
                    if column not in present:
                        kind = "BIGINT" if column == "sequence" else "TEXT"
                        run(f"ALTER TABLE {{{table}}} ADD COLUMN {column} {kind}")

    # --- making and ending keys -------------------------------------------------------------
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
        token = "lk_" + secrets.token_urlsafe(32)  # 256 random bits
        created = now_iso()
        expires = None
        if expires_days is not None:
            expires = (datetime.now(UTC) + timedelta(days=expires_days)).isoformat(timespec="seconds")
        row = {"key_id": "k_" + secrets.token_hex(8), "token_sha256": token_hash(token), "role": role,
               "channel": channel, "institution": institution, "region": region, "name": name,
               "created_at": created, "expires_at": expires, "revoked_at": None}  # fmt: skip
        with self.tables.transaction() as run:
            self.tables.lock(run, "ledger_api_key_log")
            names = (*KEY_COLUMNS, "row_mac")
            run(
                f"INSERT INTO {{ledger_api_keys}} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                (*(row[name] for name in KEY_COLUMNS), self.row_macs.of(row_content(row))),
            )
            self._append(run, str(row["key_id"]), "created", f"role={role} by={by}", row_content(row), created)
        return {"token": token, **{k: v for k, v in row.items() if k != "token_sha256"}}

    def revoke_key(self, key_id: str, by: str = "cli") -> bool:
        """Revoke a key (one made before key rows carried a MAC is adopted first, both recorded).
        False if there is no such active key, or its row was forged (that row is an incident)."""
        at = now_iso()
        with self.tables.transaction() as run:
            self.tables.lock(run, "ledger_api_key_log")
            found = run(f"{_SELECT_KEYS} WHERE key_id = ? AND revoked_at IS NULL", (key_id,), True)
            if found and found[0]["row_mac"] is None:
                self._append(run, key_id, "adopted", f"by={by} to revoke", row_content(found[0]), at)
            elif not found or not self._proven(found[0]):
                return False
            revoked = {**row_content(found[0]), "revoked_at": at}
            run(
                "UPDATE {ledger_api_keys} SET revoked_at = ?, row_mac = ? WHERE key_id = ?",
                (at, self.row_macs.of(revoked), key_id),
            )
            self._append(run, key_id, "revoked", f"by={by}", {"revoked_at": at}, at)
        with self._keys_lock:
            for digest in [d for d, (_, key) in self._keys.items() if key["key_id"] == key_id]:
                del self._keys[digest]
        return True

    def adopt_key(self, key_id: str, by: str = "cli") -> bool:
        """Take on a key made before key rows carried a MAC (an operator's decision, recorded in
        the key log): it authenticates again. False if there is no such unsealed row."""
        with self.tables.transaction() as run:
            self.tables.lock(run, "ledger_api_key_log")
            found = run(f"{_SELECT_KEYS} WHERE key_id = ? AND row_mac IS NULL", (key_id,), True)
            if not found:
                return False
            content = row_content(found[0])
            run("UPDATE {ledger_api_keys} SET row_mac = ? WHERE key_id = ?", (self.row_macs.of(content), key_id))
            self._append(run, key_id, "adopted", f"by={by}", content, now_iso())
        return True

    def list_keys(self) -> list[dict[str, Any]]:
        """Every key (never a token), each saying whether it is proven (its MAC verifies)."""
        with self.tables.transaction(commit=False) as run:
            rows = run(f"{_SELECT_KEYS} ORDER BY created_at, key_id", (), True)
        return [{**{k: row[k] for k in _PUBLIC_COLUMNS}, "proven": self._proven(row)} for row in rows]

    # --- authenticating -----------------------------------------------------------------------
    def cached_key(self, token: str) -> dict[str, Any] | None:
        """The key of `token` if this store read it less than `key_cache_s` ago and it has not
        expired since; None otherwise (then ask `key_for_token`). No I/O."""
        cached = self._keys.get(token_hash(token))
        if cached is None or time.monotonic() - cached[0] >= self.key_cache_s:
            return None
        key = cached[1]
        return None if key["expires_at"] and key["expires_at"] <= now_iso() else key

    def key_by_id(self, key_id: str) -> dict[str, Any] | None:
        """The key of this id if it would authenticate now (the console's sessions hold key ids,
        never tokens): proven, not revoked, not expired. Not cached."""
        key = self._valid_key("key_id", key_id)
        return key if key is not None and _usable(key) else None

    def _valid_key(self, column: str, value: str) -> dict[str, Any] | None:
        """The key row by `column`, if proven and not revoked in the key log (whatever its row says)."""
        with self.tables.transaction(commit=False) as run:
            rows = run(f"{_SELECT_KEYS} WHERE {column} = ?", (value,), True)
            row = rows[0] if rows else None
            if row is not None and not row["revoked_at"] and _revoked_in_log(run, row["key_id"]):
                log.warning(
                    "key %s refused: revoked in the key log, not in its row (an old row restored)", row["key_id"]
                )
                row = None
        return {k: row[k] for k in _PUBLIC_COLUMNS} if row is not None and self._proven(row) else None

    def key_for_token(self, token: str) -> dict[str, Any] | None:
        """The key a bearer token belongs to, if it is known, proven (its row MAC verifies), not
        revoked and not expired."""
        cached = self.cached_key(token)
        if cached is not None:
            return cached
        digest = token_hash(token)
        read_at = time.monotonic()
        key = self._valid_key("token_sha256", digest)
        valid = key is not None and _usable(key)
        with self._keys_lock:
            self._keys.pop(digest, None)
            if key is not None and valid and self.key_cache_s > 0:
                if len(self._keys) >= KEY_CACHE_ENTRIES:
                    del self._keys[next(iter(self._keys))]  # the longest cached
                self._keys[digest] = (read_at, key)
        return key if valid else None

    def _proven(self, row: dict[str, Any]) -> bool:
        if self.row_macs.holds(row_content(row), row.get("row_mac")):
            return True
        log.warning("key %s refused: its row MAC %s", row["key_id"], "is missing" if not row.get("row_mac") else
                    "does not verify")  # fmt: skip
        return False

    def use_due(self, key_id: str) -> bool:
        """Whether `record_use` would write a row now (no I/O)."""
        return time.monotonic() - self._last_use.get(key_id, -USE_RECORD_INTERVAL_S) >= USE_RECORD_INTERVAL_S

    def record_use(self, key_id: str, endpoint: str) -> None:
        """A key's use, at most once per USE_RECORD_INTERVAL_S per key in this process. The
        endpoint is a request's path, which may hold a number: stored with digit runs masked."""
        if not self.use_due(key_id):
            return
        self._last_use[key_id] = time.monotonic()
        with self.tables.transaction() as run:
            self.tables.lock(run, "ledger_api_key_log")
            self._append(run, key_id, "used", mask_digit_runs(endpoint), None, now_iso())

    # --- the key log ------------------------------------------------------------------------
    def _append(self, run: Run, key_id: str, action: str, detail: str, content: dict | None, at: str) -> None:
        entry = {"at": at, "key_id": key_id, "action": action, "detail": detail,
                 "content": json.dumps(content, sort_keys=True) if content is not None else None}  # fmt: skip
        row = self.chain.next_row(_log_head(run), entry)
        run(
            f"INSERT INTO {{ledger_api_key_log}} ({', '.join(_LOG_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(_LOG_COLUMNS))})",
            tuple(row[name] for name in _LOG_COLUMNS),
        )

    def key_log(self, key_id: str | None = None) -> list[dict[str, Any]]:
        where, params = ("WHERE key_id = ?", (key_id,)) if key_id else ("", ())
        with self.tables.transaction(commit=False) as run:
            sql = f"SELECT at, key_id, action, detail FROM {{ledger_api_key_log}} {where} ORDER BY at, sequence"
            return run(sql, params, True)

    def chained_entries(self) -> list[dict[str, Any]]:
        """The key log's chained entries, in sequence order (entries from before the log was
        chained have no sequence and are not among them)."""
        if not self.tables.exists("ledger_api_key_log"):
            return []
        with self.tables.transaction(commit=False) as run:
            sql = f"SELECT {', '.join(_LOG_COLUMNS)} FROM {{ledger_api_key_log}} WHERE sequence IS NOT NULL"
            return run(sql + " ORDER BY sequence", (), True)

    def head(self) -> tuple[Head, str]:
        """Where the key log stands, and the digest of the keys it implies there (what a seal covers)."""
        entries = self.chained_entries()
        if not entries:
            return EMPTY, keys_digest({})
        return Head(entries[-1]["sequence"], entries[-1]["entry_sha256"]), keys_digest(implied_keys(entries))

    def verify(self, sealed: Head | None, sealed_keys_sha256: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
        """(the key log's check, the keys table's check), against what the last checkpoint sealed."""
        entries = self.chained_entries()
        log_check = self.chain.verify(entries, sealed)
        rows = self._all_rows()
        sealed_keys = (sealed.sequence, sealed_keys_sha256) if sealed is not None and sealed_keys_sha256 else None
        keys_check = check_keys(rows, entries, self.row_macs, sealed_keys)
        return log_check.as_dict(sealed), {**keys_check.as_dict(None), "keys": len(rows)}

    def _all_rows(self) -> list[dict[str, Any]]:
        if not self.tables.exists("ledger_api_keys"):
            return []
        with self.tables.transaction(commit=False) as run:
            return run(f"{_SELECT_KEYS} ORDER BY key_id", (), True)


def _log_head(run: Run) -> Head:
    last = run(
        "SELECT sequence, entry_sha256 FROM {ledger_api_key_log} WHERE sequence IS NOT NULL "
        "ORDER BY sequence DESC LIMIT 1",
        (),
        True,
    )
    return Head(last[0]["sequence"], last[0]["entry_sha256"]) if last else EMPTY


def _revoked_in_log(run: Run, key_id: str) -> bool:
    """Whether the key log records the key's revocation: a key row from before its revocation,
    restored by SQL, still has a valid MAC, so the log decides."""
    return bool(
        run("SELECT 1 FROM {ledger_api_key_log} WHERE key_id = ? AND action = 'revoked' LIMIT 1", (key_id,), True)
    )


def _usable(key: dict[str, Any]) -> bool:
    return not (key["revoked_at"] or (key["expires_at"] and key["expires_at"] <= now_iso()))
