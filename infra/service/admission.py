"""What a request must show before its body is read (issue 23, finding 5): who sends it, and that
the body fits the endpoint's limit.

A plain ASGI middleware, in front of every route:
- a body over its endpoint's limit (`body_limit`) is answered 413 `BODY_TOO_LARGE` without being
  read: at once when Content-Length says so, and as soon as the bytes received pass the limit when
  it does not (a chunked body); the route that was reading it gets the same 413;
- a POST to the API (/v1/...) is authenticated from its headers first: an unknown, expired or
  revoked key is answered 401 before one byte of the body is read, and the key found is kept in
  the request's scope (`SCOPE_PRINCIPAL`), where `Service.authenticate` finds it: one look-up;
- a POST to the console other than the sign-in form needs a live session cookie first; without
  one it is sent to the sign-in page, its body unread. The session found is kept in the scope
  (`SCOPE_SESSION`) for the page (`Console.current`).
Every answer here is the service's own problem+json (an HTML page for the console).
"""

from __future__ import annotations

from typing import Any

from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infra.commands.parsing import LINE_BYTES_MAX
from infra.console.plumbing import BUNDLE_MAX_BYTES, SECURITY_HEADERS
from infra.console.sessions import COOKIE, SCOPE_SESSION
from infra.roles import UnauthenticatedError
from infra.service.deps import ROUTE_LABEL, SCOPE_PRINCIPAL
from infra.service.problems import Problem
from infra.writing.write_path import BATCH_SIZE_MAX

KIB = 1024
MIB = 1024 * KIB
COMMAND_BODY_MAX = 64 * KIB  # one command (a line is at most LINE_BYTES_MAX = 64 KiB)
BATCH_BODY_MAX = 8 * MIB  # BATCH_SIZE_MAX lines of a few hundred bytes each
UPLOAD_BODY_MAX = BUNDLE_MAX_BYTES + MIB  # the console's bundle and national uploads, with the form around them
NATIONAL_BODY_MAX = 16 * LINE_BYTES_MAX  # past LINE_BYTES_MAX the platform's envelope refuses it, up to here
FORM_BODY_MAX = 16 * KIB  # the console's other forms (a token, a purpose, a CSRF value, a name)

COMMAND_PATH = "/v1/commands"
_LIMITS = {
    COMMAND_PATH: COMMAND_BODY_MAX,
    "/v1/commands:batch": BATCH_BODY_MAX,
    "/v1/persons/lookup": 4 * KIB,
    "/console/integrity/verify-bundle": UPLOAD_BODY_MAX,
    "/console/national": UPLOAD_BODY_MAX,
}
_FIXED_PATHS = frozenset((*_LIMITS, "/v1/seal", "/v1/projections/rebuild", "/console/login", "/console/logout"))
assert BATCH_BODY_MAX >= BATCH_SIZE_MAX * 512 and COMMAND_BODY_MAX >= LINE_BYTES_MAX


def body_limit(path: str) -> int:
    """The most bytes a request body to `path` may have."""
    if path in _LIMITS:
        return _LIMITS[path]
    if path.startswith("/v1/national/"):  # the route answers a longer record in its envelope
        return NATIONAL_BODY_MAX
    return FORM_BODY_MAX if path.startswith("/console") else COMMAND_BODY_MAX


class BodyTooLarge(StarletteHTTPException):
    def __init__(self, limit: int):
        super().__init__(413, f"body: larger than {limit} bytes")
        self.limit = limit


class Admission:
    """`lane`: the ASGI app that answers `POST /v1/commands` once admitted, past the router (the
    busiest route: FastAPI's routing of each request cost a fifth of the server's time per
    command); the route stays registered, for the schema and as the answer when no lane is given."""

    def __init__(self, app: ASGIApp, lane: ASGIApp | None = None):
        self.app = app
        self.lane = lane

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        limit = body_limit(path)
        request = Request(scope)
        declared = request.headers.get("content-length", "")
        refusal = too_large(path, limit) if declared.isdigit() and int(declared) > limit else None
        refusal = refusal or await self.refusal(request, path)
        if refusal is not None:
            note_route(scope)
            await refusal(scope, receive, send)
            return
        if self.lane is not None and path == COMMAND_PATH and scope["method"] == "POST":
            scope[ROUTE_LABEL] = COMMAND_PATH
            await self.lane(scope, counted(receive, limit), send)
            return
        await self.app(scope, counted(receive, limit), send)

    async def refusal(self, request: Request, path: str) -> Any:
        """The answer to a sender who must be known before the body is read, or None."""
        if path.startswith("/v1/"):
            service = request.app.state.service
            try:
                request.scope[SCOPE_PRINCIPAL] = await service.authenticate(None, request)
            except UnauthenticatedError as error:
                return Problem.of_error(error.to_dict()).response(path)
        elif path.startswith("/console/") and path != "/console/login":
            sessions = request.app.state.console.sessions
            session = await run_in_threadpool(sessions.get, request.cookies.get(COOKIE))
            if session is None:
                return RedirectResponse("/console/login", status_code=303, headers=SECURITY_HEADERS)
            request.scope[SCOPE_SESSION] = session  # the page reads it from here: one look-up
        return None


def note_route(scope: Scope) -> None:
    """What the metrics count a request refused here under (they count by route template, and no
    route was matched): a fixed path as itself, any other as one label, so paths with values in
    them never become labels."""
    scope[ROUTE_LABEL] = scope["path"] if scope["path"] in _FIXED_PATHS else "(refused unread)"


def counted(receive: Receive, limit: int) -> Receive:
    """`receive`, refusing (413) once more than `limit` body bytes have arrived."""
    seen = 0

    async def receive_counted() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(limit)
        return message

    return receive_counted


def too_large(path: str, limit: int) -> Any:
    detail = f"body: larger than {limit} bytes"
    if path.startswith("/console"):
        page = f"<!doctype html><title>413</title><h1>413 BODY_TOO_LARGE</h1><p>{detail}. 请求过大。</p>"
        return HTMLResponse(page, status_code=413, headers=SECURITY_HEADERS)
    return Problem(413, "BODY_TOO_LARGE", detail, field="body").response(path)
