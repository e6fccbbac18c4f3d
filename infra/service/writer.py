"""Writes inside the server: one writer thread gathers concurrent requests into group commits.

Each request puts its submissions (typed commands, parsed once at the edge, and the key that
sent them) and a future on a queue. The writer takes what is waiting (at most `batch_max`
submissions; once it has a first request it waits at most `wait_ms` for more), executes them
through the core's one write path (`CommandService.execute_stored`: decided in memory, stored
with one save, as `ledger apply` does), and only then resolves each request's future with its
answers and where they are stored up to. While a batch is being stored the next one fills up,
so the wait is short and batches grow with load.

`ProcessWriter` (infra.service.writer_process) gathers the same way and hands each batch to a
child process that decides and stores it, so that deciding does not share the server's
interpreter lock with the HTTP handling.

`DirectWriter` is the comparison mode (`ledger serve --no-group-commit`): every command is its
own transaction, decided in the request's thread through the same write path.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from domain.errors import LedgerError, StorageError
from infra.commands.answers import Answer
from infra.core.command_service import CommandService
from infra.storage.errors import one_line
from infra.writing.write_path import Submission

BATCH_MAX_DEFAULT = 500
WAIT_MS_DEFAULT = 2.0

Observer = Callable[[int, float], None]  # (lines in the batch, seconds to store it)
Outcome = tuple[Any, Any, BaseException | None]  # (future, result, exception)


class Written:
    """Answers of one request's submissions, and the log position they are stored up to."""

    def __init__(self, answers: list[Answer], position: int):
        self.answers = answers
        self.position = position


class GroupCommitWriter:
    def __init__(
        self,
        commands: CommandService | None,
        batch_max: int = BATCH_MAX_DEFAULT,
        wait_ms: float = WAIT_MS_DEFAULT,
        observe: Observer | None = None,
    ):
        self.commands = commands
        self.batch_max = batch_max
        self.wait_s = wait_ms / 1000
        self.observe = observe
        self.queue: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="group-commit-writer", daemon=True)
        self._thread.start()

    def describe(self) -> dict[str, Any]:
        """For /readyz: how commands are written."""
        return {"writer": "thread", "group_commit": True}

    def snapshot_refusals(self) -> int:
        """Snapshots refused where this writer decides, beyond the server's own application
        (none here: the writer thread uses it; a writer process counts its own)."""
        return 0

    def submit(self, submissions: list[Submission]) -> Future:
        """Queue `submissions`; the future holds their `Written` once the batch is stored."""
        future: Future = Future()
        self.queue.put((submissions, future))
        return future

    def submit_async(self, submissions: list[Submission]) -> asyncio.Future:
        """As `submit`, for a caller in an event loop: the futures of one batch are settled
        together, by one callback on the loop (not one cross-thread wake-up per request)."""
        future = asyncio.get_running_loop().create_future()
        self.queue.put((submissions, future))
        return future

    def close(self) -> None:
        self._stop.set()
        self.queue.put(None)
        self._thread.join(timeout=10)

    def _gather(self) -> list[tuple[list[Submission], Future]]:
        first = self.queue.get()
        if first is None:
            return []
        taken, size = [first], len(first[0])
        deadline = time.monotonic() + self.wait_s
        while size < self.batch_max:
            try:
                item = self.queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if item is None:
                self._stop.set()
                break
            taken.append(item)
            size += len(item[0])
        return taken

    def _prepare(self) -> None:
        """Run once by the writer thread before the first batch."""

    def _loop(self) -> None:
        self._prepare()
        while not self._stop.is_set():
            taken = self._gather()
            if taken:
                self._store(taken)

    def _apply(self, submissions: list[Submission]) -> tuple[list[Answer], int]:
        if self.commands is None:
            raise StorageError("this writer has no ledger of its own")
        return store_batch(self.commands, submissions)

    def _store(self, taken: list[tuple[list[Submission], Future]]) -> None:
        submissions = [one for request, _ in taken for one in request]
        started = time.perf_counter()
        try:
            answers, position = self._apply(submissions)
        except BaseException as error:  # noqa: BLE001 - every waiting request must hear of it
            settle([(future, None, as_ledger_error(error)) for _, future in taken])
            return
        if self.observe:
            self.observe(len(submissions), time.perf_counter() - started)
        outcomes: list[Outcome] = []
        at = 0
        for request, future in taken:
            outcomes.append((future, Written(answers[at : at + len(request)], position), None))
            at += len(request)
        settle(outcomes)


def store_batch(commands: CommandService, submissions: list[Submission]) -> tuple[list[Answer], int]:
    """Answers of one batch (one group commit), and the position it is stored up to: what either
    writer, in this process or in its child, does with a batch."""
    return commands.execute_stored(submissions)


def as_ledger_error(error: BaseException) -> LedgerError:
    """What the requests of a failed batch hear: a LedgerError as it is, anything else (a
    driver's error) as STORAGE_ERROR with its first line."""
    if isinstance(error, LedgerError):
        return error
    return StorageError(f"database: {one_line(error)}")


def settle(outcomes: list[Outcome]) -> None:
    """Resolve each future: thread futures at once, event-loop futures with one callback per loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[Outcome]] = {}
    for outcome in outcomes:
        if isinstance(outcome[0], asyncio.Future):
            by_loop.setdefault(outcome[0].get_loop(), []).append(outcome)
        else:
            _resolve(outcome)
    for loop, settled_together in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
            loop.call_soon_threadsafe(_resolve_all, settled_together)


def _resolve_all(outcomes: list[Outcome]) -> None:
    for outcome in outcomes:
        _resolve(outcome)


def _resolve(outcome: Outcome) -> None:
    future, result, error = outcome
    if future.done():  # an event-loop future cancelled (the client went away)
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class DirectWriter:
    """One transaction per command, in the caller's thread (no group commit)."""

    def __init__(self, commands: CommandService, observe: Observer | None = None):
        self.commands = commands
        self.observe = observe

    def write(self, submissions: list[Submission]) -> Written:
        started = time.perf_counter()
        answers, position = self.commands.execute_each(submissions)
        if self.observe:
            self.observe(len(submissions), time.perf_counter() - started)
        return Written(answers, position)

    def describe(self) -> dict[str, Any]:
        return {"writer": "request", "group_commit": False}

    def snapshot_refusals(self) -> int:
        return 0  # decided with the server's own application, which counts them

    def close(self) -> None:
        pass
