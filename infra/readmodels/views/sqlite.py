"""The views on SQLite: the library's `SQLiteTrackingRecorder`, extended with the view tables."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from eventsourcing.sqlite import SQLiteTrackingRecorder

from infra.readmodels.views.base import _LedgerViews
from infra.readmodels.views.generations import GENERATIONS_TABLE, POINTER_TABLE
from projections.changes import Key, Row, TableWrites
from projections.tables import Table


class SQLiteLedgerViews(_LedgerViews, SQLiteTrackingRecorder):
    dialect = "sqlite"
    types: ClassVar[dict[str, str]] = {"text": "TEXT", "int": "INTEGER"}
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

    def load_rows(self, cursor: Any, table: Table, name: str, keys: list[Key]) -> dict[Key, Row]:
        # In-process point lookups on the primary key: as cheap as any batched form.
        sql = f"SELECT {', '.join(table.column_names)} FROM {name} WHERE " + " AND ".join(f"{k} = ?" for k in table.key)
        found = {}
        for key in keys:
            cursor.execute(sql, key)
            row = cursor.fetchone()
            if row is not None:
                found[key] = tuple(row)
        return found

    def write_rows(self, cursor: Any, name: str, writes: TableWrites) -> None:
        table = writes.table
        values = f"VALUES ({', '.join('?' for _ in table.columns)})"
        if writes.deletes:
            cursor.executemany(
                f"DELETE FROM {name} WHERE " + " AND ".join(f"{k} = ?" for k in table.key), writes.deletes
            )
        if writes.puts:
            cursor.executemany(self.put_sql(name, table, values), writes.puts)
        if writes.adds:
            cursor.executemany(self.add_sql(name, table, values), writes.adds)
