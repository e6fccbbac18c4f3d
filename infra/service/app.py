"""The HTTP application: `create_app(ledger_app)` → FastAPI.

Every answer comes from the same functions the CLI calls: commands through
`LedgerApp.apply_line` / `infra.groupcommit.batch.apply_batch` (via infra.service.writer),
person reads through infra.readmodels.view_queries and infra.readmodels.queries, audits,
bundles, history, reports, seal and verify through infra.audit. This module adds keys and
scopes, HTTP statuses, the access log and metrics.

No ID number appears in a URL: a person is named by `person_ref` (the aggregate id, a UUID),
obtained with POST /v1/persons/lookup.
"""


import asyncio
import json
import threading
import time
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain.errors import LedgerError
from domain.person import Person
from domain.settlement import settlement_aggregate_id
from infra.console import mount_console
from infra.eventstore import commands as c
from infra.groupcommit.batch import BATCH_SIZE_MAX, EMPTY_LINE_ERROR
from infra.readmodels import queries, view_queries
from infra.readmodels.runner import ViewRunner
from infra.service import auth
from infra.service.metrics import Metrics
from infra.service.problems import PROBLEM_SCHEMA, Problem, problem_responses
from infra.service.store import ServiceStore
from infra.service.writer import BATCH_MAX_DEFAULT, WAIT_MS_DEFAULT, DirectWriter, GroupCommitWriter

READY_LAG_MAX_DEFAULT = 10_000  # /readyz: views at most this many events behind the log
WAIT_FOR_VIEWS_MAX_S = 5.0  # reads with min_position wait at most this long
FOLLOW_INTERVAL_S = 0.1

bearer = HTTPBearer(auto_error=False, description="A key made with `ledger keys create`.")
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
Purpose = Annotated[str, Header(alias="X-Purpose", min_length=1, max_length=200,
                                description="Why this person's data is read (PIPL); recorded in the access log.")]
MinPosition = Annotated[int | None, Query(ge=0, description="Wait (bounded) until the views reach this log position.")]


class Lookup(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id_number: str = Field(max_length=64, description="An 18-character resident ID number (never put it in a URL).")


class Views:
    """The views, caught up by a follower thread; reads and catch-ups share one lock."""

    def __init__(self, app: Any):
        self.app = app
        self.runner = ViewRunner(app)
        self.lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._follow, name="views-follower", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)

    def _follow(self) -> None:
        while not self._stop.is_set():
            try:
                self.catch_up()
            except Exception:  # noqa: BLE001 - a failing store shows in /readyz; keep following
                pass
            self._stop.wait(FOLLOW_INTERVAL_S)

    def catch_up(self) -> None:
        with self.lock:
            self.runner.catch_up()

    def position(self) -> int:
        with self.lock:
            return min(self.runner.positions().values(), default=0)

    def lag(self) -> int:
        return max(0, self.runner.head() - self.position())

    def wait_for(self, min_position: int | None) -> None:
        if min_position is None:
            return
        if min_position > self.runner.head():
            raise Problem(422, "INVALID_INPUT", "min_position: beyond the end of the log", field="min_position")
        deadline = time.monotonic() + WAIT_FOR_VIEWS_MAX_S
        while self.position() < min_position:
            if time.monotonic() >= deadline:
                raise Problem(503, "VIEWS_BEHIND", f"views did not reach position {min_position} in time",
                              headers={"Retry-After": "1"})
            self.catch_up()

    def read(self, function: Any, *args: Any) -> Any:
        with self.lock:
            return function(self.runner.views, *args)


def create_app(ledger: Any, *, group_commit: bool = True, batch_max: int = BATCH_MAX_DEFAULT,
               wait_ms: float = WAIT_MS_DEFAULT, ready_lag_max: int = READY_LAG_MAX_DEFAULT,
               follow_views: bool = True) -> FastAPI:
    store = ServiceStore(ledger)
    metrics = Metrics()
    views = Views(ledger)
    metrics.view_lag.set_function(lambda: views.lag())
    writer: Any = (GroupCommitWriter(ledger, batch_max, wait_ms, metrics.observe_batch) if group_commit
                   else DirectWriter(ledger, metrics.observe_batch))

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        if follow_views:
            views.start()
        yield
        views.stop()
        writer.close()

    api = FastAPI(title="Family-account ledger", version="1", lifespan=lifespan,
                  description="Commands, reads and audits of the family-account ledger. See docs/service.md.")
    api.state.ledger, api.state.store, api.state.views, api.state.writer = ledger, store, views, writer
    mount_console(api, ledger, store, views)  # the HTML console under /console (infra/console)

    # --- errors as problem+json -----------------------------------------------------------
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
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(error.status_code, "HTTP_ERROR")
        return Problem(error.status_code, code, str(error.detail)).response(request.url.path)

    @api.middleware("http")
    async def measure(request: Request, call_next: Any) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        metrics.observe_request(request.method, getattr(route, "path", "(unmatched)"), response.status_code,
                                time.perf_counter() - started)
        return response

    # --- keys -------------------------------------------------------------------------------
    def authenticate(credentials: HTTPAuthorizationCredentials | None, request: Request) -> dict[str, Any]:
        header = request.headers.get("authorization")
        token = auth.bearer_token(header if credentials is None else f"Bearer {credentials.credentials}")
        key = store.key_for_token(token)
        if key is None:
            raise Problem(401, "UNAUTHORIZED", "unknown, expired or revoked key")
        store.record_use(key["key_id"], request.url.path)
        return key

    def role(*roles: str) -> Any:
        def dependency(credentials: Bearer, request: Request) -> dict[str, Any]:
            key = authenticate(credentials, request)
            auth.check_role(key, roles)
            return key

        return Depends(dependency)

    Any_ = role(*auth.ROLES_ALL)
    Writer = role(*auth.WRITERS)
    Auditor = role("auditor")
    Operator = role("operator")
    Key = Annotated[dict, Any_]

    def person_of(ref: str, key: dict[str, Any]) -> Person:
        """The person a person_ref names, within the key's region; 404 otherwise."""
        try:
            person = ledger.repository.get(UUID(ref))
        except (ValueError, AggregateNotFoundError):
            person = None
        if not isinstance(person, Person):
            raise Problem(404, "UNKNOWN_PERSON", "person_ref: no enrolled person with this reference",
                          field="person_ref")
        auth.check_region(key, person.region)
        return person

    def read_person(ref: str, key: dict[str, Any], purpose: str, endpoint: str) -> Person:
        person = person_of(ref, key)
        store.record_access(key, str(person.id), endpoint, purpose)
        return person

    # --- health -----------------------------------------------------------------------------
    @api.get("/healthz", tags=["health"], summary="Liveness: the process answers")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/readyz", tags=["health"], summary="Readiness: store reachable, views caught up within a bound",
             responses=problem_responses(401, 503))
    def readyz(key: Key) -> Response:
        try:
            head = ledger.recorder.max_notification_id() or 0
            position = views.position()
        except Exception as error:  # noqa: BLE001 - any failure means "not ready"
            raise Problem(503, "STORAGE_ERROR", f"store unreachable: {type(error).__name__}") from None
        lag = max(0, head - position)
        if lag > ready_lag_max:
            raise Problem(503, "VIEWS_BEHIND", f"views are {lag} events behind (bound {ready_lag_max})")
        return JSONResponse({"status": "ready", "head": head, "views_position": position, "lag": lag})

    @api.get("/metrics", tags=["health"], summary="Prometheus metrics", response_class=PlainTextResponse,
             responses=problem_responses(401))
    def metrics_endpoint(key: Key) -> Response:
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    # --- commands ---------------------------------------------------------------------------
    command_schema = c._ADAPTER.json_schema(ref_template="#/components/schemas/{model}")
    command_defs = command_schema.pop("$defs", {})

    def settlement_institution(settlement_id: Any) -> str | None:
        from infra.audit.replay import _settlement_events
        from infra.audit.store import AuditStore

        if not isinstance(settlement_id, str):
            return None
        try:
            settlement = ledger.repository.get(settlement_aggregate_id(settlement_id))
        except AggregateNotFoundError:
            return None
        found = _settlement_events(ledger, AuditStore(ledger), settlement.patient, settlement_id, None)
        return next((getattr(i.event, "institution", None) for i in found if hasattr(i.event, "institution")), None)

    async def write(texts: list[str]) -> Any:
        if isinstance(writer, GroupCommitWriter):
            return await asyncio.wrap_future(writer.submit(texts))
        return await run_in_threadpool(writer.write, texts)

    @api.post("/v1/commands", tags=["commands"], summary="Apply one command (idempotent by Idempotency-Key)",
              openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                  "schema": {"$ref": "#/components/schemas/Command"}}}}},
              responses={200: {"description": "Accepted: the apply result plus `position`",
                               "content": {"application/json": {"schema": {"type": "object"}}}},
                         **problem_responses(401, 403, 404, 409, 422, 503)})
    async def command(request: Request, key: Annotated[dict, Writer],
                      idempotency_key: Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=128,
                                                             description="The command id; a retry with the same "
                                                                         "key returns the original answer.")]) -> Response:
        raw = await request.body()
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise Problem(422, "INVALID_INPUT", "body: not valid JSON", field="body") from None
        if not isinstance(data, dict):
            raise Problem(422, "INVALID_INPUT", "body: must be a JSON object", field="body")
        if "command_id" in data and data["command_id"] != idempotency_key:
            raise Problem(422, "INVALID_INPUT", "command_id: differs from the Idempotency-Key header",
                          field="command_id")
        await run_in_threadpool(auth.check_command, key, data, settlement_institution)
        text = json.dumps({**data, "command_id": idempotency_key}, ensure_ascii=False)
        written = await write([text])
        answer = written.answers[0]
        headers = {"Idempotency-Replayed": "true"} if answer.get("duplicate") else {}
        if not answer["ok"]:
            raise Problem.of_error(answer["error"], headers, command=answer.get("command"),
                                   command_id=answer.get("command_id"),
                                   position=written.position if answer["error"].get("recorded") else None)
        return JSONResponse({**answer, "position": written.position}, headers=headers)

    @api.post("/v1/commands:batch", tags=["commands"], summary="Apply NDJSON command lines; NDJSON answers",
              openapi_extra={"requestBody": {"required": True, "content": {"application/x-ndjson": {
                  "schema": {"type": "string"}}}}},
              responses={200: {"description": "One JSON answer per line, as `ledger apply` prints",
                               "content": {"application/x-ndjson": {"schema": {"type": "string"}}}},
                         **problem_responses(401, 403, 422)})
    async def command_batch(request: Request, key: Annotated[dict, Writer]) -> Response:
        raw = await request.body()
        try:
            lines = raw.decode("utf-8").splitlines()
        except UnicodeDecodeError:
            raise Problem(422, "INVALID_INPUT", "body: not UTF-8", field="body") from None
        if len(lines) > BATCH_SIZE_MAX:
            raise Problem(422, "INVALID_INPUT", f"body: at most {BATCH_SIZE_MAX} lines", field="body")
        texts = [line.strip() for line in lines]
        for number, text in enumerate(texts, start=1):
            try:
                data = json.loads(text) if text else None
            except ValueError:
                continue  # the ledger answers this line INVALID_INPUT
            if isinstance(data, dict):
                try:
                    await run_in_threadpool(auth.check_command, key, data, settlement_institution)
                except Problem as problem:
                    problem.detail = f"line {number}: {problem.detail}"
                    problem.extra["line"] = number
                    raise
        real = [t for t in texts if t]
        written = await write(real) if real else None
        answers = iter(written.answers if written else [])
        out = []
        for number, text in enumerate(texts, start=1):
            answer = next(answers) if text else {"ok": False, "command": None, "error": dict(EMPTY_LINE_ERROR)}
            out.append(json.dumps({"line": number, **answer}, ensure_ascii=False))
        position = written.position if written else ledger.recorder.max_notification_id() or 0
        return Response("".join(line + "\n" for line in out), media_type="application/x-ndjson",
                        headers={"Ledger-Position": str(position)})

    # --- persons ----------------------------------------------------------------------------
    @api.post("/v1/persons/lookup", tags=["persons"], summary="ID number (in the body) → person_ref",
              responses=problem_responses(401, 403, 404, 422))
    def lookup(body: Lookup, key: Annotated[dict, Auditor], purpose: Purpose) -> dict[str, str]:
        pid, masked, _ = ledger.person_ref(body.id_number, "id_number")
        person = person_of(str(pid), key)
        store.record_access(key, str(person.id), "/v1/persons/lookup", purpose)
        return {"person_ref": str(pid), "masked": masked}

    @api.get("/v1/persons/{person_ref}", tags=["persons"], summary="A person's state (from the aggregate)",
             responses=problem_responses(401, 403, 404, 422))
    def person(person_ref: str, key: Annotated[dict, Auditor], purpose: Purpose) -> dict[str, Any]:
        return {"person_ref": person_ref,
                **queries.person_view(read_person(person_ref, key, purpose, "/v1/persons/{person_ref}"))}

    def view_read(name: str, reader: Any) -> Any:
        def endpoint(person_ref: str, key: Annotated[dict, Auditor], purpose: Purpose,
                     min_position: MinPosition = None) -> dict[str, Any]:
            person = read_person(person_ref, key, purpose, f"/v1/persons/{{person_ref}}/{name}")
            views.wait_for(min_position)
            return {"person_ref": person_ref, **views.read(reader, person.id, person.masked)}

        endpoint.__name__ = f"person_{name}"
        return endpoint

    for name, reader, summary in (("balance", view_queries.balance_detail, "Balance and counters (views)"),
                                  ("bindings", view_queries.bindings_view, "Active bindings, both directions"),
                                  ("authorizations", view_queries.authorizations_view,
                                   "Active mutual-aid ties, both directions")):
        api.get(f"/v1/persons/{{person_ref}}/{name}", tags=["persons"], summary=summary,
                responses=problem_responses(401, 403, 404, 422, 503))(view_read(name, reader))

    @api.get("/v1/persons/{person_ref}/quota", tags=["persons"], summary="Monthly binding quota (views)",
             responses=problem_responses(401, 403, 404, 422, 503))
    def quota(person_ref: str, key: Annotated[dict, Auditor], purpose: Purpose,
              month: Annotated[str, Query(pattern=r"^[0-9]{4}-[0-9]{2}$")],
              min_position: MinPosition = None) -> dict[str, Any]:
        view_queries.parse_month(month)
        person = read_person(person_ref, key, purpose, "/v1/persons/{person_ref}/quota")
        views.wait_for(min_position)
        return {"person_ref": person_ref,
                **views.read(view_queries.quota_view, ledger.catalogue, person.id, person.masked, month)}

    @api.get("/v1/persons/{person_ref}/history", tags=["persons"], summary="Timeline and state as of a moment",
             responses=problem_responses(401, 403, 404, 422))
    def history(person_ref: str, key: Annotated[dict, Auditor], purpose: Purpose,
                as_of: Annotated[str | None, Query(max_length=40)] = None) -> dict[str, Any]:
        from infra.audit.history import person_history
        from infra.audit.store import AuditStore
        from infra.cli.audit import parse_moment

        moment = parse_moment(as_of, "as_of") if as_of else None
        person = read_person(person_ref, key, purpose, "/v1/persons/{person_ref}/history")
        return {"person_ref": person_ref, **person_history(ledger, AuditStore(ledger), person.id, moment)}

    @api.get("/v1/persons/{person_ref}/access-log", tags=["persons"], summary="Who read this person's data",
             responses=problem_responses(401, 403, 404, 422))
    def access_log(person_ref: str, key: Annotated[dict, role("auditor", "admin")],
                   purpose: Annotated[str | None, Header(alias="X-Purpose", max_length=200)] = None) -> dict[str, Any]:
        if key["role"] == "auditor" and not purpose:
            raise Problem(422, "PURPOSE_REQUIRED", "X-Purpose: required for auditors", field="X-Purpose")
        person = read_person(person_ref, key, purpose or "", "/v1/persons/{person_ref}/access-log")
        return {"person_ref": person_ref, "person": person.masked, "entries": store.access_log(str(person.id))}

    # --- settlements and reports ------------------------------------------------------------
    def audited(settlement_id: str, key: dict[str, Any], purpose: str, endpoint: str) -> Any:
        from infra.audit.store import AuditStore

        try:
            settlement = ledger.repository.get(settlement_aggregate_id(settlement_id))
        except AggregateNotFoundError:
            raise Problem(404, "UNKNOWN_SETTLEMENT", "settlement_id: no such deduction", field="settlement_id") from None
        read_person(str(settlement.patient), key, purpose, endpoint)
        return AuditStore(ledger)

    @api.get("/v1/settlements/{settlement_id}/audit", tags=["audit"], summary="Replay a deduction",
             responses={200: {"description": "The replay (JSON) or an HTML page",
                              "content": {"application/json": {"schema": {"type": "object"}},
                                          "text/html": {"schema": {"type": "string"}}}},
                        **problem_responses(401, 403, 404, 422)})
    def settlement_audit(settlement_id: Annotated[str, Path(max_length=64)], key: Annotated[dict, Auditor],
                         purpose: Purpose,
                         format: Annotated[str, Query(pattern="^(json|html)$")] = "json") -> Response:
        from infra.audit.html import render_audit
        from infra.audit.replay import audit_deduction

        audit_store = audited(settlement_id, key, purpose, "/v1/settlements/{settlement_id}/audit")
        result = audit_deduction(ledger, audit_store, settlement_id)[0]
        if format == "html":
            return HTMLResponse(render_audit(result))
        return JSONResponse(result)

    @api.get("/v1/settlements/{settlement_id}/bundle", tags=["audit"], summary="Offline evidence bundle",
             responses={200: {"description": "The bundle (canonical JSON)",
                              "content": {"application/json": {"schema": {"type": "object"}}}},
                        **problem_responses(401, 403, 404, 409, 422)})
    def settlement_bundle(settlement_id: Annotated[str, Path(max_length=64)], key: Annotated[dict, Auditor],
                          purpose: Purpose) -> Response:
        from infra.audit.bundle import build_bundle

        audit_store = audited(settlement_id, key, purpose, "/v1/settlements/{settlement_id}/bundle")
        data, _ = build_bundle(ledger, audit_store, settlement_id)
        return Response(data, media_type="application/json")

    @api.get("/v1/reports/compliance", tags=["audit"], summary="Monthly compliance report",
             responses={200: {"description": "json, csv or html",
                              "content": {"application/json": {"schema": {"type": "object"}},
                                          "text/csv": {"schema": {"type": "string"}},
                                          "text/html": {"schema": {"type": "string"}}}},
                        **problem_responses(401, 403, 422)})
    def compliance(key: Annotated[dict, Auditor], month: Annotated[str, Query(pattern=r"^[0-9]{4}-[0-9]{2}$")],
                   region: Annotated[str, Query(pattern="^[0-9]{0,6}$")] = "",
                   format: Annotated[str, Query(pattern="^(json|csv|html)$")] = "json") -> Response:
        from infra.audit.html import render_report
        from infra.audit.report import compliance_report, to_csv
        from infra.audit.store import AuditStore

        view_queries.parse_month(month)
        auth.check_region(key, region)
        result = compliance_report(AuditStore(ledger), month, region)
        if format == "csv":
            return Response(to_csv(result), media_type="text/csv")
        if format == "html":
            return HTMLResponse(render_report(result))
        return JSONResponse(result)

    # --- operations -------------------------------------------------------------------------
    @api.post("/v1/seal", tags=["operations"], summary="Extend the hash chain and store a checkpoint",
              responses=problem_responses(401, 403, 409))
    def seal(key: Annotated[dict, Operator]) -> dict[str, Any]:
        from infra.audit.chain import seal as run
        from infra.audit.store import AuditStore, SealConflictError

        from infra.config import load_seal_key

        audit_store = AuditStore(ledger)
        try:
            written = run(audit_store, datetime.now(UTC).isoformat(timespec="seconds"),
                          seed=load_seal_key(ledger.settings.db).seed)
        except SealConflictError:
            raise Problem(409, "SEAL_CONFLICT", "another seal ran at the same time; seal again") from None
        checkpoints = audit_store.checkpoints()
        return {"written": written, "checkpoint": checkpoints[-1] if checkpoints else None}

    @api.get("/v1/verify", tags=["operations"], summary="Recompute the hash chain (ok=false if altered)",
             responses=problem_responses(401, 403))
    def verify(key: Annotated[dict, Operator]) -> dict[str, Any]:
        from infra.audit.chain import verify as run
        from infra.audit.store import AuditStore

        return run(AuditStore(ledger))

    @api.get("/v1/projections", tags=["operations"], summary="View positions and lag",
             responses=problem_responses(401, 403))
    def projections(key: Annotated[dict, Operator]) -> dict[str, Any]:
        with views.lock:
            positions = views.runner.positions()
        head = views.runner.head()
        return {"head": head, "views": {n: {"position": p, "lag": max(0, head - p)} for n, p in positions.items()}}

    @api.get("/v1/projections/checksum", tags=["operations"], summary="Row count and SHA-256 of the live views",
             responses=problem_responses(401, 403))
    def checksum(key: Annotated[dict, Operator]) -> dict[str, Any]:
        views.catch_up()
        with views.lock:
            return {"views": views.runner.summaries()}

    @api.post("/v1/projections/rebuild", tags=["operations"], summary="Rebuild every view, then switch",
              responses=problem_responses(401, 403))
    def rebuild(key: Annotated[dict, Operator]) -> dict[str, Any]:
        with views.lock:
            return {"views": views.runner.rebuild()}

    api.openapi_schema = None
    original_openapi = api.openapi

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            schema = original_openapi()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(command_defs)
            components["Command"] = command_schema
            components["Problem"] = PROBLEM_SCHEMA
            api.openapi_schema = schema
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]
    return api
