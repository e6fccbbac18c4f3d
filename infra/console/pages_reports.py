"""The console's compliance-report pages: a month's report for a region (/console/reports) and its
download as JSON, CSV or HTML (/console/reports/download), for auditors within their region.
"""

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from domain.clock import CST
from infra.audit.report import to_csv
from infra.console.plumbing import Console, download_name, secured
from infra.pages.rendering import render_report, report_context
from infra.roles import Principal

Month = Annotated[str | None, Query(max_length=7)]
Region = Annotated[str | None, Query(max_length=6)]


def register_report_pages(api: APIRouter, console: Console) -> None:
    audits, html, page, signed_in = console.ledger.audits, console.html, console.page, console.signed_in

    def report_of(key: dict[str, Any], month: str, region: str) -> dict[str, Any]:
        return audits.compliance(month, region, Principal.of_key(key))

    @api.get("/reports")
    @html
    def reports(request: Request, month: Month = None, region: Region = None) -> Response:
        session, key = signed_in(request, "auditor")
        region = key.get("region") or "" if region is None else region.strip()
        if not month:
            default = datetime.now(CST).strftime("%Y-%m")
            return page("reports.html", request, session, key, month=default, region=region, report=None)
        context = report_context(report_of(key, month, region))
        return page("reports.html", request, session, key, month=month, region=region, **context)

    @api.get("/reports/download")
    @html
    def report_download(
        request: Request,
        month: Annotated[str, Query(max_length=7)],
        format: Annotated[str, Query(pattern="^(json|csv|html)$")] = "json",
        region: Annotated[str, Query(max_length=6)] = "",
    ) -> Response:
        _, key = signed_in(request, "auditor")
        result = report_of(key, month, region)
        body, kind = {
            "json": (json.dumps(result, ensure_ascii=False, indent=2) + "\n", "application/json"),
            "csv": (to_csv(result), "text/csv"),
            "html": (render_report(result), "text/html"),
        }[format]
        name = f"compliance-{download_name(month)}{'-' + download_name(region) if region else ''}.{format}"
        return secured(
            Response(body, media_type=kind, headers={"Content-Disposition": f'attachment; filename="{name}"'})
        )
