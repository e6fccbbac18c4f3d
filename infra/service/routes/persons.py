"""Person reads, for auditors (within their region, with a purpose), by person_ref."""

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from pydantic import BaseModel, ConfigDict, Field

from infra.readmodels import queries, view_queries
from infra.service.deps import Auditor, MinPosition, Purpose, Svc, role
from infra.service.problems import Problem, problem_responses

router = APIRouter(tags=["persons"])


class Lookup(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id_number: str = Field(max_length=64, description="An 18-character resident ID number (never put it in a URL).")


@router.post(
    "/v1/persons/lookup",
    summary="ID number (in the body) → person_ref",
    responses=problem_responses(401, 403, 404, 422),
)
def lookup(body: Lookup, key: Auditor, purpose: Purpose, svc: Svc) -> dict[str, str]:
    pid, masked, _ = svc.ledger.person_ref(body.id_number, "id_number")
    person = svc.person_of(str(pid), key)
    svc.store.record_access(key, str(person.id), "/v1/persons/lookup", purpose)
    return {"person_ref": str(pid), "masked": masked}


@router.get(
    "/v1/persons/{person_ref}",
    summary="A person's state (from the aggregate)",
    responses=problem_responses(401, 403, 404, 422),
)
def person(person_ref: str, key: Auditor, purpose: Purpose, svc: Svc) -> dict[str, Any]:
    return {
        "person_ref": person_ref,
        **queries.person_view(svc.read_person(person_ref, key, purpose, "/v1/persons/{person_ref}")),
    }


def view_read(name: str, reader: Any) -> Any:
    def endpoint(
        person_ref: str, key: Auditor, purpose: Purpose, svc: Svc, min_position: MinPosition = None
    ) -> dict[str, Any]:
        person = svc.read_person(person_ref, key, purpose, f"/v1/persons/{{person_ref}}/{name}")
        svc.views.wait_for(min_position)
        return {"person_ref": person_ref, **svc.views.read(reader, person.id, person.masked)}

    endpoint.__name__ = f"person_{name}"
    return endpoint


for _name, _reader, _summary in (
    ("balance", view_queries.balance_detail, "Balance and counters (views)"),
    ("bindings", view_queries.bindings_view, "Active bindings, both directions"),
    ("authorizations", view_queries.authorizations_view, "Active mutual-aid ties, both directions"),
):
    router.get(
        f"/v1/persons/{{person_ref}}/{_name}", summary=_summary, responses=problem_responses(401, 403, 404, 422, 503)
    )(view_read(_name, _reader))


@router.get(
    "/v1/persons/{person_ref}/quota",
    summary="Monthly binding quota (views)",
    responses=problem_responses(401, 403, 404, 422, 503),
)
def quota(
    person_ref: str,
    key: Auditor,
    purpose: Purpose,
    svc: Svc,
    month: Annotated[str, Query(pattern=r"^[0-9]{4}-[0-9]{2}$")],
    min_position: MinPosition = None,
) -> dict[str, Any]:
    view_queries.parse_month(month)
    person = svc.read_person(person_ref, key, purpose, "/v1/persons/{person_ref}/quota")
    svc.views.wait_for(min_position)
    return {
        "person_ref": person_ref,
        **svc.views.read(view_queries.quota_view, svc.ledger.catalogue, person.id, person.masked, month),
    }


@router.get(
    "/v1/persons/{person_ref}/history",
    summary="Timeline with both times; state as of or known at a moment",
    responses=problem_responses(401, 403, 404, 422),
)
def history(
    person_ref: str,
    key: Auditor,
    purpose: Purpose,
    svc: Svc,
    as_of: Annotated[str | None, Query(max_length=40)] = None,
    known_at: Annotated[str | None, Query(max_length=40)] = None,
) -> dict[str, Any]:
    from infra.audit.history import parse_moment, person_history
    from infra.audit.store import AuditStore

    moment = parse_moment(as_of, "as_of") if as_of else None
    known = parse_moment(known_at, "known_at") if known_at else None
    person = svc.read_person(person_ref, key, purpose, "/v1/persons/{person_ref}/history")
    return {"person_ref": person_ref, **person_history(svc.ledger, AuditStore(svc.ledger), person.id, moment, known)}


@router.get(
    "/v1/persons/{person_ref}/access-log",
    summary="Who read this person's data",
    responses=problem_responses(401, 403, 404, 422),
)
def access_log(
    person_ref: str,
    key: Annotated[dict, role("auditor", "admin")],
    svc: Svc,
    purpose: Annotated[str | None, Header(alias="X-Purpose", max_length=200)] = None,
) -> dict[str, Any]:
    if key["role"] == "auditor" and not purpose:
        raise Problem(422, "PURPOSE_REQUIRED", "X-Purpose: required for auditors", field="X-Purpose")
    person = svc.read_person(person_ref, key, purpose or "", "/v1/persons/{person_ref}/access-log")
    return {"person_ref": person_ref, "person": person.masked, "entries": svc.store.access_log(str(person.id))}
