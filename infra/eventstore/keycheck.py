"""Refuses to run a ledger with another pseudonym key than the one it was created with.

With a different key every enrolled person would silently become "unknown", and enrolling
them again would split one person's history across two aggregates. So the first run stores
HMAC(key, label) — which reveals nothing about the key — in a one-row table `ledger_meta`
beside the event store, and every later run compares. The in-memory store has nothing to
protect across runs and is not checked.

The check is installed only on a store that holds no events yet. A store with events but no
check row (the row deleted, the table dropped) is refused: installing the key given now would
let any key take over an existing ledger, enrol its people a second time and lock the real key
out. The row has to be restored (from a backup) by whoever runs the database.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from infra.config import ConfigError
from infra.eventstore.backend import backend_of

_LABEL = b"family-ledger pseudonym key check v1"
_NAME = "pseudonym_key_check"


def key_check(key: bytes) -> str:
    return hmac.new(key, _LABEL, hashlib.sha256).hexdigest()


def verify_pseudonym_key(recorder: Any, key: bytes, read_only: bool = False) -> None:
    kind = backend_of(recorder)
    if kind == "memory":
        return
    expected = key_check(key)
    if read_only and kind == "postgres":  # a standby: only compare, never store
        stored = _postgres_read(recorder)
    else:
        stored = _sqlite(recorder, expected) if kind == "sqlite" else _postgres(recorder, expected)
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


def _sqlite(recorder: Any, expected: str) -> str | None:
    """The stored check; installed first when the store holds no events. None: no check, but events."""
    with recorder.datastore.transaction(commit=True) as c:
        c.execute("CREATE TABLE IF NOT EXISTS ledger_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
        c.execute("SELECT value FROM ledger_meta WHERE name = ?", (_NAME,))
        row = c.fetchone()
        if row is not None:
            return row[0]
        c.execute(f"SELECT 1 FROM {recorder.events_table_name} LIMIT 1")  # the library's table name
        if c.fetchone() is not None:
            return None
        c.execute("INSERT OR IGNORE INTO ledger_meta (name, value) VALUES (?, ?)", (_NAME, expected))
        c.execute("SELECT value FROM ledger_meta WHERE name = ?", (_NAME,))
        return c.fetchone()[0]


def _postgres(recorder: Any, expected: str) -> str | None:
    from psycopg.sql import SQL, Identifier

    schema = Identifier(recorder.datastore.schema)
    table = SQL("{}.ledger_meta").format(schema)
    events = SQL("{}.{}").format(schema, Identifier(recorder.events_table_name))
    with recorder.datastore.transaction(commit=True) as c:
        c.execute(SQL("CREATE TABLE IF NOT EXISTS {} (name text PRIMARY KEY, value text NOT NULL)").format(table))
        c.execute(SQL("SELECT value FROM {} WHERE name = %s").format(table), (_NAME,))
        row = c.fetchone()
        if row is not None:
            return row["value"]
        c.execute(SQL("SELECT 1 AS one FROM {} LIMIT 1").format(events))
        if c.fetchone() is not None:
            return None
        c.execute(
            SQL("INSERT INTO {} (name, value) VALUES (%s, %s) ON CONFLICT (name) DO NOTHING").format(table),
            (_NAME, expected),
        )
        c.execute(SQL("SELECT value FROM {} WHERE name = %s").format(table), (_NAME,))
        return c.fetchone()["value"]


def _postgres_read(recorder: Any) -> str | None:
    from psycopg.sql import SQL, Identifier

    with recorder.datastore.transaction(commit=False) as c:
        c.execute(
            "SELECT count(*) = 1 AS present FROM pg_tables WHERE schemaname = %s AND tablename = 'ledger_meta'",
            (recorder.datastore.schema,),
        )
        if not c.fetchone()["present"]:
            raise ConfigError(
                "the read database has no ledger yet (no ledger_meta table): "
                "has the primary been written to, and is this its replica?"
            )
        table = SQL("{}.ledger_meta").format(Identifier(recorder.datastore.schema))
        c.execute(SQL("SELECT value FROM {} WHERE name = %s").format(table), (_NAME,))
        row = c.fetchone()
        return row["value"] if row else None
