"""The PostgreSQL adapter: the library's PostgreSQL process recorder, writing through
`ArrayInserts` (infra.storage.postgres_inserts), with the ledger's reads and the side tables in
the same schema.

Every read sends its id arrays in binary (`%b`): in text, psycopg checks every element for
quoting with a regular expression. `LedgerPostgresFactory` is the library's factory with bounded
waits on every connection of its one datastore (event store, snapshots, views, side tables):
connect timeout, TCP keepalives, tcp_user_timeout and a server-side statement_timeout
(infra.storage.opening). What these cannot bound: a peer that keeps acknowledging TCP but never
answers (a stalled proxy or load balancer in between) after a statement has reached the server:
keepalives and tcp_user_timeout see a live TCP peer, and statement_timeout runs on a server that
never got the statement. Only a client-side deadline would end that wait; there is none here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, ClassVar
from uuid import UUID

import psycopg
from eventsourcing.persistence import AggregateRecorder, Notification, StoredEvent
from eventsourcing.postgres import PostgresDatastore, PostgresFactory, PostgresProcessRecorder
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed, Identifier

from infra.storage.base import BulkReader, LedgerRecorder, LogRow, Run, SideTables, as_bytes
from infra.storage.pg_arrays import BigintArray, UuidArray
from infra.storage.postgres_inserts import ArrayInserts
from infra.store_urls import is_postgres_url, split_schema

SNAPSHOT_PAGE = 500


class PostgresSideTables(SideTables):
    unique_violation = (psycopg.errors.UniqueViolation,)

    def __init__(self, datastore: PostgresDatastore):
        super().__init__()
        self.datastore = datastore
        self.schema = datastore.schema

    def _cursor(self, commit: bool) -> AbstractContextManager[Any]:
        return self.datastore.transaction(commit=commit)

    def _dialect(self, sql: str) -> str:
        """`?` as `%s`, a literal `%` doubled first."""
        return sql.replace("%", "%%").replace("?", "%s")

    def qualify(self, table: str) -> str:
        return '"' + self.schema.replace('"', '""') + '"."' + table.replace('"', '""') + '"'

    def exists(self, table: str) -> bool:
        with self.transaction(commit=False) as run:
            return bool(run("SELECT to_regclass(?) IS NOT NULL AS present", (self.qualify(table),), True)[0]["present"])

    def lock(self, run: Run, table: str) -> None:
        run(f"LOCK TABLE {{{table}}} IN EXCLUSIVE MODE")

    def columns(self, table: str) -> set[str]:
        with self.transaction(commit=False) as run:
            rows = run(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
                (self.schema, table),
                True,
            )
        return {row["column_name"] for row in rows}


class PostgresLedgerRecorder(ArrayInserts, PostgresProcessRecorder, LedgerRecorder):
    dialect: ClassVar[str] = "postgres"

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any):
        super().__init__(datastore, **kwargs)
        self.tables = PostgresSideTables(datastore)

    def _sql(self, template: str, *tables: str) -> Composed:
        return SQL(template).format(
            *(SQL("{}.{}").format(Identifier(self.datastore.schema), Identifier(t)) for t in tables)
        )

    def events_of(self, originator_id: UUID) -> list[Notification]:
        statement = self._sql(
            "SELECT notification_id, originator_version, topic, state FROM {} "
            "WHERE originator_id = %s ORDER BY originator_version",
            self.events_table_name,
        )
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, (originator_id,))
            rows = cursor.fetchall()
        return [
            Notification(
                id=row["notification_id"],
                originator_id=originator_id,
                originator_version=row["originator_version"],
                topic=row["topic"],
                state=as_bytes(row["state"]),
            )
            for row in rows
        ]

    def positions_below_start(self, limit: int) -> list[int]:
        statement = self._sql(
            "SELECT notification_id FROM {} WHERE notification_id < 1 ORDER BY notification_id LIMIT %s",
            self.events_table_name,
        )
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, (limit,))
            return [row["notification_id"] for row in cursor.fetchall()]

    def log_rows(self, after: int, limit: int, topics: frozenset[str]) -> list[LogRow]:
        """One keyset page, read directly: the originator id as text, the state only for `topics`."""
        statement = self._sql(
            "SELECT notification_id, originator_id::text, originator_version, topic, "
            "CASE WHEN topic = ANY(%s) THEN state END FROM {} WHERE notification_id > %s "
            "ORDER BY notification_id LIMIT %s",
            self.events_table_name,
        )
        with self.datastore.get_connection() as connection, connection.cursor(row_factory=tuple_row) as cursor:
            cursor.execute(statement, (sorted(topics), after, limit), prepare=True)
            return cursor.fetchall()

    def replica_lag(self, primary_db: str) -> tuple[int | None, str]:
        """(bytes of WAL this store, a replica, had not replayed yet; a description of the server
        read). The replica's replayed position is taken first, then the primary's current one,
        so the figure is an upper bound of how stale the answer is; 0 when the server read is a
        primary, None when the primary cannot be asked (down, or not PostgreSQL)."""
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                "SELECT pg_is_in_recovery() AS standby, pg_last_wal_replay_lsn()::text AS replayed, "
                "inet_server_port() AS port"
            )
            row = cursor.fetchone()
        if row is None or not row["standby"]:
            return 0, f"a primary (port {row['port'] if row else '?'}), not a standby"
        where = f"standby on port {row['port']}"
        if not is_postgres_url(primary_db):
            return None, where
        try:
            with psycopg.connect(split_schema(primary_db)[0], connect_timeout=3, autocommit=True) as conn:
                primary = conn.execute(
                    "SELECT pg_is_in_recovery(), CASE WHEN pg_is_in_recovery() "
                    "THEN NULL ELSE pg_current_wal_lsn()::text END"
                ).fetchone()
        except psycopg.Error:  # the primary is down or unreachable: the lag is unknown, the answer stands
            return None, where
        if primary is None or primary[0] or primary[1] is None:
            return None, where
        return max(0, _lsn(primary[1]) - _lsn(row["replayed"])), where

    def all_snapshots(self, snapshots: AggregateRecorder) -> Iterator[StoredEvent]:
        table = getattr(snapshots, "events_table_name", "familyledger_snapshots")
        statement = self._sql(
            "SELECT originator_id, originator_version, topic, state FROM {} WHERE (originator_id, originator_version) "
            "> (%s::uuid, %s) ORDER BY originator_id, originator_version LIMIT %s",
            table,
        )
        after: tuple[Any, int] = ("00000000-0000-0000-0000-000000000000", -1)
        while True:
            with self.datastore.transaction(commit=False) as cursor:
                cursor.execute(statement, (*after, SNAPSHOT_PAGE))
                rows = cursor.fetchall()
            yield from (_stored(row) for row in rows)
            if len(rows) < SNAPSHOT_PAGE:
                return
            after = (rows[-1]["originator_id"], rows[-1]["originator_version"])

    @contextmanager
    def bulk_reader(self, snapshots: AggregateRecorder | None) -> Iterator[BulkReader]:
        """On one connection, each statement on its own, outside a transaction: under READ
        COMMITTED a transaction gives every statement its own snapshot too, so a BEGIN and a
        ROLLBACK around the reads were two round trips that bought nothing. The events query
        runs after the snapshot query it continues, so it sees at least what that one saw."""
        with self.datastore.cursor() as cursor:
            yield _PostgresBulkReader(self, cursor, getattr(snapshots, "events_table_name", None))


class _PostgresBulkReader:
    """Bulk loads as one statement each over `unnest` of the id arrays, on one read cursor."""

    def __init__(self, recorder: PostgresLedgerRecorder, cursor: Any, snapshots_table: str | None):
        self.recorder = recorder
        self.cursor = cursor
        self.snapshots_table = snapshots_table

    def latest_snapshots(self, ids: Sequence[UUID]) -> list[StoredEvent]:
        if not ids or self.snapshots_table is None:
            return []
        self.cursor.execute(
            self.recorder._sql(
                "SELECT s.originator_id, s.originator_version, s.topic, s.state FROM unnest(%b::uuid[]) AS k(id) "
                "CROSS JOIN LATERAL (SELECT originator_id, originator_version, topic, state FROM {} "
                "WHERE originator_id = k.id ORDER BY originator_version DESC LIMIT 1) AS s",
                self.snapshots_table,
            ),
            (UuidArray(ids),),
        )
        return [_stored(row) for row in self.cursor.fetchall()]

    def events_after(self, ids: Sequence[UUID], versions: Sequence[int]) -> list[StoredEvent]:
        if not ids:
            return []
        self.cursor.execute(
            self.recorder._sql(
                "SELECT e.originator_id, e.originator_version, e.topic, e.state "
                "FROM unnest(%b::uuid[], %b::bigint[]) AS k(id, gt) "
                "CROSS JOIN LATERAL (SELECT originator_id, originator_version, topic, state FROM {} "
                "WHERE originator_id = k.id AND originator_version > k.gt ORDER BY originator_version) AS e",
                self.recorder.events_table_name,
            ),
            (UuidArray(ids), BigintArray(versions)),
        )
        return [_stored(row) for row in self.cursor.fetchall()]


def _lsn(text: str) -> int:
    high, low = text.split("/")
    return (int(high, 16) << 32) + int(low, 16)


def _stored(row: dict[str, Any]) -> StoredEvent:
    return StoredEvent(
        originator_id=row["originator_id"],
        originator_version=row["originator_version"],
        topic=row["topic"],
        state=bytes(row["state"]),
    )


class LedgerPostgresFactory(PostgresFactory):
    """The library's PostgreSQL factory: every connection of its datastore gets the libpq
    parameters of `infra.storage.opening.libpq_kwargs` (passed in the environment), and the
    application records through `PostgresLedgerRecorder`."""

    def __init__(self, env: Any):
        super().__init__(env)
        raw = self.env.get("LEDGER_PG_LIBPQ_KWARGS")
        kwargs = self.datastore.pool.kwargs
        if raw and isinstance(kwargs, dict):  # the library builds the pool with a dict of libpq kwargs
            kwargs.update(json.loads(raw))

    def application_recorder(self) -> PostgresLedgerRecorder:
        prefix = self.env.name.lower() or "stored"
        recorder = PostgresLedgerRecorder(
            datastore=self.datastore,
            events_table_name=prefix + "_events",
            tracking_table_name=(self.env.name.lower() or "notification") + "_tracking",
        )
        timeout = self.env.get("LEDGER_PG_COMMIT_OUTCOME_TIMEOUT_S")
        if timeout:
            recorder.commit_outcome_timeout_s = float(timeout)
        if self.env_create_table():
            recorder.create_table()
        return recorder
