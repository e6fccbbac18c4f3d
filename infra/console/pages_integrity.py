"""The console's integrity page (/console/integrity): the audit chain's verification and checkpoints,
sealing new checkpoints (operators, /console/integrity/seal) and checking an uploaded evidence
bundle against the configured public key and an optional anchor (/console/integrity/verify-bundle).
"""

import re
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response

from infra.console.plumbing import BUNDLE_MAX_BYTES, CONSOLE_ROLES, Console, Redirect, now_iso
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
    """The integrity page: the chain verified against the configured public key, its checkpoints and,
    after an upload, the bundle's result or error."""
    from infra.audit.chain import verify
    from infra.audit.store import AuditStore
    from infra.config import ConfigError, load_seal_public_key

    audit_store = AuditStore(console.ledger)
    try:
        public_key, key_error = load_seal_public_key(), None
    except ConfigError as error:
        public_key, key_error = None, str(error)
    checked = verify(audit_store, public_key)
    checkpoints = audit_store.checkpoints()
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
    from infra.audit.store import AuditStore

    ledger, html, signed_in, check_csrf = console.ledger, console.html, console.signed_in, console.check_csrf

    @api.get("/integrity")
    @html
    def integrity(request: Request) -> Response:
        session, key = signed_in(request, *CONSOLE_ROLES)
        return integrity_page(console, request, session, key)

    @api.post("/integrity/seal")
    @html
    def seal(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
        from infra.audit.chain import seal as run
        from infra.audit.store import SealConflictError
        from infra.config import ConfigError, load_seal_key

        session, _ = signed_in(request, "operator")
        check_csrf(session, csrf)
        audit_store = AuditStore(ledger)
        try:
            written = run(audit_store, now_iso(), seed=load_seal_key(ledger.settings.db).seed)
        except SealConflictError:
            session.flash.append(("error", "Another seal ran at the same time; seal again. 另一封存正在进行，请重试。"))
        except ConfigError as error:
            session.flash.append(("error", str(error)))
        else:
            checkpoints = audit_store.checkpoints()
            session.flash.append(
                (
                    "info",
                    f"Sealed: {len(written)} new checkpoint(s); sealed through position "
                    f"{checkpoints[-1]['position'] if checkpoints else 0}. 已封存。",
                )
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
        from infra.audit.bundle import verify_bundle as run
        from infra.config import ConfigError, load_seal_public_key

        session, key = signed_in(request, *CONSOLE_ROLES)
        check_csrf(session, csrf)
        data = bundle.file.read(BUNDLE_MAX_BYTES + 1) if bundle is not None else b""
        if not data:
            return integrity_page(
                console, request, session, key, 422, bundle_error="Choose a bundle file. 请选择证据包文件。"
            )
        if len(data) > BUNDLE_MAX_BYTES:
            return integrity_page(
                console,
                request,
                session,
                key,
                413,
                bundle_error=f"A bundle is at most {BUNDLE_MAX_BYTES // 2**20} MiB. 文件过大。",
            )
        anchor = anchor.strip().lower()
        if anchor and not re.fullmatch(r"[0-9a-f]{64}", anchor):
            return integrity_page(
                console, request, session, key, 422, bundle_error="Anchor: 64 hex characters. 锚点格式错误。"
            )
        try:
            trusted = load_seal_public_key()
        except ConfigError as error:
            return integrity_page(console, request, session, key, 500, bundle_error=str(error))
        result = run(data, ledger.catalogue, public_key=trusted, anchor=anchor or None)
        name = bundle.filename if bundle is not None else ""
        return integrity_page(console, request, session, key, bundle_result={**result, "file": name})
