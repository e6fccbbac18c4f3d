"""Backends for tests.

`app` is the in-memory store (the bulk of the tests). `any_backend_app` runs the same test on
memory, SQLite and PostgreSQL. PostgreSQL comes from LEDGER_TEST_POSTGRES_URL (default: the local
server); each test gets its own schema. Without a server the PostgreSQL cases skip with a message,
unless LEDGER_REQUIRE_POSTGRES=1 (CI), where a missing server is an error.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from infra.eventstore.application import LedgerApp
from infra.config import Settings
from tests.support import DEV_KEY, Ledger

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


def settings_for(db: str) -> Settings:
    return Settings(db=db, pseudonym_key=DEV_KEY, using_development_key=False)


def postgres_base_url() -> str:
    url = os.environ.get("LEDGER_TEST_POSTGRES_URL", DEFAULT_PG)
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=3):
            pass
    except Exception as error:  # noqa: BLE001 - any failure to connect means "no server"
        message = f"PostgreSQL not reachable at {url}: {str(error).strip().splitlines()[0] if str(error) else error}"
        if os.environ.get("LEDGER_REQUIRE_POSTGRES") == "1":
            pytest.fail(message + " (LEDGER_REQUIRE_POSTGRES=1)")
        pytest.skip(message + "; set LEDGER_TEST_POSTGRES_URL to run these tests")
    return url


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
