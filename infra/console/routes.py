"""The console's pages (HTML, under /console; left out of the OpenAPI document).

Every figure comes from the functions the CLI and the API call: person_history, audit_deduction,
build_bundle, verify_bundle, chain.seal/verify, compliance_report, the ViewRunner. Keys are
looked up with the service's ServiceStore, roles and regions checked with infra.service.auth,
and every read of one person's data is appended to the same access log, with the purpose given
at sign-in. Errors are pages, never tracebacks; no ID number is ever echoed or put in a URL.
"""


import functools
import json
import re
import threading
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from domain.clock import CST
from domain.errors import LedgerError
from domain.person import Person
from domain.settlement import settlement_aggregate_id
from infra.console.sessions import COOKIE, Session, Sessions
from infra.console.templating import render
from infra.service import auth
from infra.service.problems import Problem, redact, status_of

CONSOLE_ROLES = ("auditor", "operator", "admin")
PURPOSE_MAX = 200
BUNDLE_MAX_BYTES = 64 * 1024 * 1024
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
NAV = {
    "auditor": [("/console/persons", "Persons 人员"), ("/console/reports", "Compliance 合规报告"),
                ("/console/integrity", "Integrity 完整性")],
    "operator": [("/console/integrity", "Integrity 完整性"), ("/console/projections", "Operations 运维")],
    "admin": [("/console/persons", "Persons 人员"), ("/console/integrity", "Integrity 完整性")],
}


class Redirect(Exception):
    def __init__(self, to: str):
        self.to = to


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def secured(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


def moment(raw: str | None, field: str) -> datetime | None:
    """A time from a picker: `datetime-local` (no offset: UTC+8, the ledger's time), or what the
    CLI accepts (ISO-8601 with an offset, or a date meaning the end of that day in UTC+8)."""
    from infra.cli.audit import parse_moment

    raw = (raw or "").strip()
    if not raw:
        return None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?", raw):
        try:
            return datetime.fromisoformat(raw).replace(tzinfo=CST)
        except ValueError:
            pass
    return parse_moment(raw, field)


def picker_value(value: datetime | None) -> str:
    return value.astimezone(CST).strftime("%Y-%m-%dT%H:%M") if value else ""


def download_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)[:64] or "file"


class Rebuild:
    """One background rebuild of the views at a time, with its progress for the page to poll."""

    def __init__(self, views: Any):
        self.views = views
        self._lock = threading.Lock()
        self.state: dict[str, Any] = {"running": False}
        self.checksum: dict[str, Any] | None = None  # the last checksums computed here: {"at", "views"}

    def start(self, by: str) -> bool:
        with self._lock:
            if self.state.get("running"):
                return False
            self.state = {"running": True, "by": by, "started_at": now_iso(), "finished_at": None,
                          "head": self.views.runner.head(), "done": 0, "last": 0, "error": None}
        threading.Thread(target=self._run, name="console-rebuild", daemon=True).start()
        return True

    def _run(self) -> None:
        def progress(done: int, last: int) -> None:
            self.state.update(done=done, last=last)

        try:
            with self.views.lock:
                result = self.views.runner.rebuild(progress)
            self.checksum = {"at": now_iso(), "views": result}
        except Exception as error:  # noqa: BLE001 - shown on the page; the old generation keeps serving
            self.state["error"] = f"{type(error).__name__}: {error}"
        finally:
            self.state.update(running=False, finished_at=now_iso())

    def percent(self) -> int:
        head = self.state.get("head") or 0
        if not head:
            return 0 if self.state.get("running") else 100
        return min(100, int(100 * (self.state.get("last") or 0) / head))


def router(ledger: Any, store: Any, views: Any) -> APIRouter:
    from infra.audit.store import AuditStore

    api = APIRouter(prefix="/console", include_in_schema=False)
    sessions = Sessions()
    rebuild = Rebuild(views)

    # --- plumbing -----------------------------------------------------------------------------
    def current(request: Request) -> Session | None:
        return sessions.get(request.cookies.get(COOKIE))

    def page(name: str, request: Request, session: Session | None, key: dict[str, Any] | None = None,
             status: int = 200, **context: Any) -> Response:
        flash = session.flash[:] if session is not None else []
        if session is not None:
            session.flash.clear()
        nav = NAV.get(key["role"], []) if key else []
        body = render(name, path=request.url.path, session=session, key=key, nav=nav, flash=flash, **context)
        return secured(HTMLResponse(body, status_code=status))

    def set_cookie(response: Response, request: Request, session: Session) -> Response:
        response.set_cookie(COOKIE, session.sid, max_age=sessions.max_age(session), httponly=True,
                            samesite="strict", path="/console", secure=request.url.scheme == "https")
        return response

    def html(function: Any) -> Any:
        """Problems and ledger errors become an error page with their status; a lost session a
        redirect to the sign-in page."""

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Response:
            request: Request = kwargs["request"]
            try:
                return function(*args, **kwargs)
            except Redirect as redirect:
                return secured(RedirectResponse(redirect.to, status_code=303))
            except Problem as problem:
                status, code, detail = problem.status, problem.code, problem.detail
            except LedgerError as error:
                body = error.to_dict()
                status, code, detail = status_of(body["code"]), body["code"], body.get("message", body["code"])
            session = current(request)
            key = store.key_for_token(session.token) if session is not None and session.token else None
            return page("error.html", request, session, key, status=status, code=code, detail=redact(str(detail)))

        return wrapper

    def signed_in(request: Request, *roles: str) -> tuple[Session, dict[str, Any]]:
        session = current(request)
        if session is None or session.token is None:
            raise Redirect("/console/login")
        key = store.key_for_token(session.token)
        if key is None:
            sessions.end(session.sid)
            raise Redirect("/console/login?ended=1")
        store.record_use(key["key_id"], request.url.path)
        if roles:
            auth.check_role(key, roles)
        return session, key

    def check_csrf(session: Session, given: str) -> None:
        if not session.csrf_ok(given):
            raise Problem(403, "CSRF_REFUSED", "the form's CSRF token is missing or wrong: open the page again and "
                                               "resubmit 表单校验失败，请重新打开页面后提交")

    def person_of(ref: str, key: dict[str, Any]) -> Person:
        """As the API: the person a person_ref names, within the key's region; 404 otherwise."""
        try:
            person = ledger.repository.get(UUID(ref))
        except (ValueError, AggregateNotFoundError):
            person = None
        if not isinstance(person, Person):
            raise Problem(404, "UNKNOWN_PERSON", "no enrolled person with this reference 查无此人")
        auth.check_region(key, person.region)
        return person

    def read_person(ref: str, key: dict[str, Any], session: Session, endpoint: str) -> Person:
        person = person_of(ref, key)
        store.record_access(key, str(person.id), endpoint, session.purpose)
        return person

    # --- sign-in ------------------------------------------------------------------------------
    def login_page(request: Request, session: Session | None, status: int = 200, error: str | None = None,
                   info: str | None = None) -> Response:
        if session is None or session.token is not None:
            session = sessions.anonymous()
        response = page("login.html", request, None, status=status, csrf=session.csrf, error=error, info=info)
        return set_cookie(response, request, session)

    @api.get("/login")
    def login_form(request: Request, ended: Annotated[str | None, Query(max_length=4)] = None) -> Response:
        session = current(request)
        if session is not None and session.token is not None and store.key_for_token(session.token):
            return secured(RedirectResponse("/console/", status_code=303))
        return login_page(request, session,
                          info="Your session ended. Sign in again. 会话已结束，请重新登录。" if ended else None)

    @api.post("/login")
    def login(request: Request, token: Annotated[str, Form()] = "", purpose: Annotated[str, Form()] = "",
              csrf: Annotated[str, Form()] = "") -> Response:
        session = current(request)
        if session is None or not session.csrf_ok(csrf):
            return login_page(request, None, 403, "The sign-in form expired or did not come from this console; "
                                                  "try again. 登录表单已过期，请重试。")
        key = store.key_for_token(token.strip()) if token.strip() else None
        if key is None:
            return login_page(request, session, 401, "Unknown, expired or revoked key. 密钥无效、已过期或已吊销。")
        if key["role"] not in CONSOLE_ROLES:
            return login_page(request, session, 403,
                              f"A {key['role']} key cannot sign in to the console: it is for auditor, operator "
                              "and admin keys. 此控制台仅供审计、运维和管理员密钥使用。")
        purpose = purpose.strip()
        if len(purpose) > PURPOSE_MAX:
            return login_page(request, session, 422, f"Purpose: at most {PURPOSE_MAX} characters. 用途过长。")
        if key["role"] == "auditor" and not purpose:
            return login_page(request, session, 422, "Purpose required: auditors say why they read personal data "
                                                     "(written to the access log). 审计员须填写查询用途。")
        expires_in = None
        if key["expires_at"]:
            expires_in = (datetime.fromisoformat(key["expires_at"]) - datetime.now(UTC)).total_seconds()
        signed = sessions.sign_in(session, key, token.strip(), purpose, expires_in)
        store.record_use(key["key_id"], request.url.path)
        return set_cookie(secured(RedirectResponse("/console/", status_code=303)), request, signed)

    @api.post("/logout")
    @html
    def logout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
        session = current(request)
        if session is not None:
            check_csrf(session, csrf)
            sessions.end(session.sid)
        response = secured(RedirectResponse("/console/login", status_code=303))
        response.delete_cookie(COOKIE, path="/console")
        return response

    @api.get("/")
    @html
    def home(request: Request) -> Response:
        session, key = signed_in(request)
        return page("home.html", request, session, key)

    # --- persons ------------------------------------------------------------------------------
    @api.get("/persons")
    @html
    def persons(request: Request) -> Response:
        session, key = signed_in(request, "auditor", "admin")
        return page("persons.html", request, session, key, error=None)

    @api.post("/persons")
    @html
    def search(request: Request, id_number: Annotated[str, Form()] = "", csrf: Annotated[str, Form()] = "") -> Response:
        session, key = signed_in(request, "auditor")
        check_csrf(session, csrf)
        try:
            pid, _, _ = ledger.person_ref(id_number.strip()[:64], "id_number")
            person = person_of(str(pid), key)
        except (LedgerError, Problem) as error:
            code = error.code if isinstance(error, Problem) else error.to_dict()["code"]
            messages = {"UNKNOWN_PERSON": "No enrolled person with this ID number in your region. 您的辖区内查无此人。",
                        "FORBIDDEN": "No enrolled person with this ID number in your region. 您的辖区内查无此人。"}
            message = messages.get(code, "Not a valid 18-character ID number. 身份证号码格式不正确。")
            return page("persons.html", request, session, key, status=404 if code in messages else 422, error=message)
        store.record_access(key, str(person.id), "/console/persons (lookup)", session.purpose)
        raise Redirect(f"/console/persons/{pid}")

    @api.get("/persons/{person_ref}")
    @html
    def person(request: Request, person_ref: str, as_of: Annotated[str | None, Query(max_length=40)] = None,
               known_at: Annotated[str | None, Query(max_length=40)] = None) -> Response:
        from infra.audit.history import person_history

        session, key = signed_in(request, "auditor")
        as_of_at, known = moment(as_of, "as_of"), moment(known_at, "known_at")
        found = read_person(person_ref, key, session, "/console/persons/{person_ref}")
        history = person_history(ledger, AuditStore(ledger), found.id, as_of_at, known)
        return page("person.html", request, session, key, ref=person_ref, history=history,
                    as_of=picker_value(as_of_at), known_at=picker_value(known), tab="timeline")

    @api.get("/persons/{person_ref}/access-log")
    @html
    def access_log(request: Request, person_ref: str) -> Response:
        session, key = signed_in(request, "auditor", "admin")
        found = read_person(person_ref, key, session, "/console/persons/{person_ref}/access-log")
        return page("access_log.html", request, session, key, ref=person_ref, masked=found.masked,
                    entries=store.access_log(str(found.id)), tab="access")

    # --- deductions ---------------------------------------------------------------------------
    def audited(settlement_id: str, key: dict[str, Any], session: Session, endpoint: str) -> Any:
        if len(settlement_id) > 64:
            raise Problem(404, "UNKNOWN_SETTLEMENT", "no such deduction 查无此笔扣款")
        try:
            settlement = ledger.repository.get(settlement_aggregate_id(settlement_id))
        except AggregateNotFoundError:
            raise Problem(404, "UNKNOWN_SETTLEMENT", "no such deduction 查无此笔扣款") from None
        read_person(str(settlement.patient), key, session, endpoint)
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
        return secured(Response(data, media_type="application/json",
                                headers={"Content-Disposition": f'attachment; filename="{name}"'}))

    @api.get("/settlements/{settlement_id}/audit.html")
    @html
    def audit_file(request: Request, settlement_id: str) -> Response:
        from infra.audit.html import render_audit
        from infra.audit.replay import audit_deduction

        session, key = signed_in(request, "auditor")
        audit_store = audited(settlement_id, key, session, "/console/settlements/{settlement_id}/audit.html")
        name = f"audit-{download_name(settlement_id)}.html"
        return secured(Response(render_audit(audit_deduction(ledger, audit_store, settlement_id)[0]),
                                media_type="text/html",
                                headers={"Content-Disposition": f'attachment; filename="{name}"'}))

    # --- integrity ----------------------------------------------------------------------------
    def integrity_page(request: Request, session: Session, key: dict[str, Any], status: int = 200,
                       bundle_result: dict[str, Any] | None = None, bundle_error: str | None = None) -> Response:
        from infra.audit.chain import verify
        from infra.config import ConfigError, load_seal_public_key

        audit_store = AuditStore(ledger)
        try:
            public_key, key_error = load_seal_public_key(), None
        except ConfigError as error:
            public_key, key_error = None, str(error)
        checked = verify(audit_store, public_key)
        checkpoints = audit_store.checkpoints()
        return page("integrity.html", request, session, key, status=status, checked=checked,
                    checkpoints=list(reversed(checkpoints)), last=checkpoints[-1] if checkpoints else None,
                    public_key=public_key.hex() if public_key else None, key_error=key_error,
                    bundle_result=bundle_result, bundle_error=bundle_error)

    @api.get("/integrity")
    @html
    def integrity(request: Request) -> Response:
        session, key = signed_in(request, *CONSOLE_ROLES)
        return integrity_page(request, session, key)

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
            session.flash.append(("info", f"Sealed: {len(written)} new checkpoint(s); sealed through position "
                                          f"{checkpoints[-1]['position'] if checkpoints else 0}. 已封存。"))
        raise Redirect("/console/integrity")

    @api.post("/integrity/verify-bundle")
    @html
    def verify_bundle(request: Request, bundle: Annotated[UploadFile | None, File()] = None,
                      anchor: Annotated[str, Form()] = "", csrf: Annotated[str, Form()] = "") -> Response:
        from infra.audit.bundle import verify_bundle as run
        from infra.config import ConfigError, load_seal_public_key

        session, key = signed_in(request, *CONSOLE_ROLES)
        check_csrf(session, csrf)
        data = bundle.file.read(BUNDLE_MAX_BYTES + 1) if bundle is not None else b""
        if not data:
            return integrity_page(request, session, key, 422, bundle_error="Choose a bundle file. 请选择证据包文件。")
        if len(data) > BUNDLE_MAX_BYTES:
            return integrity_page(request, session, key, 413,
                                  bundle_error=f"A bundle is at most {BUNDLE_MAX_BYTES // 2**20} MiB. 文件过大。")
        anchor = anchor.strip().lower()
        if anchor and not re.fullmatch(r"[0-9a-f]{64}", anchor):
            return integrity_page(request, session, key, 422, bundle_error="Anchor: 64 hex characters. 锚点格式错误。")
        try:
            trusted = load_seal_public_key()
        except ConfigError as error:
            return integrity_page(request, session, key, 500, bundle_error=str(error))
        result = run(data, ledger.catalogue, public_key=trusted, anchor=anchor or None)
        name = bundle.filename if bundle is not None else ""
        return integrity_page(request, session, key, bundle_result={**result, "file": name})

    # --- compliance reports ---------------------------------------------------------------------
    def report_of(key: dict[str, Any], month: str, region: str) -> dict[str, Any]:
        from infra.audit.report import compliance_report
        from infra.readmodels.view_queries import parse_month

        parse_month(month)
        auth.check_region(key, region)
        return compliance_report(AuditStore(ledger), month, region)

    Month = Annotated[str | None, Query(max_length=7)]
    Region = Annotated[str | None, Query(max_length=6)]

    @api.get("/reports")
    @html
    def reports(request: Request, month: Month = None, region: Region = None) -> Response:
        from infra.audit.html import report_context

        session, key = signed_in(request, "auditor")
        region = key.get("region") or "" if region is None else region.strip()
        if not month:
            default = datetime.now(CST).strftime("%Y-%m")
            return page("reports.html", request, session, key, month=default, region=region, report=None)
        context = report_context(report_of(key, month, region))
        return page("reports.html", request, session, key, month=month, region=region, **context)

    @api.get("/reports/download")
    @html
    def report_download(request: Request, month: Annotated[str, Query(max_length=7)],
                        format: Annotated[str, Query(pattern="^(json|csv|html)$")] = "json",
                        region: Annotated[str, Query(max_length=6)] = "") -> Response:
        from infra.audit.html import render_report
        from infra.audit.report import to_csv

        _, key = signed_in(request, "auditor")
        result = report_of(key, month, region)
        body, kind = {"json": (json.dumps(result, ensure_ascii=False, indent=2) + "\n", "application/json"),
                      "csv": (to_csv(result), "text/csv"), "html": (render_report(result), "text/html")}[format]
        name = f"compliance-{download_name(month)}{'-' + download_name(region) if region else ''}.{format}"
        return secured(Response(body, media_type=kind,
                                headers={"Content-Disposition": f'attachment; filename="{name}"'}))

    # --- operations -------------------------------------------------------------------------------
    @api.get("/projections")
    @html
    def projections(request: Request) -> Response:
        session, key = signed_in(request, "operator")
        head = views.runner.head()
        positions = None
        if views.lock.acquire(timeout=0.5):  # a running rebuild holds it: show its progress only
            try:
                positions = views.runner.positions()
            finally:
                views.lock.release()
        rows = [{"name": n, "position": p, "lag": max(0, head - p),
                 "checksum": (rebuild.checksum or {}).get("views", {}).get(n)}
                for n, p in sorted((positions or {}).items())]
        return page("projections.html", request, session, key, head=head, rows=rows, busy=positions is None,
                    rebuild=rebuild.state, percent=rebuild.percent(), checksum=rebuild.checksum)

    @api.post("/projections/rebuild")
    @html
    def start_rebuild(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
        session, key = signed_in(request, "operator")
        check_csrf(session, csrf)
        if not rebuild.start(key["key_id"]):
            session.flash.append(("error", "A rebuild is already running. 重建正在进行中。"))
        raise Redirect("/console/projections")

    @api.post("/projections/checksum")
    @html
    def checksum(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
        session, _ = signed_in(request, "operator")
        check_csrf(session, csrf)
        if rebuild.state.get("running"):
            session.flash.append(("error", "A rebuild is running; checksums after it. 重建进行中。"))
            raise Redirect("/console/projections")
        views.catch_up()
        with views.lock:
            rebuild.checksum = {"at": now_iso(), "views": views.runner.summaries()}
        raise Redirect("/console/projections")

    return api
