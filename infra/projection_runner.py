"""Runs the views: catch up, follow, rebuild.

The SQLite application recorder has no subscriptions, so the runner reads the application's
notification log itself, in bounded pages (`select_notifications`), decodes each page once and
hands it to every view that has not yet seen it. Each view applies a page in one transaction
(rows + tracking + event count), so a crash between processing and commit loses nothing and
double-counts nothing: the next run starts from the tracking position the database holds.

Rebuild fills a new table generation from the first event while the generation in service keeps
answering queries (and keeps being caught up by any running `ledger project --follow`); the
transaction that applies the last page also switches the pointer. Interrupted (even by kill -9),
the pointer still names the old generation; run again, it resumes the half-built one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.persistence import Tracking

from infra.views import BeforeCommit, open_views
from projections.base import LedgerProjection
from projections.registry import by_name

PAGE_SIZE_DEFAULT = 500
PAGE_SIZE_MAX = 5_000
POLL_INTERVAL_DEFAULT_S = 1.0
POLL_INTERVAL_MIN_S = 0.05
POLL_INTERVAL_MAX_S = 60.0

Progress = Callable[[int, int], None]  # (events done in this run, last notification id seen)


def bounded_page_size(page_size: int) -> int:
    if not 1 <= page_size <= PAGE_SIZE_MAX:
        raise ValueError(f"page size must be between 1 and {PAGE_SIZE_MAX}")
    return page_size


class ViewRunner:
    def __init__(
        self,
        app: Any,
        views: Any | None = None,
        names: Sequence[str] | None = None,
        *,
        page_size: int = PAGE_SIZE_DEFAULT,
        before_commit: BeforeCommit | None = None,
    ):
        self.app = app
        self.views = views if views is not None else open_views(app)
        self.projections: list[LedgerProjection] = [cls(self.views) for cls in by_name(list(names or ()))]
        self.page_size = bounded_page_size(page_size)
        self.before_commit = before_commit  # a test hook: runs inside the transaction, before commit

    # --- reading the log ----------------------------------------------------------------
    def head(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def _page(self, after: int) -> list[tuple[Any, Tracking]]:
        notifications = self.app.recorder.select_notifications(start=after + 1, limit=self.page_size)
        name = self.app.name
        return [(self.app.mapper.to_domain_event(n), Tracking(name, n.id)) for n in notifications]

    # --- catching up --------------------------------------------------------------------
    def positions(self) -> dict[str, int]:
        result = {}
        for projection in self.projections:
            pointer = self.views.pointer(projection.name)
            result[projection.name] = self.views.position(projection.name, pointer.active) if pointer else 0
        return result

    def catch_up(self, progress: Progress | None = None) -> dict[str, int]:
        """Apply every recorded event each view has not seen; return events applied per view."""
        positions = self.positions()
        applied = dict.fromkeys(positions, 0)
        done = 0
        while True:
            start = min(positions.values(), default=0)
            page = self._page(start)
            if not page:
                return applied
            last = page[-1][1].notification_id
            for projection in self.projections:
                name = projection.name
                fresh = [pair for pair in page if pair[1].notification_id > positions[name]]
                if fresh:
                    applied[name] += self.views.apply_events(projection, fresh, before_commit=self.before_commit)
                    positions[name] = max(positions[name], last)
            done += len(page)
            if progress:
                progress(done, last)
            if len(page) < self.page_size:
                return applied

    def follow(self, interval_s: float, stop: threading.Event, on_round: Callable[[dict], None] | None = None) -> None:
        """Catch up, wait (bounded interval), repeat until `stop` is set."""
        interval_s = min(max(interval_s, POLL_INTERVAL_MIN_S), POLL_INTERVAL_MAX_S)
        while not stop.is_set():
            applied = self.catch_up()
            if on_round and any(applied.values()):
                on_round(applied)
            stop.wait(interval_s)

    # --- rebuilding ---------------------------------------------------------------------
    def rebuild(self, progress: Progress | None = None) -> dict[str, dict[str, Any]]:
        """Rebuild the views from the first event into new generations, then switch each one
        in the same transaction as its last page. Returns {view: {"rows", "checksum", "events"}}."""
        generations = {p.name: self.views.begin_rebuild(type(p)) for p in self.projections}
        positions = {name: self.views.position(name, g) for name, g in generations.items()}
        pending = list(self.projections)
        done = 0
        while pending:
            page = self._page(min(positions[p.name] for p in pending))
            at_head = len(page) < self.page_size
            last = page[-1][1].notification_id if page else 0
            for projection in list(pending):
                name = projection.name
                fresh = [pair for pair in page if pair[1].notification_id > positions[name]]
                if fresh or at_head:
                    self.views.apply_events(projection, fresh, generation=generations[name], switch=at_head,
                                            before_commit=self.before_commit)
                    positions[name] = max(positions[name], last)
                if at_head:
                    pending.remove(projection)
                    self.views.drop_retired(type(projection))
            done += len(page)
            if progress:
                progress(done, last)
        return self.summaries()

    def summaries(self) -> dict[str, dict[str, Any]]:
        return {p.name: self.views.summary(type(p)) for p in self.projections}
