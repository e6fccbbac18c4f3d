"""`ledger bench-http`: the service driven over real HTTP, with and without group commit.

For each mode: a fresh PostgreSQL schema beside the --db one, `persons` people enrolled (through
apply_batch, not timed), a fund key, and `ledger serve` started as `processes` subprocesses on
free ports, all on that one schema (as an operator would start them: group commit in each one's
writer process, views followed inside the first server only; or --no-group-commit). Both modes'
servers run side by side and are driven in alternating rounds, each round by a separate driver
process (infra.tools.bench_http_client) with `clients` concurrent keep-alive connections, spread
evenly over the mode's server processes, posting credit commands with fresh Idempotency-Keys,
after a warm-up of WARMUP_S that is not counted. Latency is measured by the driver, per request,
from send to answer.
"""

from __future__ import annotations

import contextlib
import dataclasses
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

import psycopg

from domain.ids import check_character
from infra.core.bootstrap import open_ledger
from infra.settings import ConfigError, Settings

ENROLLED_AT = "2025-01-02T09:00:00+08:00"
WARMUP_S = 2.0  # each server is driven this long before the measured rounds


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
    ledger = open_ledger(dataclasses.replace(settings, db=url))
    try:
        lines = [
            json.dumps({"type": "enroll", "person": person_number(i), "insurance": "employee", "at": ENROLLED_AT})
            for i in range(persons)
        ]
        refused = [a for a in ledger.commands.stream(lines, batch_size=1000) if not a["ok"]]
        if refused:
            raise ConfigError(f"bench set-up refused: {refused[0]['error']}")
        return ledger.keys.create_key("fund", name="bench-http")["token"]
    finally:
        ledger.close()


class Server:
    """`ledger serve` on a fresh schema beside the --db one, with `persons` enrolled and a fund key;
    stopped, and its schema dropped, on exit."""

    def __init__(self, settings: Settings, group_commit: bool, persons: int, processes: int = 1):
        self.settings, self.group_commit, self.persons = settings, group_commit, persons
        self.schema = f"bench_http_{uuid.uuid4().hex[:10]}"
        self.count = processes
        self.processes: list[subprocess.Popen] = []
        self.bases: list[str] = []

    def __enter__(self) -> Server:
        with psycopg.connect(with_schema(self.settings.db, None), autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {self.schema}")
        try:
            self._start()
        except BaseException:
            self.__exit__()  # a server that did not come up leaves no process and no schema behind
            raise
        return self

    def _start(self) -> None:
        url = with_schema(self.settings.db, self.schema)
        self.token = prepare(self.settings, url, self.persons)
        env = {**os.environ, "LEDGER_DB": url}  # the same LEDGER_PSEUDONYM_KEY as this process
        for number in range(self.count):
            port = free_port()
            command = [sys.executable, "-m", "infra.cli.main", "serve", "--port", str(port), "--no-access-log"]
            if not self.group_commit:
                command.append("--no-group-commit")
            if number > 0:
                command.append("--no-follow-views")  # one server keeps the views; the others only write
            self.processes.append(
                subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            )
            self.bases.append(f"http://127.0.0.1:{port}")
            wait_healthy(self.bases[-1])  # one at a time: the first creates the views' tables
        writers = set()
        for base in self.bases:
            ready = urllib.request.Request(base + "/readyz", headers={"Authorization": f"Bearer {self.token}"})
            with urllib.request.urlopen(ready, timeout=30) as response:
                writers.add(json.loads(response.read())["writer"])  # process, or request (one transaction each)
        self.writer = "/".join(sorted(writers))

    def __exit__(self, *_: Any) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        with psycopg.connect(with_schema(self.settings.db, None), autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {self.schema} CASCADE")

    def drive(self, clients: int, seconds: float, tag: str) -> dict[str, Any]:
        """One round: the driver process against this server."""
        driver = subprocess.run(
            [
                sys.executable,
                "-m",
                "infra.tools.bench_http_client",
                ",".join(self.bases),
                self.token,
                str(clients),
                str(seconds),
                str(self.persons),
                tag,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 120,
        )
        if driver.returncode != 0:
            raise ConfigError(f"bench driver failed: {driver.stderr.strip().splitlines()[-1:]}")
        return json.loads(driver.stdout)


def summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """One mode's figures over all its rounds: requests per second of driving time, and latency
    percentiles of every answered request."""
    latencies = sorted(latency for r in rounds for latency in r["latencies_ms"])
    elapsed = sum(r["elapsed_s"] for r in rounds)

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))], 1) if latencies else 0.0

    return {
        "requests": len(latencies),
        "errors": sum(r["errors"] for r in rounds),
        "first_error": next((r["first_error"] for r in rounds if r["first_error"]), None),
        "elapsed_s": round(elapsed, 2),
        "requests_per_s": round(len(latencies) / elapsed, 1) if elapsed else 0.0,
        "rounds_requests_per_s": [round(len(r["latencies_ms"]) / r["elapsed_s"], 1) for r in rounds],
        "latency_ms_p50": pct(0.50),
        "latency_ms_p90": pct(0.90),
        "latency_ms_p99": pct(0.99),
        "latency_ms_max": pct(1.0),
    }


def run(
    settings: Settings,
    *,
    clients: int = 64,
    seconds: float = 10.0,
    persons: int = 2000,
    rounds: int = 5,
    processes: int = 1,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Both modes, each driven `seconds` in all, in `rounds` alternating rounds (so that a slow
    spell of a shared machine falls on both, not on one)."""
    if not settings.is_postgres:
        raise ConfigError("bench-http runs on PostgreSQL: give --db postgresql://...")
    modes = {"group_commit": True, "one_transaction": False}
    result: dict[str, Any] = {
        "clients": clients,
        "seconds_per_mode": seconds,
        "rounds": rounds,
        "persons": persons,
        "processes": processes,
        "command": "credit",
        "cpus": os.cpu_count(),
    }
    with contextlib.ExitStack() as stack:
        progress(f"starting {processes} server process(es) per mode, {persons} persons enrolled in each ...")
        servers = {
            mode: stack.enter_context(Server(settings, group, persons, processes)) for mode, group in modes.items()
        }
        for mode, server in servers.items():  # not counted: the writer's cache and PostgreSQL's buffers fill
            warm = server.drive(clients, WARMUP_S, f"{mode[0]}w")
            progress(f"warm-up {mode}: {warm['requests']} requests in {WARMUP_S:.0f} s (not counted)")
        samples: dict[str, list[dict[str, Any]]] = {mode: [] for mode in modes}
        for number in range(rounds):
            for mode, server in servers.items():
                samples[mode].append(server.drive(clients, seconds / rounds, f"{mode[0]}{number}"))
                progress(f"round {number + 1}/{rounds} {mode}: {samples[mode][-1]['requests']} requests")
        for mode, server in servers.items():
            result[mode] = {"writer": server.writer, **summary(samples[mode])}
    group, single = result["group_commit"], result["one_transaction"]
    result["requests_per_s"] = group["requests_per_s"]
    result["latency_ms_p50"] = group["latency_ms_p50"]
    result["latency_ms_p99"] = group["latency_ms_p99"]
    result["speedup"] = (
        round(group["requests_per_s"] / single["requests_per_s"], 2) if single["requests_per_s"] else None
    )
    return result
