"""Commands, for the writing roles (channel, institution, fund): one command, or NDJSON lines."""

import io
import json

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from infra.eventstore import commands as c
from infra.eventstore.application import screen
from infra.eventstore.commands import read_lines
from infra.groupcommit.batch import BATCH_SIZE_MAX
from infra.service import auth
from infra.service.deps import Service, Svc, Writer
from infra.service.problems import Problem, problem_responses

router = APIRouter(tags=["commands"])

# The commands' JSON schema, added to the OpenAPI components by create_app.
command_schema = c._ADAPTER.json_schema(ref_template="#/components/schemas/{model}")
command_defs = command_schema.pop("$defs", {})

IDEMPOTENCY_KEY_MAX = 128
IDEMPOTENCY_KEY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": True,
    "description": "The command id; a retry with the same key returns the original answer.",
    "schema": {"type": "string", "minLength": 1, "maxLength": IDEMPOTENCY_KEY_MAX, "title": "Idempotency-Key"},
}


def idempotency_key(request: Request) -> str:
    """The Idempotency-Key header, as its OpenAPI parameter above describes it."""
    value = request.headers.get("idempotency-key")
    if value is None:
        raise Problem(422, "INVALID_INPUT", "Idempotency-Key: Field required", field="Idempotency-Key")
    if not 1 <= len(value) <= IDEMPOTENCY_KEY_MAX:
        raise Problem(
            422, "INVALID_INPUT", f"Idempotency-Key: 1 to {IDEMPOTENCY_KEY_MAX} characters", field="Idempotency-Key"
        )
    return value


async def check_command(key: dict, data: dict, svc: Service) -> None:
    """auth.check_command; in a worker thread only for a reverse, whose settlement is read."""
    if data.get("type") == "reverse":
        await run_in_threadpool(auth.check_command, key, data, svc.settlement_institution)
    else:
        auth.check_command(key, data)


@router.post(
    "/v1/commands",
    summary="Apply one command (idempotent by Idempotency-Key)",
    openapi_extra={
        "security": [{"HTTPBearer": []}],
        "parameters": [IDEMPOTENCY_KEY_PARAMETER],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Command"}}},
        },
    },
    responses={
        200: {
            "description": "Accepted: the apply result plus `position`",
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
        **problem_responses(401, 403, 404, 409, 422, 503),
    },
)
async def command(request: Request) -> Response:
    # The busiest route takes no FastAPI dependencies or parameters: resolving them cost about
    # a quarter of the server's time per request. The key, its role and the header are checked
    # here with the same functions the dependencies call, in the same order (key, role, header).
    svc: Service = request.app.state.service
    key = await svc.authenticate(None, request)
    auth.check_role(key, auth.WRITERS)
    command_id = idempotency_key(request)
    raw = await request.body()
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise Problem(422, "INVALID_INPUT", "body: not valid JSON", field="body") from None
    if not isinstance(data, dict):
        raise Problem(422, "INVALID_INPUT", "body: must be a JSON object", field="body")
    if "command_id" in data and data["command_id"] != command_id:
        raise Problem(422, "INVALID_INPUT", "command_id: differs from the Idempotency-Key header", field="command_id")
    await check_command(key, data, svc)
    text = json.dumps({**data, "command_id": command_id}, ensure_ascii=False)
    written = await svc.write([text])
    answer = written.answers[0]
    headers = {"Idempotency-Replayed": "true"} if answer.get("duplicate") else {}
    if not answer["ok"]:
        raise Problem.of_error(
            answer["error"],
            headers,
            command=answer.get("command"),
            command_id=answer.get("command_id"),
            position=written.position if answer["error"].get("recorded") else None,
        )
    return JSONResponse({**answer, "position": written.position}, headers=headers)


@router.post(
    "/v1/commands:batch",
    summary="Apply NDJSON command lines; NDJSON answers",
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/x-ndjson": {"schema": {"type": "string"}}}}
    },
    responses={
        200: {
            "description": "One JSON answer per line, as `ledger apply` prints",
            "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
        },
        **problem_responses(401, 403, 422),
    },
)
async def command_batch(request: Request, key: Writer, svc: Svc) -> Response:
    # Lines as `ledger apply` reads them: split on LF only, each screened on its own (an empty,
    # overlong or non-UTF-8 line is refused alone; the others are decided).
    screened = [screen(line) for line in read_lines(io.BytesIO(await request.body()))]
    if len(screened) > BATCH_SIZE_MAX:
        raise Problem(422, "INVALID_INPUT", f"body: at most {BATCH_SIZE_MAX} lines", field="body")
    for number, text in enumerate(screened, start=1):
        try:
            data = json.loads(text) if isinstance(text, str) else None
        except ValueError:
            continue  # the ledger answers this line INVALID_INPUT
        if isinstance(data, dict):
            try:
                await check_command(key, data, svc)
            except Problem as problem:
                problem.detail = f"line {number}: {problem.detail}"
                problem.extra["line"] = number
                raise
    real = [text for text in screened if isinstance(text, str)]
    written = await svc.write(real) if real else None
    answers = iter(written.answers if written else [])
    out = [
        json.dumps({"line": number, **(next(answers) if isinstance(text, str) else text)}, ensure_ascii=False)
        for number, text in enumerate(screened, start=1)
    ]
    position = written.position if written else svc.ledger.recorder.max_notification_id() or 0
    return Response(
        "".join(line + "\n" for line in out),
        media_type="application/x-ndjson",
        headers={"Ledger-Position": str(position)},
    )
