"""Settlement audits, evidence bundles and compliance reports, for auditors."""

from typing import Annotated, Any

from eventsourcing.application import AggregateNotFoundError
from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import HTMLResponse, JSONResponse

from domain.settlement import settlement_aggregate_id
from infra.readmodels import view_queries
from infra.service import auth
from infra.service.deps import Auditor, Purpose, Service, Svc
from infra.service.problems import Problem, problem_responses

router = APIRouter(tags=["audit"])

SettlementId = Annotated[str, Path(max_length=64)]


def audited(svc: Service, settlement_id: str, key: dict[str, Any], purpose: str, endpoint: str) -> Any:
    """The audit store, once the settlement's patient is within the key's scope (access logged)."""
    from infra.audit.store import AuditStore

    try:
        settlement = svc.ledger.repository.get(settlement_aggregate_id(settlement_id))
    except AggregateNotFoundError:
        raise Problem(404, "UNKNOWN_SETTLEMENT", "settlement_id: no such deduction", field="settlement_id") from None
    svc.read_person(str(settlement.patient), key, purpose, endpoint)
    return AuditStore(svc.ledger)


@router.get(
    "/v1/settlements/{settlement_id}/audit",
    summary="Replay a deduction",
    responses={
        200: {
            "description": "The replay (JSON) or an HTML page",
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "text/html": {"schema": {"type": "string"}},
            },
        },
        **problem_responses(401, 403, 404, 422),
    },
)
def settlement_audit(
    settlement_id: SettlementId,
    key: Auditor,
    purpose: Purpose,
    svc: Svc,
    format: Annotated[str, Query(pattern="^(json|html)$")] = "json",
) -> Response:
    from infra.audit.html import render_audit
    from infra.audit.replay import audit_deduction

    audit_store = audited(svc, settlement_id, key, purpose, "/v1/settlements/{settlement_id}/audit")
    result = audit_deduction(svc.ledger, audit_store, settlement_id)[0]
    if format == "html":
        return HTMLResponse(render_audit(result))
    return JSONResponse(result)


@router.get(
    "/v1/settlements/{settlement_id}/bundle",
    summary="Offline evidence bundle",
    responses={
        200: {
            "description": "The bundle (canonical JSON)",
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
        **problem_responses(401, 403, 404, 409, 422),
    },
)
def settlement_bundle(settlement_id: SettlementId, key: Auditor, purpose: Purpose, svc: Svc) -> Response:
    from infra.audit.bundle import build_bundle

    audit_store = audited(svc, settlement_id, key, purpose, "/v1/settlements/{settlement_id}/bundle")
    data, _ = build_bundle(svc.ledger, audit_store, settlement_id)
    return Response(data, media_type="application/json")


@router.get(
    "/v1/reports/compliance",
    summary="Monthly compliance report",
    responses={
        200: {
            "description": "json, csv or html",
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "text/csv": {"schema": {"type": "string"}},
                "text/html": {"schema": {"type": "string"}},
            },
        },
        **problem_responses(401, 403, 422),
    },
)
def compliance(
    key: Auditor,
    svc: Svc,
    month: Annotated[str, Query(pattern=r"^[0-9]{4}-[0-9]{2}$")],
    region: Annotated[str, Query(pattern="^[0-9]{0,6}$")] = "",
    format: Annotated[str, Query(pattern="^(json|csv|html)$")] = "json",
) -> Response:
    from infra.audit.html import render_report
    from infra.audit.report import compliance_report, to_csv
    from infra.audit.store import AuditStore

    view_queries.parse_month(month)
    auth.check_region(key, region)
    result = compliance_report(AuditStore(svc.ledger), month, region)
    if format == "csv":
        return Response(to_csv(result), media_type="text/csv")
    if format == "html":
        return HTMLResponse(render_report(result))
    return JSONResponse(result)
