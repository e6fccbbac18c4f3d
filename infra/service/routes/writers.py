"""Commands, for the writing roles (channel, institution, fund): one command, or NDJSON lines.

Each body is parsed once, at this edge, into typed commands (infra.commands.parsing, as `ledger
apply` parses its lines); the key's role and scope are checked on the typed command by the core,
and the command goes to the writer with the key that sent it."""

import io
import json

from fastapi import APIRouter, Request, Response

from domain.command_record import COMMAND_ID_PATTERN
from domain.errors import InvalidInputError, LedgerError, WrongLedgerError
from infra.commands.base import CommandModel
from infra.commands.parsing import load, parse_line, read_lines, refused, screen, validate
from infra.roles import WRITER_ROLES
from infra.service.deps import Service, Svc, Writer
from infra.service.problems import Problem, Refusal, id_number_refusals, problem_responses
from infra.service.responses import AnswerResponse
from infra.writing.write_path import BATCH_SIZE_MAX, Submission

router = APIRouter(tags=["commands"])

IDEMPOTENCY_KEY_MAX = 128
IDEMPOTENCY_KEY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": True,
    "description": "The command id; a retry with the same key returns the original answer.",
    # it becomes the command id, so it is refused (422, `command_id`) beyond that id's pattern
    "schema": {"type": "string", "pattern": COMMAND_ID_PATTERN, "title": "Idempotency-Key"},
}
# What a command the schema admits may still be refused with 422 for (infra/service/problems.py).
PERSON_FIELDS = ("person", "binder", "member", "authorizer", "beneficiary", "patient", "presented_by")
COMMAND_REFUSALS = (
    *id_number_refusals(*PERSON_FIELDS),
    Refusal(
        "INVALID_INPUT",
        "at",
        "before 2000-01-01T00:00:00Z or from 2100-01-01T00:00:00Z on, or a day that does not exist",
    ),
    Refusal("INVALID_INPUT", "command_id", "in the body, but other than the Idempotency-Key header; or an ID number"),
    Refusal("INVALID_INPUT", "settlement_id", "an ID number"),
    *(
        Refusal("INVALID_INPUT", field, "a lone surrogate (an escaped \\ud800-\\udfff on its own)")
        for field in ("reason", "institution")
    ),
    Refusal("INVALID_INPUT", "member", "the binder themself"),
    Refusal("INVALID_INPUT", "beneficiary", "the authorizer themself"),
    Refusal("INVALID_INPUT", "initiated_by", "(unbind) not the party the reason names"),
    Refusal("UNKNOWN_RULE_VERSION", "rules", "no rule set in force on that day for the person's region"),
)


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


def body_command(raw: bytes, command_id: str) -> CommandModel:
    """The one command a body holds, with the Idempotency-Key as its command id."""
    text = screen(raw)
    try:
        if isinstance(text, dict):
            raise InvalidInputError(text["error"]["message"].replace("line", "body", 1), field="body")
        data = load(text)
    except InvalidInputError as error:
        raise Problem(422, "INVALID_INPUT", error.message.replace("line", "body", 1), field="body") from None
    if not isinstance(data, dict):
        raise Problem(422, "INVALID_INPUT", "body: must be a JSON object", field="body")
    if "command_id" in data and data["command_id"] != command_id:
        raise Problem(422, "INVALID_INPUT", "command_id: differs from the Idempotency-Key header", field="command_id")
    data["command_id"] = command_id
    try:
        return validate(data)
    except LedgerError as error:
        answer = refused(data, error)
        raise Problem.of_error(
            answer["error"], command=answer.get("command"), command_id=answer.get("command_id")
        ) from None


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
        **problem_responses(401, 403, 404, 409, 413, 422, 503, refusals=COMMAND_REFUSALS),
    },
)
async def command(request: Request) -> Response:
    # The busiest route takes no FastAPI dependencies or parameters: resolving them cost about
    # a quarter of the server's time per request. The key, its role and the header are checked
    # here with the same functions the dependencies call, in the same order (key, role, header).
    svc: Service = request.app.state.service
    key = await svc.authenticate(None, request)
    key.check_role(*WRITER_ROLES)
    command = body_command(await request.body(), idempotency_key(request))
    svc.ledger.commands.check(key, command)
    written = await svc.write([Submission(command, key)])
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
    return AnswerResponse({**answer, "position": written.position}, headers=headers)


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
        **problem_responses(
            401, 403, 413, 422, 503, refusals=(Refusal("INVALID_INPUT", "body", f"more than {BATCH_SIZE_MAX} lines"),)
        ),
    },
)
async def command_batch(request: Request, key: Writer, svc: Svc) -> Response:
    # Lines as `ledger apply` reads them: split on LF only, each screened and parsed on its own
    # (an empty, overlong, non-UTF-8 or malformed line is refused alone; the others are decided).
    screened = [screen(line) for line in read_lines(io.BytesIO(await request.body()))]
    if len(screened) > BATCH_SIZE_MAX:
        raise Problem(422, "INVALID_INPUT", f"body: at most {BATCH_SIZE_MAX} lines", field="body")
    parsed = [text if isinstance(text, dict) else parse_line(text) for text in screened]
    for number, line in enumerate(parsed, start=1):
        if isinstance(line, CommandModel):
            try:
                svc.ledger.commands.check(key, line)
            except WrongLedgerError as error:  # another province's ledger decides it
                raise Problem(421, error.code, f"line {number}: {error.message}", line=number,
                              province=error.province) from None  # fmt: skip
            except LedgerError as error:
                raise Problem(403, error.code, f"line {number}: {error.message}", line=number) from None
    written = await svc.write([Submission(line, key) for line in parsed]) if parsed else None
    answers = written.answers if written else []
    out = "".join(json_line({"line": number, **a}) for number, a in enumerate(answers, start=1))
    position = written.position if written else svc.position()
    return Response(out, media_type="application/x-ndjson", headers={"Ledger-Position": str(position)})


def json_line(value: dict) -> str:
    return json.dumps(value, ensure_ascii=False) + "\n"
