"""The console's reconciliation with the national platform (/console/national), for auditors:
upload the platform's statement file (3201) and, optionally, an institution's detail (3202);
see the result in the body the offline report has (`ledger reconcile national --format html`),
each difference linked to its deduction's replay (/console/settlements/{settlement_id}), or
download it as HTML, CSV or JSON.

Scope: statements within the key's region, by the region of their clearing agency
(`setl_optins`); an institution has no region of its own in the ledger. The page shows settlement
ids and figures, no person's data: opening a replay from it is the read that is logged.
"""

import io
import json
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response

from domain.errors import LedgerError
from infra.commands.parsing import read_lines
from infra.console.plumbing import BUNDLE_MAX_BYTES, Console, download_name, secured
from infra.console.sessions import Session
from infra.http_statuses import status_of
from infra.national.reconcile import reconciliation_csv
from infra.pages.national import reconciliation_context, render_reconciliation
from infra.roles import Principal

UPLOAD_MAX_BYTES = BUNDLE_MAX_BYTES  # a month's detail of a large hospital: tens of MiB
FORMATS = ("page", "html", "csv", "json")


def register_national_pages(api: APIRouter, console: Console) -> None:
    national, html, page, signed_in, check_csrf = (
        console.ledger.national,
        console.html,
        console.page,
        console.signed_in,
        console.check_csrf,
    )

    def form(
        request: Request, session: Session, key: dict[str, Any], status: int = 200, upload_error: str | None = None
    ) -> Response:
        return page("national.html", request, session, key, status=status, result=None, upload_error=upload_error)

    @api.get("/national")
    @html
    def reconciliation_form(request: Request) -> Response:
        session, key = signed_in(request, "auditor")
        return form(request, session, key)

    @api.post("/national")
    @html
    def reconciliation(
        request: Request,
        statement: Annotated[UploadFile | None, File()] = None,
        detail: Annotated[UploadFile | None, File()] = None,
        format: Annotated[str, Form()] = "page",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        session, key = signed_in(request, "auditor")
        check_csrf(session, csrf)
        statement_data, detail_data = _read(statement), _read(detail)
        refusal = _upload_refusal(statement_data, detail_data, format)
        if refusal is not None:
            return form(request, session, key, refusal[0], upload_error=refusal[1])
        try:
            found = national.reconcile(
                read_lines(io.BytesIO(statement_data)),
                read_lines(io.BytesIO(detail_data)) if detail_data else None,
                Principal.of_key(key),
            )
            attestation = national.attestation()
        except LedgerError as error:  # a bad line, a statement outside the key's region, a bad seal key
            return form(request, session, key, status_of(error.code), upload_error=f"{error.code}: {error.message}")
        if format != "page":  # a file read away from the console links back to it
            console_url = str(request.base_url).rstrip("/")
            return _download(found.result, found.replayable, attestation, format, console_url)
        context = reconciliation_context(found.result, found.replayable, attestation)
        return page("national.html", request, session, key, upload_error=None, **context)


def _read(upload: UploadFile | None) -> bytes:
    return upload.file.read(UPLOAD_MAX_BYTES + 1) if upload is not None else b""


def _upload_refusal(statement: bytes, detail: bytes, format: str) -> tuple[int, str] | None:
    """(status, message) when the upload cannot be reconciled at all, else None."""
    if format not in FORMATS:
        return 422, "Answer: show here, or download HTML, CSV or JSON. 结果格式错误。"
    if not statement:
        return 422, "Choose a statement file. 请选择对账单文件。"
    if max(len(statement), len(detail)) > UPLOAD_MAX_BYTES:
        return 413, f"A file is at most {UPLOAD_MAX_BYTES // 2**20} MiB. 文件过大。"
    return None


def _download(
    result: dict[str, Any], replayable: frozenset[str], attestation: dict[str, Any], format: str, console_url: str
) -> Response:
    if format == "json":
        body, kind = json.dumps(result, ensure_ascii=False, indent=2) + "\n", "application/json"
    elif format == "csv":
        body, kind = reconciliation_csv(result), "text/csv"
    else:
        body, kind = render_reconciliation(result, replayable, attestation, console_url), "text/html"
    institutions = sorted({s["fixmedins_code"] for s in result["statements"]})
    name = f"reconciliation-{download_name('-'.join(institutions))}.{format}"
    return secured(Response(body, media_type=kind, headers={"Content-Disposition": f'attachment; filename="{name}"'}))
