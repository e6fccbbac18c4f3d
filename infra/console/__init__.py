"""The auditor's and operator's console: HTML pages under /console, served by `ledger serve`.

`mount_console(api, ledger, store, views)` adds them to the service's FastAPI app. The pages
call the same functions as the CLI and the API (infra.audit, infra.readmodels) and the same key
lookup and scope checks (infra.service.store, infra.service.auth). See docs/console.md.
"""

from typing import Any


def mount_console(api: Any, ledger: Any, store: Any, views: Any) -> None:
    from infra.console.routes import router

    api.include_router(router(ledger, store, views))
