"""The view recorder's dialect-free part: creating and dropping generations, moving the pointer,
reading positions, writing a page of views' rows with their tracking in one transaction, and
reading a generation back. The names of generations and the pointer are in `generations`, the
query cursor in `view_cursor`, the dialects in `sqlite` and `postgres` beside this module;
`infra.readmodels.views` (the package) opens the right one and documents the tables."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

from eventsourcing.persistence import OperationalError, ProgrammingError, Tracking

from infra.readmodels.views.generations import (
    GENERATIONS_TABLE,
    POINTER_TABLE,
    BeforeCommit,
    Pointer,
    RebuildSupersededError,
    assert_pointer,
    fresh_pairs,
    physical_name,
    tracking_key,
)
from infra.readmodels.views.view_cursor import ViewCursor
from projections.base import LedgerProjection, Record, record_of
from projections.changes import Key, PageChanges, Row, TableWrites
from projections.tables import Table

FETCH_ROWS_MAX = 1000
READ_ATTEMPTS_MAX = 3

_ROW_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)  # = json.dumps(row, those options)


class _LedgerViews:
    """Dialect-independent view logic, mixed into the library's tracking recorders."""

    dialect: str = ""
    types: ClassVar[dict[str, str]] = {}
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

    def pointer_sql(self) -> str:
        return (
            f"SELECT active_generation, building_generation, last_generation "
            f"FROM {self.qualify(POINTER_TABLE)} WHERE view = ?"
        )

    def lock_pointer_sql(self) -> str:
        return self.pointer_sql()

    def fetchmany(self, cursor: Any, size: int) -> list[Any]:
        return cursor.fetchmany(size)

    def stream(self, cursor: Any, sql: str) -> Iterator[list[Any]]:
        """The rows of a query in batches of at most FETCH_ROWS_MAX, without holding them all."""
        cursor.execute(sql)
        while batch := self.fetchmany(cursor, FETCH_ROWS_MAX):
            yield batch

    def load_rows(self, cursor: Any, table: Table, name: str, keys: list[Key]) -> dict[Key, Row]:
        """The current rows of these keys in the physical table `name` (absent keys left out)."""
        raise NotImplementedError

    def write_rows(self, cursor: Any, name: str, writes: TableWrites) -> None:
        """A page's net writes to the physical table `name`: deletes, puts, then adds."""
        raise NotImplementedError

    @staticmethod
    def put_sql(name: str, table: Table, values: str) -> str:
        """INSERT full rows, or overwrite every column of the existing ones."""
        updates = ", ".join(f"{c} = excluded.{c}" for c in table.value_columns) or None
        action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
        return (
            f"INSERT INTO {name} ({', '.join(table.column_names)}) {values} "
            f"ON CONFLICT ({', '.join(table.key)}) {action}"
        )

    @staticmethod
    def add_sql(name: str, table: Table, values: str) -> str:
        """INSERT rows of counters, or add them to the existing ones."""
        updates = ", ".join(f"{c} = cur.{c} + excluded.{c}" for c in table.value_columns)
        return (
            f"INSERT INTO {name} AS cur ({', '.join(table.column_names)}) {values} "
            f"ON CONFLICT ({', '.join(table.key)}) DO UPDATE SET {updates}"
        )

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
            self._run(
                cursor,
                f"CREATE TABLE IF NOT EXISTS {self.qualify(name)} ({columns}, PRIMARY KEY ({', '.join(table.key)}))",
            )
            for index in table.indexes:
                index_name = f"{name}_{'_'.join(index)}_idx"
                self._run(
                    cursor, f"CREATE INDEX IF NOT EXISTS {index_name} ON {self.qualify(name)} ({', '.join(index)})"
                )
        self._run(
            cursor,
            self.insert_ignore(GENERATIONS_TABLE, ("view", "generation", "events"), ("view", "generation")),
            (projection.name, generation, 0),
        )

    def _drop_generation(self, cursor: Any, projection: type[LedgerProjection], generation: int) -> None:
        for table in projection.tables:
            self._run(cursor, f"DROP TABLE IF EXISTS {self.qualify(physical_name(table, generation))}")
        self._run(
            cursor,
            f"DELETE FROM {self.qualify(GENERATIONS_TABLE)} WHERE view = ? AND generation = ?",
            (projection.name, generation),
        )
        self._run(
            cursor,
            f"DELETE FROM {self.qualify(self.tracking_table)} WHERE application_name = ?",
            (tracking_key(projection.name, generation),),
        )

    def insert_ignore(self, table: str, columns: Sequence[str], key: Sequence[str]) -> str:
        return (
            f"INSERT INTO {self.qualify(table)} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)}) "
            f"ON CONFLICT ({', '.join(key)}) DO NOTHING"
        )

    @property
    def tracking_table(self) -> str:
        raise NotImplementedError

    def ensure_view(self, projection: type[LedgerProjection]) -> Pointer:
        """Create the view's pointer and first generation on first use."""
        with self.write_transaction() as cursor:
            self._run(
                cursor,
                self.insert_ignore(
                    POINTER_TABLE, ("view", "active_generation", "building_generation", "last_generation"), ("view",)
                ),
                (projection.name, 1, None, 1),
            )
            pointer = self._pointer(cursor, projection.name)
            pointer = assert_pointer(pointer, projection.name)
            self._create_generation(cursor, projection, pointer.active)
            return pointer

    def pointer(self, view: str) -> Pointer | None:
        with self.read_transaction() as cursor:
            return self._read_pointer(cursor, view)

    def _read_pointer(self, cursor: Any, view: str) -> Pointer | None:
        row = self._one(cursor, self.pointer_sql(), (view,))
        return None if row is None else Pointer(*row)

    def position(self, view: str, generation: int) -> int:
        return self.max_tracking_id(tracking_key(view, generation)) or 0  # type: ignore[attr-defined]

    def active_positions(self, views: Sequence[str]) -> dict[str, int]:
        """Each view's position in its active generation (0 for a view not created yet), all read
        in one transaction: the views follower asks before every round, and a pointer and a
        position read apart cost two transactions a view (a fifth of the follower's time)."""
        with self.read_transaction() as cursor:
            found = {}
            for view in views:
                pointer = self._read_pointer(cursor, view)
                if pointer is None:  # not created yet
                    found[view] = 0
                    continue
                key = tracking_key(view, pointer.active)
                found[view] = self._max_tracking_id(key, cursor) or 0  # type: ignore[attr-defined]
            return found

    def begin_rebuild(self, projection: type[LedgerProjection]) -> int:
        """Start (or resume) filling a new generation; drop generations left over by crashes."""
        self.ensure_view(projection)
        with self.write_transaction() as cursor:
            pointer = self._pointer(cursor, projection.name)
            pointer = assert_pointer(pointer, projection.name)
            if pointer.building is None:
                pointer = Pointer(pointer.active, pointer.last + 1, pointer.last + 1)
                self._set_pointer(cursor, projection.name, pointer)
            self._create_generation(cursor, projection, pointer.building)  # type: ignore[arg-type]
            self._drop_stale(cursor, projection, pointer)
            return pointer.building  # type: ignore[return-value]

    def _drop_stale(self, cursor: Any, projection: type[LedgerProjection], pointer: Pointer) -> None:
        self._run(
            cursor, f"SELECT generation FROM {self.qualify(GENERATIONS_TABLE)} WHERE view = ?", (projection.name,)
        )
        stale = [
            row[0] for row in map(self.as_tuple, cursor.fetchall()) if row[0] not in (pointer.active, pointer.building)
        ]
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
        with self.write_transaction() as cursor:
            return self._apply(cursor, projection, pairs, generation, switch, before_commit)

    def apply_page(
        self,
        pages: Sequence[tuple[LedgerProjection, Sequence[tuple[Any, Tracking]]]],
        before_commit: BeforeCommit | None = None,
    ) -> dict[str, int]:
        """A page of the log for several views' active generations, in one transaction (each
        view's rows with its own tracking, as `apply_events` writes them): the views follower
        catches all the views up at once, one commit a round instead of one a view. Returns the
        events applied per view."""
        with self.write_transaction() as cursor:
            return {p.name: self._apply(cursor, p, pairs, None, False, before_commit) for p, pairs in pages}

    def _apply(
        self,
        cursor: Any,
        projection: LedgerProjection,
        pairs: Sequence[tuple[Any, Tracking]],
        generation: int | None,
        switch: bool,
        before_commit: BeforeCommit | None,
    ) -> int:
        view = projection.name
        pointer = assert_pointer(self._pointer(cursor, view), view)
        target = pointer.active if generation is None else generation
        if generation is not None and pointer.building != generation:
            if pointer.active == generation:
                return 0  # another rebuild finished this generation already
            raise RebuildSupersededError(f"view {view}: generation {generation} is no longer being built")
        key = tracking_key(view, target)
        position = self._max_tracking_id(key, cursor) or 0  # type: ignore[attr-defined]
        fresh = fresh_pairs(pairs, position)
        if fresh:
            # Inline: pages from the runner hold records (or None); the library's entry point gives events.
            records = [e if e is None or type(e) is dict else record_of(e) for e, _ in fresh]
            self._write_page(cursor, projection, target, records)
            last = fresh[-1][1].notification_id
            self._insert_tracking(cursor, Tracking(key, last))  # type: ignore[attr-defined]
            self._run(
                cursor,
                f"UPDATE {self.qualify(GENERATIONS_TABLE)} SET events = events + ? WHERE view = ? AND generation = ?",
                (len(fresh), view, target),
            )
        if switch:
            self._set_pointer(cursor, view, Pointer(target, None, pointer.last))
        if before_commit is not None:
            before_commit(view, target, fresh[-1][1].notification_id if fresh else position)
        return len(fresh)

    def _write_page(
        self, cursor: Any, projection: LedgerProjection, generation: int, records: list[Record | None]
    ) -> None:
        names = {t.name: self.qualify(physical_name(t, generation)) for t in projection.tables}
        changes = PageChanges(
            projection.tables, lambda table, keys: self.load_rows(cursor, table, names[table.name], keys)
        )
        projection.prepare(records, changes)
        projection.handle_page(records, changes)
        for writes in changes.writes():
            self.write_rows(cursor, names[writes.table.name], writes)

    # --- reading ------------------------------------------------------------------------
    @contextmanager
    def reading(self, projection: type[LedgerProjection], generation: int | None = None) -> Iterator[ViewCursor]:
        """A read transaction on the generation in service (or a given one)."""
        with self.read_transaction() as cursor:
            if generation is None:
                pointer = self._read_pointer(cursor, projection.name)
                if pointer is None:
                    raise LookupError(f"view {projection.name} does not exist yet: run `ledger project`")
                generation = pointer.active
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
                sql = reader.compile(f"SELECT {', '.join(table.column_names)} FROM {{{table.name}}} ORDER BY {order}")
                for batch in self.stream(reader.cursor, sql):
                    for row in batch:
                        digest.update(_ROW_ENCODER.encode(self.as_tuple(row)).encode())
                        digest.update(b"\n")
                    rows += len(batch)
            events_row = self._one(
                reader.cursor,
                f"SELECT events FROM {self.qualify(GENERATIONS_TABLE)} WHERE view = ? AND generation = ?",
                (projection.name, generation),
            )
        return {"rows": rows, "checksum": "sha256:" + digest.hexdigest(), "events": events_row[0] if events_row else 0}
