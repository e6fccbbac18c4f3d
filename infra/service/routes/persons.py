"""Person reads, for auditors (within their region, with a purpose), by person_ref. Scope and
the access log are the core's (infra.core.read_service)."""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from domain.clock import MONTH_PATTERN
from domain.ids import ID_NUMBER_PATTERN
from infra.audit.history import MOMENT_PATTERN, parse_moment
from infra.pages.subject_report import render_subject_report
from infra.readmodels.view_reads import parse_month
from infra.service.deps import Auditor, MinPosition, Purpose, Svc, role
from infra.service.problems import Problem, Refusal, id_number_refusals, problem_responses

router = APIRouter(tags=["persons"])

BEYOND_THE_LOG = Refusal("INVALID_INPUT", "min_position", "beyond the end of the log")
MOMENT = "a day that does not exist (02-30), or a moment outside the years 0001 to 9999 once in UTC"
MOMENT_HELP = "YYYY-MM-DD (the end of that day in UTC+8), or YYYY-MM-DDTHH:MM[:SS[.ffffff]] with an offset (Z, +08:00)"
NO_RULES = "no rule set in force on the month's last day for the person's region (before the first one)"


class Lookup(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id_number: str = Field(
        max_length=64,
        description="An 18-character resident ID number (never put it in a URL).",
        json_schema_extra={"pattern": ID_NUMBER_PATTERN},
    )


@router.post(
    "/v1/persons/lookup",
    summary="ID number (in the body) → person_ref",
    responses=problem_responses(401, 403, 404, 413, 422, 503, refusals=id_number_refusals("id_number")),
)
def lookup(body: Lookup, key: Auditor, purpose: Purpose, svc: Svc) -> dict[str, str]:
    ref = svc.ledger.reads.lookup(body.id_number, key, purpose, "/v1/persons/lookup")
    return {"person_ref": str(ref.id), "masked": ref.masked}


@router.get(
    "/v1/persons/{person_ref}",
    summary="A person's state (from the aggregate)",
    responses=problem_responses(401, 403, 404, 422, 503),
)
def person(person_ref: str, key: Auditor, purpose: Purpose, svc: Svc) -> dict[str, Any]:
    reads = svc.ledger.reads
    return {
        "person_ref": person_ref,
        **reads.state(reads.read_person(person_ref, key, purpose, "/v1/persons/{person_ref}")),
    }


def view_read(name: str) -> Any:
    def endpoint(
        person_ref: str, key: Auditor, purpose: Purpose, svc: Svc, min_position: MinPosition = None
    ) -> dict[str, Any]:
        reads = svc.ledger.reads
        found = reads.read_person(person_ref, key, purpose, f"/v1/persons/{{person_ref}}/{name}")
        readers: dict[str, Callable[..., dict[str, Any]]] = {
            "balance": reads.balance, "bindings": reads.bindings, "authorizations": reads.authorizations}  # fmt: skip
        read = readers[name]
        return {"person_ref": person_ref, **read(found, min_position=min_position)}

    endpoint.__name__ = f"person_{name}"
    return endpoint


for _name, _summary in (
    ("balance", "Balance and counters (views)"),
    ("bindings", "Active bindings, both directions"),
    ("authorizations", "Active mutual-aid ties, both directions"),
):
    router.get(
        f"/v1/persons/{{person_ref}}/{_name}",
        summary=_summary,
        responses=problem_responses(401, 403, 404, 422, 503, refusals=(BEYOND_THE_LOG,)),
    )(view_read(_name))


@router.get(
    "/v1/persons/{person_ref}/quota",
    summary="Monthly binding quota (views)",
    responses=problem_responses(
        401, 403, 404, 422, 503, refusals=(BEYOND_THE_LOG, Refusal("UNKNOWN_RULE_VERSION", "rules", NO_RULES))
    ),
)
def quota(
    person_ref: str,
    key: Auditor,
    purpose: Purpose,
    svc: Svc,
    month: Annotated[str, Query(pattern=MONTH_PATTERN, description="YYYY-MM, a natural month in UTC+8")],
    min_position: MinPosition = None,
) -> dict[str, Any]:
    parse_month(month)  # before the read is logged
    reads = svc.ledger.reads
    found = reads.read_person(person_ref, key, purpose, "/v1/persons/{person_ref}/quota")
    return {"person_ref": person_ref, **reads.quota(found, month, min_position=min_position)}


@router.get(
    "/v1/persons/{person_ref}/history",
    summary="Timeline with both times; state as of or known at a moment",
    responses=problem_responses(
        401,
        403,
        404,
        422,
        503,
        refusals=(Refusal("INVALID_INPUT", "as_of", MOMENT), Refusal("INVALID_INPUT", "known_at", MOMENT)),
    ),
)
def history(
    person_ref: str,
    key: Auditor,
    purpose: Purpose,
    svc: Svc,
    as_of: Annotated[str | None, Query(max_length=40, pattern=MOMENT_PATTERN, description=MOMENT_HELP)] = None,
    known_at: Annotated[str | None, Query(max_length=40, pattern=MOMENT_PATTERN, description=MOMENT_HELP)] = None,
) -> dict[str, Any]:
    moment = parse_moment(as_of, "as_of") if as_of else None
    known = parse_moment(known_at, "known_at") if known_at else None
    reads = svc.ledger.reads
    found = reads.read_person(person_ref, key, purpose, "/v1/persons/{person_ref}/history")
    return {"person_ref": person_ref, **reads.history(found.id, moment, known)}


@router.get(
    "/v1/persons/{person_ref}/access-log",
    summary="Who read this person's data",
    responses=problem_responses(
        401, 403, 404, 422, 503, refusals=(Refusal("PURPOSE_REQUIRED", "X-Purpose", "missing, with an auditor's key"),)
    ),
)
def access_log(
    person_ref: str,
    key: Annotated[Any, role("auditor", "admin")],
    svc: Svc,
    purpose: Annotated[str | None, Header(alias="X-Purpose", max_length=200)] = None,
) -> dict[str, Any]:
    if key.role == "auditor" and not purpose:
        raise Problem(422, "PURPOSE_REQUIRED", "X-Purpose: required for auditors", field="X-Purpose")
    reads = svc.ledger.reads
    found = reads.read_person(person_ref, key, purpose or "", "/v1/persons/{person_ref}/access-log")
    return {"person_ref": person_ref, "person": found.masked, "entries": reads.access_entries(found)}


@router.get(
    "/v1/persons/{person_ref}/subject-report",
    summary="Everything the ledger holds about one person (PIPL art. 45), with proof of completeness",
    responses={
        200: {
            "description": "The report (JSON) or an HTML page",
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "text/html": {"schema": {"type": "string"}},
            },
        },
        **problem_responses(401, 403, 404, 422, 503),
    },
)
def subject_report(
    person_ref: str,
    key: Auditor,
    purpose: Purpose,
    svc: Svc,
    format: Annotated[str, Query(pattern="^(json|html)$")] = "json",
) -> Response:
    found = svc.ledger.reads.read_person(person_ref, key, purpose, "/v1/persons/{person_ref}/subject-report")
    report = svc.ledger.audits.subject_report(found)
    return HTMLResponse(render_subject_report(report)) if format == "html" else JSONResponse(report)
