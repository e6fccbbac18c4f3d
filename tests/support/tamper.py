"""Direct edits of the stored events, as an attacker with database access would make them."""

from __future__ import annotations

import sqlite3
from typing import Any

from infra.store_urls import is_postgres_url, split_schema


class SQLiteTamper:
    def __init__(self, path: str, table: str = "stored_events"):
        self.path = path
        self.table = table

    def _run(self, *statements: tuple[str, tuple]) -> list[Any]:
        with sqlite3.connect(self.path) as conn:
            out = [conn.execute(sql, params).fetchall() for sql, params in statements]
        conn.close()
        return out

    def row(self, position: int) -> tuple:
        return self._run(
            (f"SELECT originator_id, originator_version, topic, state FROM {self.table} WHERE rowid=?", (position,))
        )[0][0]

    def set_state(self, position: int, state: bytes) -> None:
        self._run((f"UPDATE {self.table} SET state=? WHERE rowid=?", (state, position)))

    def delete(self, position: int) -> None:
        self._run((f"DELETE FROM {self.table} WHERE rowid=?", (position,)))

    def swap(self, first: int, second: int) -> None:
        a, b = self.row(first), self.row(second)
        update = f"UPDATE {self.table} SET originator_id=?, originator_version=?, topic=?, state=? WHERE rowid=?"
        self._run((update, ("tmp", -1, "tmp", b"", first)), (update, (*a, second)), (update, (*b, first)))

    def insert(self, position: int, originator_id: str, version: int, topic: str, state: bytes) -> None:
        self._run(
            (
                f"INSERT INTO {self.table} (rowid, originator_id, originator_version, topic, state) VALUES (?,?,?,?,?)",
                (position, originator_id, version, topic, state),
            )
        )

    def make_gap_before_last(self, size: int) -> int:
        """Move the last row `size` positions on (before sealing): positions in between are free."""
        last = self._run((f"SELECT max(rowid) FROM {self.table}", ()))[0][0][0]
        self._run((f"UPDATE {self.table} SET rowid=rowid+? WHERE rowid=?", (size, last)))
        return last

    def execute(self, sql: str, params: tuple = ()) -> None:
        self._run((sql, params))


class PostgresTamper:
    def __init__(self, url: str, table: str = "familyledger_events"):
        self.table = table
        self.base, self.schema = split_schema(url)

    def _run(self, *statements: tuple[str, tuple]) -> list[Any]:
        import psycopg

        out = []
        with psycopg.connect(self.base, autocommit=False) as conn:
            conn.execute(f"SET search_path TO {self.schema}")
            for sql, params in statements:
                cursor = conn.execute(sql, params)
                out.append(cursor.fetchall() if cursor.description else None)
        return out

    def row(self, position: int) -> tuple:
        return self._run(
            (
                f"SELECT originator_id, originator_version, topic, state FROM {self.table} WHERE notification_id=%s",
                (position,),
            )
        )[0][0]

    def set_state(self, position: int, state: bytes) -> None:
        self._run((f"UPDATE {self.table} SET state=%s WHERE notification_id=%s", (state, position)))

    def delete(self, position: int) -> None:
        self._run((f"DELETE FROM {self.table} WHERE notification_id=%s", (position,)))

    def swap(self, first: int, second: int) -> None:
        a, b = self.row(first), self.row(second)
        update = (
            f"UPDATE {self.table} SET originator_id=%s, originator_version=%s, topic=%s, state=%s "
            "WHERE notification_id=%s"
        )
        self._run((update, (a[0], -1, "tmp", b"", first)), (update, (*a, second)), (update, (*b, first)))

    def insert(self, position: int, originator_id: str, version: int, topic: str, state: bytes) -> None:
        self._run(
            (
                f"INSERT INTO {self.table} (notification_id, originator_id, originator_version, topic, state) "
                "VALUES (%s,%s,%s,%s,%s)",
                (position, originator_id, version, topic, state),
            )
        )

    def make_gap_before_last(self, size: int) -> int:
        last = self._run((f"SELECT max(notification_id) FROM {self.table}", ()))[0][0][0]
        self._run(
            (f"UPDATE {self.table} SET notification_id=notification_id+%s WHERE notification_id=%s", (size, last)),
            (f"SELECT setval(pg_get_serial_sequence('{self.table}', 'notification_id'), %s)", (last + size,)),
        )
        return last

    def execute(self, sql: str, params: tuple = ()) -> None:
        self._run((sql.replace("?", "%s"), params))


def tamper_for(url: str, table: str | None = None) -> SQLiteTamper | PostgresTamper:
    """The attacker's tool for the store at `url` (a SQLite file or a PostgreSQL ?schema= URL),
    on the events table unless another table is named."""
    if is_postgres_url(url):
        return PostgresTamper(url, table) if table else PostgresTamper(url)
    return SQLiteTamper(url, table) if table else SQLiteTamper(url)
