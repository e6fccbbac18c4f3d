"""Fixtures for the projection tests: an application on SQLite or PostgreSQL with its views."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from infra.eventstore.application import LedgerApp
from tests.conftest import settings_for


@pytest.fixture
def backend_url(durable_url: str) -> str:
    return durable_url


@pytest.fixture
def backend_app(backend_url: str) -> Iterator[LedgerApp]:
    application = LedgerApp(settings_for(backend_url))
    yield application
    application.close()


class Crash(Exception):
    """Stands for a process dying between processing and commit."""


def crash_when(predicate: Any) -> Any:
    """A before-commit hook that raises `Crash` the first time `predicate(view, gen, last)` holds."""
    fired = []

    def hook(view: str, generation: int, last: int) -> None:
        if not fired and predicate(view, generation, last):
            fired.append((view, generation, last))
            raise Crash(f"crash before commit: {view} g{generation} at {last}")

    hook.fired = fired  # type: ignore[attr-defined]
    return hook
