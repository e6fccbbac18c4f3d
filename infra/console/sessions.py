"""Console sessions, held server-side in this process's memory.

The cookie carries only a random session id (HttpOnly, SameSite=Strict, Path=/console, Secure
over HTTPS). A session holds its CSRF token (checked on every POST, the sign-in form included:
the sign-in page opens an anonymous session first), the purpose given at sign-in and the key's
bearer token, so that every request looks the key up again with the service's own
`ServiceStore.key_for_token` (a revoked or expired key ends the session at once). A restart
signs everyone out. Sign-in replaces the session id (no fixation).
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

COOKIE = "ledger_console"
SIGNED_IN_TTL_S = 8 * 3600  # absolute lifetime of a signed-in session
IDLE_TTL_S = 30 * 60  # ends after this long without a request
ANONYMOUS_TTL_S = 30 * 60  # a sign-in form's session
SESSIONS_MAX = 10_000  # oldest dropped beyond this (anonymous sign-in pages cost memory)


@dataclass
class Session:
    sid: str
    csrf: str
    expires: float
    idle_until: float
    token: str | None = None
    purpose: str = ""
    key_id: str | None = None
    role: str | None = None
    flash: list[tuple[str, str]] = field(default_factory=list)

    def csrf_ok(self, given: str | None) -> bool:
        return bool(given) and secrets.compare_digest(self.csrf, given or "")


class Sessions:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: dict[str, Session] = {}

    def _new(self, ttl: float) -> Session:
        now = time.monotonic()
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now + ttl, now + min(ttl, IDLE_TTL_S))
        with self._lock:
            self._sweep(now)
            while len(self._by_id) >= SESSIONS_MAX:
                self._by_id.pop(next(iter(self._by_id)))
            self._by_id[session.sid] = session
        return session

    def _sweep(self, now: float) -> None:
        for sid in [s for s, v in self._by_id.items() if min(v.expires, v.idle_until) <= now]:
            del self._by_id[sid]

    def anonymous(self) -> Session:
        return self._new(ANONYMOUS_TTL_S)

    def sign_in(
        self, old: Session | None, key: dict[str, Any], token: str, purpose: str, key_expires_in_s: float | None
    ) -> Session:
        if old is not None:
            self.end(old.sid)
        ttl = SIGNED_IN_TTL_S if key_expires_in_s is None else max(0.0, min(SIGNED_IN_TTL_S, key_expires_in_s))
        session = self._new(ttl)
        session.token, session.purpose, session.key_id, session.role = token, purpose, key["key_id"], key["role"]
        return session

    def get(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        now = time.monotonic()
        with self._lock:
            session = self._by_id.get(sid)
            if session is None:
                return None
            if min(session.expires, session.idle_until) <= now:
                del self._by_id[sid]
                return None
            session.idle_until = min(session.expires, now + IDLE_TTL_S)
            return session

    def end(self, sid: str) -> None:
        with self._lock:
            self._by_id.pop(sid, None)

    def max_age(self, session: Session) -> int:
        return max(1, int(session.expires - time.monotonic()))
