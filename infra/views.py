"""Where the views live: the library's tracking recorders, extended with the view tables.

`SQLiteLedgerViews` and `PostgresLedgerViews` subclass the library's `SQLiteTrackingRecorder` and
`PostgresTrackingRecorder` (as the library's own projection examples do), in the same database as
the event store. On the in-memory store the views live in an in-memory SQLite database.

Tables (physical names):
- `lv_<table>_g<N>`: the rows of generation N of a view (e.g. `lv_bindings_g1`, `lv_quota_counters_g2`).
- `ledger_view_pointer(view, active_generation, building_generation, last_generation)`: which
  generation serves queries, and which one a rebuild is filling.
- `ledger_view_generations(view, generation, events)`: events processed by each generation.
- the library's tracking table (`tracking` on SQLite, `familyledger_tracking` on PostgreSQL):
  one row per view generation, keyed `<view>/g<N>`, holding the last notification id applied.

Every write of a view is one transaction that (1) locks the view's pointer row, (2) reads the
generation's tracking position and skips events at or below it, (3) writes the rows, (4) records
the new tracking position and event count, and, for the last page of a rebuild, (5) switches the
pointer. So a crash anywhere rolls everything back together, and re-delivered events are skipped.
"""

from __future__ import annotations

import hashlib
import json
import uuid
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable

from eventsourcing.persistence import OperationalError, ProgrammingError, Tracking
from eventsourcing.postgres import PostgresFactory, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteDatastore, SQLiteFactory, SQLiteTrackingRecorder
from psycopg.sql import SQL, Identifier

from projections.registry import PROJECTIONS
from projections.base import LedgerProjection, Table

TABLE_PREFIX = "lv_"
POINTER_TABLE = "ledger_view_pointer"
GENERATIONS_TABLE = "ledger_view_generations"
FETCH_ROWS_MAX = 1000
READ_ATTEMPTS_MAX = 3

BeforeCommit = Callable[[str, int, int], None]  # (view, generation, last notification id)


class RebuildSupersededError(Exception):
    """Another rebuild finished or replaced the generation this one was filling."""


def tracking_key(view: str, generation: int) -> str:
    return f"{view}/g{generation}"


def physical_name(table: Table | str, generation: int) -> str:
    name = table.name if isinstance(table, Table) else table
    return f"{TABLE_PREFIX}{name}_g{generation}"


@dataclass(frozen=True)
class Pointer:
    active: int
    building: int | None
    last: int


class ViewCursor:
    """The `ViewWriter` a projection writes through: compiles `{table}` names for one
    generation and `?` parameters for the dialect; rows come back as tuples."""

    def __init__(self, recorder: _LedgerViews, cursor: Any, tables: Sequence[Table], generation: int):
        self._recorder = recorder
        self._cursor = self.cursor = cursor
        self.generation = generation
        self._names = {t.name: recorder.qualify(physical_name(t, generation)) for t in tables}
        self._compiled: dict[str, str] = {}

    def _compile(self, sql: str) -> str:
        compiled = self._compiled.get(sql)
        if compiled is None:
            compiled = self._recorder.paramstyle(sql.format(**self._names))
            self._compiled[sql] = compiled
        return compiled

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._cursor.execute(self._compile(sql), tuple(params))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        for row in rows:
            self.execute(sql, row)

    def fetchone(self, sql: str, params: Sequence[Any] = ()) -> tuple | None:
        self.execute(sql, params)
        row = self._cursor.fetchone()
        return None if row is None else self._recorder.as_tuple(row)

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        self.execute(sql, params)
        return [self._recorder.as_tuple(row) for row in self._cursor.fetchall()]


class _LedgerViews:
    """Dialect-independent view logic, mixed into the library's tracking recorders."""

    dialect: str = ""
    types: dict[str, str] = {}
    text_order: str = ""

    # --- dialect hooks (overridden) -----------------------------------------------------
    def qualify(self, name: str) -> str:
        return name

    def paramstyle(self, sql: str) -> str:
        return sql

    @staticmethod
    def as_tuple(row: Any) -> tuple:
        return tuple(row)

    @contextmanager
    def write_transaction(self) -> Iterator[Any]:
        raise NotImplementedError

    @contextmanager
    def read_transaction(self) -> Iterator[Any]:
        raise NotImplementedError

    def lock_pointer_sql(self) -> str:
        return f"SELECT active_generation, building_generation, last_generation FROM {self.qualify(POINTER_TABLE)} WHERE view = ?"

    def fetchmany(self, cursor: Any, size: int) -> list[Any]:
        return cursor.fetchmany(size)

    # --- generations --------------------------------------------------------------------
    def _run(self, cursor: Any, sql: str, params: Sequence[Any] = ()) -> None:
        cursor.execute(self.paramstyle(sql), tuple(params))

    def _one(self, cursor: Any, sql: str, params: Sequence[Any] = ()) -> tuple | None:
        self._run(cursor, sql, params)
        row = cursor.fetchone()
        return None if row is None else self.as_tuple(row)

    def _pointer(self, cursor: Any, view: str) -> Pointer | None:
        row = self._one(cursor, self.lock_pointer_sql(), (view,))
        return None if row is None else Pointer(row[0], row[1], row[2])

    def _set_pointer(self, cursor: Any, view: str, pointer: Pointer) -> None:
        self._run(
            cursor,
            f"UPDATE {self.qualify(POINTER_TABLE)} SET active_generation = ?, building_generation = ?, "
            "last_generation = ? WHERE view = ?",
            (pointer.active, pointer.building, pointer.last, view),
        )

    def _create_generation(self, cursor: Any, projection: type[LedgerProjection], generation: int) -> None:
        for table in projection.tables:
            name = physical_name(table, generation)
            columns = ", ".join(f"{column} {self.types[kind]}" for column, kind in table.columns)
            self._run(cursor, f"CREATE TABLE IF NOT EXISTS {self.qualify(name)} ({columns}, "
                              f"PRIMARY KEY ({', '.join(table.key)}))")
            for index in table.indexes:
                index_name = f"{name}_{'_'.join(index)}_idx"
                self._run(cursor, f"CREATE INDEX IF NOT EXISTS {index_name} ON {self.qualify(name)} ({', '.join(index)})")
        self._run(cursor, self.insert_ignore(GENERATIONS_TABLE, ("view", "generation", "events"), ("view", "generation")),
                  (projection.name, generation, 0))

    def _drop_generation(self, cursor: Any, projection: type[LedgerProjection], generation: int) -> None:
        for table in projection.tables:
            self._run(cursor, f"DROP TABLE IF EXISTS {self.qualify(physical_name(table, generation))}")
        self._run(cursor, f"DELETE FROM {self.qualify(GENERATIONS_TABLE)} WHERE view = ? AND generation = ?",
                  (projection.name, generation))
        self._run(cursor, f"DELETE FROM {self.qualify(self.tracking_table)} WHERE application_name = ?",
                  (tracking_key(projection.name, generation),))

    def insert_ignore(self, table: str, columns: Sequence[str], key: Sequence[str]) -> str:
        return (f"INSERT INTO {self.qualify(table)} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)}) "
                f"ON CONFLICT ({', '.join(key)}) DO NOTHING")

    @property
    def tracking_table(self) -> str:
        raise NotImplementedError

    def ensure_view(self, projection: type[LedgerProjection]) -> Pointer:
        """Create the view's pointer and first generation on first use."""
        with self.write_transaction() as cursor:
            self._run(cursor, self.insert_ignore(POINTER_TABLE, ("view", "active_generation", "building_generation",
                                                                 "last_generation"), ("view",)),
                      (projection.name, 1, None, 1))
            pointer = self._pointer(cursor, projection.name)
            assert_pointer(pointer, projection.name)
            self._create_generation(cursor, projection, pointer.active)
            return pointer

    def pointer(self, view: str) -> Pointer | None:
        with self.read_transaction() as cursor:
            row = self._one(cursor, f"SELECT active_generation, building_generation, last_generation "
                                    f"FROM {self.qualify(POINTER_TABLE)} WHERE view = ?", (view,))
            return None if row is None else Pointer(*row)

    def position(self, view: str, generation: int) -> int:
        return self.max_tracking_id(tracking_key(view, generation)) or 0  # type: ignore[attr-defined]

    def begin_rebuild(self, projection: type[LedgerProjection]) -> int:
        """Start (or resume) filling a new generation; drop generations left over by crashes."""
        self.ensure_view(projection)
        with self.write_transaction() as cursor:
            pointer = self._pointer(cursor, projection.name)
            assert_pointer(pointer, projection.name)
            if pointer.building is None:
                pointer = Pointer(pointer.active, pointer.last + 1, pointer.last + 1)
                self._set_pointer(cursor, projection.name, pointer)
            self._create_generation(cursor, projection, pointer.building)  # type: ignore[arg-type]
            self._drop_stale(cursor, projection, pointer)
            return pointer.building  # type: ignore[return-value]

    def _drop_stale(self, cursor: Any, projection: type[LedgerProjection], pointer: Pointer) -> None:
        self._run(cursor, f"SELECT generation FROM {self.qualify(GENERATIONS_TABLE)} WHERE view = ?", (projection.name,))
        stale = [row[0] for row in map(self.as_tuple, cursor.fetchall()) if row[0] not in (pointer.active, pointer.building)]
        for generation in sorted(stale):
            self._drop_generation(cursor, projection, generation)

    def drop_retired(self, projection: type[LedgerProjection]) -> None:
        with self.write_transaction() as cursor:
            pointer = self._pointer(cursor, projection.name)
            if pointer is not None:
                self._drop_stale(cursor, projection, pointer)

    # --- the one write path ---------------------------------------------------------------
    def apply_events(
        self,
        projection: LedgerProjection,
        pairs: Sequence[tuple[Any, Tracking]],
        *,
        generation: int | None = None,
        switch: bool = False,
        before_commit: BeforeCommit | None = None,
    ) -> int:
        """Apply `pairs` (in notification order) to the active generation, or to the given
        generation being rebuilt; record the tracking of the last pair; with `switch`, put the
        rebuilt generation in service. All in one transaction. Returns the events applied."""
        view = projection.name
        with self.write_transaction() as cursor:
            pointer = self._pointer(cursor, view)
            assert_pointer(pointer, view)
            target = pointer.active if generation is None else generation
            if generation is not None and pointer.building != generation:
                if pointer.active == generation:
                    return 0  # another rebuild finished this generation already
                raise RebuildSupersededError(f"view {view}: generation {generation} is no longer being built")
            key = tracking_key(view, target)
            position = self._max_tracking_id(key, cursor) or 0  # type: ignore[attr-defined]
            fresh = [(event, tracking) for event, tracking in pairs if tracking.notification_id > position]
            if fresh:
                writer = ViewCursor(self, cursor, projection.tables, target)
                for event, _ in fresh:
                    projection.handle(event, writer)
                last = fresh[-1][1].notification_id
                self._insert_tracking(cursor, Tracking(key, last))  # type: ignore[attr-defined]
                self._run(cursor, f"UPDATE {self.qualify(GENERATIONS_TABLE)} SET events = events + ? "
                                  "WHERE view = ? AND generation = ?", (len(fresh), view, target))
            if switch:
                self._set_pointer(cursor, view, Pointer(target, None, pointer.last))
            if before_commit is not None:
                before_commit(view, target, fresh[-1][1].notification_id if fresh else position)
            return len(fresh)

    # --- reading ------------------------------------------------------------------------
    @contextmanager
    def reading(self, projection: type[LedgerProjection], generation: int | None = None) -> Iterator[ViewCursor]:
        """A read transaction on the generation in service (or a given one)."""
        with self.read_transaction() as cursor:
            if generation is None:
                row = self._one(cursor, f"SELECT active_generation FROM {self.qualify(POINTER_TABLE)} WHERE view = ?",
                                (projection.name,))
                if row is None:
                    raise LookupError(f"view {projection.name} does not exist yet: run `ledger project`")
                generation = row[0]
            yield ViewCursor(self, cursor, projection.tables, generation)

    def read(self, projection: type[LedgerProjection], use: Callable[[ViewCursor], Any]) -> Any:
        """Run `use` in a read transaction; retry when a rebuild dropped the tables meanwhile."""
        for attempt in range(READ_ATTEMPTS_MAX):
            try:
                with self.reading(projection) as reader:
                    return use(reader)
            except (OperationalError, ProgrammingError):
                if attempt + 1 == READ_ATTEMPTS_MAX:
                    raise
        raise AssertionError("unreachable")

    def summary(self, projection: type[LedgerProjection], generation: int | None = None) -> dict[str, Any]:
        """{"rows", "checksum", "events"}: a deterministic digest of the view's rows, taken in
        primary-key order (byte order of text on both backends), as canonical JSON lines."""
        digest = hashlib.sha256()
        rows = 0
        with self.reading(projection, generation) as reader:
            generation = reader.generation
            for table in sorted(projection.tables, key=lambda t: t.name):
                digest.update(f"#{table.name}\n".encode())
                order = ", ".join(k + (self.text_order if k in table.text_columns else "") for k in table.key)
                reader.execute(f"SELECT {', '.join(table.column_names)} FROM {{{table.name}}} ORDER BY {order}")
                while batch := self.fetchmany(reader.cursor, FETCH_ROWS_MAX):
                    for row in batch:
                        digest.update(json.dumps(self.as_tuple(row), separators=(",", ":"), ensure_ascii=False).encode())
                        digest.update(b"\n")
                    rows += len(batch)
            events_row = self._one(reader.cursor, f"SELECT events FROM {self.qualify(GENERATIONS_TABLE)} "
                                                   "WHERE view = ? AND generation = ?", (projection.name, generation))
        return {"rows": rows, "checksum": "sha256:" + digest.hexdigest(), "events": events_row[0] if events_row else 0}


def assert_pointer(pointer: Pointer | None, view: str) -> Pointer:
    if pointer is None:
        raise LookupError(f"view {view} has no generation pointer")
    return pointer


class SQLiteLedgerViews(_LedgerViews, SQLiteTrackingRecorder):
    dialect = "sqlite"
    types = {"text": "TEXT", "int": "INTEGER"}
    text_order = ""  # BINARY collation: byte order

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {POINTER_TABLE} (view TEXT PRIMARY KEY, active_generation INTEGER NOT NULL, "
            "building_generation INTEGER, last_generation INTEGER NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {GENERATIONS_TABLE} (view TEXT, generation INTEGER, events INTEGER NOT NULL, "
            "PRIMARY KEY (view, generation))",
        ]

    @property
    def tracking_table(self) -> str:
        return "tracking"

    @contextmanager
    def write_transaction(self) -> Iterator[Any]:
        # BEGIN IMMEDIATE takes the write lock up front: two processes catching up the same view
        # serialise here, and the second sees the first's tracking position.
        with self.datastore.get_connection(commit=True) as connection:
            cursor = connection.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield cursor
            except BaseException:
                connection.rollback()
                raise
            connection.commit()

    @contextmanager
    def read_transaction(self) -> Iterator[Any]:
        with self.datastore.transaction(commit=False) as cursor:
            yield cursor

    def fetchmany(self, cursor: Any, size: int) -> list[Any]:
        return cursor.sqlite_cursor.fetchmany(size)


class PostgresLedgerViews(_LedgerViews, PostgresTrackingRecorder):
    dialect = "postgres"
    types = {"text": "TEXT", "int": "BIGINT"}
    text_order = ' COLLATE "C"'  # byte order, like SQLite, whatever the database locale

    def __init__(self, datastore: Any, **kwargs: Any):
        super().__init__(datastore, **kwargs)
        schema = Identifier(self.datastore.schema)
        self.sql_create_statements.extend([
            SQL("CREATE TABLE IF NOT EXISTS {0}.{1} (view TEXT PRIMARY KEY, active_generation BIGINT NOT NULL, "
                "building_generation BIGINT, last_generation BIGINT NOT NULL)").format(schema, Identifier(POINTER_TABLE)),
            SQL("CREATE TABLE IF NOT EXISTS {0}.{1} (view TEXT, generation BIGINT, events BIGINT NOT NULL, "
                "PRIMARY KEY (view, generation))").format(schema, Identifier(GENERATIONS_TABLE)),
        ])

    def qualify(self, name: str) -> str:
        return f'"{self.datastore.schema}"."{name}"'

    def paramstyle(self, sql: str) -> str:
        return sql.replace("?", "%s")

    @staticmethod
    def as_tuple(row: Any) -> tuple:
        return tuple(row.values()) if isinstance(row, dict) else tuple(row)

    @property
    def tracking_table(self) -> str:
        return self.tracking_table_name

    def lock_pointer_sql(self) -> str:
        return super().lock_pointer_sql() + " FOR UPDATE"

    @contextmanager
    def write_transaction(self) -> Iterator[Any]:
        with self.datastore.transaction(commit=True) as cursor:
            yield cursor

    @contextmanager
    def read_transaction(self) -> Iterator[Any]:
        with self.datastore.transaction(commit=False) as cursor:
            yield cursor


_OPENED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def open_views(app: Any) -> _LedgerViews:
    """The view recorder beside the application's event store (created on first use; one per
    application object, so every runner of an in-memory application sees the same views)."""
    recorder = _OPENED.get(app)
    if recorder is None:
        recorder = _OPENED[app] = _construct_views(app)
    return recorder


def _construct_views(app: Any) -> _LedgerViews:
    factory = app.factory
    if isinstance(factory, PostgresFactory):
        recorder: _LedgerViews = factory.tracking_recorder(PostgresLedgerViews)
    elif isinstance(factory, SQLiteFactory):
        recorder = factory.tracking_recorder(SQLiteLedgerViews)
    else:  # the in-memory store: views in a private in-memory SQLite database
        datastore = SQLiteDatastore(db_name=f"file:ledger_views_{uuid.uuid4().hex}?mode=memory&cache=shared")
        recorder = SQLiteLedgerViews(datastore)
        recorder.create_table()
    for projection in PROJECTIONS:
        recorder.ensure_view(projection)
    return recorder
