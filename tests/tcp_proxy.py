"""A small threaded TCP proxy in front of PostgreSQL, for network-failure tests.

`LostCommitProxy` forwards every connection to the server and, once, loses the server's reply
to a COMMIT: it forwards the COMMIT, waits for the server's answer (so the transaction has
committed), throws that answer away and closes both sides. The client sees its connection die
during COMMIT and cannot know whether the transaction landed.

How the COMMIT is recognised: the library sends the insert inside `conn.pipeline()` +
`conn.transaction()`, so psycopg sends it in the extended protocol: Parse ('P') messages whose
query text is `BEGIN`, `LOCK TABLE ...`, `NOTIFY ...`, our `INSERT ... unnest(...)`, each with
Bind/Describe/Execute and a Sync ('S'), and on leaving the transaction a Parse of `COMMIT`
(followed by Bind/Execute/Sync). Outside a pipeline psycopg sends `COMMIT` as a simple Query
('Q'). Either way the client's bytes hold the text `COMMIT` followed by a NUL (the end of the
query string). The proxy arms itself on a connection once that connection has sent the events
insert (`unnest(`), counts such COMMITs across connections and loses the reply to the `nth`.

`StalledProxy` accepts connections and forwards nothing (`stall_after=0`), or forwards the
first `stall_after` client bytes and then nothing in either direction, while keeping the
sockets open: a half-open server as the client sees it (the proxy's kernel still ACKs TCP).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any

COMMIT_MARKER = b"COMMIT\x00"
INSERT_MARKER = b"unnest("


class _Proxy:
    def __init__(self, upstream: tuple[str, int] = ("127.0.0.1", 5432)):
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.closed = False
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, base: str) -> str:
        """`base` (a postgresql:// URL to the upstream) rewritten to go through this proxy."""
        scheme, rest = base.split("://", 1)
        userinfo, hostpath = rest.split("@", 1) if "@" in rest else ("", rest)
        path = hostpath[hostpath.index("/") :] if "/" in hostpath else "/"
        return f"{scheme}://{userinfo + '@' if userinfo else ''}127.0.0.1:{self.port}{path}"

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.sockets.append(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.closed = True
        self.listener.close()
        with self.lock:
            for sock in self.sockets:
                _close(sock)


class LostCommitProxy(_Proxy):
    def __init__(self, nth: int = 1, lose: str = "reply", **kwargs):
        """`lose="reply"`: the COMMIT reaches the server, its reply is lost (the batch is stored);
        `lose="commit"`: the COMMIT itself is lost (the server rolls the transaction back)."""
        super().__init__(**kwargs)
        assert lose in ("reply", "commit")
        self.nth, self.lose = nth, lose
        self.commits_seen = 0
        self.dropped = threading.Event()

    def _serve(self, client: socket.socket) -> None:
        server = socket.create_connection(self.upstream)
        with self.lock:
            self.sockets.append(server)
        state: dict[str, Any] = {"armed": False, "tail": b"", "lose": False}
        threading.Thread(target=self._server_to_client, args=(server, client, state), daemon=True).start()
        try:
            while True:
                data = client.recv(65536)
                if not data:
                    break
                window = state["tail"] + data
                state["tail"] = window[-16:]
                if INSERT_MARKER in window:
                    state["armed"] = True
                if state["armed"] and COMMIT_MARKER in window and not self.dropped.is_set():
                    state["armed"] = False
                    with self.lock:
                        self.commits_seen += 1
                        lose = self.commits_seen == self.nth
                    if lose and self.lose == "commit":
                        self.dropped.set()
                        break  # neither side hears anything more: the server rolls back
                    if lose:
                        state["lose"] = True  # before the server can answer
                server.sendall(data)
        except OSError:
            pass
        finally:
            if not state["lose"]:
                _close(server)
                _close(client)

    def _server_to_client(self, server: socket.socket, client: socket.socket, state: dict) -> None:
        try:
            while True:
                data = server.recv(65536)
                if not data:
                    break
                if state["lose"]:
                    # The COMMIT has been answered: the transaction is stored. Lose the answer.
                    self.dropped.set()
                    break
                client.sendall(data)
        except OSError:
            pass
        finally:
            _close(server)
            _close(client)


class StalledProxy(_Proxy):
    def __init__(self, stall_after: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.stall_after = stall_after

    def _serve(self, client: socket.socket) -> None:
        if self.stall_after <= 0:
            return  # accepted, never answered, kept open
        server = socket.create_connection(self.upstream)
        with self.lock:
            self.sockets.append(server)
        budget = {"left": self.stall_after}

        def pump(source: socket.socket, target: socket.socket, counts: bool) -> None:
            try:
                while True:
                    data = source.recv(65536)
                    if not data:
                        return
                    if counts:
                        if budget["left"] <= 0:
                            return  # stall: read nothing more, forward nothing more
                        budget["left"] -= len(data)
                    elif budget["left"] <= 0:
                        return
                    target.sendall(data)
            except OSError:
                return

        threading.Thread(target=pump, args=(server, client, False), daemon=True).start()
        pump(client, server, True)
        while not self.closed:  # keep both sockets open: half-open, not closed
            time.sleep(0.2)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
