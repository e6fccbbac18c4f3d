"""Positions of the log recorded once in `ledger_meta`, each MAC'd under the ledger's key (so SQL
cannot move one): the log's next position when a version that keeps some new promise first
opens the store, 1 for a store that version created. A reader learns from it whether the
promise holds for the whole log (1) or only from that position on.

Recorded today: `event_macs_from` (every event carries a MAC, infra.storage.event_macs) and
`command_ids_scoped_from` (every command record is under its sender's tenant, domain.command_record).
"""

from __future__ import annotations

from infra.row_macs import RowMacs
from infra.storage.base import LedgerRecorder

COMMAND_IDS_SCOPED_FROM = "command_ids_scoped_from"


def install_position(recorder: LedgerRecorder, pseudonym_key: bytes, name: str) -> None:
    """Record `name`, once: the log's next position now (1 for a new store). Called by writers
    only, after the pseudonym key check created `ledger_meta`."""
    value = str((recorder.max_notification_id() or 0) + 1)
    row = f"{value}:{RowMacs(pseudonym_key, 'meta').of({'name': name, 'value': value})}"
    with recorder.tables.transaction() as run:
        run("INSERT INTO {ledger_meta} (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING", (name, row))


def stored_position(recorder: LedgerRecorder, pseudonym_key: bytes, name: str) -> tuple[int | None, bool]:
    """(the recorded position, whether its MAC verifies). None: not recorded (no `ledger_meta`,
    or a replica of a primary that this version has not opened yet); a position whose MAC does
    not verify is given as None too, with False."""
    if not recorder.tables.exists("ledger_meta"):
        return None, True
    with recorder.tables.transaction(commit=False) as run:
        rows = run("SELECT value FROM {ledger_meta} WHERE name = ?", (name,), True)
    if not rows:
        return None, True
    value, _, mac = str(rows[0]["value"]).partition(":")
    if not value.isdigit() or not RowMacs(pseudonym_key, "meta").holds({"name": name, "value": value}, mac):
        return None, False
    return int(value), True
