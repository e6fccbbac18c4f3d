"""Fixtures for the integration tests: `backend_url` is a durable store (a SQLite file or a
PostgreSQL schema; every test using it runs once on each), `backend_app` the application on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infra.eventstore.application import LedgerApp
from tests.support.backends import settings_for


@pytest.fixture
def backend_url(durable_url: str) -> str:
    return durable_url


@pytest.fixture
def backend_app(backend_url: str) -> Iterator[LedgerApp]:
    application = LedgerApp(settings_for(backend_url))
    yield application
    application.close()
