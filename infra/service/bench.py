"""`ledger bench-http`: the service driven over real HTTP, with and without group commit.

For each mode: a fresh PostgreSQL schema beside the --db one, `persons` people enrolled (through
apply_batch, not timed), a fund key, `ledger serve` started as a subprocess on a free port (as an
operator would start it: group commit in its writer process, views followed inside the server; or
--no-group-commit), and a separate driver process (infra.service.bench_client) with `clients` concurrent keep-alive
connections, each posting credit commands with fresh Idempotency-Keys for `seconds` seconds.
Latency is measured by the driver, per request, from send to answer.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from domain.ids import check_character
from infra.config import ConfigError, Settings

ENROLLED_AT = "2025-01-02T09:00:00+08:00"


def person_number(index: int) -> str:
    birth = date(1950, 1, 1) + timedelta(days=index // 500)
    first17 = f"110105{birth:%Y%m%d}{index % 500 + 100:03d}"
    return first17 + check_character(first17)


def with_schema(url: str, schema: str | None) -> str:
    """`url` naming `schema` (None: no schema parameter, a plain libpq URL)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "schema"] + ([("schema", schema)] if schema else [])
    return urlunsplit(parts._replace(query=urlencode(query)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(base: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def prepare(settings: Settings, url: str, persons: int) -> str:
    """Enroll the people and make a fund key; the key's token."""
    from infra.eventstore.application import LedgerApp
    from infra.groupcommit.batch import apply_batch
    from infra.groupcommit.prefetch import Prefetcher
    from infra.service.store import ServiceStore

    app = LedgerApp(Settings(db=url, pseudonym_key=settings.pseudonym_key, rules_dir=settings.rules_dir,
                             using_development_key=settings.using_development_key))
    try:
        lines = [json.dumps({"type": "enroll", "person": person_number(i), "insurance": "employee",
                             "at": ENROLLED_AT}) for i in range(persons)]
        prefetcher = Prefetcher()
        for start in range(0, len(lines), 1000):
            answers = apply_batch(app, lines[start:start + 1000], prefetcher)
            refused = [a for a in answers if not a["ok"]]
            if refused:
                raise ConfigError(f"bench set-up refused: {refused[0]['error']}")
        return ServiceStore(app).create_key("fund", name="bench-http")["token"]
    finally:
        app.close()


def drive(settings: Settings, schema_url: str, group_commit: bool, clients: int, seconds: float,
          persons: int) -> dict[str, Any]:
    token = prepare(settings, schema_url, persons)
    port = free_port()
    env = {**os.environ, "LEDGER_DB": schema_url}  # the same LEDGER_PSEUDONYM_KEY as this process
    command = [sys.executable, "-m", "infra.cli.main", "serve", "--port", str(port), "--no-access-log"]
    if not group_commit:
        command.append("--no-group-commit")
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base)
        ready = urllib.request.Request(base + "/readyz", headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(ready, timeout=30) as response:
            writer = json.loads(response.read())["writer"]  # process, or request (one transaction each)
        driver = subprocess.run(
            [sys.executable, "-m", "infra.service.bench_client", base, token, str(clients), str(seconds),
             str(persons), "g" if group_commit else "d"],
            capture_output=True, text=True, timeout=seconds + 120)
        if driver.returncode != 0:
            raise ConfigError(f"bench driver failed: {driver.stderr.strip().splitlines()[-1:]}")
        return {"writer": writer, **json.loads(driver.stdout)}
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def run(settings: Settings, *, clients: int = 64, seconds: float = 10.0, persons: int = 2000,
        progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    if not settings.is_postgres:
        raise ConfigError("bench-http runs on PostgreSQL: give --db postgresql://...")
    import psycopg

    result: dict[str, Any] = {"clients": clients, "seconds_per_mode": seconds, "persons": persons,
                              "command": "credit", "cpus": os.cpu_count()}
    for mode, group_commit in (("group_commit", True), ("one_transaction", False)):
        schema = f"bench_http_{uuid.uuid4().hex[:10]}"
        base = settings.db
        with psycopg.connect(with_schema(base, None),
                             autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        try:
            progress(f"{mode}: {persons} persons enrolled, {clients} clients for {seconds:.0f} s ...")
            result[mode] = drive(settings, with_schema(base, schema), group_commit, clients, seconds, persons)
            progress(f"{mode}: {result[mode]['requests_per_s']:.0f} requests/s, "
                     f"p99 {result[mode]['latency_ms_p99']:.1f} ms")
        finally:
            with psycopg.connect(with_schema(base, None),
                                 autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")
    group, single = result["group_commit"], result["one_transaction"]
    result["requests_per_s"] = group["requests_per_s"]
    result["latency_ms_p50"] = group["latency_ms_p50"]
    result["latency_ms_p99"] = group["latency_ms_p99"]
    result["speedup"] = (round(group["requests_per_s"] / single["requests_per_s"], 2)
                         if single["requests_per_s"] else None)
    return result
