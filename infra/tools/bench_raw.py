"""`ledger bench`'s physical reference: plain psycopg (sqlite3 for SQLite) COPY/insert and a
sequential scan of rows shaped like the stored events (same sizes), in a scratch table."""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg

from infra.eventstore.application import LedgerApp
from infra.settings import Settings
from infra.store_urls import split_schema


def sample_rows(app: LedgerApp, limit: int = 5_000) -> list[tuple]:
    notifications = app.recorder.select_notifications(start=1, limit=limit)
    return [(n.originator_id, n.originator_version, n.topic, bytes(n.state)) for n in notifications]


def equivalent_rows(sample: list[tuple], count: int) -> Iterator[tuple]:
    """`count` rows with the sizes of the stored ones (sample cycled, ids made unique)."""
    for n in range(count):
        originator_id, version, topic, state = sample[n % len(sample)]
        yield uuid.UUID(int=(originator_id.int + n // len(sample)) % (1 << 128)), version, topic, state


def raw_reference(settings: Settings, app: LedgerApp, rows: int) -> dict[str, float]:
    sample = sample_rows(app)
    rows = max(rows, 1)
    if settings.is_postgres:
        return raw_postgres(settings, sample, rows)
    if settings.backend == "memory":
        return {"raw_insert_rows_per_s": float("nan"), "raw_scan_rows_per_s": float("nan")}
    return raw_sqlite(settings, sample, rows)


def raw_postgres(settings: Settings, sample: list[tuple], rows: int) -> dict[str, float]:
    base, schema = split_schema(settings.db)
    table = f'"{schema or "public"}".bench_raw_events'
    with psycopg.connect(base) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(
            f"CREATE TABLE {table} (notification_id bigserial PRIMARY KEY, originator_id uuid, "
            "originator_version bigint, topic text, state bytea)"
        )
        conn.commit()
        start = time.perf_counter()
        chunk: list[tuple] = []
        for row in equivalent_rows(sample, rows):
            chunk.append(row)
            if len(chunk) == 10_000:
                copy_rows(conn, table, chunk)
                chunk = []
        copy_rows(conn, table, chunk)
        insert_s = time.perf_counter() - start
        start = time.perf_counter()
        scanned = 0
        with conn.cursor(name="bench_scan") as cursor:
            cursor.itersize = 10_000
            cursor.execute(
                f"SELECT originator_id, originator_version, topic, state FROM {table} ORDER BY notification_id"
            )
            for _ in cursor:
                scanned += 1
        scan_s = time.perf_counter() - start
        conn.commit()
        conn.execute(f"DROP TABLE {table}")
        conn.commit()
    return {"raw_insert_rows_per_s": rows / insert_s, "raw_scan_rows_per_s": scanned / scan_s}


def copy_rows(conn: Any, table: str, rows: list[tuple]) -> None:
    if not rows:
        return
    with (
        conn.cursor() as cursor,
        cursor.copy(f"COPY {table} (originator_id, originator_version, topic, state) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)
    conn.commit()


def raw_sqlite(settings: Settings, sample: list[tuple], rows: int) -> dict[str, float]:
    path = settings.db + ".raw"
    remove_sqlite(path)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(
        "CREATE TABLE raw (notification_id INTEGER PRIMARY KEY, originator_id TEXT, "
        "originator_version INTEGER, topic TEXT, state BLOB)"
    )
    start = time.perf_counter()
    chunk: list[tuple] = []
    for row in equivalent_rows(sample, rows):
        chunk.append((str(row[0]), row[1], row[2], row[3]))
        if len(chunk) == 10_000:
            conn.executemany(
                "INSERT INTO raw (originator_id, originator_version, topic, state) VALUES (?,?,?,?)", chunk
            )
            conn.commit()
            chunk = []
    conn.executemany("INSERT INTO raw (originator_id, originator_version, topic, state) VALUES (?,?,?,?)", chunk)
    conn.commit()
    insert_s = time.perf_counter() - start
    start = time.perf_counter()
    scanned = sum(
        1
        for _ in conn.execute(
            "SELECT originator_id, originator_version, topic, state FROM raw ORDER BY notification_id"
        )
    )
    scan_s = time.perf_counter() - start
    conn.close()
    remove_sqlite(path)
    return {"raw_insert_rows_per_s": rows / insert_s, "raw_scan_rows_per_s": scanned / scan_s}


def remove_sqlite(path: str) -> None:
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
