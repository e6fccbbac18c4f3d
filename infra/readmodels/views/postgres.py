"""The views on PostgreSQL: the library's `PostgresTrackingRecorder`, extended with the view
tables; rows are written in bulk (COPY into a staging table, `unnest` of column arrays)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

from eventsourcing.postgres import PostgresTrackingRecorder
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from infra.readmodels.views.base import FETCH_ROWS_MAX, _LedgerViews
from infra.readmodels.views.generations import GENERATIONS_TABLE, POINTER_TABLE
from projections.changes import Key, Row, TableWrites
from projections.tables import Table


class PostgresLedgerViews(_LedgerViews, PostgresTrackingRecorder):
    dialect = "postgres"
    types: ClassVar[dict[str, str]] = {"text": "TEXT", "int": "BIGINT"}
    text_order = ' COLLATE "C"'  # byte order, like SQLite, whatever the database locale

    def __init__(self, datastore: Any, **kwargs: Any):
        super().__init__(datastore, **kwargs)
        schema = Identifier(self.datastore.schema)
        self.sql_create_statements.extend(
            [
                SQL(
                    "CREATE TABLE IF NOT EXISTS {0}.{1} (view TEXT PRIMARY KEY, active_generation BIGINT NOT NULL, "
                    "building_generation BIGINT, last_generation BIGINT NOT NULL)"
                ).format(schema, Identifier(POINTER_TABLE)),
                SQL(
                    "CREATE TABLE IF NOT EXISTS {0}.{1} (view TEXT, generation BIGINT, events BIGINT NOT NULL, "
                    "PRIMARY KEY (view, generation))"
                ).format(schema, Identifier(GENERATIONS_TABLE)),
            ]
        )

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

    def stream(self, cursor: Any, sql: str) -> Iterator[list[Any]]:
        # A server-side cursor: a client-side one would hold the whole result (a large view's
        # every row) in the client's memory before the first batch.
        with cursor.connection.cursor(name="ledger_view_rows", row_factory=tuple_row) as rows:
            rows.execute(sql)
            while batch := rows.fetchmany(FETCH_ROWS_MAX):
                yield batch

    def _unnest(self, table: Table, columns: Sequence[str]) -> str:
        kinds = dict(table.columns)
        return f"unnest({', '.join(f'%s::{self.types[kinds[c]]}[]' for c in columns)})"

    @staticmethod
    def _arrays(rows: list[tuple], width: int) -> list[list[Any]]:
        return [list(column) for column in zip(*rows, strict=False)] if rows else [[] for _ in range(width)]

    def load_rows(self, cursor: Any, table: Table, name: str, keys: list[Key]) -> dict[Key, Row]:
        key_list = ", ".join(table.key)
        cursor.execute(
            f"SELECT {', '.join(table.column_names)} FROM {name} WHERE ({key_list}) IN "
            f"(SELECT * FROM {self._unnest(table, table.key)})",
            self._arrays(keys, len(table.key)),
        )
        width = len(table.key)
        return {row[:width]: row for row in map(self.as_tuple, cursor.fetchall())}

    def write_rows(self, cursor: Any, name: str, writes: TableWrites) -> None:
        table = writes.table
        if writes.deletes:
            cursor.execute(
                f"DELETE FROM {name} WHERE ({', '.join(table.key)}) IN "
                f"(SELECT * FROM {self._unnest(table, table.key)})",
                self._arrays(writes.deletes, len(table.key)),
            )
        if writes.puts:
            cursor.execute(self.put_sql(name, table, self._stage(cursor, table, writes.puts)))
        if writes.adds:
            cursor.execute(self.add_sql(name, table, self._stage(cursor, table, writes.adds)))

    def _stage(self, cursor: Any, table: Table, rows: list[Row]) -> str:
        """COPY the rows into a session-private staging table (emptied at every commit) and
        return the SELECT that reads them: COPY then one INSERT ... SELECT ... ON CONFLICT is
        about twice as fast on the server as the same rows sent as unnest() arrays.
        Used at most once per table per transaction (one put or add per table per page)."""
        stage = f"lv_stage_{table.name}"
        columns = ", ".join(f"{column} {self.types[kind]}" for column, kind in table.columns)
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} ({columns}) ON COMMIT DELETE ROWS")
        with cursor.copy(f"COPY {stage} ({', '.join(table.column_names)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return f"SELECT {', '.join(table.column_names)} FROM {stage}"

    @contextmanager
    def write_transaction(self) -> Iterator[Any]:
        with self.datastore.transaction(commit=True) as cursor:
            yield cursor

    @contextmanager
    def read_transaction(self) -> Iterator[Any]:
        with self.datastore.transaction(commit=False) as cursor:
            yield cursor
