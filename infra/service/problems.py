"""Errors as RFC 9457 problem details (`application/problem+json`), and the HTTP status of each
ledger code. Nothing here decides anything: the codes come from the ledger's answers."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from domain.masking import mask_id_numbers
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
        fields = {k: error[k] for k in ("field", "rule", "rule_version", "recorded") if k in error}
        code = error["code"]
        retry = {"Retry-After": RETRY_AFTER_S[code]} if code in RETRY_AFTER_S else {}
        return cls(status_of(code), code, error.get("message", ""), retry | (headers or {}), **fields, **extra)

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body = {
            "type": f"urn:family-ledger:problem:{self.code.lower()}",
            "title": self.code,
            "status": self.status,
            "detail": mask_id_numbers(self.detail),
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
