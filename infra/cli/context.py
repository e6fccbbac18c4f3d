"""What every `ledger` command shares: the `LedgerContext` passed as the click object, and
`guarded`/`fail`, which turn operating errors into one line on stderr and exit code 2 (never a
traceback). Imports no command module, so every command family can import it.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
from collections.abc import Callable
from typing import Any

from eventsourcing.persistence import PersistenceError

from domain.errors import LedgerError
from domain.rules import CatalogueError
from infra.cli import output
from infra.core.bootstrap import open_ledger
from infra.core.ledger import Ledger
from infra.federation.ledgers import FederatedLedgers
from infra.provinces.federation_file import load_federation
from infra.settings import ConfigError, Settings, load_settings, warn_development_key
from infra.storage.errors import one_line


class LedgerContext:
    """The click object of every `ledger` command: the global options, and the ledgers they
    name, opened on first use."""

    def __init__(
        self, db: str | None, rules_dir: str | None, read_db: str | None = None, federation: str | None = None
    ):
        self.db = db
        self.rules_dir = rules_dir
        self.read_db = read_db
        self.federation = federation
        self._ledger: Ledger | None = None
        self._read_ledger: Ledger | None = None
        self._ledgers: FederatedLedgers | None = None

    def ledgers(self) -> FederatedLedgers:
        """The ledgers of `--federation` (ConfigError without one)."""
        if self.federation is None:
            raise ConfigError("this command needs --federation FILE (or LEDGER_FEDERATION)")
        if self._ledgers is None:
            self._ledgers = FederatedLedgers(load_federation(self.federation), self.rules_dir)
        return self._ledgers

    def province_settings(self, province: str | None) -> Settings:
        """The settings of one ledger of `--federation`, knowing the federation it is one of."""
        federation = load_federation(self.federation or "")
        if province not in federation.ledgers:
            raise ConfigError(f"--province: give one of {', '.join(federation.provinces)} with --federation")
        db = federation.ledgers[province]
        return dataclasses.replace(load_settings(db, self.rules_dir), province=province, federation=federation.path)

    def ledger_for(self, id_number: str) -> Ledger:
        """The ledger a read about this person goes to: the home ledger with `--federation`."""
        if self.federation is None:
            return self.ledger()
        ledgers = self.ledgers()
        return ledgers.ledger(ledgers.home_of_person(id_number, "id_number"))

    def read_ledger_for(self, id_number: str) -> Ledger:
        return self.read_ledger() if self.federation is None else self.ledger_for(id_number)

    def settings(self) -> Settings:
        return load_settings(self.db, self.rules_dir)

    def ledger(self, rules_override: str | None = None) -> Ledger:
        """The ledger of `--db` (with `rules_override`: a what-if ledger that stores nothing)."""
        if self.federation is not None:
            raise ConfigError("with --federation this command needs one ledger: give it --db instead")
        if self._ledger is None or rules_override:
            settings = self.settings()
            warn_development_key(settings)
            self._ledger = open_ledger(settings, rules_override=rules_override)
        return self._ledger

    def read_ledger(self) -> Ledger:
        """For the commands that only read the event store: the ledger on the replica of
        `--read-db` / LEDGER_READ_DB when one is given (read-only: it creates no table, prefers a
        standby), else the one of `--db`. Notes how far the replica was behind the primary."""
        if not self.read_db:
            return self.ledger()
        if self._read_ledger is None:
            settings = dataclasses.replace(load_settings(self.read_db, self.rules_dir), read_only=True)
            if not settings.is_postgres:
                raise ConfigError(f"--read-db: {settings.db!r} is not a postgresql:// URL of a replica")
            warn_development_key(settings)
            self._read_ledger = open_ledger(settings)
            lag, where = self._read_ledger.app.recorder.replica_lag(self.settings().db)
            output.answer_notes["replica_lag_bytes"] = lag
            output.err_console.print(
                f"read from {where}; replica lag: {'unknown' if lag is None else f'{lag} bytes'}", highlight=False
            )
        return self._read_ledger


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
