"""The group-commit writer in a child process (`ledger serve --writer process`).

One Python process runs one thread at a time. In the server, the HTTP handling (the event loop)
and deciding and storing batches (the writer) each take about half a millisecond of that per
command, so on one process they wait for each other. Here the server keeps the gathering of
`GroupCommitWriter` (a thread that takes what requests are waiting, within `batch_max` and
`wait_ms`) and sends each batch, as its submissions (typed commands, parsed once at the edge, and
their senders), over a pipe to one child process, which executes it through the same core write
path `ledger apply` uses and sends back the answers and where they are stored up to. The child
is the store's only writer in this server; its prefetch cache lives as long as it does.

If the child stops (killed, crashed), the requests of the batch it held are answered
STORAGE_ERROR: their outcome is unknown, and a retry with the same Idempotency-Key is answered
from the ledger's command records, stored or not. The next batch starts a new child.

The child is started with the `spawn` method: it opens its own ledger (infra.core.bootstrap)
from the server's settings (store, rules, pseudonym key) and never shares a connection with the
server.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
from multiprocessing.connection import Connection
from typing import Any

from domain.errors import LedgerError, StorageError
from infra.collector import freeze_what_is_loaded, survivors_frozen
from infra.commands.answers import Answer
from infra.core.bootstrap import open_ledger
from infra.core.ledger import Ledger
from infra.service.writer import (
    BATCH_MAX_DEFAULT,
    WAIT_MS_DEFAULT,
    GroupCommitWriter,
    Observer,
    as_ledger_error,
    store_batch,
)
from infra.settings import Settings
from infra.writing.write_path import Submission

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0


class ProcessWriter(GroupCommitWriter):
    """Group commit with the deciding and storing done by a child process."""

    def __init__(
        self,
        settings: Settings,
        batch_max: int = BATCH_MAX_DEFAULT,
        wait_ms: float = WAIT_MS_DEFAULT,
        observe: Observer | None = None,
        rules_override: str | None = None,
    ):
        self.settings = settings
        self.rules_override = rules_override
        self._child: multiprocessing.process.BaseProcess | None = None
        self._pipe: Connection | None = None
        self._child_lock = threading.Lock()
        self._refusals = (0, 0)  # snapshots refused by children that stopped, and by this one
        super().__init__(None, batch_max, wait_ms, observe)  # the child holds the ledger

    def snapshot_refusals(self) -> int:
        return sum(self._refusals)

    def describe(self) -> dict[str, Any]:
        child = self._child
        return {
            "writer": "process",
            "group_commit": True,
            "writer_pid": child.pid if child is not None and child.is_alive() else None,
        }

    def _prepare(self) -> None:
        """Start the child before the first request needs it (a failure is reported, and the
        start tried again, by the first batch)."""
        with contextlib.suppress(LedgerError):
            self._running()

    def _apply(self, submissions: list[Submission]) -> tuple[list[Answer], int]:
        pipe = self._running()
        try:
            pipe.send(submissions)
            outcome = pipe.recv()
        except (EOFError, OSError) as error:
            self._discard()
            raise StorageError(
                "the writer process stopped: outcome unknown, stored or not; re-send the "
                f"commands with the same Idempotency-Key ({type(error).__name__})"
            ) from None
        if outcome[0] == "error":
            raise outcome[1]
        self._refusals = (self._refusals[0], outcome[3])
        return outcome[1], outcome[2]

    def _running(self) -> Connection:
        with self._child_lock:
            if self._pipe is not None and self._child is not None and self._child.is_alive():
                return self._pipe
            self._discard()
            context = multiprocessing.get_context("spawn")
            ours, theirs = context.Pipe()
            child = context.Process(
                target=child_main, args=(self.settings, self.rules_override, theirs), name="ledger-writer", daemon=True
            )
            child.start()
            theirs.close()
            if not ours.poll(START_TIMEOUT_S):
                child.kill()
                raise StorageError(f"the writer process did not start within {START_TIMEOUT_S:.0f} s")
            try:
                started = ours.recv()
            except EOFError:
                raise StorageError("the writer process stopped while starting") from None
            if started[0] == "error":
                child.join(STOP_TIMEOUT_S)
                raise started[1]
            self._child, self._pipe = child, ours
            return ours

    def _discard(self) -> None:
        self._refusals = (sum(self._refusals), 0)
        child, pipe = self._child, self._pipe
        self._child = self._pipe = None
        if pipe is not None:
            pipe.close()
        if child is not None:
            child.join(STOP_TIMEOUT_S)
            if child.is_alive():
                child.kill()
                child.join()

    def close(self) -> None:
        super().close()
        with self._child_lock:
            if self._pipe is not None:
                with contextlib.suppress(OSError):
                    self._pipe.send(None)
            self._discard()


def child_main(settings: Settings, rules_override: str | None, pipe: Connection) -> None:
    """The child: open the ledger, then execute each batch received until the pipe closes."""
    try:
        ledger = open_ledger(settings, rules_override=rules_override)
    except BaseException as error:  # noqa: BLE001 - the server must hear why
        pipe.send(("error", as_ledger_error(error)))
        return
    freeze_what_is_loaded()
    pipe.send(("ready",))
    try:
        with survivors_frozen():  # the writer lives as long as the process (infra.collector)
            serve_batches(ledger, pipe)
    finally:
        ledger.close()


def serve_batches(ledger: Ledger, pipe: Connection) -> None:
    """Execute each batch received, in order, until the pipe closes or says stop (None)."""
    while True:
        try:
            submissions = pipe.recv()
        except EOFError:
            return
        if submissions is None:
            return
        try:
            answers, position = store_batch(ledger.commands, submissions)
            pipe.send(("ok", answers, position, ledger.app.snapshot_refusals))
        except BaseException as error:  # noqa: BLE001 - every waiting request must hear of it
            pipe.send(("error", as_ledger_error(error)))
