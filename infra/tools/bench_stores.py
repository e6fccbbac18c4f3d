"""The stores `ledger bench` measures on: a sibling store next to the given one, an identical
copy of a stored history in it, and group commit timed on a ledger."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, cast

import psycopg
from psycopg.sql import SQL, Identifier

from infra.core.ledger import Ledger
from infra.settings import Settings
from infra.storage.postgres import PostgresLedgerRecorder
from infra.store_urls import split_schema
from infra.tools.bench_raw import remove_sqlite


def copy_history(source_ledger: Ledger, target_ledger: Ledger, history: list[str], batch_size: int) -> None:
    """Give the fresh `target` store the same stored history as `source` (untimed).

    On PostgreSQL the events and snapshots are copied row for row, in notification order; other
    backends apply the same commands again with group commit, which stores the same events."""
    if not source_ledger.settings.is_postgres:
        for _ in target_ledger.commands.stream(history, batch_size=batch_size):
            pass
        return
    source = cast(PostgresLedgerRecorder, source_ledger.app.recorder)
    target = cast(PostgresLedgerRecorder, target_ledger.app.recorder)
    snapshots = source_ledger.app.snapshots
    tables = [(source.events_table_name, "ORDER BY notification_id")]
    if snapshots is not None:
        tables.append((cast(PostgresLedgerRecorder, snapshots.recorder).events_table_name, ""))
    from_schema = Identifier(source.datastore.schema)
    to_schema = Identifier(target.datastore.schema)
    with target.datastore.transaction(commit=True) as cursor:
        for table, order in tables:
            cursor.execute(
                SQL(
                    "INSERT INTO {}.{} (originator_id, originator_version, topic, state) "
                    "SELECT originator_id, originator_version, topic, state FROM {}.{} " + order
                ).format(to_schema, Identifier(table), from_schema, Identifier(table))
            )
            cursor.execute(
                SQL("SELECT (SELECT count(*) FROM {}.{}) = (SELECT count(*) FROM {}.{}) AS same").format(
                    to_schema, Identifier(table), from_schema, Identifier(table)
                )
            )
            same = cursor.fetchone()
            if same is None or not same["same"]:
                raise RuntimeError(f"bench: the baseline store's copy of {table} differs from the original")


def timed_batches(ledger: Ledger, lines: list[str], batch_size: int) -> float:
    """Seconds to apply `lines` with group commit (the ledger's write path keeps its prefetch
    cache between calls, as a long-running writer does)."""
    start = time.perf_counter()
    for _ in ledger.commands.stream(lines, batch_size=batch_size):
        pass
    return time.perf_counter() - start


class sibling_store:
    """A fresh store next to the given one (dropped afterwards), for the baseline run."""

    def __init__(self, settings: Settings, suffix: str):
        self.settings, self.suffix = settings, suffix
        self.target = ""  # set on entering

    def __enter__(self) -> Settings:
        db = self.settings.db
        if self.settings.is_postgres:
            base, schema = split_schema(db)
            self.schema = f"{schema or 'bench'}_{self.suffix}"
            with psycopg.connect(base, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
                conn.execute(f'CREATE SCHEMA "{self.schema}"')
            self.target = f"{base}{'&' if '?' in base else '?'}schema={self.schema}"
        elif self.settings.backend == "memory":
            self.target = db
        else:
            self.target = f"{db}.{self.suffix}"
            remove_sqlite(self.target)
        return replace(self.settings, db=self.target)

    def __exit__(self, *exc: Any) -> None:
        if self.settings.is_postgres:
            with psycopg.connect(split_schema(self.settings.db)[0], autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
        elif self.settings.backend == "sqlite":
            remove_sqlite(self.target)


def backend_name(settings: Settings) -> str:
    """As the report has always named it ("postgresql", "sqlite", "memory")."""
    return {"postgres": "postgresql"}.get(settings.backend, settings.backend)
