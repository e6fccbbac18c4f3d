"""The views a long-running process reads (the service, the console), kept current by a
follower thread. Reads and catch-ups share one lock.

A follower that fails to catch up (the store unreachable, a projection's bug) logs the error
with its traceback, counts it (`failures`, exported as a metric by the service) and tries again
at the next interval: the views stall visibly, never silently. /readyz reports the lag.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from domain.errors import InvalidInputError, LedgerError
from infra.eventstore.application import LedgerApp
from infra.readmodels.runner import ViewRunner

log = logging.getLogger(__name__)
WAIT_FOR_VIEWS_MAX_S = 5.0  # reads with min_position wait at most this long
FOLLOW_INTERVAL_S = 0.1


class ViewsBehindError(LedgerError):
    """The views did not reach the position a read asked for in time (HTTP 503)."""

    code = "VIEWS_BEHIND"


class LiveViews:
    def __init__(self, app: LedgerApp):
        self.app = app
        self.runner = ViewRunner(app)
        self.lock = threading.RLock()
        self.failures = 0  # follower rounds that failed since start
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
            try:
                self.catch_up()
            except Exception:
                self.failures += 1
                log.exception("the views follower failed to catch up (failure %d); trying again", self.failures)
            self._stop.wait(FOLLOW_INTERVAL_S)

    def catch_up(self) -> dict[str, int]:
        with self.lock:
            return self.runner.catch_up()

    def position(self) -> int:
        with self.lock:
            return min(self.runner.positions().values(), default=0)

    def positions(self) -> dict[str, int]:
        with self.lock:
            return self.runner.positions()

    def head(self) -> int:
        return self.runner.head()

    def lag(self) -> int:
        return max(0, self.head() - self.position())

    def wait_for(self, min_position: int | None) -> None:
        """Until the views reach `min_position` (bounded: VIEWS_BEHIND after WAIT_FOR_VIEWS_MAX_S)."""
        if min_position is None:
            return
        if min_position > self.head():
            raise InvalidInputError("min_position: beyond the end of the log", field="min_position")
        deadline = time.monotonic() + WAIT_FOR_VIEWS_MAX_S
        while self.position() < min_position:
            if time.monotonic() >= deadline:
                raise ViewsBehindError(f"views did not reach position {min_position} in time")
            self.catch_up()

    def read(self, function: Callable[..., Any], *args: Any) -> Any:
        with self.lock:
            return function(self.runner.views, *args)

    def summaries(self) -> dict[str, dict[str, Any]]:
        with self.lock:
            return self.runner.summaries()

    def rebuild(self, progress: Callable[[int, int], None] | None = None) -> dict[str, dict[str, Any]]:
        with self.lock:
            return self.runner.rebuild(progress)
