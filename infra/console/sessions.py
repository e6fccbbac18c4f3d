"""Console sessions, stored in the ledger's own database (`ledger_console_sessions`), so that
several server processes and restarts keep them.

A session is created only at sign-in; anonymous traffic creates nothing, so it can never evict a
signed-in session. The cookie carries a random session id (HttpOnly, SameSite=Strict,
Path=/console, Secure over HTTPS); the table keeps only the id's SHA-256, the key's id (never its
token: each request looks the key up again, so a revoked or expired key ends the session at
once), the purpose given at sign-in (masked), the CSRF token of the session's forms, its
lifetimes and its pending messages, under a row MAC (infra.row_macs, purpose "session"): a row
written by SQL (a session minted for an admin key) opens nothing.

The sign-in form needs no server state either: its CSRF token is HMAC(key, a random value held
in a short-lived cookie of its own), checked against that cookie when the form comes back
(a double-submit cookie bound by the MAC). Sign-in replaces any earlier session (no fixation).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from domain.masking import mask_id_numbers
from infra.row_macs import RowMacs
from infra.storage.base import LedgerRecorder

COOKIE = "ledger_console"
LOGIN_COOKIE = "ledger_console_login"
SCOPE_SESSION = "ledger.console_session"  # a session the service's admission already read for this request
SIGNED_IN_TTL_S = 8 * 3600  # absolute lifetime of a signed-in session
IDLE_TTL_S = 30 * 60  # ends after this long without a request
LOGIN_FORM_TTL_S = 30 * 60  # a sign-in form's cookie
IDLE_WRITE_S = 60  # the idle deadline is written back at most this often
FLASH_MAX = 5  # pending messages kept per session

_DDL = (
    "CREATE TABLE IF NOT EXISTS {ledger_console_sessions} (sid_sha256 TEXT PRIMARY KEY, key_id TEXT NOT NULL, "
    "role TEXT NOT NULL, purpose TEXT NOT NULL, csrf TEXT NOT NULL, expires BIGINT NOT NULL, "
    "idle_until BIGINT NOT NULL, flash TEXT NOT NULL, row_mac TEXT NOT NULL)",
)
_FIELDS = ("sid_sha256", "key_id", "role", "purpose", "csrf", "expires", "flash")  # idle_until: not covered


@dataclass
class Session:
    sid: str
    csrf: str
    key_id: str
    role: str
    purpose: str
    expires: int  # epoch seconds (stored as BIGINT: a float4 column would round it and break the MAC)
    idle_until: int
    flash: list[tuple[str, str]] = field(default_factory=list)

    def csrf_ok(self, given: str | None) -> bool:
        return bool(given) and secrets.compare_digest(self.csrf, given or "")


def _digest(sid: str) -> str:
    return hashlib.sha256(sid.encode("utf-8")).hexdigest()


class Sessions:
    def __init__(self, recorder: LedgerRecorder, pseudonym_key: bytes, *, create: bool = True):
        self.tables = recorder.tables
        self.macs = RowMacs(pseudonym_key, "session")
        self._login = RowMacs(pseudonym_key, "console-login")
        self._ready = False
        self._create = create

    def _tables(self) -> None:
        if not self._ready and self._create:
            with self.tables.transaction() as run:
                for statement in _DDL:
                    run(statement)
        self._ready = True

    # --- the sign-in form: stateless CSRF ----------------------------------------------------------
    @staticmethod
    def login_nonce() -> str:
        return secrets.token_urlsafe(32)

    def login_csrf(self, nonce: str) -> str:
        return self._login.of({"nonce": nonce})

    def login_csrf_ok(self, nonce: str | None, given: str | None) -> bool:
        return bool(nonce) and bool(given) and secrets.compare_digest(self.login_csrf(nonce or ""), given or "")

    # --- signed-in sessions --------------------------------------------------------------------------
    def sign_in(
        self, old: Session | None, key: dict[str, Any], purpose: str, key_expires_in_s: float | None
    ) -> Session:
        """A new session for `key` (any earlier one of this browser ended); expired rows swept."""
        self._tables()
        now = time.time()
        ttl = SIGNED_IN_TTL_S if key_expires_in_s is None else max(0.0, min(SIGNED_IN_TTL_S, key_expires_in_s))
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), key["key_id"], key["role"],
                          mask_id_numbers(purpose), int(now + ttl), int(now + min(ttl, IDLE_TTL_S)))  # fmt: skip
        with self.tables.transaction() as run:
            run("DELETE FROM {ledger_console_sessions} WHERE expires <= ? OR idle_until <= ?", (now, now))
            if old is not None:
                run("DELETE FROM {ledger_console_sessions} WHERE sid_sha256 = ?", (_digest(old.sid),))
            self._insert(run, session)
        return session

    def _row(self, session: Session) -> dict[str, Any]:
        return {"sid_sha256": _digest(session.sid), "key_id": session.key_id, "role": session.role,
                "purpose": session.purpose, "csrf": session.csrf, "expires": session.expires,
                "flash": json.dumps(session.flash[-FLASH_MAX:], ensure_ascii=False)}  # fmt: skip

    def _insert(self, run: Any, session: Session) -> None:
        row = self._row(session)
        names = (*_FIELDS, "idle_until", "row_mac")
        values = (*(row[n] for n in _FIELDS), session.idle_until, self.macs.of(row))
        run(f"INSERT INTO {{ledger_console_sessions}} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
            values)  # fmt: skip

    def get(self, sid: str | None) -> Session | None:
        """The live session of this cookie: proven (its MAC holds), not expired, not idle too long."""
        if not sid or not self.tables.exists("ledger_console_sessions"):
            return None
        now = time.time()
        with self.tables.transaction(commit=False) as run:
            columns = ", ".join((*_FIELDS, "idle_until", "row_mac"))
            rows = run(f"SELECT {columns} FROM {{ledger_console_sessions}} WHERE sid_sha256 = ?", (_digest(sid),), True)
        if not rows:
            return None
        row = rows[0]
        content = {n: row[n] for n in _FIELDS}
        if not self.macs.holds(content, row["row_mac"]) or min(row["expires"], row["idle_until"]) <= now:
            self.end(sid)
            return None
        flash = [(kind, text) for kind, text in json.loads(row["flash"])]
        session = Session(sid, row["csrf"], row["key_id"], row["role"], row["purpose"], row["expires"],
                          row["idle_until"], flash)  # fmt: skip
        if now + IDLE_TTL_S - session.idle_until >= IDLE_WRITE_S:
            session.idle_until = min(session.expires, int(now + IDLE_TTL_S))
            self._update(session, "idle_until = ?", (session.idle_until,))
        return session

    def save_flash(self, session: Session) -> None:
        """Write the session's pending messages back (after adding or showing them)."""
        self._update(session, "flash = ?, row_mac = ?", (self._row(session)["flash"], self.macs.of(self._row(session))))

    def _update(self, session: Session, assignments: str, values: tuple[Any, ...]) -> None:
        with self.tables.transaction() as run:
            run(f"UPDATE {{ledger_console_sessions}} SET {assignments} WHERE sid_sha256 = ?",
                (*values, _digest(session.sid)))  # fmt: skip

    def end(self, sid: str) -> None:
        if not self.tables.exists("ledger_console_sessions"):
            return
        with self.tables.transaction() as run:
            run("DELETE FROM {ledger_console_sessions} WHERE sid_sha256 = ?", (_digest(sid),))

    @staticmethod
    def max_age(session: Session) -> int:
        return max(1, int(session.expires - time.time()))
