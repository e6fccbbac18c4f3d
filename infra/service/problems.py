"""Errors as RFC 9457 problem details (`application/problem+json`), and the HTTP status of each
ledger code. Nothing here decides anything: the codes come from the ledger's answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi.responses import JSONResponse

from domain.masking import mask_digit_runs, mask_id_numbers
from infra.http_statuses import status_of

PROBLEM_TYPE = "application/problem+json"

RETRY_AFTER_S = {"VIEWS_BEHIND": "1"}  # codes a client should retry soon


class Problem(Exception):
    def __init__(self, status: int, code: str, detail: str, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or {}
        self.extra = {k: v for k, v in extra.items() if v is not None}

    @classmethod
    def of_error(cls, error: dict[str, Any], headers: dict[str, str] | None = None, **extra: Any) -> Problem:
        """From a ledger answer's `error` object (code, message, field, rule, rule_version, recorded)."""
        fields = {k: error[k] for k in ("field", "rule", "rule_version", "recorded", "province") if k in error}
        code = error["code"]
        retry = {"Retry-After": RETRY_AFTER_S[code]} if code in RETRY_AFTER_S else {}
        return cls(status_of(code), code, error.get("message", ""), retry | (headers or {}), **fields, **extra)

    def body(self, instance: str | None = None) -> dict[str, Any]:
        """The problem; every text in it that echoes the request (detail, field, instance: a path
        a client may have put a number in) is masked, run-together digits included."""
        body = {
            "type": f"urn:family-ledger:problem:{self.code.lower()}",
            "title": self.code,
            "status": self.status,
            "detail": mask_digit_runs(mask_id_numbers(self.detail)),
            "code": self.code,
            **{k: mask_digit_runs(v) if isinstance(v, str) else v for k, v in self.extra.items()},
        }
        if instance:
            body["instance"] = mask_digit_runs(instance)
        return body

    def response(self, instance: str | None = None) -> JSONResponse:
        headers = dict(self.headers)
        if self.status == 401:
            headers.setdefault("WWW-Authenticate", 'Bearer realm="ledger"')
        return JSONResponse(self.body(instance), status_code=self.status, headers=headers, media_type=PROBLEM_TYPE)


PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "code": {"type": "string"},
        "field": {"type": "string"},
        "rule": {"type": "string"},
        "rule_version": {"type": "string"},
        "recorded": {"type": "boolean"},
        "command": {"type": ["string", "null"]},
        "command_id": {"type": "string"},
        "position": {"type": "integer"},
    },
}


@dataclass(frozen=True)
class Refusal:
    """A 422 the API answers to a request its schema admits: what no JSON Schema can state (an
    ID number's check character, a day that does not exist, a rule set in force). Listed on the
    operation's 422 response, in its description and as `x-refusals-within-schema`."""

    code: str
    field: str
    when: str


ID_NUMBER_REFUSAL = "a birth date that does not exist or is before 1900, or a check character that does not match"


def id_number_refusals(*fields: str) -> tuple[Refusal, ...]:
    return tuple(Refusal("INVALID_ID_NUMBER", field, ID_NUMBER_REFUSAL) for field in fields)


TITLES = {
    401: "Missing or unknown bearer token",
    403: "Role or scope does not allow this",
    404: "Unknown person, settlement or route",
    409: "Refused by a rule or a conflict",
    413: "Body over this endpoint's limit (BODY_TOO_LARGE), refused unread",
    422: "Invalid input: a request outside this schema",
    503: "Store unavailable or views behind",
}


def problem_responses(*statuses: int, refusals: tuple[Refusal, ...] = ()) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the given problem statuses; `refusals`: the 422s a
    schema-valid request can still get, which the 422 entry then lists."""
    responses: dict[int | str, dict[str, Any]] = {
        status: {
            "description": TITLES.get(status, "Problem"),
            "content": {PROBLEM_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
    if refusals:
        if 422 not in responses:
            raise ValueError("refusals are 422 answers: list 422 among the statuses")
        within = "; ".join(f"{r.code} on `{r.field}`: {r.when}" for r in refusals)
        responses[422]["description"] += f". Within the schema, only: {within}"
        responses[422]["x-refusals-within-schema"] = [
            {"code": r.code, "field": r.field, "when": r.when} for r in refusals
        ]
    return responses
