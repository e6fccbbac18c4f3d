"""Opening a store: the one place that chooses the adapter, from the settings, once.

`persistence_env(settings)` is the eventsourcing library's environment for the ledger's
application: our mapper and canonical-JSON transcoder, and the factory of the store's dialect
(PERSISTENCE_MODULE), which builds that dialect's `LedgerRecorder` (infra.storage.base). Around
it: a PostgreSQL `?schema=` is created on first use, a new SQLite file is created readable by its
owner only, and every PostgreSQL connection gets bounded waits (`libpq_kwargs`).
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from typing import Any
from urllib.parse import unquote, urlparse

import psycopg
from eventsourcing.utils import get_topic
from psycopg.sql import SQL, Identifier

from infra.settings import Settings, postgres_waits
from infra.storage.mapper import CanonicalJSONTranscoder, PydanticMapper
from infra.storage.memory import LedgerMemoryFactory
from infra.storage.postgres import LedgerPostgresFactory
from infra.storage.sqlite import LedgerSQLiteFactory
from infra.store_urls import postgres_hosts, postgres_schema, split_schema

SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def persistence_env(settings: Settings) -> dict[str, str]:
    env = {
        "MAPPER_TOPIC": get_topic(PydanticMapper),
        "TRANSCODER_TOPIC": get_topic(CanonicalJSONTranscoder),
        "CREATE_TABLE": "n" if settings.read_only else "y",
    }
    if settings.backend == "postgres":
        env.update(postgres_env(settings.db))
    elif settings.backend == "memory":
        env["PERSISTENCE_MODULE"] = get_topic(LedgerMemoryFactory)
    else:
        env.update(
            {
                "PERSISTENCE_MODULE": get_topic(LedgerSQLiteFactory),
                "SQLITE_DBNAME": settings.db,
                "SQLITE_LOCK_TIMEOUT": "30",
            }
        )
    return env


def libpq_kwargs(waits: dict[str, int]) -> dict[str, Any]:
    """The libpq connection parameters that bound every wait on a PostgreSQL connection."""
    return {
        "connect_timeout": max(2, waits["LEDGER_PG_CONNECT_TIMEOUT_S"]),  # libpq's minimum is 2
        "keepalives": 1,
        "keepalives_idle": waits["LEDGER_PG_KEEPALIVE_IDLE_S"],
        "keepalives_interval": waits["LEDGER_PG_KEEPALIVE_INTERVAL_S"],
        "keepalives_count": waits["LEDGER_PG_KEEPALIVE_COUNT_N"],
        "tcp_user_timeout": waits["LEDGER_PG_TCP_USER_TIMEOUT_S"] * 1000,
        # JIT off: the ledger's queries are short index probes; compiling them cost more than
        # running them once the planner's estimates (no statistics) switched JIT on
        "options": f"-c statement_timeout={waits['LEDGER_PG_STATEMENT_TIMEOUT_S'] * 1000} -c jit=off",
    }


def postgres_env(url: str) -> dict[str, str]:
    parsed = urlparse(url)
    waits = postgres_waits()
    schema = postgres_schema(url)
    hosts, ports = postgres_hosts(url)
    env = {"POSTGRES_SCHEMA": schema} if schema else {}
    return env | {
        "POSTGRES_DBNAME": (parsed.path or "/postgres").lstrip("/") or "postgres",
        "POSTGRES_HOST": hosts,
        "POSTGRES_PORT": ports,
        "POSTGRES_USER": unquote(parsed.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(parsed.password or ""),
        "POSTGRES_CONNECT_TIMEOUT": str(waits["LEDGER_PG_CONNECT_TIMEOUT_S"]),  # the pool's wait
        "POSTGRES_LOCK_TIMEOUT": "10",
        "POSTGRES_POOL_SIZE": "5",
        "POSTGRES_MAX_OVERFLOW": "10",
        # The library's factory, plus the bounded waits on every connection of its one datastore.
        "PERSISTENCE_MODULE": get_topic(LedgerPostgresFactory),
        "LEDGER_PG_LIBPQ_KWARGS": json.dumps(libpq_kwargs(waits)),
        "LEDGER_PG_COMMIT_OUTCOME_TIMEOUT_S": str(waits["LEDGER_PG_COMMIT_OUTCOME_TIMEOUT_S"]),
    }


def apply_connect_params(factory: object, settings: Settings) -> None:
    """Give the library's connection pool the URL's libpq parameters; call before it connects."""
    params = settings.connect_params()
    datastore = getattr(factory, "datastore", None)
    if params and datastore is not None:
        datastore.pool.kwargs.update(params)


def prepare_store(settings: Settings) -> bool:
    """Before the library opens the store: create the `?schema=` (PostgreSQL, not on a replica),
    or the SQLite file owner-only. True when the SQLite file is (now) owner-only."""
    if settings.backend == "postgres" and not settings.read_only:
        ensure_postgres_schema(settings.db)
    return settings.backend == "sqlite" and create_private_file(settings.db)


def ensure_postgres_schema(url: str) -> None:
    """Create the URL's `?schema=` on first use, as the tables are (a no-op when it exists)."""
    schema = postgres_schema(url)
    if not schema:
        return
    base = split_schema(url)[0]  # keeps target_session_attrs: the schema is made on the primary
    with psycopg.connect(base, autocommit=True, **libpq_kwargs(postgres_waits())) as conn:
        conn.execute(SQL("CREATE SCHEMA IF NOT EXISTS {}").format(Identifier(schema)))


def create_private_file(path: str) -> bool:
    """Create the SQLite file readable by its owner only (0600, whatever the umask), before the
    library opens it. True when the file is (now) owner-only; an existing file keeps its mode."""
    if path.startswith("file:") or path == ":memory:":
        return False
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return stat.S_IMODE(os.stat(path).st_mode) & 0o077 == 0
    except OSError:  # a missing directory etc.: the library reports it as STORAGE_ERROR
        return False
    os.close(fd)
    return True


def make_side_files_private(path: str) -> None:
    """The -wal/-shm (or -journal) files of an owner-only database, owner-only too (SQLite gives
    them the database file's mode, but not on every platform and not to files left by others)."""
    for suffix in SQLITE_SIDE_FILES:
        with contextlib.suppress(OSError):  # not there (yet), or not ours
            os.chmod(path + suffix, 0o600)
