"""The sealed evidence as stored: the event log (read through the store's adapter) and the
audit's own two tables beside it, in the same database (and, on PostgreSQL, the same `?schema=`):

    audit_chain_links(position PK, originator_id, originator_version,
                      record_sha256, state_sha256, link_sha256)     one row per sealed record
    audit_checkpoints(sequence PK, first_position, position, record_count, head_sha256,
                      merkle_root_sha256, sealed_at, previous_sha256, checkpoint_sha256,
                      public_key, signature)                           Ed25519, hex (see signing)

`public_key`/`signature` and `covers` were added later: an older table gains them (empty for the
checkpoints sealed before, which a verifier given a public key reports as unsigned, and which
covered the events only). `covers` is canonical JSON: the heads of the access log and of the key
log and the digest of the keys the key log implies, when the checkpoint was sealed.

The log is read only through bounded pages in global order. On a read-only replica
(`--read-db`) the audit tables are read, never created: a ledger never sealed on the primary has
none, which reads as no links and no checkpoints.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification

from domain.canonical import canonical_json
from domain.errors import LedgerError
from infra.eventstore.application import LedgerApp
from infra.storage.base import LedgerRecorder
from infra.storage.paging import paged

LINK_COLUMNS = ("position", "originator_id", "originator_version", "record_sha256", "state_sha256", "link_sha256")
CHECKPOINT_COLUMNS = (
    "sequence", "first_position", "position", "record_count", "head_sha256",
    "merkle_root_sha256", "sealed_at", "previous_sha256", "checkpoint_sha256", "public_key", "signature", "covers",
)  # fmt: skip
ADDED_COLUMNS = ("public_key", "signature", "covers")  # what an older checkpoints table gains
POSITION_MAX = 2**62
PAGE_SIZE = 500  # records per read of the log or of the links table

_DDL = (
    "CREATE TABLE IF NOT EXISTS {audit_chain_links} (position BIGINT PRIMARY KEY, originator_id TEXT NOT NULL, "
    "originator_version BIGINT NOT NULL, record_sha256 TEXT NOT NULL, state_sha256 TEXT NOT NULL, "
    "link_sha256 TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {audit_checkpoints} (sequence BIGINT PRIMARY KEY, first_position BIGINT NOT NULL, "
    "position BIGINT NOT NULL, record_count BIGINT NOT NULL, head_sha256 TEXT NOT NULL, "
    "merkle_root_sha256 TEXT NOT NULL, sealed_at TEXT NOT NULL, previous_sha256 TEXT NOT NULL, "
    "checkpoint_sha256 TEXT NOT NULL, public_key TEXT, signature TEXT, covers TEXT)",
)


@dataclass(frozen=True)
class LinkRow:
    position: int
    originator_id: str
    originator_version: int
    record_sha256: str
    state_sha256: str
    link_sha256: str


class EvidenceStore:
    def __init__(self, app: LedgerApp):
        self.app = app
        self.recorder: LedgerRecorder = app.recorder
        self.tables = self.recorder.tables
        self.read_only = app.settings.read_only
        self._ready = False
        self._absent = False

    # --- the event log --------------------------------------------------------------------
    def iter_log(self, after: int = 0, stop: int | None = None) -> Iterator[Notification]:
        return self.recorder.iter_log(after, stop, PAGE_SIZE)

    def positions_below_start(self) -> list[int]:
        return self.recorder.positions_below_start(PAGE_SIZE)

    def max_position(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def events_of(self, originator_id: UUID) -> list[tuple[int, Notification]]:
        """(position, stored event) of one aggregate, in version order."""
        return [(n.id, n) for n in self.recorder.events_of(originator_id)]

    # --- the audit tables -----------------------------------------------------------------
    def ensure_tables(self) -> None:
        if self._ready:
            return
        if self.read_only:
            self._absent = not (self.tables.exists("audit_checkpoints") and self.tables.exists("audit_chain_links"))
        else:
            with self.tables.transaction() as run:
                for statement in _DDL:
                    run(statement)
            present = self.tables.columns("audit_checkpoints")
            with self.tables.transaction() as run:
                for column in ADDED_COLUMNS:
                    if column not in present:
                        run(f"ALTER TABLE {{audit_checkpoints}} ADD COLUMN {column} TEXT")
        self._ready = True

    def has_audit_tables(self) -> bool:
        """Whether the audit tables exist (before `ensure_tables` would create them)."""
        return self.tables.exists("audit_checkpoints")

    def checkpoints(self) -> list[dict[str, Any]]:
        self.ensure_tables()
        if self._absent:
            return []
        with self.tables.transaction(commit=False) as run:
            rows = run(f"SELECT {', '.join(CHECKPOINT_COLUMNS)} FROM {{audit_checkpoints}} ORDER BY sequence", (), True)
        return [{**row, "covers": _covers(row["covers"])} for row in rows]

    def links_page(self, after: int, limit: int, stop: int | None = None) -> list[LinkRow]:
        self.ensure_tables()
        if self._absent:
            return []
        with self.tables.transaction(commit=False) as run:
            rows = run(
                f"SELECT {', '.join(LINK_COLUMNS)} FROM {{audit_chain_links}} WHERE position > ? AND position <= ? "
                "ORDER BY position LIMIT ?",
                (after, POSITION_MAX if stop is None else stop, limit),
                True,
            )
        return [LinkRow(**{k: row[k] for k in LINK_COLUMNS}) for row in rows]

    def iter_links(self, after: int = 0, stop: int | None = None) -> Iterator[LinkRow]:
        return paged(lambda start: self.links_page(start, PAGE_SIZE, stop), lambda row: row.position, after, PAGE_SIZE)

    def link_at(self, position: int) -> LinkRow | None:
        page = self.links_page(position - 1, 1, position)
        return page[0] if page else None

    def write_segment(self, links: list[LinkRow], checkpoint: dict[str, Any]) -> None:
        """One transaction: the segment's link rows and its checkpoint, or nothing."""
        self.ensure_tables()
        marks = ", ".join("?" * len(CHECKPOINT_COLUMNS))
        try:
            with self.tables.transaction() as run:
                run.many(
                    "INSERT INTO {audit_chain_links} VALUES (?, ?, ?, ?, ?, ?)",
                    [tuple(getattr(row, k) for k in LINK_COLUMNS) for row in links],
                )
                run(
                    f"INSERT INTO {{audit_checkpoints}} ({', '.join(CHECKPOINT_COLUMNS)}) VALUES ({marks})",
                    tuple(_stored(checkpoint, k) for k in CHECKPOINT_COLUMNS),
                )
        except self.tables.unique_violation as error:
            raise SealConflictError(str(error).splitlines()[0]) from None


def _stored(checkpoint: dict[str, Any], column: str) -> Any:
    value = checkpoint.get(column)
    return canonical_json(value).decode("utf-8") if column == "covers" and value is not None else value


def _covers(text: str | None) -> dict[str, Any] | None:
    """A checkpoint's `covers` as stored; text that is not a JSON object (written by SQL) is kept
    as {"unreadable": text}, which its signature then does not cover."""
    if not text:
        return None
    try:
        covers = json.loads(text)
    except ValueError:
        covers = None
    return covers if isinstance(covers, dict) else {"unreadable": str(text)}


class SealConflictError(LedgerError):
    """Another `seal` wrote the same positions first (HTTP 409)."""

    code = "SEAL_CONFLICT"

    def __init__(self, detail: str):
        super().__init__(f"another seal ran at the same time; seal again ({detail})")
