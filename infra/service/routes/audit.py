"""Settlement audits, evidence bundles and compliance reports, for auditors: the core's
(infra.core.audit_service), each read of a patient's data scoped and logged there."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import HTMLResponse, JSONResponse

from domain.clock import MONTH_PATTERN
from infra.audit.report import to_csv
from infra.pages.rendering import render_audit, render_report
from infra.readmodels.view_reads import parse_month
from infra.service.deps import Auditor, Purpose, Svc
from infra.service.problems import problem_responses

router = APIRouter(tags=["audit"])

SettlementId = Annotated[str, Path(max_length=64)]


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
        **problem_responses(401, 403, 404, 422, 503),
    },
)
def settlement_audit(
    settlement_id: SettlementId,
    key: Auditor,
    purpose: Purpose,
    svc: Svc,
    format: Annotated[str, Query(pattern="^(json|html)$")] = "json",
) -> Response:
    result = svc.ledger.audits.deduction(settlement_id, key, purpose, "/v1/settlements/{settlement_id}/audit")
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
        **problem_responses(401, 403, 404, 409, 422, 503),
    },
)
def settlement_bundle(settlement_id: SettlementId, key: Auditor, purpose: Purpose, svc: Svc) -> Response:
    data, _ = svc.ledger.audits.bundle(settlement_id, key, purpose, "/v1/settlements/{settlement_id}/bundle")
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
        **problem_responses(401, 403, 422, 503),
    },
)
def compliance(
    key: Auditor,
    svc: Svc,
    month: Annotated[str, Query(pattern=MONTH_PATTERN, description="YYYY-MM, a natural month in UTC+8")],
    region: Annotated[str, Query(pattern="^[0-9]{0,6}$")] = "",
    format: Annotated[str, Query(pattern="^(json|csv|html)$")] = "json",
) -> Response:
    parse_month(month)
    result = svc.ledger.audits.compliance(month, region, key)
    if format == "csv":
        return Response(to_csv(result), media_type="text/csv")
    if format == "html":
        return HTMLResponse(render_report(result))
    return JSONResponse(result)
