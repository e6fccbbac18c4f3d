"""The SQLite adapter: the library's SQLite process recorder with the ledger's reads, and the
side tables in the same file.

The notification id of an event is its `rowid`. SQLite serialises writers itself (one writer
connection, BEGIN IMMEDIATE in the library's datastore), so `lock` has nothing to add.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.persistence import AggregateRecorder, Notification, StoredEvent
from eventsourcing.sqlite import SQLiteDatastore, SQLiteFactory, SQLiteProcessRecorder

from infra.storage.base import BulkReader, LedgerRecorder, LogRow, Run, SideTables, as_bytes

SNAPSHOT_PAGE = 500
PARAMETERS_MAX = 900  # SQLite's limit on bound parameters is 999 in older builds


class SQLiteSideTables(SideTables):
    unique_violation = (sqlite3.IntegrityError,)

    def __init__(self, datastore: SQLiteDatastore):
        super().__init__()
        self.datastore = datastore

    @contextmanager
    def _cursor(self, commit: bool) -> Iterator[Any]:
        with self.datastore.transaction(commit=commit) as cursor:
            yield cursor.sqlite_cursor  # the library's wrapper has no `description`

    def _dialect(self, sql: str) -> str:
        return sql

    def qualify(self, table: str) -> str:
        return table

    def exists(self, table: str) -> bool:
        with self.transaction(commit=False) as run:
            return bool(run("SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?", (table,), True))

    def lock(self, run: Run, table: str) -> None:
        """Nothing: a SQLite write transaction already excludes every other writer."""

    def columns(self, table: str) -> set[str]:
        with self.transaction(commit=False) as run:
            return {row["name"] for row in run(f"PRAGMA table_info({table})", (), True)}


class SQLiteLedgerRecorder(SQLiteProcessRecorder, LedgerRecorder):
    dialect: ClassVar[str] = "sqlite"

    def __init__(self, datastore: SQLiteDatastore, **kwargs: Any):
        super().__init__(datastore, **kwargs)
        self.tables = SQLiteSideTables(datastore)

    def events_of(self, originator_id: UUID) -> list[Notification]:
        with self.tables.transaction(commit=False) as run:
            rows = run(
                f"SELECT rowid AS position, originator_version, topic, state FROM {self.events_table_name} "
                "WHERE originator_id = ? ORDER BY originator_version",
                (originator_id.hex,),
                True,
            )
        return [_notification(row, originator_id) for row in rows]

    def positions_below_start(self, limit: int) -> list[int]:
        with self.tables.transaction(commit=False) as run:
            rows = run(
                f"SELECT rowid AS position FROM {self.events_table_name} WHERE rowid < 1 ORDER BY rowid LIMIT ?",
                (limit,),
                True,
            )
        return [row["position"] for row in rows]

    def log_rows(self, after: int, limit: int, topics: frozenset[str]) -> list[LogRow]:
        page = self.select_notifications(start=after + 1, limit=limit)
        return [
            (
                n.id,
                str(n.originator_id),
                n.originator_version,
                n.topic,
                as_bytes(n.state) if n.topic in topics else None,
            )
            for n in page
        ]

    def all_snapshots(self, snapshots: AggregateRecorder) -> Iterator[StoredEvent]:
        table = getattr(snapshots, "events_table_name", "stored_snapshots")
        after: tuple[str, int] = ("", -1)
        while True:
            with self.tables.transaction(commit=False) as run:
                rows = run(
                    f"SELECT originator_id, originator_version, topic, state FROM {table} "
                    "WHERE originator_id > ? OR (originator_id = ? AND originator_version > ?) "
                    "ORDER BY originator_id, originator_version LIMIT ?",
                    (after[0], after[0], after[1], SNAPSHOT_PAGE),
                    True,
                )
            yield from (_stored(tuple(row.values())) for row in rows)
            if len(rows) < SNAPSHOT_PAGE:
                return
            after = (rows[-1]["originator_id"], rows[-1]["originator_version"])

    @contextmanager
    def bulk_reader(self, snapshots: AggregateRecorder | None) -> Iterator[BulkReader]:
        with self.datastore.transaction(commit=False) as cursor:
            yield _SQLiteBulkReader(cursor, self.events_table_name, getattr(snapshots, "events_table_name", None))


class _SQLiteBulkReader:
    """Bulk loads on one read cursor, in chunks of at most PARAMETERS_MAX ids."""

    def __init__(self, cursor: Any, events_table: str, snapshots_table: str | None):
        self.cursor = cursor
        self.events_table = events_table
        self.snapshots_table = snapshots_table

    def latest_snapshots(self, ids: Sequence[UUID]) -> list[StoredEvent]:
        if self.snapshots_table is None:
            return []
        out = []
        for chunk in _chunks(ids):
            self.cursor.execute(
                f"SELECT s.originator_id, s.originator_version, s.topic, s.state FROM {self.snapshots_table} s "
                f"JOIN (SELECT originator_id, MAX(originator_version) AS v FROM {self.snapshots_table} "
                f"WHERE originator_id IN ({_marks(chunk)}) GROUP BY originator_id) m "
                "ON s.originator_id = m.originator_id AND s.originator_version = m.v",
                [i.hex for i in chunk],
            )
            out += [_stored(row) for row in self.cursor.fetchall()]
        return out

    def events_after(self, ids: Sequence[UUID], versions: Sequence[int]) -> list[StoredEvent]:
        pairs = list(zip(ids, versions, strict=True))
        out = []
        for chunk in _chunks(pairs, PARAMETERS_MAX // 2):
            self.cursor.execute(
                f"WITH k(id, after) AS (VALUES {','.join(['(?, ?)'] * len(chunk))}) "
                f"SELECT e.originator_id, e.originator_version, e.topic, e.state FROM {self.events_table} e "
                "JOIN k ON e.originator_id = k.id AND e.originator_version > k.after "
                "ORDER BY e.originator_id, e.originator_version",
                [value for i, version in chunk for value in (i.hex, version)],
            )
            out += [_stored(row) for row in self.cursor.fetchall()]
        return out


def _chunks(items: Sequence[Any], size: int = PARAMETERS_MAX) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _marks(chunk: Sequence[Any]) -> str:
    return ",".join("?" * len(chunk))


def _stored(row: Any) -> StoredEvent:
    return StoredEvent(originator_id=UUID(row[0]), originator_version=row[1], topic=row[2], state=as_bytes(row[3]))


def _notification(row: dict[str, Any], originator_id: UUID) -> Notification:
    return Notification(
        id=row["position"],
        originator_id=originator_id,
        originator_version=row["originator_version"],
        topic=row["topic"],
        state=as_bytes(row["state"]),
    )


class LedgerSQLiteFactory(SQLiteFactory):
    """The library's SQLite factory, recording through `SQLiteLedgerRecorder`."""

    def application_recorder(self) -> SQLiteLedgerRecorder:
        recorder = SQLiteLedgerRecorder(datastore=self.datastore)
        if self.env_create_table():
            recorder.create_table()
        return recorder
