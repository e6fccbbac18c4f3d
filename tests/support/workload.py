"""The product's workload generator (`infra.tools.simulate`), applied to an application.

Goal: tests that need "a lot of realistic history" use the same traffic as `ledger simulate`
and the benchmarks, instead of a generator of their own.
Method: `simulate(persons, months, seed)` yields command lines in time order; `Workload.run`
applies them through group commit (`apply_batch`, many commands per transaction) until at
least `events_min` events are stored. Near the target the batches shrink to one line, so a
run stops within one command's events of it; a later `run` carries on with the same stream.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from infra.tools.simulate import simulate
from infra.writing.prefetch import Prefetcher
from tests.support import apply_batch

EVENTS_PER_LINE_MAX = 8  # a deduction split across authorizers, or a close ending many ties


# The simulated years run past today; the ledger refuses commands dated after its own clock, so a
# workload's application gets a clock at the end of the simulated period (the clock is injected).
CLOCK_AT_END = datetime(2099, 12, 31, tzinfo=UTC)


class Workload:
    def __init__(self, app: Any, persons: int, seed: int, months: int = 240, batch_lines: int = 400):
        app.clock = lambda: CLOCK_AT_END
        self.app = app
        self.batch_lines = batch_lines
        self.numbers: dict[UUID, str] = {}  # everyone the ledger enrolled so far: person id -> ID number
        self._lines: Iterator[str] = simulate(persons, months, seed)
        self._prefetcher = Prefetcher()
        self._start = app.recorder.max_notification_id() or 0

    @property
    def events_written(self) -> int:
        return (self.app.recorder.max_notification_id() or 0) - self._start

    def _apply(self, count: int) -> None:
        texts = [text for _, text in zip(range(count), self._lines, strict=False)]
        if not texts:
            raise RuntimeError("the simulated months ran out; give Workload more months")
        for text, result in zip(texts, apply_batch(self.app, texts, self._prefetcher), strict=True):
            if result["ok"] and text.startswith('{"type":"enroll"'):
                number = json.loads(text)["person"]
                self.numbers[self.app.person_ref(number, "person")[0]] = number

    def run(self, events_min: int, every: int | None = None, on_progress: Callable[[], None] | None = None) -> None:
        """Apply lines until at least `events_min` events are stored (counted from the start);
        call `on_progress` each time another `every` events have been stored."""
        next_mark = every or 0
        while (written := self.events_written) < events_min:
            self._apply(max(1, min(self.batch_lines, (events_min - written) // EVENTS_PER_LINE_MAX)))
            if every and self.events_written >= next_mark:
                next_mark += every
                if on_progress:
                    on_progress()
