"""Network failures between `ledger` and PostgreSQL, through a TCP proxy (tests/tcp_proxy.py).

A lost COMMIT reply must not store a batch twice or produce a false answer: the run through a
proxy that loses one COMMIT reply must end exactly like a clean run. A server that stops
answering must give one STORAGE_ERROR line and exit 2 within a bounded time, never a hang.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from infra.eventstore.application import LedgerApp
from infra.settings import Settings
from tests.support import DEV_KEY, line
from tests.support.backends import postgres_base_url
from tests.support.state import adult, minor
from tests.tcp_proxy import LostCommitProxy, StalledProxy

pytestmark = pytest.mark.postgres
LEDGER = str(Path(sys.executable).with_name("ledger"))
FAMILIES = 6


def family(n: int) -> tuple[str, str, str]:
    return adult(100 + 2 * n + 1), adult(100 + 2 * n + 2), minor(300 + n)


def scenario() -> str:
    lines = []
    for n in range(FAMILIES):
        father, mother, child = family(n)
        lines += [
            line("enroll", person=father, insurance="employee"),
            line("enroll", person=mother, insurance="employee"),
            line("enroll", person=child, insurance="resident"),
            line("credit", person=father, amount="300.00", source="monthly_contribution", command_id=f"c-f-{n}"),
            line("credit", person=mother, amount="500.00", source="monthly_contribution", command_id=f"c-m-{n}"),
            line(
                "bind",
                binder=father,
                member=child,
                relationship="child",
                channel="alipay",
                verification="documents",
                command_id=f"b-{n}",
            ),
            line(
                "authorize", authorizer=father, beneficiary=child, relationship="child", at="2025-03-03T10:00:00+08:00"
            ),
            line(
                "authorize", authorizer=mother, beneficiary=child, relationship="child", at="2025-03-03T11:00:00+08:00"
            ),
            line(
                "deduct",
                settlement_id=f"S-{n}",
                patient=child,
                amount="600.00",
                category="hospital_self_pay",
                institution="H1",
                presented_by=father,
                at="2025-03-04T10:00:00+08:00",
                command_id=f"d-{n}",
            ),
        ]
    return "".join(text + "\n" for text in lines)


def run_ledger(
    db: str, *args: str, stdin: str = "", env: dict | None = None, timeout: float = 180
) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    environment |= {"LEDGER_PSEUDONYM_KEY": DEV_KEY.decode()} | (env or {})
    return subprocess.run(
        [LEDGER, "--db", db, *args], input=stdin, capture_output=True, text=True, timeout=timeout, env=environment
    )


@pytest.fixture
def schemas():
    """Two fresh schemas on the test server (a clean run and a proxied run), dropped afterwards."""
    import psycopg

    base = postgres_base_url().split("?", 1)[0]
    names = [f"t_lost_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    with psycopg.connect(base, autocommit=True) as conn:
        for name in names:
            conn.execute(f"CREATE SCHEMA {name}")
    yield base, names
    with psycopg.connect(base, autocommit=True) as conn:
        for name in names:
            conn.execute(f"DROP SCHEMA {name} CASCADE")


def stored(url: str) -> tuple[dict[str, int], int]:
    """Every balance, and the number of stored events, in the schema of `url`."""
    import psycopg

    app = LedgerApp(Settings(db=url, pseudonym_key=DEV_KEY, using_development_key=False))
    try:
        balances = {raw: app.get_person(raw).balance_fen for n in range(FAMILIES) for raw in family(n)}
    finally:
        app.close()
    base, schema = url.split("?schema=")
    with psycopg.connect(base) as conn:
        row = conn.execute(f"SELECT count(*) FROM {schema}.familyledger_events").fetchone()
    assert row is not None
    count = row[0]
    return balances, count


@pytest.mark.parametrize(
    ("batch_size", "nth", "lose"), [(50, 2, "reply"), (1, 7, "reply"), (50, 2, "commit"), (1, 7, "commit")]
)
def test_a_lost_commit_reply_ends_exactly_like_a_clean_run(schemas, batch_size, nth, lose):
    """`reply`: stored, the reply lost (must not be decided again); `commit`: the COMMIT lost,
    rolled back by the server (must be sent again)."""
    base, (clean, lossy) = schemas
    text = scenario()
    clean_url = f"{base}?schema={clean}"
    expected = run_ledger(clean_url, "apply", "-", "--batch-size", str(batch_size), stdin=text)
    assert expected.returncode == 0, expected.stderr

    proxy = LostCommitProxy(nth=nth, lose=lose)
    try:
        lossy_url = f"{proxy.url(base)}?schema={lossy}"
        actual = run_ledger(lossy_url, "apply", "-", "--batch-size", str(batch_size), stdin=text)
    finally:
        proxy.close()
    assert proxy.dropped.is_set(), f"the proxy lost nothing (saw {proxy.commits_seen})"
    assert actual.returncode == 0, actual.stderr
    answers = [json.loads(row) for row in actual.stdout.splitlines()]
    assert answers == [json.loads(row) for row in expected.stdout.splitlines()]
    assert all(a["ok"] for a in answers), [a for a in answers if not a["ok"]]
    assert not any(a.get("duplicate") for a in answers)
    assert stored(f"{base}?schema={lossy}") == stored(clean_url)


SMALL_TIMEOUTS = {
    "LEDGER_PG_CONNECT_TIMEOUT_S": "2",
    "LEDGER_PG_STATEMENT_TIMEOUT_S": "3",
    "LEDGER_PG_KEEPALIVE_IDLE_S": "1",
    "LEDGER_PG_KEEPALIVE_INTERVAL_S": "1",
    "LEDGER_PG_KEEPALIVE_COUNT_N": "2",
    "LEDGER_PG_COMMIT_OUTCOME_TIMEOUT_S": "3",
}


def test_a_server_that_accepts_and_never_answers_gives_one_storage_error_line(schemas):
    base, (schema, _) = schemas
    proxy = StalledProxy(stall_after=0)
    started = time.monotonic()
    try:
        process = run_ledger(
            f"{proxy.url(base)}?schema={schema}", "apply", "-", stdin=scenario(), env=SMALL_TIMEOUTS, timeout=60
        )
    finally:
        proxy.close()
    elapsed = time.monotonic() - started
    assert process.returncode == 2, process.stderr
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1 and "STORAGE_ERROR" in lines[0], process.stderr
    assert "Traceback" not in process.stderr
    assert elapsed < 30
