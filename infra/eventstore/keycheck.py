"""Refuses to run a ledger with another pseudonym key than the one it was created with.

With a different key every enrolled person would silently become "unknown", and enrolling
them again would split one person's history across two aggregates. So the first run stores
HMAC(key, label) — which reveals nothing about the key — in a one-row table `ledger_meta`
beside the event store, and every later run compares.

The check is installed only on a store that holds no events yet. A store with events but no
check row (the row deleted, the table dropped) is refused: installing the key given now would
let any key take over an existing ledger, enrol its people a second time and lock the real key
out. The row has to be restored (from a backup) by whoever runs the database. A replica (read
only) is compared, never written.
"""

from __future__ import annotations

import hashlib
import hmac

from infra.settings import ConfigError
from infra.storage.base import LedgerRecorder
from infra.storage.event_macs import META_NAME
from infra.storage.meta_positions import COMMAND_IDS_SCOPED_FROM

_LABEL = b"family-ledger pseudonym key check v1"
_NAME = "pseudonym_key_check"


def key_check(key: bytes) -> str:
    return hmac.new(key, _LABEL, hashlib.sha256).hexdigest()


def verify_pseudonym_key(recorder: LedgerRecorder, key: bytes, read_only: bool = False) -> None:
    expected = key_check(key)
    stored = _stored(recorder) if read_only else _installed(recorder, expected)
    if stored is None:
        raise ConfigError(
            "ledger_meta holds no pseudonym key check, but the store holds events: the check was removed. "
            "Refusing to install a key over existing data; restore the ledger_meta row from a backup."
        )
    if stored != expected:
        raise ConfigError(
            "LEDGER_PSEUDONYM_KEY is not the key this ledger was created with: every person would "
            "look unknown. Use the original key (or a fresh database for a new key)."
        )


def _installed(recorder: LedgerRecorder, expected: str) -> str | None:
    """The stored check; installed first when the store holds no events. None: no check, but events.
    (A writer stores events only after this check passed, so events without a row mean it was removed.)"""
    with recorder.tables.transaction() as run:
        run("CREATE TABLE IF NOT EXISTS {ledger_meta} (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
        row = run("SELECT value FROM {ledger_meta} WHERE name = ?", (_NAME,), True)
        if row:
            return row[0]["value"]
        if recorder.max_notification_id():
            return None
        run("INSERT INTO {ledger_meta} (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING", (_NAME, expected))
        return run("SELECT value FROM {ledger_meta} WHERE name = ?", (_NAME,), True)[0]["value"]


def _stored(recorder: LedgerRecorder) -> str | None:
    if not recorder.tables.exists("ledger_meta"):
        raise ConfigError(
            "the read database has no ledger yet (no ledger_meta table): "
            "has the primary been written to, and is this its replica?"
        )
    with recorder.tables.transaction(commit=False) as run:
        row = run("SELECT value FROM {ledger_meta} WHERE name = ?", (_NAME,), True)
    return row[0]["value"] if row else None


def unknown_meta_rows(recorder: LedgerRecorder) -> list[str]:
    """Names in `ledger_meta` the ledger never writes (for `verify`: a row added by SQL)."""
    if not recorder.tables.exists("ledger_meta"):
        return []
    with recorder.tables.transaction(commit=False) as run:
        names = [row["name"] for row in run("SELECT name FROM {ledger_meta} ORDER BY name", (), True)]
    return [name for name in names if name not in (_NAME, META_NAME, COMMAND_IDS_SCOPED_FROM)]
