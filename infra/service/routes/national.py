"""The national platform's interfaces, for institution keys: POST /v1/national/{infno} with a
2207 settlement (its request envelope and the platform's `output`), a 2208 reversal or a 3201
statement, answered in the platform's own envelope (docs/national.md, docs/service.md).

The body is parsed once, by the core (`Ledger.national.prepare`, at most LINE_BYTES_MAX bytes as
/v1/commands), and its command goes to the service's writer like any other. The key must be an
institution key and the envelope's `fixmedins_code` its institution. Every answer to an
institution key on one of the three interfaces is an envelope: `infcode` 0, or -1 with the
ledger's code in `err_msg`, with HTTP 200 (the platform's clients read `infcode`, and retry what
the transport failed), except a refusal a retry may cure (STORAGE_ERROR): the same envelope with
HTTP 503. No or a bad key: 401 problem+json; a key of another role: 403; another interface
number: 404 (problem+json: neither is the platform speaking).
"""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from domain.errors import LedgerError
from infra.commands.parsing import LINE_BYTES_MAX
from infra.http_statuses import status_of
from infra.national.answers import refusal_envelope
from infra.service.deps import Service
from infra.service.problems import Problem, problem_responses

router = APIRouter(tags=["national platform"])

INFNOS = ("2207", "2208", "3201")
RETRYABLE_STATUS = 503

REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The platform's request envelope; for 2207 also the platform's answer's `output` "
    f"(`output.setlinfo`). At most {LINE_BYTES_MAX} bytes of UTF-8 JSON. Fields as docs/national.md lists them.",
    "required": ["infno", "fixmedins_code", "input"],
    "properties": {
        "infno": {"type": "string", "enum": list(INFNOS)},
        "msgid": {"type": "string"},
        "fixmedins_code": {"type": "string", "description": "the institution: the key's"},
        "insuplc_admdvs": {"type": "string"},
        "mdtrtarea_admvs": {"type": "string"},
        "inf_time": {"type": "string", "description": "yyyy-MM-dd HH:mm:ss (UTC+8); required for 2208"},
        "opter": {"type": "string"},
        "input": {"type": "object", "properties": {"data": {"type": "object"}}},
        "output": {
            "type": "object",
            "description": "2207 only: the platform's settlement",
            "properties": {"setlinfo": {"type": "object", "additionalProperties": {"type": ["string", "number"]}}},
        },
    },
}
ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["infcode", "inf_refmsgid", "err_msg", "output"],
    "properties": {
        "infcode": {"type": "integer", "enum": [0, -1]},
        "inf_refmsgid": {"type": "string", "description": "the ledger's message id: its time (UTC+8) and log position"},
        "err_msg": {"type": "string", "description": "-1: the ledger's code and message (CODE: message)"},
        "output": {
            "type": "object",
            "description": "2207: the ledger's setlinfo and the discrepancies with the record; 2208: the "
            "settlement's setlinfo with refd_setl_flag; 3201: stmtinfo; a refusal: {}",
            "properties": {
                "setlinfo": {"type": "object", "additionalProperties": {"type": ["string", "null"]}},
                "discrepancies": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["field", "ledger", "platform"],
                        "properties": {n: {"type": "string"} for n in ("field", "ledger", "platform")},
                    },
                },
                "stmtinfo": {
                    "type": "object",
                    "required": ["stmt_rslt", "stmt_rslt_dscr"],
                    "properties": {
                        "stmt_rslt": {"type": "string", "enum": ["0", "1"]},
                        "stmt_rslt_dscr": {"type": "string"},
                    },
                },
            },
        },
    },
}
_ENVELOPE = {"application/json": {"schema": ANSWER_SCHEMA}}
INFNO_PARAMETER = {
    "name": "infno",
    "in": "path",
    "required": True,
    "description": "The interface; another value is answered 404 (NOT_FOUND naming infno)",
    "schema": {"type": "string", "enum": list(INFNOS)},
}


@router.post(
    "/v1/national/{infno}",
    summary="A settlement (2207), reversal (2208) or statement (3201) in the national platform's envelope",
    openapi_extra={
        "security": [{"HTTPBearer": []}],
        "parameters": [INFNO_PARAMETER],
        "requestBody": {"required": True, "content": {"application/json": {"schema": REQUEST_SCHEMA}}},
    },
    responses={
        200: {
            "description": "The platform's answer envelope: infcode 0, or -1 with the ledger's code",
            "content": _ENVELOPE,
        },
        **problem_responses(401, 403, 404, 413),
        503: {"description": "A refusal a retry may cure (STORAGE_ERROR), in the envelope", "content": _ENVELOPE},
    },
)
async def national(request: Request) -> JSONResponse:
    # No FastAPI parameters: a path or body it refused itself would be a 422 problem, not an envelope.
    infno = str(request.path_params["infno"])
    svc: Service = request.app.state.service
    key = await svc.authenticate(None, request)  # 401 problem+json: no envelope without a key
    key.check_role("institution")  # 403 problem+json: only an institution speaks for the platform
    if infno not in INFNOS:
        raise Problem(404, "NOT_FOUND", f"infno: the ledger answers {', '.join(INFNOS)} only", field="infno")
    national = svc.ledger.national
    position, status = svc.position(), 200
    try:
        prepared = await run_in_threadpool(national.prepare, await request.body(), key, infno)
        answers: list[Any] = []
        if prepared.submissions:
            written = await svc.write(prepared.submissions)
            answers, position = written.answers, written.position
        envelope = await run_in_threadpool(national.envelope, prepared, answers, position)
    except LedgerError as error:  # refusals before the core answers, and the store failing
        envelope = refusal_envelope(national.refmsgid(position), error)
        status = RETRYABLE_STATUS if status_of(error.code) == RETRYABLE_STATUS else 200
    return JSONResponse(envelope, status_code=status)
