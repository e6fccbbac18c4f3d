"""What every `ledger` command shares: the `LedgerContext` passed as the click object, and
`guarded`/`fail`, which turn operating errors into one line on stderr and exit code 2 (never a
traceback). Imports no command module, so every command family can import it.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import PersistenceError

from domain.errors import LedgerError
from domain.rules import CatalogueError
from infra.cli import output
from infra.config import ConfigError, load_settings, warn_development_key
from infra.eventstore.application import one_line

if TYPE_CHECKING:
    from infra.eventstore.application import LedgerApp


class LedgerContext:
    def __init__(self, db: str | None, rules_dir: str | None):
        self.db = db
        self.rules_dir = rules_dir
        self._app: LedgerApp | None = None

    def settings(self):
        return load_settings(self.db, self.rules_dir)

    def app(self, rules_override: str | None = None):
        from infra.eventstore.application import LedgerApp

        if self._app is None or rules_override:
            settings = self.settings()
            warn_development_key(settings)
            self._app = LedgerApp(settings, rules_override=rules_override)
        return self._app


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
