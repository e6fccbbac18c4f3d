"""The console's integrity page (/console/integrity): the evidence's verification and checkpoints,
sealing new checkpoints (operators, /console/integrity/seal) and checking an uploaded evidence
bundle against the configured public key and an optional anchor (/console/integrity/verify-bundle).

Seal, verify and the bundle check are the core's (infra.core.evidence_service), with the same
inputs from the same configuration as `ledger seal`, `ledger verify` and the API.
"""

import re
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response

from domain.errors import LedgerError
from infra.console.plumbing import BUNDLE_MAX_BYTES, CONSOLE_ROLES, Console, Redirect
from infra.console.sessions import Session


def integrity_page(
    console: Console,
    request: Request,
    session: Session,
    key: dict[str, Any],
    status: int = 200,
    bundle_result: dict[str, Any] | None = None,
    bundle_error: str | None = None,
) -> Response:
    """The integrity page: the evidence verified against the configured public key, the
    checkpoints and, after an upload, the bundle's result or error."""
    evidence = console.ledger.evidence
    try:
        public_key, key_error = evidence.public_key(), None
    except LedgerError as error:  # SEAL_PUBLIC_KEY_INVALID: no verdict without the configured key
        public_key, key_error = None, error.message
    checked = evidence.verify(public_key) if key_error is None else None
    checkpoints = evidence.checkpoints()
    return console.page(
        "integrity.html",
        request,
        session,
        key,
        status=status,
        checked=checked,
        checkpoints=list(reversed(checkpoints)),
        last=checkpoints[-1] if checkpoints else None,
        public_key=public_key.hex() if public_key else None,
        key_error=key_error,
        bundle_result=bundle_result,
        bundle_error=bundle_error,
    )


def register_integrity_pages(api: APIRouter, console: Console) -> None:
    evidence, html, signed_in, check_csrf = console.ledger.evidence, console.html, console.signed_in, console.check_csrf

    @api.get("/integrity")
    @html
    def integrity(request: Request) -> Response:
        session, key = signed_in(request, *CONSOLE_ROLES)
        return integrity_page(console, request, session, key)

    @api.post("/integrity/seal")
    @html
    def seal(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
        session, _ = signed_in(request, "operator")
        check_csrf(session, csrf)
        try:
            sealed = evidence.seal()
        except LedgerError as error:  # SEAL_CONFLICT, SEAL_KEY_MISSING: told on the page
            console.flash(session, "error", error.message)
        else:
            position = sealed["checkpoint"]["position"] if sealed["checkpoint"] else 0
            written = len(sealed["written"])
            console.flash(
                session, "info", f"Sealed: {written} new checkpoint(s); sealed through position {position}. 已封存。"
            )
        raise Redirect("/console/integrity")

    @api.post("/integrity/verify-bundle")
    @html
    def verify_bundle(
        request: Request,
        bundle: Annotated[UploadFile | None, File()] = None,
        anchor: Annotated[str, Form()] = "",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        session, key = signed_in(request, *CONSOLE_ROLES)
        check_csrf(session, csrf)
        data = bundle.file.read(BUNDLE_MAX_BYTES + 1) if bundle is not None else b""
        refusal = _upload_refusal(data, anchor.strip().lower())
        if refusal is not None:
            return integrity_page(console, request, session, key, refusal[0], bundle_error=refusal[1])
        try:
            result = evidence.verify_bundle(data, anchor=anchor.strip().lower() or None)
        except LedgerError as error:
            return integrity_page(console, request, session, key, 503, bundle_error=error.message)
        name = bundle.filename if bundle is not None else ""
        return integrity_page(console, request, session, key, bundle_result={**result, "file": name})


def _upload_refusal(data: bytes, anchor: str) -> tuple[int, str] | None:
    """(status, message) when the upload cannot be checked at all, else None."""
    if not data:
        return 422, "Choose a bundle file. 请选择证据包文件。"
    if len(data) > BUNDLE_MAX_BYTES:
        return 413, f"A bundle is at most {BUNDLE_MAX_BYTES // 2**20} MiB. 文件过大。"
    if anchor and not re.fullmatch(r"[0-9a-f]{64}", anchor):
        return 422, "Anchor: 64 hex characters. 锚点格式错误。"
    return None
