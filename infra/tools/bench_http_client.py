"""The load driver of `ledger bench-http`, run as its own process:

    python -m infra.tools.bench_http_client BASE_URL[,BASE_URL...] TOKEN CLIENTS SECONDS PERSONS TAG

CLIENTS concurrent keep-alive connections, spread evenly over the servers named (connection n
goes to the n-th base modulo their number), post credit commands, each with a fresh
Idempotency-Key, for SECONDS (plain asyncio streams, on uvloop's loop where it is installed:
httpx's async pool topped out near 100 requests/s here, far below the server); prints one JSON
object: requests, errors, first_error, elapsed_s and the latency of every answered request in
milliseconds (infra.tools.bench_http sums up the rounds)."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable

from infra.tools.bench_http import person_number


async def main(bases: str, token: str, clients: int, seconds: float, persons: int, tag: str) -> dict:
    servers = [base.removeprefix("http://").split(":") for base in bases.split(",")]
    latencies: list[float] = []
    error_count = 0
    first_error: str | None = None
    numbers = [person_number(i) for i in range(persons)]
    stop_at = time.perf_counter() + seconds

    async def worker(number: int) -> None:
        nonlocal error_count, first_error
        host, port = servers[number % len(servers)]
        reader, writer = await asyncio.open_connection(host, int(port))
        sent = 0
        while time.perf_counter() < stop_at:
            sent += 1
            body = json.dumps(
                {
                    "type": "credit",
                    "person": numbers[(number * 7919 + sent) % persons],
                    "amount": "1.00",
                    "source": "adjustment",
                    "at": "2025-02-01T09:00:00+08:00",
                }
            ).encode()
            request = (
                f"POST /v1/commands HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
                f"Idempotency-Key: bench-{tag}-{number}-{sent}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode() + body
            started = time.perf_counter()
            writer.write(request)  # one write: headers and body in one segment
            await writer.drain()
            status, length = await read_head(reader)
            answer = await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if status != 200:
                error_count += 1
                first_error = first_error or answer[:200].decode("utf-8", "replace")
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(clients)))
    elapsed = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "errors": error_count,
        "first_error": first_error,
        "elapsed_s": round(elapsed, 3),
        "latencies_ms": [round(x * 1000, 2) for x in latencies],
    }


async def read_head(reader: asyncio.StreamReader) -> tuple[int, int]:
    """Status and Content-Length of one HTTP/1.1 response (the server always sends a length)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = next(int(line.split(":", 1)[1]) for line in lines[1:] if line.lower().startswith("content-length:"))
    return status, length


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop where it is installed (a dependency of the project, for uvicorn): the driver
    shares the two cores with the servers, so the less it spends per request the less it takes
    from them."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


if __name__ == "__main__":
    base, token, clients, seconds, persons, tag = sys.argv[1:7]
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        print(json.dumps(runner.run(main(base, token, int(clients), float(seconds), int(persons), tag))))
