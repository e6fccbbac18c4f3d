"""Python's cyclic garbage collector, held off while a bounded piece of work runs: a batch
decided and stored (infra.writing.write_path), a page of the log read and applied to the views
(infra.readmodels.runner).

Such work allocates hundreds of objects per command or event (typed commands, aggregates,
events, their dumps and decoded records) that reference counting frees; the cyclic collector
finds almost nothing among them, but its young generation is collected every 700 allocations
and its old one, which holds the writer's prefetch cache, now and then: about a fifth of the
processor time of the small workload's apply, and of a rebuild (docs/performance.md, "What the
profiles said"). Paused, the collections happen between batches or pages, once each instead of
hundreds of times. What a batch or page leaves in cycles waits until no pause is running (a batch
and a page are bounded: BATCH_SIZE_MAX commands, PAGE_SIZE_MAX events); where pauses of several
threads overlap, each one that ends with more than YOUNG_BACKLOG_MAX young objects pending
collects the young generations itself, so memory stays bounded either way.

The switch is the process's one flag (`gc.disable`), shared by every thread: pauses are
counted, the collector is switched back on when the last one ends, and never switched on if it
was off when the first began (a process that turned it off itself keeps it off)."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_pauses = 0
_was_enabled = False
_frozen = False
YOUNG_BACKLOG_MAX = 200_000  # objects allocated (net) since the last young collection


@contextmanager
def collector_paused() -> Iterator[None]:
    """No automatic cyclic collection inside the block (other threads' included); nested and
    concurrent blocks are counted."""
    global _pauses, _was_enabled
    with _lock:
        if _pauses == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _lock:
            _pauses -= 1
            others = _pauses > 0
            if not others and _was_enabled:
                gc.enable()  # the next allocation collects what is due
        if others and gc.get_count()[0] > YOUNG_BACKLOG_MAX:
            gc.collect(1)


def freeze_what_is_loaded() -> None:
    """Once a long-running process has started (modules imported, the ledger opened, the service
    built): what exists then lives as long as the process, so it is moved out of the collector's
    sight (`gc.freeze`), and the old generation's collections, which used to traverse all of it,
    traverse only what came after (the server's took tens of milliseconds each). Once per
    process: a process that builds many services (a test run) freezes only the first."""
    global _frozen
    with _lock:
        if _frozen:
            return
        _frozen = True
    gc.collect()
    gc.freeze()
