"""`ledger serve` as a subprocess on a free port, called over real HTTP; keys and the access log
through the CLI; no ID number in the server's log, even one a client put in a URL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

from infra.settings import KEY_CACHE_S_DEFAULT
from infra.tools.bench_http import free_port, wait_healthy
from tests.support import id_number, line

ENV = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")} | {"LEDGER_ALLOW_DEVELOPMENT_KEY": "1"}


def ledger(db: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "infra.cli.main", "--db", db, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=ENV,
    )


def call(base: str, method: str, path: str, token: str, body: bytes | None = None, /, **headers: str):
    request = urllib.request.Request(
        base + path, data=body, method=method, headers={"Authorization": f"Bearer {token}", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


def test_serve_over_real_http(tmp_path):
    db = str(tmp_path / "ledger.db")
    fund = json.loads(ledger(db, "keys", "create", "--role", "fund", "--json").stdout)
    auditor = json.loads(ledger(db, "keys", "create", "--role", "auditor", "--region", "11", "--json").stdout)
    assert fund["role"] == "fund" and fund["token"] and fund["key_id"]
    listed = ledger(db, "keys", "list", "--json")
    assert fund["token"] not in listed.stdout and fund["key_id"] in listed.stdout
    port = free_port()
    with open(tmp_path / "server.log", "w+") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "infra.cli.main", "--db", db, "serve", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=ENV,
        )
        base = f"http://127.0.0.1:{port}"
        person = id_number("110105", "19800101", 11)
        try:
            wait_healthy(base)
            status, headers, text = call(
                base,
                "POST",
                "/v1/commands",
                fund["token"],
                line("enroll", person=person, insurance="employee").encode(),
                **{"Idempotency-Key": "e2e-1", "Content-Type": "application/json"},
            )
            assert status == 200 and json.loads(text)["position"] >= 1
            status, headers, _ = call(
                base,
                "POST",
                "/v1/commands",
                fund["token"],
                line("enroll", person=person, insurance="employee").encode(),
                **{"Idempotency-Key": "e2e-1", "Content-Type": "application/json"},
            )
            assert status == 200 and headers["Idempotency-Replayed"] == "true"
            status, _, text = call(
                base,
                "POST",
                "/v1/persons/lookup",
                auditor["token"],
                json.dumps({"id_number": person}).encode(),
                **{"X-Purpose": "e2e", "Content-Type": "application/json"},
            )
            assert status == 200
            ref = json.loads(text)["person_ref"]
            status, _, text = call(
                base, "GET", f"/v1/persons/{ref}/balance?min_position=1", auditor["token"], **{"X-Purpose": "e2e"}
            )
            assert status == 200 and json.loads(text)["balance_fen"] == 0
            # a careless client puts an ID number in a URL: refused, and the log masks it
            status, headers, _ = call(base, "GET", f"/v1/persons/{person}", auditor["token"], **{"X-Purpose": "e2e"})
            assert status == 404 and headers["Content-Type"].startswith("application/problem+json")
            assert call(base, "GET", "/metrics", fund["token"])[0] == 200
            assert ledger(db, "keys", "revoke", fund["key_id"]).returncode == 0
            revoked = time.monotonic()  # another process revoked it: refused within the key cache time
            while call(base, "GET", "/readyz", fund["token"])[0] != 401:
                assert time.monotonic() - revoked < KEY_CACHE_S_DEFAULT + 1.0
                time.sleep(0.05)
        finally:
            server.terminate()
            server.wait(timeout=30)
        log.seek(0)
        server_log = log.read()
    assert "/v1/persons/110105********0112" in server_log  # the access log line, masked
    assert person not in server_log
    access = json.loads(ledger(db, "access-log", person, "--json").stdout)
    assert [e["endpoint"] for e in access["entries"]] == ["/v1/persons/lookup", "/v1/persons/{person_ref}/balance"]
    assert access["entries"][0]["purpose"] == "e2e" and access["entries"][0]["key_id"] == auditor["key_id"]
    assert person not in json.dumps(access)


def test_a_writer_process_needs_a_store_it_can_open_itself():
    refused = ledger("memory://", "serve", "--writer", "process")
    assert refused.returncode != 0 and "--writer process needs a file or PostgreSQL store" in refused.stderr
    assert "Traceback" not in refused.stderr
