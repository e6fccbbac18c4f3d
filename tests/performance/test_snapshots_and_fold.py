"""Snapshots round-trip exactly; audit replay at a version uses them; the streaming fold's
memory does not grow with the history's length."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterable
from typing import Any

from infra.eventstore.application import LedgerApp
from infra.eventstore.snapshots import SNAPSHOT_INTERVAL, AggregateSnapshot
from infra.storage.mapper import CanonicalJSONTranscoder, PydanticMapper
from infra.tools.bench import audit_lines, streaming_fold
from infra.tools.simulate import simulate
from infra.writing.prefetch import Prefetcher
from tests.support import apply_stream, id_number
from tests.support.backends import settings_for


def test_a_snapshot_round_trips_through_the_mapper_to_an_equal_person(app):
    lines = list(simulate(60, 4, seed=8))
    for _ in apply_stream(app, lines, batch_size=100, prefetcher=Prefetcher()):
        pass
    mapper = PydanticMapper(transcoder=CanonicalJSONTranscoder())
    numbers = {text.split('"person":"')[1][:18] for text in lines if '"type":"enroll"' in text}
    checked = 0
    for number in sorted(numbers):
        person = app.get_person(number)
        back = mapper.to_domain_event(mapper.to_stored_event(AggregateSnapshot.take(person))).mutate(None)
        assert back == person
        checked += bool(person.deductions_count)
    assert checked > 5


def test_loading_at_a_version_replays_from_the_latest_snapshot(tmp_path):
    app = LedgerApp(settings_for(str(tmp_path / "ledger.db")))
    number = id_number(seq=41)
    events = 2 * SNAPSHOT_INTERVAL + 11
    for _ in apply_stream(app, audit_lines(number, events), batch_size=97, prefetcher=Prefetcher()):
        pass
    pid = app.person_ref(number, "person")[0]
    assert app.snapshots is not None
    snapshots = list(app.snapshots.get(pid))
    assert [s.originator_version for s in snapshots] == [SNAPSHOT_INTERVAL, 2 * SNAPSHOT_INTERVAL]
    for version in (5, SNAPSHOT_INTERVAL + 3, 2 * SNAPSHOT_INTERVAL, events):
        from_snapshot: Any = app.repository.get(pid, version=version)
        app_without = LedgerApp(settings_for(str(tmp_path / "ledger.db")))
        replayed: Iterable[Any] = app_without.repository.event_store.get(pid, lte=version)  # our pydantic events
        person = None
        for event in replayed:
            person = event.mutate(person)
        assert from_snapshot == person
        app_without.close()
    app.close()


def fold_peak_bytes(months: int) -> tuple[int, int]:
    app = LedgerApp(settings_for("memory://"))
    for _ in apply_stream(app, simulate(80, months, seed=4), batch_size=500, prefetcher=Prefetcher()):
        pass
    tracemalloc.start()
    result = streaming_fold(app, page_size=200)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    app.close()
    return result["events"], peak


def test_the_streaming_fold_uses_bounded_memory_whatever_the_history_length():
    short_events, short_peak = fold_peak_bytes(months=2)
    long_events, long_peak = fold_peak_bytes(months=8)
    assert long_events > 2.5 * short_events
    assert long_peak < 1.5 * short_peak + 200_000  # one page in memory, not the history
