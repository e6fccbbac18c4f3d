"""Group commit: decide many commands in memory, in arrival order, and commit them in one
transaction.

The PostgreSQL recorder serialises writers with a table lock per insert transaction, so one
flush per command caps throughput at the database's commit rate. Here a batch of commands runs
against a `UnitOfWork` that `LedgerApp` consults while it is set (`app.unit_of_work`):

- loads come from the unit of work, which keeps every aggregate it loaded in a dict, so a later
  command in the batch sees the earlier commands' (not yet stored) events;
- a handler's `save(...)` stages: it accepts the new events of the aggregates it names, in the
  order a direct save would have stored them;
- after each command, an aggregate the command changed but did not save is rebuilt from its
  accepted events, exactly as if the command's in-memory objects had been thrown away;
- at the end, one `save` of all accepted events, in command order, in one transaction. If
  another writer got there first (IntegrityError on an aggregate version), the whole batch is
  decided again on fresh state, a bounded number of times. Nothing is half-applied.

So per-command results and final state equal those of one-at-a-time processing.
Aggregates a batch needs are prefetched in bulk (one query for all of them) where the backend
allows it; see `infra.groupcommit.prefetch`.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError, OperationalError

from domain.errors import ConcurrencyError, LedgerInvariantError, StorageError

BATCH_SIZE_DEFAULT = 500
BATCH_SIZE_MAX = 10_000
BATCH_WAIT_MS_DEFAULT = 50
BATCH_ATTEMPTS_MAX = 8
EMPTY_LINE_ERROR = {"code": "INVALID_INPUT", "message": "line: empty", "field": "line"}


class UnitOfWork:
    """The aggregates of one batch: loaded once, changed by many commands, saved once."""

    def __init__(self, app: Any, store: Any, prefetched: dict[UUID, Any] | None = None, missing: Iterable[UUID] = ()):
        self.app = app
        self.store = store  # the application's real Repository
        self.aggregates: dict[UUID, Any] = {}
        self.base_versions: dict[UUID, int | None] = {}  # stored version when loaded; None = new
        self.accepted: dict[UUID, int] = {}  # how many pending events of each aggregate are staged
        self.events: list[Any] = []  # staged events, in the order direct saves would store them
        self.missing: set[UUID] = set(missing)
        self.handed_out: set[UUID] = set()
        for aggregate in (prefetched or {}).values():
            self._adopt(aggregate)

    # --- the Repository interface the handlers use ------------------------------------
    def get(self, aggregate_id: UUID, *, version: int | None = None, **kwargs: Any) -> Any:
        if version is not None:
            return self.store.get(aggregate_id, version=version, **kwargs)
        aggregate = self.aggregates.get(aggregate_id)
        if aggregate is None:
            if aggregate_id in self.missing:
                raise AggregateNotFoundError(aggregate_id)
            try:
                aggregate = self.store.get(aggregate_id)
            except AggregateNotFoundError:
                self.missing.add(aggregate_id)
                raise
            self._adopt(aggregate)
        self.handed_out.add(aggregate_id)
        return aggregate

    def __contains__(self, aggregate_id: UUID) -> bool:
        try:
            self.get(aggregate_id)
        except AggregateNotFoundError:
            return False
        return True

    def stage(self, *objs: Any) -> list:
        """What `app.save(...)` does inside a batch: accept the aggregates' new events."""
        for aggregate in objs:
            if aggregate is None:
                continue
            known = self.aggregates.get(aggregate.id)
            if known is None:
                self.base_versions[aggregate.id] = None
                self.accepted[aggregate.id] = 0
                self.missing.discard(aggregate.id)
            elif known is not aggregate:
                raise LedgerInvariantError(f"aggregate {aggregate.id} was saved from a stale copy")
            self.aggregates[aggregate.id] = aggregate
            pending = aggregate.pending_events
            self.events.extend(pending[self.accepted[aggregate.id]:])
            self.accepted[aggregate.id] = len(pending)
        return []

    # --- per command -------------------------------------------------------------------
    def run(self, command: Callable[[], dict]) -> dict:
        self.handed_out = set()
        try:
            return command()
        finally:
            self._discard_unsaved_changes()

    def _adopt(self, aggregate: Any) -> None:
        self.aggregates[aggregate.id] = aggregate
        self.base_versions[aggregate.id] = aggregate.version
        self.accepted[aggregate.id] = 0

    def _discard_unsaved_changes(self) -> None:
        for aggregate_id in self.handed_out:
            aggregate = self.aggregates.get(aggregate_id)
            if aggregate is not None and len(aggregate.pending_events) != self.accepted[aggregate_id]:
                self.aggregates[aggregate_id] = self._rebuild(aggregate)

    def _rebuild(self, aggregate: Any) -> Any:
        """The aggregate as it stood after its last accepted event (refused changes dropped)."""
        events = aggregate.pending_events[: self.accepted[aggregate.id]]
        base_version = self.base_versions[aggregate.id]
        fresh = None if base_version is None else self.store.get(aggregate.id, version=base_version)
        for event in events:
            fresh = event.mutate(fresh)
        fresh._pending_events = list(events)
        return fresh

    # --- the end of the batch ----------------------------------------------------------
    def commit(self) -> None:
        """One transaction for the whole batch, then the snapshots a direct save would take."""
        if not self.events:
            return
        self.app.save(*self.events)
        intervals = self.app.snapshotting_intervals
        if not (self.app.snapshots and intervals):
            return
        for event in self.events:
            aggregate = self.aggregates[event.originator_id]
            interval = intervals.get(type(aggregate))
            if interval and event.originator_version % interval == 0:
                self.app.take_snapshot(event.originator_id, version=event.originator_version)


def apply_batch(app: Any, texts: list[str], prefetcher: Any = None) -> list[dict]:
    """Apply command lines as one group commit; one result per line, in order.

    Results are returned only once the batch is stored. An IntegrityError at commit time means
    another writer changed an aggregate we used: the whole batch is decided again on fresh state.
    `prefetcher` (see infra.groupcommit.prefetch) loads the batch's aggregates in bulk and may keep committed
    ones for the next batch; it is told when a batch is stored and when its objects are spoilt.
    """
    if app.unit_of_work is not None:
        raise RuntimeError("apply_batch: a unit of work is already active")
    store = app.repository
    for _ in range(BATCH_ATTEMPTS_MAX):
        try:
            results, unit = _decide(app, store, texts, prefetcher)
            unit.commit()
        except IntegrityError:
            _forget(prefetcher)
            continue
        except OperationalError as error:
            _forget(prefetcher)
            raise StorageError(f"database: {str(error).strip().splitlines()[0] if str(error) else error}") from None
        except BaseException:
            _forget(prefetcher)
            raise
        if prefetcher is not None:
            prefetcher.committed(unit)
        return results
    raise ConcurrencyError(f"group commit gave up after {BATCH_ATTEMPTS_MAX} conflicting attempts")


def _decide(app: Any, store: Any, texts: list[str], prefetcher: Any) -> tuple[list[dict], UnitOfWork]:
    prefetched, missing = prefetcher(app, texts) if prefetcher is not None else ({}, ())
    unit = UnitOfWork(app, store, prefetched, missing)
    app.unit_of_work = unit
    try:
        return [unit.run(lambda text=text: app.apply_line(text)) for text in texts], unit
    finally:
        app.unit_of_work = None


def _forget(prefetcher: Any) -> None:
    if prefetcher is not None:
        prefetcher.forget()


def batches(lines: Iterable[str], size: int, wait_ms: int = BATCH_WAIT_MS_DEFAULT) -> Iterator[list[str]]:
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


def apply_stream(app: Any, lines: Iterable[str], *, batch_size: int = BATCH_SIZE_DEFAULT,
                 wait_ms: int = BATCH_WAIT_MS_DEFAULT, prefetcher: Any = None) -> Iterator[dict]:
    """Results of a stream of command lines (blank lines included), one per line, in order."""
    number = 0
    for batch in batches(lines, batch_size, wait_ms):
        texts = [text.strip() for text in batch]
        real = [t for t in texts if t]
        results = iter(apply_batch(app, real, prefetcher) if real else [])
        for text in texts:
            number += 1
            if text:
                yield {"line": number, **next(results)}
            else:
                yield {"line": number, "ok": False, "command": None, "error": dict(EMPTY_LINE_ERROR)}


def apply_results(app: Any, lines: Iterable[str], *, batch_size: int = BATCH_SIZE_DEFAULT,
                  wait_ms: int = BATCH_WAIT_MS_DEFAULT) -> Iterator[dict]:
    """What `ledger apply` prints: group commit for batch sizes above 1, else one
    transaction per command (the plain application)."""
    if batch_size > 1:
        from infra.groupcommit.prefetch import Prefetcher

        yield from apply_stream(app, lines, batch_size=batch_size, wait_ms=wait_ms, prefetcher=Prefetcher())
        return
    for number, text in enumerate(lines, start=1):
        text = text.strip()
        if text:
            yield {"line": number, **app.apply_line(text)}
        else:
            yield {"line": number, "ok": False, "command": None, "error": dict(EMPTY_LINE_ERROR)}
