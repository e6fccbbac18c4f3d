"""A connection that goes half-open in the middle of `apply` ends as one STORAGE_ERROR line.

Goal: a server host that vanishes (no FIN, no RST: nothing comes back, not even TCP ACKs) must
never hang `apply`. Method: `ledger apply` reads stdin through a forwarding proxy; once its
first batch is answered, a netfilter rule drops every packet to and from the proxy's port, the
way a dead host or a cut cable looks to the client, and more lines are fed. The libpq bounds
(TCP user timeout, keepalives, connect timeout) and the commit-outcome bound must turn that
into exit 2 with one STORAGE_ERROR line, within a bounded time, and without a traceback.
Needs iptables (root); CI installs it and sets LEDGER_REQUIRE_NETFILTER=1.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.support import DEV_KEY, line
from tests.support.backends import postgres_base_url, unavailable
from tests.support.state import adult
from tests.tcp_proxy import LostCommitProxy

pytestmark = pytest.mark.postgres
LEDGER = str(Path(sys.executable).with_name("ledger"))
BOUNDS = {
    "LEDGER_PG_CONNECT_TIMEOUT_S": "2",
    "LEDGER_PG_TCP_USER_TIMEOUT_S": "3",
    "LEDGER_PG_KEEPALIVE_IDLE_S": "1",
    "LEDGER_PG_KEEPALIVE_INTERVAL_S": "1",
    "LEDGER_PG_KEEPALIVE_COUNT_N": "2",
    "LEDGER_PG_COMMIT_OUTCOME_TIMEOUT_S": "4",
}


def netfilter() -> str:
    found = shutil.which("iptables")
    usable = found is not None and subprocess.run([found, "-L", "-n"], capture_output=True).returncode == 0
    if not usable:
        unavailable("iptables is not usable here: cannot make a connection half-open", "LEDGER_REQUIRE_NETFILTER")
    return str(found)


def drop_rules(port: int) -> list[list[str]]:
    return [
        ["INPUT", "-i", "lo", "-p", "tcp", "--dport", str(port), "-j", "DROP"],
        ["INPUT", "-i", "lo", "-p", "tcp", "--sport", str(port), "-j", "DROP"],
    ]


@pytest.fixture
def schema():
    import psycopg

    base = postgres_base_url().split("?", 1)[0]
    name = f"t_half_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    yield base, name
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {name} CASCADE")


def test_a_connection_that_goes_half_open_mid_apply_is_one_storage_error(schema):
    iptables = netfilter()
    base, name = schema
    proxy = LostCommitProxy(nth=10**9)  # forwards everything: never loses a reply by itself
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env |= {"LEDGER_PSEUDONYM_KEY": DEV_KEY.decode(), **BOUNDS}
    process = subprocess.Popen(
        [LEDGER, "--db", f"{proxy.url(base)}?schema={name}", "apply", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    rules = drop_rules(proxy.port)
    assert process.stdin is not None and process.stdout is not None
    try:
        process.stdin.write(line("enroll", person=adult(1), insurance="employee") + "\n")
        process.stdin.flush()
        assert '"ok": true' in process.stdout.readline()  # the first batch is stored and answered
        for rule in rules:
            subprocess.run([iptables, "-I", *rule], check=True)
        started = time.monotonic()
        process.stdin.write(line("credit", person=adult(1), amount="1.00", source="adjustment") + "\n")
        process.stdin.close()
        process.wait(timeout=90)
        stderr = process.stderr.read() if process.stderr else ""
        elapsed = time.monotonic() - started
    finally:
        for rule in rules:
            subprocess.run([iptables, "-D", *rule], capture_output=True)
        if process.poll() is None:
            process.kill()
        proxy.close()
    assert process.returncode == 2, stderr
    errors = [text for text in stderr.splitlines() if "STORAGE_ERROR" in text]
    assert len(errors) == 1 and ("lines 2-2" in errors[0] or "line 2:" in errors[0]), stderr
    assert "Traceback" not in stderr
    assert elapsed < 60
