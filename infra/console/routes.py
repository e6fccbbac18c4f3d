"""The console's pages (HTML, under /console; left out of the OpenAPI document).

Every figure comes from the core the CLI and the API call (infra.core.ledger.Ledger: reads,
audits, evidence, views); keys are looked up in its key store, and every read of one person's
data is scoped and appended to the same access log there, with the purpose given at sign-in.
Errors are pages, never tracebacks; no ID number is ever echoed or put in a URL.

`router` builds the APIRouter and registers each page family from its own module: sign-in and
home (session_routes), persons, settlements, integrity, reports, the national platform's
reconciliation and operations (pages_*), all
sharing one `Console` (plumbing). The shared names stay importable from here.
"""

from fastapi import APIRouter

from infra.console.pages_integrity import register_integrity_pages
from infra.console.pages_national import register_national_pages
from infra.console.pages_operations import Rebuild, register_operations_pages
from infra.console.pages_persons import register_person_pages
from infra.console.pages_reports import register_report_pages
from infra.console.pages_settlements import register_settlement_pages
from infra.console.plumbing import (
    BUNDLE_MAX_BYTES,
    CONSOLE_ROLES,
    NAV,
    PURPOSE_MAX,
    SECURITY_HEADERS,
    Console,
    Redirect,
    download_name,
    moment,
    now_iso,
    picker_value,
    secured,
)
from infra.console.session_routes import register_session_routes
from infra.core.ledger import Ledger

__all__ = [
    "BUNDLE_MAX_BYTES",
    "CONSOLE_ROLES",
    "NAV",
    "PURPOSE_MAX",
    "SECURITY_HEADERS",
    "Console",
    "Rebuild",
    "Redirect",
    "download_name",
    "moment",
    "now_iso",
    "picker_value",
    "router",
    "secured",
]


def router(ledger: Ledger, console: Console | None = None) -> APIRouter:
    api = APIRouter(prefix="/console", include_in_schema=False)
    console = console or Console(ledger)
    register_session_routes(api, console)
    register_person_pages(api, console)
    register_settlement_pages(api, console)
    register_integrity_pages(api, console)
    register_report_pages(api, console)
    register_national_pages(api, console)
    register_operations_pages(api, console)
    return api
