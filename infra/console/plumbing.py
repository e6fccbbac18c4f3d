"""What every console page family shares: constants, the security headers, form-value helpers and
`Console`, which holds the ledger (infra.core) and the sessions, renders pages, and checks
sign-in, roles and CSRF tokens. Scopes and the access log are the core's: pages pass the
signed-in key on as a `Principal`.

Errors are pages, never tracebacks (`Console.html`); no ID number is ever echoed or put in a URL.
"""

import functools
import re
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from domain.clock import CST
from domain.errors import LedgerError
from domain.masking import mask_id_numbers
from domain.person import Person
from infra.audit.history import parse_moment
from infra.console.sessions import COOKIE, SCOPE_SESSION, Session, Sessions
from infra.core.ledger import Ledger
from infra.http_statuses import status_of
from infra.pages.templating import render
from infra.roles import Principal

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
    "auditor": [
        ("/console/persons", "Persons 人员"),
        ("/console/reports", "Compliance 合规报告"),
        ("/console/national", "Reconciliation 医保对账"),
        ("/console/integrity", "Integrity 完整性"),
    ],
    "operator": [("/console/integrity", "Integrity 完整性"), ("/console/projections", "Operations 运维")],
    "admin": [("/console/persons", "Persons 人员"), ("/console/integrity", "Integrity 完整性")],
}


class Redirect(Exception):
    def __init__(self, to: str):
        self.to = to


class PageError(Exception):
    """A refusal shown as an error page with its HTTP status (the console's problem)."""

    def __init__(self, status: int, code: str, detail: str):
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


# The console's own wording of the core's refusals, bilingual, for the pages people read.
PAGE_WORDING = {
    "UNKNOWN_PERSON": "no enrolled person with this reference 查无此人",
    "UNKNOWN_SETTLEMENT": "no such deduction 查无此笔扣款",
}


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def secured(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


def moment(raw: str | None, field: str) -> datetime | None:
    """A time from a picker field: a date and time without an offset (UTC+8, the ledger's time),
    written with `T` or a space, or what the CLI accepts (ISO-8601 with an offset, or a date
    meaning the end of that day in UTC+8)."""
    raw = (raw or "").strip()
    if not raw:
        return None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}.*", raw):
        raw = raw.replace(" ", "T", 1)
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


class Console:
    """One console's state and the checks every page makes, shared by the page families."""

    def __init__(self, ledger: Ledger):
        self.ledger = ledger
        self.keys = ledger.keys
        self.sessions = Sessions(ledger.app.recorder, ledger.settings.pseudonym_key,
                                 create=not ledger.settings.read_only)  # fmt: skip

    def current(self, request: Request) -> Session | None:
        """The request's live session: the one the service's admission read before the body, or
        else the cookie's, read now."""
        admitted = request.scope.get(SCOPE_SESSION)
        return admitted if admitted is not None else self.sessions.get(request.cookies.get(COOKIE))

    def flash(self, session: Session, kind: str, text: str) -> None:
        """A message for the session's next page (kept in its row: the next request may reach
        another server process)."""
        session.flash.append((kind, text))
        self.sessions.save_flash(session)

    def page(
        self,
        name: str,
        request: Request,
        session: Session | None,
        key: dict[str, Any] | None = None,
        status: int = 200,
        **context: Any,
    ) -> Response:
        flash = session.flash[:] if session is not None else []
        if session is not None and flash:
            session.flash.clear()
            self.sessions.save_flash(session)
        nav = NAV.get(key["role"], []) if key else []
        body = render(name, path=request.url.path, session=session, key=key, nav=nav, flash=flash, **context)
        return secured(HTMLResponse(body, status_code=status))

    def set_cookie(self, response: Response, request: Request, session: Session) -> Response:
        response.set_cookie(
            COOKIE,
            session.sid,
            max_age=self.sessions.max_age(session),
            httponly=True,
            samesite="strict",
            path="/console",
            secure=request.url.scheme == "https",
        )
        return response

    def html(self, function: Any) -> Any:
        """Page errors and ledger errors become an error page with their status; a lost session a
        redirect to the sign-in page."""

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Response:
            request: Request = kwargs["request"]
            try:
                return function(*args, **kwargs)
            except Redirect as redirect:
                return secured(RedirectResponse(redirect.to, status_code=303))
            except PageError as problem:
                status, code, detail = problem.status, problem.code, problem.detail
            except LedgerError as error:
                body = error.to_dict()
                code = body["code"]
                status, detail = status_of(code), PAGE_WORDING.get(code, body.get("message", code))
            session = self.current(request)
            key = self.keys.key_by_id(session.key_id) if session is not None else None
            detail = mask_id_numbers(str(detail))
            return self.page("error.html", request, session, key, status=status, code=code, detail=detail)

        return wrapper

    def signed_in(self, request: Request, *roles: str) -> tuple[Session, dict[str, Any]]:
        session = self.current(request)
        if session is None:
            raise Redirect("/console/login")
        key = self.keys.key_by_id(session.key_id)
        if key is None:
            self.sessions.end(session.sid)
            raise Redirect("/console/login?ended=1")
        self.keys.record_use(key["key_id"], request.url.path)
        if roles:
            Principal.of_key(key).check_role(*roles)
        return session, key

    @staticmethod
    def check_csrf(session: Session, given: str) -> None:
        if not session.csrf_ok(given):
            raise PageError(
                403,
                "CSRF_REFUSED",
                "the form's CSRF token is missing or wrong: open the page again and "
                "resubmit 表单校验失败，请重新打开页面后提交",
            )

    def read_person(self, ref: str, key: dict[str, Any], session: Session, endpoint: str) -> Person:
        """As the API: the person a person_ref names, within the key's region, the read logged
        with the purpose given at sign-in."""
        return self.ledger.reads.read_person(ref, Principal.of_key(key), session.purpose, endpoint)
