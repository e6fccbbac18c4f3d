"""Limits on connections, before any request reaches the application (issue 23, finding 5):
uvicorn's settings, and a header limit of our own where uvicorn has none.

- **Connections**: at most `--max-connections` open at once (uvicorn's `limit_concurrency`: past it
  a new request is answered 503); a connection idle for `--idle-timeout` seconds between
  requests is closed (uvicorn's `timeout_keep_alive`). A limit per client address belongs to the
  reverse proxy in front (nginx's `limit_conn`), which sees the real client.
- **Headers**: a request line and headers of more than HEADER_BYTES_MAX bytes are answered 431
  problem+json and the connection closed, with at most one read's worth of bytes (uvicorn reads
  up to 64 KiB at a time) held beyond the limit. uvicorn's h11 parser has this limit
  (`h11_max_incomplete_event_size`) but its httptools parser, the fast one used here, has none:
  it took an 8 MiB header. `BoundedHttpTools` counts what arrives until the headers end.
"""

from __future__ import annotations

import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEADER_BYTES_MAX = 16 * 1024  # request line and headers (h11's and Node's default)
MAX_CONNECTIONS_DEFAULT = 1024
IDLE_TIMEOUT_S_DEFAULT = 5


class HeadersTooLarge(Exception):
    pass


class BoundedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing a request whose headers outgrow HEADER_BYTES_MAX."""

    _heading = True  # between a message's start and the end of its headers
    _heading_bytes = 0
    _refused = False

    def on_message_begin(self) -> None:
        self._heading, self._heading_bytes = True, 0
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        """Headers that arrived whole in one read are measured here; raising stops the parser,
        and uvicorn's answer to a parser error (`send_400_response`) becomes the 431."""
        self._heading = False
        if len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers) > HEADER_BYTES_MAX:
            self._refused = True
            raise HeadersTooLarge
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        if self._refused:
            self._refuse_headers()
        else:
            super().send_400_response(msg)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._heading and not self.transport.is_closing():
            self._heading_bytes += len(data)
            if self._heading_bytes > HEADER_BYTES_MAX:
                self._refuse_headers()

    def _refuse_headers(self) -> None:
        body = json.dumps({
            "type": "urn:family-ledger:problem:headers_too_large", "title": "HEADERS_TOO_LARGE", "status": 431,
            "detail": f"headers: more than {HEADER_BYTES_MAX} bytes", "code": "HEADERS_TOO_LARGE",
        }).encode()  # fmt: skip
        head = (b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/problem+json\r\n"
                b"connection: close\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n")  # fmt: skip
        self.transport.write(head + body)
        self.transport.close()


def uvicorn_limits(max_connections: int, idle_timeout_s: int) -> dict[str, Any]:
    """The keyword arguments of `uvicorn.run` that bound connections and headers."""
    return {
        "http": BoundedHttpTools,
        "limit_concurrency": max_connections,
        "timeout_keep_alive": idle_timeout_s,
        "h11_max_incomplete_event_size": HEADER_BYTES_MAX,
    }
