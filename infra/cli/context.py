"""What every `ledger` command shares: the `LedgerContext` passed as the click object, and
`guarded`/`fail`, which turn operating errors into one line on stderr and exit code 2 (never a
traceback). Imports no command module, so every command family can import it.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import PersistenceError

from domain.errors import LedgerError
from domain.rules import CatalogueError
from infra.cli import output
from infra.config import ConfigError, load_settings, warn_development_key
from infra.eventstore.backend import one_line

if TYPE_CHECKING:
    from infra.eventstore.application import LedgerApp


class LedgerContext:
    def __init__(self, db: str | None, rules_dir: str | None, read_db: str | None = None):
        self.db = db
        self.rules_dir = rules_dir
        self.read_db = read_db
        self._app: LedgerApp | None = None
        self._read_app: LedgerApp | None = None

    def settings(self):
        return load_settings(self.db, self.rules_dir)

    def app(self, rules_override: str | None = None):
        from infra.eventstore.application import LedgerApp

        if self._app is None or rules_override:
            settings = self.settings()
            warn_development_key(settings)
            self._app = LedgerApp(settings, rules_override=rules_override)
        return self._app

    def read_app(self):
        """For the commands that only read the event store: a LedgerApp on the replica of
        `--read-db` / LEDGER_READ_DB when one is given (read-only: it creates no table, prefers a
        standby), else the one of `--db`. Notes how far the replica was behind the primary."""
        if not self.read_db:
            return self.app()
        if self._read_app is None:
            from infra.eventstore.application import LedgerApp

            settings = dataclasses.replace(load_settings(self.read_db, self.rules_dir), read_only=True)
            if not settings.is_postgres:
                raise ConfigError(f"--read-db: {settings.db!r} is not a postgresql:// URL of a replica")
            warn_development_key(settings)
            self._read_app = LedgerApp(settings)
            lag, where = replica_lag(self._read_app, self.settings().db)
            output.answer_notes["replica_lag_bytes"] = lag
            output.err_console.print(
                f"read from {where}; replica lag: {'unknown' if lag is None else f'{lag} bytes'}", highlight=False
            )
        return self._read_app


def _lsn(text: str) -> int:
    high, low = text.split("/")
    return (int(high, 16) << 32) + int(low, 16)


def replica_lag(read_app: Any, primary_db: str) -> tuple[int | None, str]:
    """(bytes of WAL the replica had not replayed yet, a description of the server read).

    The replica's replayed position is taken first, then the primary's current one, so the
    figure is an upper bound of how stale the answer is; 0 when the server read is a primary,
    None when the primary cannot be asked (down, or --db is not PostgreSQL)."""
    with read_app.recorder.datastore.transaction(commit=False) as c:
        c.execute(
            "SELECT pg_is_in_recovery() AS standby, pg_last_wal_replay_lsn()::text AS replayed, "
            "inet_server_port() AS port"
        )
        row = c.fetchone()
    if not row["standby"]:
        return 0, f"a primary (port {row['port']}), not a standby"
    where = f"standby on port {row['port']}"
    from infra.config import is_postgres_url, split_schema

    if not is_postgres_url(primary_db):
        return None, where
    try:
        import psycopg

        with psycopg.connect(split_schema(primary_db)[0], connect_timeout=3, autocommit=True) as conn:
            primary = conn.execute(
                "SELECT pg_is_in_recovery(), CASE WHEN pg_is_in_recovery() "
                "THEN NULL ELSE pg_current_wal_lsn()::text END"
            ).fetchone()
    except psycopg.Error:  # the primary is down or unreachable: the lag is unknown, the answer stands
        return None, where
    if primary is None or primary[0] or primary[1] is None:
        return None, where
    current = primary[1]
    return max(0, _lsn(current) - _lsn(row["replayed"])), where


def fail(message: str, code: int = 2) -> None:
    output.err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    sys.exit(code)


def guarded(function: Callable[..., Any]) -> Callable[..., Any]:
    """Turn operating errors into one line on stderr and exit code 2."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except LedgerError as error:
            fail(f"{error.code}: {error.message}")
        except (ConfigError, CatalogueError) as error:
            fail(str(error))
        except PersistenceError as error:  # a database failing mid-command
            fail(f"STORAGE_ERROR: database: {one_line(error)}")

    return wrapper
