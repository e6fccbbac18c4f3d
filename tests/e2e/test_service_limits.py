"""Limits before reading, over real HTTP against `ledger serve` (issue 23, finding 5): a body
declared larger than its endpoint's limit, or sent by an unknown key, is answered without being
read; headers past HEADER_BYTES_MAX get 431; connections are bounded in number and idle time.

Reproduced finding: a 300 MiB body with an unknown key was read whole (server RSS 87 -> 923 MiB)
before the 401. Here the client sends the headers only and waits: a server that read the body
first would never answer."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from infra.service.connections import HEADER_BYTES_MAX
from infra.tools.bench_http import free_port, wait_healthy
from tests.e2e.test_service_http import ENV, ledger
from tests.support import id_number, line


@pytest.fixture
def server(tmp_path: Path):
    db = str(tmp_path / "ledger.db")
    token = json.loads(ledger(db, "keys", "create", "--role", "fund", "--json").stdout)["token"]
    port = free_port()
    command = [sys.executable, "-m", "infra.cli.main", "--db", db, "serve", "--port", str(port),
               "--max-connections", "2", "--idle-timeout", "1"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    try:
        wait_healthy(f"http://127.0.0.1:{port}")
        yield port, token
    finally:
        process.terminate()
        process.wait(timeout=30)


def exchange(port: int, request: bytes) -> bytes:
    """Send `request` (perhaps only the headers of a long body) and read the answer's start."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(request)
        answer = connection.recv(4096)
        while b"\r\n\r\n" not in answer or len(answer.partition(b"\r\n\r\n")[2]) < length_of(answer):
            more = connection.recv(4096)
            if not more:
                break
            answer += more
        return answer


def length_of(answer: bytes) -> int:
    for header in answer.partition(b"\r\n\r\n")[0].split(b"\r\n"):
        name, _, value = header.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def post(path: str, token: str, length: int) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nIdempotency-Key: k-1\r\n"
            f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n").encode()  # fmt: skip


def status_and_body(answer: bytes) -> tuple[int, dict]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def test_an_unknown_key_is_answered_before_the_body_is_sent(server):
    port, _ = server
    status, body = status_and_body(exchange(port, post("/v1/commands", "lk_unknown", 60_000)))
    assert status == 401 and body["code"] == "UNAUTHORIZED"


def test_a_body_declared_over_the_limit_is_answered_before_it_is_sent(server):
    port, token = server
    status, body = status_and_body(exchange(port, post("/v1/commands", token, 300 * 2**20)))
    assert status == 413 and body["code"] == "BODY_TOO_LARGE"


def test_headers_over_the_limit_are_431_whole_or_in_pieces(server):
    port, _ = server
    whole = exchange(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * HEADER_BYTES_MAX + b"\r\n\r\n")
    unfinished = exchange(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (3 * HEADER_BYTES_MAX))
    for answer in (whole, unfinished):
        status, body = status_and_body(answer)
        assert status == 431 and body["code"] == "HEADERS_TOO_LARGE"
    assert exchange(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Small: a\r\n\r\n").startswith(b"HTTP/1.1 200")


def test_an_idle_connection_is_closed_and_connections_are_bounded(server):
    port, _ = server
    with socket.create_connection(("127.0.0.1", port), timeout=30) as idle:
        idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert idle.recv(4096).startswith(b"HTTP/1.1 200")
        deadline = time.monotonic() + 20
        closed = False
        while not closed and time.monotonic() < deadline:
            closed = idle.recv(4096) == b""  # blocks until the server closes it (--idle-timeout 1)
        assert closed
    held = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(2)]  # open, silent
    try:
        time.sleep(0.2)  # for the server to accept them
        assert exchange(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 503")
    finally:
        for connection in held:
            connection.close()


@pytest.mark.parametrize(
    "args",
    [
        ("history", "{p}", "--as-of", "0001-01-01T00:00:00+14:00"),
        ("history", "{p}", "--as-of", "9999-12-31T23:59:59-12:00"),
        ("report", "compliance", "--month", "0000-01"),
        ("report", "compliance", "--month", "9999-13"),
        ("quota", "{p}", "--month", "0000-01"),
        ("quota", "{p}", "--month", "10000-01"),
    ],
    ids=["as-of-first", "as-of-last", "month-0", "month-13", "quota-0", "quota-5-digits"],
)
def test_extreme_dates_and_months_on_the_command_line_are_one_coded_line(tmp_path, args):
    """Finding 8 in the CLI: these printed a traceback and exited 1."""
    db = str(tmp_path / "ledger.db")
    person = id_number("110105", "19800101", 11)
    enroll = line("enroll", person=person, insurance="employee", at="2025-03-01T09:00:00+08:00", command_id="e-1")
    assert subprocess.run([sys.executable, "-m", "infra.cli.main", "--db", db, "apply", "-"], input=enroll + "\n",
                          capture_output=True, text=True, env=ENV, timeout=120).returncode == 0  # fmt: skip
    answer = ledger(db, *(a.format(p=person) for a in args))
    errors = [t for t in answer.stderr.splitlines() if not t.startswith("WARNING")]
    assert answer.returncode == 2 and len(errors) == 1 and errors[0].startswith("error: INVALID_INPUT: "), answer.stderr
    assert "Traceback" not in answer.stderr and person not in answer.stderr
