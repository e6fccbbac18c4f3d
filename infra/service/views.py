"""The views behind the service's reads, caught up by a follower thread."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

from infra.readmodels.runner import ViewRunner
from infra.service.problems import Problem

WAIT_FOR_VIEWS_MAX_S = 5.0  # reads with min_position wait at most this long
FOLLOW_INTERVAL_S = 0.1


class Views:
    """The views, caught up by a follower thread; reads and catch-ups share one lock."""

    def __init__(self, app: Any):
        self.app = app
        self.runner = ViewRunner(app)
        self.lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._follow, name="views-follower", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)

    def _follow(self) -> None:
        while not self._stop.is_set():
            # a failing store shows in /readyz; keep following
            with contextlib.suppress(Exception):
                self.catch_up()
            self._stop.wait(FOLLOW_INTERVAL_S)

    def catch_up(self) -> None:
        with self.lock:
            self.runner.catch_up()

    def position(self) -> int:
        with self.lock:
            return min(self.runner.positions().values(), default=0)

    def lag(self) -> int:
        return max(0, self.runner.head() - self.position())

    def wait_for(self, min_position: int | None) -> None:
        if min_position is None:
            return
        if min_position > self.runner.head():
            raise Problem(422, "INVALID_INPUT", "min_position: beyond the end of the log", field="min_position")
        deadline = time.monotonic() + WAIT_FOR_VIEWS_MAX_S
        while self.position() < min_position:
            if time.monotonic() >= deadline:
                raise Problem(
                    503,
                    "VIEWS_BEHIND",
                    f"views did not reach position {min_position} in time",
                    headers={"Retry-After": "1"},
                )
            self.catch_up()

    def read(self, function: Any, *args: Any) -> Any:
        with self.lock:
            return function(self.runner.views, *args)
