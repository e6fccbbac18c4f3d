"""The cyclic garbage collector waits while a batch is decided and stored, and only then
(infra.collector): no automatic collection inside a batch, the collector back on after
it, a process that switched it off keeps it off, and nested or concurrent pauses are counted.
Inside a long-running writer's scope (survivors_frozen) what a pause kept is frozen, its dropped
cycles collected, frozen dead cycles freed by the full collection that memory's growth starts;
outside one nothing is frozen, and a scope's end returns what it froze to the collector."""

from __future__ import annotations

import contextlib
import gc
import sys
import threading
import weakref
from collections.abc import Callable, Iterator
from types import FrameType

import pytest

from infra.collector import collector_paused, survivors_frozen
from infra.eventstore.application import LedgerApp
from infra.writing import write_path
from infra.writing.streams import submission_of
from infra.writing.write_path import WritePath
from tests.support import apply_batch, id_number, line
from tests.support.backends import settings_for


@contextlib.contextmanager
def collections_counted(inside: Callable | None = WritePath._write) -> Iterator[list[int]]:
    """The generations of the collections that start while `inside` is running (by default while
    a batch is being written: the one the next allocation after it runs is not counted); with
    None, of every collection."""
    counted: list[int] = []

    def callback(phase: str, info: dict) -> None:
        if phase == "start" and (inside is None or any(frame.f_code is inside.__code__ for frame in frames())):
            counted.append(info["generation"])

    gc.callbacks.append(callback)
    try:
        yield counted
    finally:
        gc.callbacks.remove(callback)


def frames() -> Iterator:
    frame: FrameType | None = sys._getframe()
    while frame is not None:
        yield frame
        frame = frame.f_back


def batch_lines(count: int) -> list[str]:
    return [
        line("enroll", person=id_number(seq=i + 100), insurance="employee", command_id=f"c-{i}") for i in range(count)
    ]


def written(app: LedgerApp, count: int) -> tuple[list[dict], list[int]]:
    """A batch parsed first (outside the write path), then written with its collections counted."""
    submissions = [submission_of(text) for text in batch_lines(count)]
    with collections_counted() as counted:
        answers = WritePath(app).write(submissions)
    return answers, counted


@pytest.fixture
def app() -> Iterator[LedgerApp]:
    ledger = LedgerApp(settings_for("memory://"))
    yield ledger
    ledger.close()


def test_a_batch_runs_no_collection_and_the_collector_is_back_on_after_it(app: LedgerApp) -> None:
    assert gc.isenabled()
    answers, counted = written(app, 300)
    assert all(a["ok"] for a in answers)
    assert counted == []
    assert gc.isenabled()


def test_without_the_pause_the_same_batch_is_collected_in(app: LedgerApp, monkeypatch) -> None:
    """The control: the batch above allocates enough to be collected in, were it not paused."""
    monkeypatch.setattr(write_path, "collector_paused", contextlib.nullcontext)
    _, counted = written(app, 300)
    assert counted


def test_a_batch_that_fails_switches_the_collector_back_on(app: LedgerApp, monkeypatch) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("the store went away")

    monkeypatch.setattr(write_path.WritePath, "_commit_once", broken)
    with pytest.raises(RuntimeError):
        apply_batch(app, batch_lines(1))
    assert gc.isenabled()


def test_a_collector_switched_off_by_the_process_stays_off() -> None:
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_nested_and_concurrent_pauses_are_counted() -> None:
    inside, release = threading.Event(), threading.Event()

    def other_thread() -> None:
        with collector_paused():
            inside.set()
            release.wait(10)

    thread = threading.Thread(target=other_thread)
    with collector_paused():
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
        thread.start()
        inside.wait(10)
    assert not gc.isenabled()  # the other thread's batch is still running
    release.set()
    thread.join(10)
    assert gc.isenabled()


def test_a_started_service_has_moved_what_it_loaded_out_of_the_collectors_sight(app: LedgerApp, monkeypatch) -> None:
    """gc.freeze once the service is built (its start-up objects live as long as it does); the
    writer process does the same once its ledger is open. (Once per process: the flag is reset,
    since another test's service may have frozen, and a writer's scope unfrozen, before.)"""
    from fastapi.testclient import TestClient

    from infra import collector
    from tests.support.service import make_server

    monkeypatch.setattr(collector, "_frozen", False)
    api, _ = make_server(app)
    with TestClient(api) as client:
        assert client.get("/healthz").status_code == 200
        assert gc.get_freeze_count() > 0


def test_overlapping_pauses_still_collect_a_large_young_backlog(monkeypatch) -> None:
    """Where pauses of two threads overlap without a gap, the one that ends with many young
    objects pending collects them itself."""
    from infra import collector

    monkeypatch.setattr(collector, "YOUNG_BACKLOG_MAX", 1_000)
    with collector_paused():
        with collections_counted(inside=None) as counted, collector_paused():
            kept = [[i] for i in range(5_000)]  # young container objects, over the backlog
        assert not gc.isenabled()
        assert 1 in counted  # the inner pause's end collected generations 0 and 1
    assert kept and gc.isenabled()


class Cycle:
    """An object that refers to itself: only the cyclic collector can free it."""

    def __init__(self) -> None:
        self.me = self
        self.load: list[list[int]] = []


@pytest.fixture
def freezing() -> Iterator[None]:
    """A long-running writer's scope (infra.collector.survivors_frozen)."""
    with survivors_frozen():
        yield


def test_what_a_pause_kept_is_frozen_out_of_later_collections(freezing) -> None:
    with collector_paused():
        kept = Cycle()
    assert gc.isenabled()
    assert all(obj is not kept for obj in gc.get_objects())  # in no generation: frozen
    assert gc.get_freeze_count() > 0


def test_outside_a_writers_scope_nothing_is_frozen() -> None:
    """The control: an ordinary process (a test run) keeps the collector's own rules, so what
    its cycles hold (connections among them) is freed when they die."""
    with collector_paused():
        kept = Cycle()
    assert any(obj is kept for obj in gc.get_objects())


def test_when_the_scope_ends_what_it_froze_returns_to_the_collector() -> None:
    with survivors_frozen():
        with collector_paused():
            kept = Cycle()
        dead = weakref.ref(kept)
        del kept
        gc.collect()
        assert dead() is not None  # frozen
    gc.collect()
    assert dead() is None


def test_a_cycle_dropped_inside_a_pause_is_collected_when_it_ends(freezing) -> None:
    with collector_paused():
        dropped = weakref.ref(Cycle())
        assert dropped() is not None  # nothing collects inside the pause
    assert dropped() is None


def test_a_frozen_cycle_that_dies_waits_for_the_next_full_collection(freezing, monkeypatch) -> None:
    """The control (a full collection not yet due: the dead cycle stays), then one due."""
    from infra import collector

    with collector_paused():
        kept = Cycle()
    dead = weakref.ref(kept)
    del kept
    monkeypatch.setattr(collector, "_blocks_after_full", sys.getallocatedblocks() * 10)
    with collector_paused():
        pass
    gc.collect()  # even the whole heap, frozen objects aside
    assert dead() is not None
    monkeypatch.setattr(collector, "_blocks_after_full", 0)
    with collector_paused():
        pass
    assert dead() is None
    assert collector._blocks_after_full > 0  # what was alive after it


def test_memory_kept_in_dead_frozen_cycles_stays_bounded(freezing, monkeypatch) -> None:
    """Pauses that each leave a large cycle frozen and then drop it: the full collections that
    the growth of allocated blocks starts free them, so they never pile up."""
    from infra import collector

    monkeypatch.setattr(collector, "_blocks_after_full", sys.getallocatedblocks())
    refs = []
    for _ in range(60):
        with collector_paused():
            cycle = Cycle()
            cycle.load = [[i] for i in range(20_000)]  # many blocks, kept alive by the cycle
        refs.append(weakref.ref(cycle))
        del cycle
    alive = sum(ref() is not None for ref in refs)
    assert alive < len(refs) / 2  # without the full collections all 60 would be alive
    assert sys.getallocatedblocks() <= collector.FULL_COLLECTION_GROWTH * collector._blocks_after_full
