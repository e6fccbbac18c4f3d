"""The reconciliation with the national platform as HTML: one body (templates/
reconciliation_body.html) for the offline file (`ledger reconcile national --format html`) and
the console's page, in the compliance report's style: the verdict, the integrity attestation,
each statement's totals beside the ledger's, and each settlement's difference linked to the
replay of the ledger's deduction (the console's /console/settlements/{settlement_id})."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from infra.pages.templating import render

REPLAY_PATH = "/console/settlements/"


def reconciliation_context(
    result: dict[str, Any], replayable: frozenset[str], attestation: dict[str, Any], console_url: str = ""
) -> dict[str, Any]:
    """What reconciliation_body.html shows. `console_url`: where the console runs, for a file read
    away from it (the console's own page links relative to itself: "")."""
    base = console_url.rstrip("/") + REPLAY_PATH
    statements = result["statements"]
    mentioned = _mentioned(result["detail"] or {})
    begins = min((s["stmt_begndate"] for s in statements), default="")
    ends = max((s["stmt_enddate"] for s in statements), default="")
    return {
        "result": result,
        "attestation": attestation,
        "totals": list(statements[0]["ledger"]) if statements else [],  # the answer's own order
        "unbalanced": sum(s["stmt_rslt"] != "0" for s in statements),
        "institutions": sorted({s["fixmedins_code"] for s in statements}),
        "period": f"{begins} – {ends}",
        "links": {setl_id: base + quote(setl_id, safe="") for setl_id in sorted(mentioned & replayable)},
    }


def _mentioned(detail: dict[str, list[Any]]) -> set[str]:
    return {f if isinstance(f, str) else f["setl_id"] for findings in detail.values() for f in findings}


def render_reconciliation(
    result: dict[str, Any], replayable: frozenset[str], attestation: dict[str, Any], console_url: str
) -> str:
    context = reconciliation_context(result, replayable, attestation, console_url)
    return render("reconciliation.html", title="Reconciliation with the national platform", **context)
