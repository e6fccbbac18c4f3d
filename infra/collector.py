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

Inside `survivors_frozen` (a long-running writer: the service's writer process, `ledger apply`,
`ledger bench`), when the last pause ends, what the work kept is settled at once: the youngest
generation is collected (everything the work allocated is there, since nothing was collected
during it; this costs what it kept, not the heap) and what survives is frozen (`gc.freeze`), out
of sight of every later automatic collection. Left to itself, CPython collects the whole heap whenever a quarter
more objects than its old generation holds have been promoted into it since its last full
collection: it counts objects kept, not objects alive, so a warm writer, whose cache is bounded
but churns (each batch replaces states the cache holds, and reference counting frees the old
ones), traversed its whole cache again and again: on a 20,000-person store, two full collections
of 0.35 s in a month's 29,000 commands; settled as here, 8-16% less processor time per command
(docs/performance.md, the fifth round).

Frozen objects that die are freed by reference counting as before; only a cycle among them
stays until the next full collection (unfreeze, collect, freeze again). That runs once the
interpreter's allocated blocks (`sys.getallocatedblocks`, a walk of its pools' headers: about
0.2 ms) have grown to FULL_COLLECTION_GROWTH times what they were after the last one, so memory
stays within that factor of what was alive then, and each full collection is paid for by as
much memory kept since the one before. (Counting the frozen objects themselves,
`gc.get_freeze_count`, walks a list of every one of them: 40 to 120 ms per batch there.)

Memory is not all that a cycle can hold, so freezing is scoped to such a writer, whose ledger
lives as long as the scope and is closed explicitly, and everything frozen returns to the
collector when the last scope ends (`gc.unfreeze`). Everywhere else a pause's end only switches
the collector back on. (With every process freezing, the test suite's applications left to the
collector waited in frozen cycles holding their PostgreSQL connections, and the server's 100 ran
out within fifty tests.)

The switch is the process's one flag (`gc.disable`), shared by every thread: pauses are
counted, the collector is switched back on when the last one ends, and never switched on if it
was off when the first began (a process that turned it off itself keeps it off, and nothing is
collected or frozen for it)."""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_pauses = 0
_was_enabled = False
_frozen = False
_blocks_after_full = 0  # allocated blocks after the last full collection (none yet: 0)
_freezing = 0  # open survivors_frozen scopes
YOUNG_BACKLOG_MAX = 200_000  # objects allocated (net) since the last young collection
FULL_COLLECTION_GROWTH = 2  # a full collection once the allocated blocks have grown this much


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
            enable = not others and _was_enabled
            if enable:
                gc.enable()  # outside a survivors_frozen scope, the next allocation collects what is due
            settle = enable and _freezing > 0
        if settle:
            _settle()  # outside the lock: a finalizer that a collection runs may pause again
        elif others and gc.get_count()[0] > YOUNG_BACKLOG_MAX:
            gc.collect(1)


@contextmanager
def survivors_frozen() -> Iterator[None]:
    """Within: what each pause's work kept is frozen when it ends (the module doc). When the
    last scope ends, everything frozen returns to the collector."""
    global _freezing
    with _lock:
        _freezing += 1
    try:
        yield
    finally:
        with _lock:
            _freezing -= 1
            last = _freezing == 0
        if last:
            gc.unfreeze()


def _settle() -> None:
    """What the work kept: collected young and frozen; the whole heap collected and frozen
    again once the allocated blocks have outgrown the last full collection's (the module doc)."""
    global _blocks_after_full
    gc.collect(0)
    if sys.getallocatedblocks() > FULL_COLLECTION_GROWTH * _blocks_after_full:
        gc.unfreeze()
        gc.collect()
        _blocks_after_full = sys.getallocatedblocks()
    gc.freeze()


def freeze_what_is_loaded() -> None:
    """Once a long-running process has started (modules imported, the ledger opened, the service
    built): what exists then lives as long as the process, so it is moved out of the collector's
    sight (`gc.freeze`), and the old generation's collections, which used to traverse all of it,
    traverse only what came after (the server's took tens of milliseconds each). Once per
    process: a process that builds many services (a test run) freezes only the first."""
    global _frozen, _blocks_after_full
    with _lock:
        if _frozen:
            return
        _frozen = True
    gc.collect()
    _blocks_after_full = sys.getallocatedblocks()
    gc.freeze()
