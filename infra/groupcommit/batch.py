"""Group commit: decide many commands in memory, in arrival order, and commit them in one
transaction.

The PostgreSQL recorder serialises writers with a table lock per insert transaction, so one
flush per command caps throughput at the database's commit rate. Here a batch of commands is
decided against one `BatchUnitOfWork` (infra.groupcommit.unit_of_work) and stored with one save.
If another writer got there first (IntegrityError on an aggregate version), the whole batch is
decided again on fresh state (see `apply_batch`). Nothing is half-applied. Aggregates a
batch needs are loaded in bulk beforehand (infra.groupcommit.prefetch).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable, Iterator
from functools import partial
from typing import Any, TypeVar

from eventsourcing.persistence import IntegrityError, OperationalError

from domain.errors import ConcurrencyError, StorageError
from infra.eventstore.application import (
    CONFLICT_RETRY_MAX_S,
    answer_refused,
    conflict_wait_s,
    parse_line,
    screen,
)
from infra.eventstore.backend import one_line
from infra.eventstore.pg_recorder import CommitOutcomeUnknownError
from infra.groupcommit.unit_of_work import BatchUnitOfWork

T = TypeVar("T")
BATCH_SIZE_DEFAULT = 500
BATCH_SIZE_MAX = 10_000
BATCH_WAIT_MS_DEFAULT = 50


def apply_batch(app: Any, texts: list[str], prefetcher: Any = None) -> list[dict]:
    """Apply command lines as one group commit; one answer per line, in order.

    Answers are returned only once the batch is stored. An IntegrityError at commit time means
    another writer changed an aggregate we used: the batch is decided again on fresh state after
    a growing random wait, and from the second conflict on it is split in halves, each stored on
    its own, so the commands that collide are isolated and the rest go through. Each half is
    decided on the state its predecessors left, so the answers equal one-at-a-time processing.
    A command meets other writers for at most CONFLICT_RETRY_MAX_S before it is answered
    CONCURRENCY_CONFLICT (nothing of it stored).
    `prefetcher` (see infra.groupcommit.prefetch) loads the batch's aggregates in bulk and may
    keep committed ones for the next batch; it is told when a batch is stored and when its
    objects are spoilt.
    """
    return _apply_until(app, texts, prefetcher, time.monotonic() + CONFLICT_RETRY_MAX_S)


def _apply_until(app: Any, texts: list[str], prefetcher: Any, deadline: float) -> list[dict]:
    conflicts = 0
    while True:
        try:
            return _commit_once(app, texts, prefetcher)
        except IntegrityError:
            conflicts += 1
        if len(texts) == 1 and time.monotonic() >= deadline:
            error = ConcurrencyError(f"other writers kept changing the same accounts for {CONFLICT_RETRY_MAX_S:.0f} s")
            return [answer_refused(texts[0], error)]
        time.sleep(conflict_wait_s(conflicts))
        if len(texts) > 1 and (conflicts >= 2 or time.monotonic() >= deadline):
            half = len(texts) // 2
            return _apply_until(app, texts[:half], prefetcher, deadline) + _apply_until(
                app, texts[half:], prefetcher, deadline
            )


def _commit_once(app: Any, texts: list[str], prefetcher: Any) -> list[dict]:
    try:
        results, unit = _decide(app, texts, prefetcher)
        unit.commit()
    except CommitOutcomeUnknownError as error:
        _forget(prefetcher)
        raise StorageError(
            f"outcome unknown, stored or not: re-send them with their command ids ({one_line(error)})"
        ) from None
    except OperationalError as error:
        _forget(prefetcher)
        raise StorageError(f"not stored: database: {one_line(error)}") from None
    except BaseException:
        _forget(prefetcher)
        raise
    if prefetcher is not None:
        prefetcher.committed(unit)
    return results


def _decide(app: Any, texts: list[str], prefetcher: Any) -> tuple[list[dict], BatchUnitOfWork]:
    parsed = [parse_line(text) for text in texts]  # each line parsed once: commands or refusals
    commands = [command for command in parsed if not isinstance(command, dict)]
    prefetched, missing = prefetcher(app, commands) if prefetcher is not None else ({}, ())
    unit = BatchUnitOfWork(app, prefetched, missing)
    answers = [
        command if isinstance(command, dict) else unit.run(partial(app.decide, command, unit)) for command in parsed
    ]
    return answers, unit


def _forget(prefetcher: Any) -> None:
    if prefetcher is not None:
        prefetcher.forget()


def batches(lines: Iterable[T], size: int, wait_ms: int = BATCH_WAIT_MS_DEFAULT) -> Iterator[list[T]]:
    """Group a stream of lines: at most `size` lines, and once a batch has its first line,
    at most `wait_ms` more waiting for further lines (so a slow stream is not held back)."""
    if not 1 <= size <= BATCH_SIZE_MAX:
        raise ValueError(f"batch size must be 1..{BATCH_SIZE_MAX}")
    feed: queue.Queue = queue.Queue(maxsize=size * 4)
    done = object()

    def read() -> None:
        try:
            for line in lines:
                feed.put(line)
        finally:
            feed.put(done)

    threading.Thread(target=read, name="batch-reader", daemon=True).start()
    finished = False
    while not finished:
        item = feed.get()
        if item is done:
            return
        batch = [item]
        deadline = time.monotonic() + wait_ms / 1000
        while len(batch) < size:
            try:
                item = feed.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if item is done:
                finished = True
                break
            batch.append(item)
        yield batch


def apply_stream(
    app: Any,
    lines: Iterable[str | bytes],
    *,
    batch_size: int = BATCH_SIZE_DEFAULT,
    wait_ms: int = BATCH_WAIT_MS_DEFAULT,
    prefetcher: Any = None,
) -> Iterator[dict]:
    """Results of a stream of command lines (blank lines included), one per line, in order.
    Lines may be bytes (see `read_lines`): one that is empty, too long or not UTF-8 is answered
    INVALID_INPUT here and never reaches the batch."""
    number = 0
    for batch in batches(lines, batch_size, wait_ms):
        screened = [screen(raw) for raw in batch]
        try:
            answers = iter(apply_screened(app, screened, prefetcher))
        except StorageError as error:
            raise StorageError(f"lines {number + 1}-{number + len(screened)}: {error.message}") from None
        for answer in answers:
            number += 1
            yield {"line": number, **answer}


def apply_screened(app: Any, screened: list[str | dict], prefetcher: Any = None) -> list[dict]:
    """One answer per screened line (see `screen`), in order: the lines still to decide go
    through one group commit, the refused ones keep their refusal."""
    decided = iter(
        apply_batch(app, [s for s in screened if isinstance(s, str)], prefetcher)
        if any(isinstance(s, str) for s in screened)
        else []
    )
    return [next(decided) if isinstance(s, str) else s for s in screened]


def apply_results(
    app: Any,
    lines: Iterable[str | bytes],
    *,
    batch_size: int = BATCH_SIZE_DEFAULT,
    wait_ms: int = BATCH_WAIT_MS_DEFAULT,
) -> Iterator[dict]:
    """What `ledger apply` prints: group commit for batch sizes above 1, else one
    transaction per command (the plain application)."""
    if batch_size > 1:
        from infra.groupcommit.prefetch import Prefetcher

        yield from apply_stream(app, lines, batch_size=batch_size, wait_ms=wait_ms, prefetcher=Prefetcher())
        return
    for number, raw in enumerate(lines, start=1):
        text = screen(raw)
        if isinstance(text, dict):
            yield {"line": number, **text}
            continue
        try:
            answer = app.apply_line(text)
        except StorageError as error:
            raise StorageError(f"line {number}: {error.message}") from None
        yield {"line": number, **answer}
