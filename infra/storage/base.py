"""What every storage adapter provides beyond the library's recorder, dialect-free.

`LedgerRecorder` is mixed into the library's process recorder of each dialect (sqlite, postgres,
memory): the ledger's application records its events through it, and the audit, the views'
runner, the prefetcher and the side-table stores read through the methods below. Only the
dialect modules beside this one know SQL dialects.

`SideTables` runs SQL on the ledger's own tables beside the event store (same SQLite file, same
PostgreSQL schema). Statements are written once, in the common subset of SQLite and PostgreSQL,
with `?` placeholders and table names in braces (`SELECT ... FROM {ledger_api_keys} WHERE
key_id = ?`); the dialect qualifies the names and rewrites the placeholders.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, ClassVar, Protocol
from uuid import UUID

from eventsourcing.persistence import AggregateRecorder, Notification, ProcessRecorder, StoredEvent

from infra.storage.paging import PAGE_SIZE, notification_id, paged

LogRow = tuple[int, str, int, str, bytes | None]  # (position, originator id as text, version, topic, state or None)


class Run:
    """Statements inside one `SideTables.transaction`: `run(sql, params, fetch)` returns rows as
    dicts when `fetch`; `run.many(sql, rows)` sends one statement for many parameter rows."""

    def __init__(self, cursor: Any, compile_sql: Callable[[str], str]):
        self.cursor = cursor
        self.compile = compile_sql

    def __call__(self, sql: str, params: Sequence[Any] = (), fetch: bool = False) -> list[dict[str, Any]]:
        self.cursor.execute(self.compile(sql), tuple(params))
        if not fetch or self.cursor.description is None:
            return []
        return [dict(row) for row in self.cursor.fetchall()]

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.cursor.executemany(self.compile(sql), [tuple(row) for row in rows])


class SideTables(ABC):
    """The ledger's own tables beside the event store, in one dialect."""

    unique_violation: tuple[type[BaseException], ...] = ()

    def __init__(self) -> None:
        self.names = Names(self)
        self._compiled: dict[str, str] = {}

    @contextmanager
    def transaction(self, commit: bool = True) -> Iterator[Run]:
        """One transaction; `commit=False` reads only."""
        with self._cursor(commit) as cursor:
            yield Run(cursor, self.compile)

    def compile(self, sql: str) -> str:
        compiled = self._compiled.get(sql)
        if compiled is None:
            compiled = self._compiled[sql] = self._dialect(sql.format_map(self.names))
        return compiled

    @abstractmethod
    def _cursor(self, commit: bool) -> AbstractContextManager[Any]:
        """A cursor in a transaction of the store's datastore."""

    @abstractmethod
    def _dialect(self, sql: str) -> str:
        """The statement as this dialect writes it (names already qualified)."""

    @abstractmethod
    def qualify(self, table: str) -> str:
        """The table's name as statements write it (with the schema on PostgreSQL)."""

    @abstractmethod
    def exists(self, table: str) -> bool:
        """Whether the table exists (a reader creates nothing, so it may not)."""

    @abstractmethod
    def lock(self, run: Run, table: str) -> None:
        """Serialise writers of `table` until the transaction ends (appending to a hash chain)."""

    @abstractmethod
    def columns(self, table: str) -> set[str]:
        """The table's column names (to add a column to an older table)."""


class Names(dict[str, str]):
    """`{name}` in a statement -> the qualified table name (any name is a table name)."""

    def __init__(self, tables: SideTables):
        super().__init__()
        self.tables = tables

    def __missing__(self, name: str) -> str:
        self[name] = self.tables.qualify(name)
        return self[name]


class BulkReader(Protocol):
    """Reads for loading many aggregates at once, on one connection: each read sees at least
    what the reads before it saw (a snapshot, then the events after it)."""

    def latest_snapshots(self, ids: Sequence[UUID]) -> list[StoredEvent]:
        """The latest snapshot of each id that has one."""
        ...

    def events_after(self, ids: Sequence[UUID], versions: Sequence[int]) -> list[StoredEvent]:
        """Each id's events after the version given for it, in version order per id."""
        ...


class LedgerRecorder(ProcessRecorder, ABC):
    """The library's process recorder interface, and the reads the ledger needs beyond it (see
    module doc)."""

    dialect: ClassVar[str]
    tables: SideTables

    @abstractmethod
    def events_of(self, originator_id: UUID) -> list[Notification]:
        """Every stored event of one aggregate, in version order, with its log position as `id`
        and its state as bytes."""

    @abstractmethod
    def positions_below_start(self, limit: int) -> list[int]:
        """Rows the notification log never shows (position < 1), yet aggregates would load."""

    @abstractmethod
    def log_rows(self, after: int, limit: int, topics: frozenset[str]) -> list[LogRow]:
        """One page of the log after `after`, with the state only for `topics` (the views'
        runner decodes nothing else)."""

    @abstractmethod
    def bulk_reader(self, snapshots: AggregateRecorder | None) -> AbstractContextManager[BulkReader]:
        """A reader for loading many aggregates at once (PostgreSQL: each statement on its own,
        outside a transaction; SQLite: one read transaction)."""

    @abstractmethod
    def all_snapshots(self, snapshots: AggregateRecorder) -> Iterator[StoredEvent]:
        """Every stored snapshot, in bounded pages (for `verify`, which checks each one)."""

    def replica_lag(self, primary_db: str) -> tuple[int | None, str]:
        """How far this store, read as a replica, is behind `primary_db` (bytes of WAL), and what
        was read; a store that is not a PostgreSQL replica is its own primary: no lag."""
        return 0, "the store itself, not a replica"

    def log_page(self, after: int, limit: int, stop: int | None = None) -> list[Notification]:
        """The notification log after `after` (up to `stop`), with every state as bytes."""
        page = self.select_notifications(after, limit, stop=stop, inclusive_of_start=False)
        return [n if isinstance(n.state, bytes) else with_bytes(n) for n in page]

    def iter_log(self, after: int = 0, stop: int | None = None, page_size: int = PAGE_SIZE) -> Iterator[Notification]:
        """Every notification after `after` (up to `stop`), read in bounded pages."""
        return paged(lambda start: self.log_page(start, page_size, stop), notification_id, after, page_size)


def as_bytes(state: Any) -> bytes:
    """Stored state as bytes, whatever the column now holds (an edit may turn a BLOB into TEXT)."""
    return state.encode("utf-8") if isinstance(state, str) else bytes(state)


def with_bytes(n: Notification) -> Notification:
    return Notification(
        id=n.id,
        originator_id=n.originator_id,
        originator_version=n.originator_version,
        topic=n.topic,
        state=as_bytes(n.state),
    )
