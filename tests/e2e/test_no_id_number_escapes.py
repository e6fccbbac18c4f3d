"""No plain ID number in any byte (issue 23, finding 7): a whole session against `ledger serve` on
a SQLite file — every endpoint and console page, errors included, and hostile requests that put
numbers where they do not belong — then every response, the server's log and the store's files
(database, WAL) are scanned for the test persons' numbers.

Reproduced findings: problem+json `instance` echoed `/v1/persons/<ID>` and `field` an ID used as a
JSON key; the server log kept a number that was not delimited (`/v1/persons/ID4201…`, a number
followed by more digits); purposes (`X-Purpose`, the console's sign-in purpose) were stored,
returned by the access-log API and shown on every console page unmasked.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from infra.tools.bench_http import free_port, wait_healthy
from tests.e2e.test_service_http import ENV, ledger
from tests.support import id_number, line

CHILD, FATHER, MOTHER = (
    id_number("110105", "20150101", 36),
    id_number("110105", "19800101", 11),
    id_number("110105", "19820303", 24),
)
STRANGER = id_number("420102", "19900101", 77)  # never enrolled
NUMBERS = (CHILD, FATHER, MOTHER, STRANGER)
AT = "2025-03-0{}T09:00:00+08:00"


class Session:
    """Requests to the server, every answer kept for the scan."""

    def __init__(self, base: str):
        self.base = base
        self.texts: list[str] = []
        self.cookies: dict[str, str] = {}

    def call(
        self, method: str, path: str, token: str | None = None, body: bytes | None = None, /, **headers: str
    ) -> tuple[int, str]:
        headers = {k.replace("_", "-"): v for k, v in headers.items()}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        request = urllib.request.Request(self.base + path, data=body, method=method, headers=headers)
        opener = urllib.request.build_opener(NoRedirect)
        try:
            with opener.open(request, timeout=60) as response:
                status, answer_headers, text = response.status, response.headers, response.read().decode()
        except urllib.error.HTTPError as error:
            status, answer_headers, text = error.code, error.headers, error.read().decode()
        for cookie in answer_headers.get_all("Set-Cookie") or []:
            name, _, rest = cookie.partition("=")
            self.cookies[name] = rest.split(";")[0]
        self.texts.append(f"{status}\n{answer_headers}\n{text}")
        return status, text


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def command(session: Session, token: str, key: str, type_: str, **fields: Any) -> None:
    body = line(type_, **fields).encode()
    status, text = session.call("POST", "/v1/commands", token, body, Idempotency_Key=key,
                                Content_Type="application/json")  # fmt: skip
    assert status == 200, text


def story(session: Session, tokens: dict[str, str]) -> None:
    fund, channel, institution = tokens["fund"], tokens["channel"], tokens["institution"]
    for n, person in enumerate((FATHER, MOTHER), start=1):
        command(session, fund, f"e-{n}", "enroll", person=person, insurance="employee", at=AT.format(1))
        command(session, fund, f"c-{n}", "credit", person=person, amount="300.00", source="adjustment", at=AT.format(1))
    command(session, fund, "e-3", "enroll", person=CHILD, insurance="resident", at=AT.format(1))
    command(session, channel, "b-1", "bind", binder=FATHER, member=CHILD, relationship="child", channel="alipay",
            verification="face", at=AT.format(2))  # fmt: skip
    command(session, channel, "a-1", "authorize", authorizer=MOTHER, beneficiary=CHILD, relationship="child",
            at=AT.format(2))  # fmt: skip
    command(session, institution, "S-1", "deduct", settlement_id="S-1", patient=CHILD, amount="50.00",
            category="pharmacy", institution="H-1", at=AT.format(3))  # fmt: skip
    command(session, institution, "r-1", "reverse", settlement_id="S-1", at=AT.format(4),
            reason=f"duplicate charge for {CHILD}")  # fmt: skip


def hostile(session: Session, tokens: dict[str, str]) -> None:
    """Numbers where they do not belong: in paths (delimited and not), queries, JSON keys,
    unknown fields, purposes."""
    auditor = tokens["auditor"]
    purpose = {"X_Purpose": f"complaint about {CHILD}"}
    for path in (f"/v1/persons/{CHILD}", f"/v1/persons/ID{CHILD}", f"/v1/persons/{CHILD}123",
                 f"/v1/persons/lookup?q=id{CHILD}", f"/v1/nothing/{FATHER}0"):  # fmt: skip
        session.call("GET", path, auditor, **purpose)
    as_json = {"Content_Type": "application/json", **purpose}
    session.call("POST", "/v1/persons/lookup", auditor, json.dumps({CHILD: 1}).encode(), **as_json)
    session.call("POST", "/v1/persons/lookup", auditor, json.dumps({"id_number": STRANGER}).encode(),
                 Content_Type="application/json", **purpose)  # fmt: skip
    session.call("POST", "/v1/commands", tokens["fund"], json.dumps({"type": "enroll", CHILD: 1}).encode(),
                 Idempotency_Key="bad-1", Content_Type="application/json")  # fmt: skip
    session.call("POST", "/v1/commands", tokens["fund"], line("enroll", person=CHILD + "0").encode(),
                 Idempotency_Key=f"id-{CHILD}", Content_Type="application/json")  # fmt: skip


def reads(session: Session, tokens: dict[str, str]) -> str:
    auditor, operator = tokens["auditor"], tokens["operator"]
    purpose = {"X_Purpose": f"complaint about {CHILD}"}
    status, text = session.call("POST", "/v1/persons/lookup", auditor, json.dumps({"id_number": CHILD}).encode(),
                                Content_Type="application/json", **purpose)  # fmt: skip
    assert status == 200, text
    ref = json.loads(text)["person_ref"]
    assert session.call("POST", "/v1/seal", operator)[0] == 200
    for path in ("", "/quota?month=2025-03", "/history",
                 "/access-log", "/subject-report", "/subject-report?format=html"):  # fmt: skip
        assert session.call("GET", f"/v1/persons/{ref}{path}", auditor, **purpose)[0] == 200, path
    report = "/v1/reports/compliance?region=11&month=2025-03"
    for path in ("/v1/settlements/S-1/audit", "/v1/settlements/S-1/audit?format=html", "/v1/settlements/S-1/bundle",
                 report, f"{report}&format=csv", f"{report}&format=html"):  # fmt: skip
        assert session.call("GET", path, auditor, **purpose)[0] == 200, path
    for path in ("/v1/verify", "/v1/projections", "/v1/projections/checksum", "/metrics", "/readyz"):
        assert session.call("GET", path, operator)[0] == 200, path
    session.call("GET", "/openapi.json")
    return ref


def console(session: Session, token: str, ref: str) -> None:
    """Sign in with a purpose holding a number, then every page an auditor sees."""
    session.cookies.clear()
    _, form = session.call("GET", "/console/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf is not None
    body = f"token={token}&purpose=complaint+about+{CHILD}&csrf={csrf.group(1)}".encode()
    status, _ = session.call("POST", "/console/login", None, body, Content_Type="application/x-www-form-urlencoded")
    assert status == 303, "sign-in"
    for path in ("/console/", "/console/persons", f"/console/persons/{ref}", f"/console/persons/{ref}/access-log",
                 f"/console/persons/{ref}/subject-report", "/console/settlements/S-1", "/console/integrity",
                 "/console/reports?month=2025-03", f"/console/persons/{CHILD}", "/console/national"):  # fmt: skip
        session.call("GET", path)


@pytest.fixture
def served(tmp_path: Path):
    db = str(tmp_path / "ledger.db")
    tokens = {}
    for role, scope in (("fund", ()), ("channel", ("--channel", "alipay")), ("institution", ("--institution", "H-1")),
                        ("auditor", ("--region", "11")), ("operator", ())):  # fmt: skip
        made = ledger(db, "keys", "create", "--role", role, *scope, "--json")
        tokens[role] = json.loads(made.stdout)["token"]
    port = free_port()
    log_path = tmp_path / "server.log"
    with open(log_path, "w+") as log:
        server = subprocess.Popen([sys.executable, "-m", "infra.cli.main", "--db", db, "serve", "--port", str(port)],
                                  stdout=log, stderr=subprocess.STDOUT, env=ENV)  # fmt: skip
        try:
            wait_healthy(f"http://127.0.0.1:{port}")
            yield Session(f"http://127.0.0.1:{port}"), tokens, db, log_path
        finally:
            server.terminate()
            server.wait(timeout=30)


def test_no_plain_id_number_in_any_answer_log_line_or_stored_byte(served):
    session, tokens, db, log_path = served
    story(session, tokens)
    hostile(session, tokens)
    ref = reads(session, tokens)
    console(session, tokens["auditor"], ref)
    cli = [ledger(db, *args) for args in (("access-log", CHILD, "--json"), ("subject-report", CHILD),
                                          ("history", CHILD, "--json"), ("person", f"{CHILD}0"))]  # fmt: skip
    assert len(session.texts) > 45
    found = [(n, text[text.find(n) - 300 : text.find(n) + 100]) for text in session.texts for n in NUMBERS if n in text]
    assert not found, found
    assert not [n for n in NUMBERS for c in cli if n in c.stdout + c.stderr]
    log = log_path.read_text()
    assert not [n for n in NUMBERS if n in log], [line for line in log.splitlines() if any(n in line for n in NUMBERS)]
    stored = b"".join(path.read_bytes() for path in Path(db).parent.glob("ledger.db*"))
    assert not [n for n in NUMBERS if n.encode() in stored]
