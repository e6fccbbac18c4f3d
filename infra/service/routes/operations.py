"""Health (liveness without a key; readiness and metrics for any key) and operations for
operators: seal, verify, view positions, checksum, rebuild. Each answer is the core's."""

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from infra.service.deps import Key, Operator, Svc
from infra.service.problems import Problem, problem_responses

health = APIRouter(tags=["health"])
router = APIRouter(tags=["operations"])


@health.get("/healthz", summary="Liveness: the process answers")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@health.get(
    "/readyz",
    summary="Readiness: store reachable, views caught up within a bound",
    responses=problem_responses(401, 503),
)
def readyz(key: Key, svc: Svc) -> Response:
    views = svc.ledger.views
    try:
        head = svc.position()
        position = views.position()
    except Exception as error:  # noqa: BLE001 - any failure means "not ready"
        raise Problem(503, "STORAGE_ERROR", f"store unreachable: {type(error).__name__}") from None
    lag = max(0, head - position)
    if lag > svc.ready_lag_max:
        raise Problem(503, "VIEWS_BEHIND", f"views are {lag} events behind (bound {svc.ready_lag_max})")
    return JSONResponse(
        {"status": "ready", "head": head, "views_position": position, "lag": lag, **svc.writer.describe()}
    )


@health.get(
    "/metrics", summary="Prometheus metrics", response_class=PlainTextResponse, responses=problem_responses(401, 503)
)
def metrics_endpoint(key: Key, svc: Svc) -> Response:
    body, content_type = svc.metrics.render()
    return Response(body, media_type=content_type)


@router.post(
    "/v1/seal", summary="Extend the hash chain and store a checkpoint", responses=problem_responses(401, 403, 409, 503)
)
def seal(key: Operator, svc: Svc) -> dict[str, Any]:
    return svc.ledger.evidence.seal()


@router.get(
    "/v1/verify", summary="Recompute the hash chain (ok=false if altered)", responses=problem_responses(401, 403, 503)
)
def verify(key: Operator, svc: Svc) -> dict[str, Any]:
    return svc.ledger.evidence.verify()


@router.get("/v1/projections", summary="View positions and lag", responses=problem_responses(401, 403, 503))
def projections(key: Operator, svc: Svc) -> dict[str, Any]:
    views = svc.ledger.views
    positions = views.positions()
    head = views.head()
    return {"head": head, "views": {n: {"position": p, "lag": max(0, head - p)} for n, p in positions.items()}}


@router.get(
    "/v1/projections/checksum",
    summary="Row count and SHA-256 of the live views",
    responses=problem_responses(401, 403, 503),
)
def checksum(key: Operator, svc: Svc) -> dict[str, Any]:
    views = svc.ledger.views
    views.catch_up()
    return {"views": views.summaries()}


@router.post(
    "/v1/projections/rebuild", summary="Rebuild every view, then switch", responses=problem_responses(401, 403, 503)
)
def rebuild(key: Operator, svc: Svc) -> dict[str, Any]:
    return {"views": svc.ledger.views.rebuild()}
