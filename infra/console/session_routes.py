"""The console's sign-in and sign-out pages (/console/login, /console/logout) and its home page (/console/).

Sign-in takes a service key's bearer token and, for auditors, the purpose written to the access log
with every read of one person's data; only auditor, operator and admin keys may sign in.
"""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from infra.console.plumbing import CONSOLE_ROLES, PURPOSE_MAX, Console, secured
from infra.console.sessions import COOKIE, LOGIN_COOKIE, LOGIN_FORM_TTL_S


def register_session_routes(api: APIRouter, console: Console) -> None:
    sessions, keys, html, current = console.sessions, console.keys, console.html, console.current

    def login_page(request: Request, status: int = 200, error: str | None = None, info: str | None = None) -> Response:
        """The sign-in form. It stores nothing: its CSRF token is the MAC of a random value in a
        cookie of its own (infra.console.sessions), so anonymous traffic holds no server state."""
        nonce = sessions.login_nonce()
        csrf = sessions.login_csrf(nonce)
        response = console.page("login.html", request, None, status=status, csrf=csrf, error=error, info=info)
        response.set_cookie(LOGIN_COOKIE, nonce, max_age=LOGIN_FORM_TTL_S, httponly=True, samesite="strict",
                            path="/console", secure=request.url.scheme == "https")  # fmt: skip
        return response

    @api.get("/login")
    def login_form(request: Request, ended: Annotated[str | None, Query(max_length=4)] = None) -> Response:
        session = current(request)
        if session is not None and keys.key_by_id(session.key_id):
            return secured(RedirectResponse("/console/", status_code=303))
        return login_page(
            request, info="Your session ended. Sign in again. 会话已结束，请重新登录。" if ended else None
        )

    @api.post("/login")
    def login(
        request: Request,
        token: Annotated[str, Form()] = "",
        purpose: Annotated[str, Form()] = "",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        session = current(request)
        # the sign-in form's token, or (signing in again with another key) the session's own
        fresh = sessions.login_csrf_ok(request.cookies.get(LOGIN_COOKIE), csrf)
        if not fresh and not (session is not None and session.csrf_ok(csrf)):
            return login_page(
                request,
                403,
                "The sign-in form expired or did not come from this console; try again. 登录表单已过期，请重试。",
            )
        key = keys.key_for_token(token.strip()) if token.strip() else None
        if key is None:
            return login_page(request, 401, "Unknown, expired or revoked key. 密钥无效、已过期或已吊销。")
        if key["role"] not in CONSOLE_ROLES:
            return login_page(
                request,
                403,
                f"A {key['role']} key cannot sign in to the console: it is for auditor, operator "
                "and admin keys. 此控制台仅供审计、运维和管理员密钥使用。",
            )
        purpose = purpose.strip()
        if len(purpose) > PURPOSE_MAX:
            return login_page(request, 422, f"Purpose: at most {PURPOSE_MAX} characters. 用途过长。")
        if key["role"] == "auditor" and not purpose:
            return login_page(
                request,
                422,
                "Purpose required: auditors say why they read personal data "
                "(written to the access log). 审计员须填写查询用途。",
            )
        expires_in = None
        if key["expires_at"]:
            expires_in = (datetime.fromisoformat(key["expires_at"]) - datetime.now(UTC)).total_seconds()
        signed = sessions.sign_in(session, key, purpose, expires_in)
        keys.record_use(key["key_id"], request.url.path)
        response = console.set_cookie(secured(RedirectResponse("/console/", status_code=303)), request, signed)
        response.delete_cookie(LOGIN_COOKIE, path="/console")
        return response

    @api.post("/logout")
    @html
    def logout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
        session = current(request)
        if session is not None:
            console.check_csrf(session, csrf)
            sessions.end(session.sid)
        response = secured(RedirectResponse("/console/login", status_code=303))
        response.delete_cookie(COOKIE, path="/console")
        return response

    @api.get("/")
    @html
    def home(request: Request) -> Response:
        session, key = console.signed_in(request)
        return console.page("home.html", request, session, key)
