"""The in-memory adapter (tests, demos, what-if): the library's plain-Python process recorder,
with the side tables (and the views) in a private in-memory SQLite database of its own.

Nothing here outlives the process. The reads walk the in-memory log: the store is small.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import ClassVar
from uuid import UUID

from eventsourcing.persistence import AggregateRecorder, Notification, StoredEvent
from eventsourcing.popo import POPOFactory, POPOProcessRecorder
from eventsourcing.sqlite import SQLiteDatastore

from infra.storage.base import BulkReader, LedgerRecorder, LogRow, as_bytes
from infra.storage.sqlite import SQLiteSideTables


class MemoryLedgerRecorder(POPOProcessRecorder, LedgerRecorder):
    dialect: ClassVar[str] = "memory"

    def __init__(self) -> None:
        super().__init__()
        self.side_datastore = SQLiteDatastore(db_name=f"file:ledger_{uuid.uuid4().hex}?mode=memory&cache=shared")
        self.tables = SQLiteSideTables(self.side_datastore)

    def events_of(self, originator_id: UUID) -> list[Notification]:
        return [n for n in self.iter_log() if n.originator_id == originator_id]

    def positions_below_start(self, limit: int) -> list[int]:
        return []  # positions are list indexes plus one: never below 1

    def log_rows(self, after: int, limit: int, topics: frozenset[str]) -> list[LogRow]:
        return [
            (n.id, str(n.originator_id), n.originator_version, n.topic, n.state if n.topic in topics else None)
            for n in self.log_page(after, limit)
        ]

    def all_snapshots(self, snapshots: AggregateRecorder) -> Iterator[StoredEvent]:
        for originator_id in dict.fromkeys(n.originator_id for n in self.iter_log()):
            yield from snapshots.select_events(originator_id)

    @contextmanager
    def bulk_reader(self, snapshots: AggregateRecorder | None) -> Iterator[BulkReader]:
        yield _MemoryBulkReader(self, snapshots)


class _MemoryBulkReader:
    """One aggregate at a time, through the recorders' own selects."""

    def __init__(self, events: MemoryLedgerRecorder, snapshots: AggregateRecorder | None):
        self.events = events
        self.snapshots = snapshots

    def latest_snapshots(self, ids: Sequence[UUID]) -> list[StoredEvent]:
        if self.snapshots is None:
            return []
        return [s for i in ids for s in self.snapshots.select_events(i, desc=True, limit=1)]

    def events_after(self, ids: Sequence[UUID], versions: Sequence[int]) -> list[StoredEvent]:
        return [
            StoredEvent(e.originator_id, e.originator_version, e.topic, as_bytes(e.state))
            for i, version in zip(ids, versions, strict=True)
            for e in self.events.select_events(i, gt=version)
        ]


class LedgerMemoryFactory(POPOFactory):
    """The library's in-memory factory, recording through `MemoryLedgerRecorder`."""

    def application_recorder(self) -> MemoryLedgerRecorder:
        return MemoryLedgerRecorder()
