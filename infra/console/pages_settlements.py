"""The console's deduction pages: one settlement's audit (/console/settlements/{settlement_id}) and its
downloads, the evidence bundle (.../bundle) and the offline audit file (.../audit.html).

Each is a read of the patient's data, checked against the key's region and written to the access log.
"""

from typing import Any

from eventsourcing.application import AggregateNotFoundError
from fastapi import APIRouter, Request
from fastapi.responses import Response

from domain.settlement import settlement_aggregate_id
from infra.console.plumbing import Console, download_name, secured
from infra.console.sessions import Session
from infra.service.problems import Problem


def register_settlement_pages(api: APIRouter, console: Console) -> None:
    from infra.audit.store import AuditStore

    ledger, html, page, signed_in = console.ledger, console.html, console.page, console.signed_in

    def audited(settlement_id: str, key: dict[str, Any], session: Session, endpoint: str) -> Any:
        if len(settlement_id) > 64:
            raise Problem(404, "UNKNOWN_SETTLEMENT", "no such deduction 查无此笔扣款")
        try:
            settlement = ledger.repository.get(settlement_aggregate_id(settlement_id))
        except AggregateNotFoundError:
            raise Problem(404, "UNKNOWN_SETTLEMENT", "no such deduction 查无此笔扣款") from None
        console.read_person(str(settlement.patient), key, session, endpoint)
        return AuditStore(ledger)

    @api.get("/settlements/{settlement_id}")
    @html
    def settlement(request: Request, settlement_id: str) -> Response:
        from infra.audit.html import audit_context
        from infra.audit.replay import audit_deduction

        session, key = signed_in(request, "auditor")
        audit_store = audited(settlement_id, key, session, "/console/settlements/{settlement_id}")
        result = audit_deduction(ledger, audit_store, settlement_id)[0]
        sealed = bool(result["evidence"]) and all(e["sealed"] for e in result["evidence"])
        return page("settlement.html", request, session, key, sealed=sealed, **audit_context(result))

    @api.get("/settlements/{settlement_id}/bundle")
    @html
    def bundle(request: Request, settlement_id: str) -> Response:
        from infra.audit.bundle import build_bundle

        session, key = signed_in(request, "auditor")
        audit_store = audited(settlement_id, key, session, "/console/settlements/{settlement_id}/bundle")
        data, _ = build_bundle(ledger, audit_store, settlement_id)
        name = f"bundle-{download_name(settlement_id)}.json"
        return secured(
            Response(
                data, media_type="application/json", headers={"Content-Disposition": f'attachment; filename="{name}"'}
            )
        )

    @api.get("/settlements/{settlement_id}/audit.html")
    @html
    def audit_file(request: Request, settlement_id: str) -> Response:
        from infra.audit.html import render_audit
        from infra.audit.replay import audit_deduction

        session, key = signed_in(request, "auditor")
        audit_store = audited(settlement_id, key, session, "/console/settlements/{settlement_id}/audit.html")
        name = f"audit-{download_name(settlement_id)}.html"
        return secured(
            Response(
                render_audit(audit_deduction(ledger, audit_store, settlement_id)[0]),
                media_type="text/html",
                headers={"Content-Disposition": f'attachment; filename="{name}"'},
            )
        )
