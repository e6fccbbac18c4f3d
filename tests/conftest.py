"""Backends for tests.

`app` is the in-memory store (the bulk of the tests). `any_backend_ledger` runs the same test on
memory, SQLite and PostgreSQL. PostgreSQL comes from LEDGER_TEST_POSTGRES_URL (default: the local
server); each test gets its own schema. Without a server the PostgreSQL cases skip with a message,
unless LEDGER_REQUIRE_POSTGRES=1 (CI), where a missing server is an error.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from infra.eventstore.application import LedgerApp
from tests.support import Ledger
from tests.support.backends import postgres_base_url, settings_for


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL with a fresh schema, dropped afterwards."""
    import psycopg

    base = postgres_base_url()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in base else "?"
    yield f"{base}{separator}schema={schema}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def app() -> Iterator[LedgerApp]:
    application = LedgerApp(settings_for("memory://"))
    yield application
    application.close()


@pytest.fixture
def ledger(app: LedgerApp) -> Ledger:
    return Ledger(app)


def backend_url(kind: str, request: pytest.FixtureRequest, tmp_path) -> str:
    if kind == "memory":
        return "memory://"
    if kind == "sqlite":
        return str(tmp_path / "ledger.db")
    return request.getfixturevalue("pg_url")


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def any_backend_url(request: pytest.FixtureRequest, tmp_path) -> str:
    return backend_url(request.param, request, tmp_path)


@pytest.fixture(params=["sqlite", "postgres"])
def durable_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """A store that outlives the app object: SQLite file or PostgreSQL schema."""
    return backend_url(request.param, request, tmp_path)


@pytest.fixture
def any_backend_ledger(any_backend_url: str) -> Iterator[Ledger]:
    application = LedgerApp(settings_for(any_backend_url))
    yield Ledger(application)
    application.close()
