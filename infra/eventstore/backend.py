"""Which backend is this: the one answer, for a database URL and for a recorder; and how a
backend's error reads on one line (`one_line`).

`memory` is the library's in-memory (POPO) store, `sqlite` a SQLite file, `postgres` a
PostgreSQL database (`postgresql://` or `postgres://` URL, optional `?schema=`).
"""

from __future__ import annotations

from typing import Any, Literal

Backend = Literal["memory", "sqlite", "postgres"]

MEMORY_URL = "memory://"
POSTGRES_PREFIXES = ("postgresql://", "postgres://")


def is_postgres_url(url: str) -> bool:
    return url.startswith(POSTGRES_PREFIXES)


def backend_of_url(url: str) -> Backend:
    """The backend a `--db` / LEDGER_DB value names (anything else is a SQLite path)."""
    if is_postgres_url(url):
        return "postgres"
    return "memory" if url == MEMORY_URL else "sqlite"


def backend_of(recorder: Any) -> Backend:
    """By the datastore's class, not the recorder's: the recorder may be a subclass of ours."""
    from eventsourcing.sqlite import SQLiteDatastore

    datastore = getattr(recorder, "datastore", None)
    if isinstance(datastore, SQLiteDatastore):
        return "sqlite"
    try:
        from eventsourcing.postgres import PostgresDatastore
    except ImportError:  # psycopg not installed: cannot be PostgreSQL
        return "memory"
    return "postgres" if isinstance(datastore, PostgresDatastore) else "memory"


def one_line(error: BaseException) -> str:
    """The first line of a driver's or library's error (a one-line STORAGE_ERROR message)."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
