"""The auditor's and operator's console: HTML pages under /console, served by `ledger serve`.

`mount_console(api, ledger)` adds them to the service's FastAPI app. The pages call the same
core as the CLI and the API (infra.core: reads, audits, evidence, views) with the signed-in key
as the principal, and render with the shared templates (infra.pages). See docs/console.md.
"""

from typing import Any

from infra.console.plumbing import Console
from infra.console.routes import router
from infra.core.ledger import Ledger


def mount_console(api: Any, ledger: Ledger) -> None:
    """The pages, and their `Console` as `api.state.console` (the service's admission checks a
    console form's session with it before the form is read)."""
    api.state.console = Console(ledger)
    api.include_router(router(ledger, api.state.console))
