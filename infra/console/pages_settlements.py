"""The console's deduction pages: one settlement's audit (/console/settlements/{settlement_id}) and its
downloads, the evidence bundle (.../bundle) and the offline audit file (.../audit.html).

Each is a read of the patient's data, checked against the key's region and written to the access
log by the core (infra.core.audit_service).
"""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from infra.console.plumbing import PAGE_WORDING, Console, PageError, download_name, secured
from infra.console.sessions import Session
from infra.pages.rendering import audit_context, render_audit
from infra.roles import Principal

NO_SUCH_DEDUCTION = PAGE_WORDING["UNKNOWN_SETTLEMENT"]
SETTLEMENT_ID_MAX = 64


def register_settlement_pages(api: APIRouter, console: Console) -> None:
    audits, html, page, signed_in = console.ledger.audits, console.html, console.page, console.signed_in

    def audited(settlement_id: str, key: dict[str, Any], session: Session, endpoint: str) -> dict[str, Any]:
        if len(settlement_id) > SETTLEMENT_ID_MAX:
            raise PageError(404, "UNKNOWN_SETTLEMENT", NO_SUCH_DEDUCTION)
        return audits.deduction(settlement_id, Principal.of_key(key), session.purpose, endpoint)

    @api.get("/settlements/{settlement_id}")
    @html
    def settlement(request: Request, settlement_id: str) -> Response:
        session, key = signed_in(request, "auditor")
        result = audited(settlement_id, key, session, "/console/settlements/{settlement_id}")
        sealed = bool(result["evidence"]) and all(e["sealed"] for e in result["evidence"])
        return page("settlement.html", request, session, key, sealed=sealed, **audit_context(result))

    @api.get("/settlements/{settlement_id}/bundle")
    @html
    def bundle(request: Request, settlement_id: str) -> Response:
        session, key = signed_in(request, "auditor")
        if len(settlement_id) > SETTLEMENT_ID_MAX:
            raise PageError(404, "UNKNOWN_SETTLEMENT", NO_SUCH_DEDUCTION)
        endpoint = "/console/settlements/{settlement_id}/bundle"
        data, _ = audits.bundle(settlement_id, Principal.of_key(key), session.purpose, endpoint)
        name = f"bundle-{download_name(settlement_id)}.json"
        return secured(
            Response(
                data, media_type="application/json", headers={"Content-Disposition": f'attachment; filename="{name}"'}
            )
        )

    @api.get("/settlements/{settlement_id}/audit.html")
    @html
    def audit_file(request: Request, settlement_id: str) -> Response:
        session, key = signed_in(request, "auditor")
        result = audited(settlement_id, key, session, "/console/settlements/{settlement_id}/audit.html")
        name = f"audit-{download_name(settlement_id)}.html"
        return secured(
            Response(
                render_audit(result),
                media_type="text/html",
                headers={"Content-Disposition": f'attachment; filename="{name}"'},
            )
        )
