"""The HTTP application: `create_app(ledger)` -> FastAPI.

Every answer comes from the core (infra.core.ledger.Ledger), exactly as the CLI and the console
get theirs: commands through its one write path (gathered into group commits by
infra.service.writer), reads, audits, bundles, reports, seal and verify through its services.
This package adds only what a network edge needs: bearer keys and roles as dependencies, HTTP
statuses (problem+json), request bodies parsed once into typed commands, and metrics. The
routes live in infra.service.routes, one module per audience.

No ID number appears in a URL: a person is named by `person_ref` (the aggregate id, a UUID),
obtained with POST /v1/persons/lookup.
"""

import time
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.routing import request_response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.errors import LedgerError
from infra.collector import freeze_what_is_loaded
from infra.commands.parsing import command_schema
from infra.console import mount_console
from infra.core.ledger import Ledger
from infra.service.admission import Admission, BodyTooLarge, too_large
from infra.service.deps import ROUTE_LABEL, Service
from infra.service.last_resort import answer_unhandled
from infra.service.metrics import Metrics
from infra.service.problems import PROBLEM_SCHEMA, Problem
from infra.service.routes import audit, national, operations, persons, writers
from infra.service.writer import BATCH_MAX_DEFAULT, WAIT_MS_DEFAULT, DirectWriter, GroupCommitWriter
from infra.service.writer_process import ProcessWriter

READY_LAG_MAX_DEFAULT = 10_000  # /readyz: views at most this many events behind the log


def create_app(
    ledger: Ledger,
    *,
    group_commit: bool = True,
    batch_max: int = BATCH_MAX_DEFAULT,
    wait_ms: float = WAIT_MS_DEFAULT,
    ready_lag_max: int = READY_LAG_MAX_DEFAULT,
    follow_views: bool = True,
    writer_kind: str = "thread",
) -> FastAPI:
    """The service of `ledger` (its keys are cached for the ledger's `key_cache_s`).
    `writer_kind`: "thread" decides group commits in this process, "process" in a child process
    (infra.service.writer_process; not for the in-memory store). The child is started with
    multiprocessing's `spawn`, which imports the caller's main module again: a script that
    embeds the service keeps its start-up under `if __name__ == "__main__"`."""
    metrics = Metrics()
    views = ledger.views
    metrics.view_lag.set_function(views.lag)
    metrics.view_failures.set_function(lambda: views.failures)
    writer = make_writer(ledger, group_commit, writer_kind, batch_max, wait_ms, metrics)
    metrics.snapshot_refusals.set_function(lambda: ledger.app.snapshot_refusals + writer.snapshot_refusals())
    service = Service(ledger, writer, metrics, ready_lag_max)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        if follow_views:
            views.start()
        freeze_what_is_loaded()  # the service is built: what exists now lives as long as it
        yield
        views.stop()
        writer.close()

    api = FastAPI(
        title="Family-account ledger",
        version="1",
        lifespan=lifespan,
        description="Commands, reads and audits of the family-account ledger. See docs/service.md.",
        # the ledger's metrics are Prometheus's (/metrics); FastAPI's own OpenTelemetry
        # instrumentation, off, no longer asks for its providers (environment reads) per request
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    api.state.service = service
    add_error_handlers(api)
    # who sends, and how much, before a body is read; then a command past the router
    lane = ExceptionMiddleware(request_response(writers.command), handlers=dict(api.exception_handlers))
    api.add_middleware(Admission, lane=lane)
    api.add_middleware(MeasureRequests, metrics=metrics)
    # in the order requests are matched: the command routes, the busiest, first; the console last
    for router in (writers.router, persons.router, operations.health, audit.router, operations.router, national.router):
        api.include_router(router)
    mount_console(api, ledger)  # the HTML console under /console (infra/console)
    add_schemas(api)
    return api


def make_writer(
    ledger: Ledger, group_commit: bool, kind: str, batch_max: int, wait_ms: float, metrics: Metrics
) -> GroupCommitWriter | DirectWriter:
    if not group_commit:
        return DirectWriter(ledger.commands, metrics.observe_batch)
    if kind == "process":
        rules_override = ledger.app.rules_override
        return ProcessWriter(ledger.settings, batch_max, wait_ms, metrics.observe_batch, rules_override)
    return GroupCommitWriter(ledger.commands, batch_max, wait_ms, metrics.observe_batch)


class MeasureRequests:
    """Counts and times every HTTP request by method, route template and status (a plain ASGI
    middleware: starlette's BaseHTTPMiddleware costs a task group per request); being the
    outermost of ours, it also answers what no handler did (infra.service.last_resort)."""

    def __init__(self, app: ASGIApp, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0  # until the app starts an answer

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        except Exception as error:
            if status:
                raise
            await answer_unhandled(error, scope, receive, send_and_note)
        finally:
            label = getattr(scope.get("route"), "path", None) or scope.get(ROUTE_LABEL, "(unmatched)")
            self.metrics.observe_request(scope["method"], label, status or 500, time.perf_counter() - started)


def add_error_handlers(api: FastAPI) -> None:
    """Every refusal as application/problem+json."""

    @api.exception_handler(Problem)
    async def on_problem(request: Request, problem: Problem) -> Response:
        return problem.response(request.url.path)

    @api.exception_handler(LedgerError)
    async def on_ledger_error(request: Request, error: LedgerError) -> Response:
        return Problem.of_error(error.to_dict()).response(request.url.path)

    @api.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, error: RequestValidationError) -> Response:
        first = error.errors()[0] if error.errors() else {"loc": ("request",), "msg": "invalid"}
        field = ".".join(str(p) for p in first["loc"][1:]) or str(first["loc"][0])
        code = "PURPOSE_REQUIRED" if field == "X-Purpose" else "INVALID_INPUT"
        # the message only: never the input (it could be an ID number)
        return Problem(422, code, f"{field}: {first['msg']}", field=field).response(request.url.path)

    @api.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, error: StarletteHTTPException) -> Response:
        if error.status_code == 400:  # FastAPI's "error parsing the body" (not UTF-8, a broken form): bad input
            return Problem(422, "INVALID_INPUT", "body: cannot be read (not UTF-8 JSON)", field="body").response(
                request.url.path
            )
        if isinstance(error, BodyTooLarge):  # counted as it arrived (infra.service.admission)
            return too_large(request.url.path, error.limit)
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(error.status_code, "HTTP_ERROR")
        return Problem(error.status_code, code, str(error.detail)).response(request.url.path)


def add_schemas(api: FastAPI) -> None:
    """The command union and the problem body, as named OpenAPI components."""
    api.openapi_schema = None
    original_openapi = api.openapi

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            schema = original_openapi()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            commands_schema = command_schema()
            components.update(commands_schema.pop("$defs", {}))
            components["Command"] = commands_schema
            components["Problem"] = PROBLEM_SCHEMA
            api.openapi_schema = schema
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]
