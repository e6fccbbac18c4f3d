"""Errors as RFC 9457 problem details (`application/problem+json`), and the HTTP status of each
ledger code. Nothing here decides anything: the codes come from the ledger's answers."""

from __future__ import annotations

import re
from typing import Any

from fastapi.responses import JSONResponse

from domain.masking import mask

PROBLEM_TYPE = "application/problem+json"

# A ledger code's HTTP status: invalid input 422, unknown person or settlement 404, storage 503,
# every other refusal (rules, status, conflicts) 409.
STATUS_OF_CODE = {
    "INVALID_INPUT": 422,
    "INVALID_ID_NUMBER": 422,
    "UNKNOWN_RULE_VERSION": 422,
    "PURPOSE_REQUIRED": 422,
    "UNKNOWN_PERSON": 404,
    "UNKNOWN_SETTLEMENT": 404,
    "NOT_FOUND": 404,
    "STORAGE_ERROR": 503,
    "UNAUTHORIZED": 401,
    "FORBIDDEN": 403,
}

_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")


def redact(text: str) -> str:
    """Any 18-character ID number in `text`, masked (for log lines and echoed messages)."""
    return _ID_NUMBER.sub(lambda m: mask(m.group(0).upper()), text)


def status_of(code: str) -> int:
    return STATUS_OF_CODE.get(code, 409)


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
        fields = {k: error[k] for k in ("field", "rule", "rule_version", "recorded") if k in error}
        return cls(status_of(error["code"]), error["code"], error.get("message", ""), headers, **fields, **extra)

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body = {
            "type": f"urn:family-ledger:problem:{self.code.lower()}",
            "title": self.code,
            "status": self.status,
            "detail": redact(self.detail),
            "code": self.code,
            **self.extra,
        }
        if instance:
            body["instance"] = instance
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


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the given problem statuses."""
    titles = {
        400: "Bad request",
        401: "Missing or unknown bearer token",
        403: "Role or scope does not allow this",
        404: "Unknown person, settlement or route",
        409: "Refused by a rule or a conflict",
        422: "Invalid input",
        503: "Store unavailable or views behind",
    }
    return {
        status: {
            "description": titles.get(status, "Problem"),
            "content": {PROBLEM_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
