"""Where the test stores live: settings for a URL, and the PostgreSQL server (or a skip)."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

from infra.settings import Settings
from tests.support import DEV_KEY

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
        unavailable(message, "LEDGER_REQUIRE_POSTGRES", "set LEDGER_TEST_POSTGRES_URL to run these tests")
    return url


def unavailable(message: str, flag: str, hint: str = "") -> NoReturn:
    """What a test does when something it needs is missing: it fails where `flag`
    (LEDGER_REQUIRE_...) is 1, as in CI, and is skipped, saying why, elsewhere."""
    if os.environ.get(flag) == "1":
        pytest.fail(f"{message} ({flag}=1)")
    pytest.skip(f"{message}; {hint}" if hint else message)
