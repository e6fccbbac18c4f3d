"""A stream of command lines (a file, stdin, a generated workload) through the write path:
grouped into batches as they arrive, each line screened and parsed once, one numbered answer per
line (blank lines included), in order."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

from domain.errors import StorageError
from infra.commands.answers import Answer
from infra.commands.parsing import parse_line, screen
from infra.writing.write_path import BATCH_SIZE_MAX, Submission, WritePath

T = TypeVar("T")
BATCH_WAIT_MS_DEFAULT = 50


def submission_of(raw: str | bytes) -> Submission:
    """A line as the operator's CLI submits it: screened, parsed once, sent by nobody in particular."""
    text = screen(raw)
    return Submission(text if isinstance(text, dict) else parse_line(text))


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


def write_stream(
    writer: WritePath, lines: Iterable[str | bytes], *, batch_size: int, wait_ms: int = BATCH_WAIT_MS_DEFAULT
) -> Iterator[Answer]:
    """Numbered answers of a stream of lines, each batch stored before its answers are given.
    A STORAGE_ERROR names the lines whose batch failed."""
    number = 0
    for batch in batches(lines, batch_size, wait_ms):
        try:
            answers = writer.write([submission_of(raw) for raw in batch])
        except StorageError as error:
            where = f"line {number + 1}" if len(batch) == 1 else f"lines {number + 1}-{number + len(batch)}"
            raise StorageError(f"{where}: {error.message}") from None
        for answer in answers:
            number += 1
            yield {"line": number, **answer}


def dry_run_stream(writer: WritePath, lines: Iterable[str | bytes]) -> Iterator[Answer]:
    """Numbered what-if answers of every line, decided in one unit of work that is never stored."""
    for number, answer in enumerate(writer.dry_run(submission_of(raw) for raw in lines), start=1):
        yield {"line": number, **answer}
