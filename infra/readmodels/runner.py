"""Runs the views: catch up, follow, rebuild.

The SQLite application recorder has no subscriptions, so the runner reads the application's
notification log itself, in bounded pages, decodes each page once and hands it to every view that
has not yet seen it. Decoding is `orjson.loads` of the stored state (plus upcasting) into a record
(projections.base), and only for the topics some view handles, after the event's MAC is checked
(an event the ledger did not write is skipped and counted, as no decision uses it); other events are read without
their state, and still advance every view's position. On PostgreSQL a page is one keyset query
that returns the originator id as text and no state for ignored topics. Each view applies a page
in one transaction (rows + tracking + event count), so a crash between processing and commit
loses nothing and double-counts nothing: the next run starts from the tracking position the
database holds.

Rebuild reads the log once for all the views it rebuilds, in larger pages (each page is still one
transaction per view; memory holds at most two pages whatever the history's length). It fills a
new table generation from the first event while the generation in service keeps answering
queries (and keeps being caught up by any running `ledger project --follow`); the
transaction that applies the last page also switches the pointer. Interrupted (even by kill -9),
the pointer still names the old generation; run again, it resumes the half-built one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any

import orjson
from eventsourcing.persistence import Tracking
from eventsourcing.utils import resolve_topic

from domain.errors import InvalidInputError
from infra.collector import collector_paused
from infra.eventstore.application import LedgerApp
from infra.readmodels.views import BeforeCommit, fresh_pairs, open_views
from infra.storage.mapper import upcast_state
from infra.storage.paging import pages
from projections.base import LedgerProjection, Record
from projections.registry import by_name

log = logging.getLogger(__name__)

PAGE_SIZE_DEFAULT = 500
REBUILD_PAGE_SIZE_DEFAULT = 10_000
PAGE_SIZE_MAX = 20_000
POLL_INTERVAL_DEFAULT_S = 1.0
POLL_INTERVAL_MIN_S = 0.05
POLL_INTERVAL_MAX_S = 60.0

Progress = Callable[[int, int], None]  # (events done in this run, last notification id seen)


def bounded_page_size(page_size: int) -> int:
    if not 1 <= page_size <= PAGE_SIZE_MAX:
        raise ValueError(f"page size must be between 1 and {PAGE_SIZE_MAX}")
    return page_size


class UnknownViewError(InvalidInputError, KeyError):
    """A view name the registry does not know: an INVALID_INPUT on field "view" for the CLI, and
    still a KeyError, as the registry's lookup has always raised for callers."""

    __str__ = InvalidInputError.__str__  # the plain message, not KeyError's quoted repr


def _projections_named(names: Sequence[str] | None) -> list[type[LedgerProjection]]:
    try:
        return by_name(list(names or ()))
    except KeyError as error:
        raise UnknownViewError(str(error.args[0]), field="view") from None


class ViewRunner:
    def __init__(
        self,
        app: LedgerApp,
        views: Any | None = None,
        names: Sequence[str] | None = None,
        *,
        page_size: int | None = None,
        before_commit: BeforeCommit | None = None,
    ):
        self.app = app
        self.views = views if views is not None else open_views(app)
        self.projections: list[LedgerProjection] = [cls(self.views) for cls in _projections_named(names)]
        self.page_size = bounded_page_size(page_size or PAGE_SIZE_DEFAULT)
        self.rebuild_page_size = bounded_page_size(page_size or REBUILD_PAGE_SIZE_DEFAULT)
        self.topics = frozenset().union(*(p.topics() for p in self.projections))
        self.before_commit = before_commit  # a test hook: runs inside the transaction, before commit
        self.unproven = 0  # events skipped because their MAC did not hold

    # --- reading the log ----------------------------------------------------------------
    def head(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def _page(self, after: int, limit: int | None = None) -> list[tuple[Record | None, Tracking]]:
        """The next page of the log after `after`: (record, tracking) pairs, in notification
        order; the record is None for an event no view of this runner handles."""
        limit = limit or self.page_size
        rows = self.app.recorder.log_rows(after, limit, self.topics)
        name = self.app.name
        with collector_paused():  # a bounded page (infra.collector)
            return [
                (
                    None if state is None else self._proven_record(id_, str(originator_id), version, topic, state),
                    Tracking(name, id_),
                )
                for id_, originator_id, version, topic, state in rows
            ]

    def _proven_record(self, position: int, originator_id: str, version: int, topic: str, state: bytes) -> Any:
        """The event as a record if its MAC holds (infra.storage.event_macs), else None. One that
        does not was not written by the ledger: no view applies it (as no decision uses it); it
        is logged and counted, and `ledger verify` names it."""
        macs_from = self.app.event_macs_from
        required = macs_from is not None and position >= macs_from
        payload, found = self.app.event_macs.checked(originator_id, version, topic, state, required)
        if found is None:
            return _record(topic, payload, originator_id, version)
        self.unproven += 1
        log.warning("views: event at position %s skipped: %s", position, found)
        return None

    # --- catching up --------------------------------------------------------------------
    def positions(self) -> dict[str, int]:
        return self.views.active_positions([projection.name for projection in self.projections])

    def catch_up(self, progress: Progress | None = None) -> dict[str, int]:
        """Apply every recorded event each view has not seen; return events applied per view."""
        positions = self.positions()
        applied = dict.fromkeys(positions, 0)
        done = 0
        start = min(positions.values(), default=0)
        # After a page every view is at its last position (the furthest-behind view took it all).
        for page in pages(self._page, _notification_id, start, self.page_size):
            last = page[-1][1].notification_id
            with collector_paused():  # a bounded page (infra.collector)
                due = [(p, fresh) for p in self.projections if (fresh := fresh_pairs(page, positions[p.name]))]
                if due:  # every view's share of the page in one transaction
                    for name, count in self.views.apply_page(due, before_commit=self.before_commit).items():
                        applied[name] += count
                        positions[name] = max(positions[name], last)
            done += len(page)
            if progress:
                progress(done, last)
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
        in the same transaction as its last page. Returns {view: {"rows", "checksum", "events"}}.

        One pass over the log for all the views. While the views write a page, a reader thread
        fetches and decodes the next one (the database works while Python decodes): at most two
        pages are in memory."""
        generations = {p.name: self.views.begin_rebuild(type(p)) for p in self.projections}
        page_size = self.rebuild_page_size
        positions = {name: self.views.position(name, g) for name, g in generations.items()}
        pending = list(self.projections)
        done = 0
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rebuild-reader") as reader:
            after = min(positions.values(), default=0)
            next_page = reader.submit(self._page, after, page_size)
            while pending:
                page = next_page.result()
                at_head = len(page) < page_size
                last = page[-1][1].notification_id if page else after
                if not at_head:
                    next_page = reader.submit(self._page, last, page_size)  # read ahead
                with collector_paused():  # a bounded page (infra.collector)
                    for projection in list(pending):
                        self._rebuild_page(projection, page, generations, positions, at_head)
                        if at_head:
                            pending.remove(projection)
                            self.views.drop_retired(type(projection))
                done += len(page)
                if progress:
                    progress(done, last)
                if pending and (after := min(positions[p.name] for p in pending)) != last:
                    next_page = reader.submit(self._page, after, page_size)  # a view was further on
        return self.summaries()

    def _rebuild_page(
        self,
        projection: LedgerProjection,
        page: list[tuple[Record | None, Tracking]],
        generations: dict[str, int],
        positions: dict[str, int],
        at_head: bool,
    ) -> None:
        name = projection.name
        fresh = fresh_pairs(page, positions[name])
        if fresh or at_head:
            self.views.apply_events(
                projection, fresh, generation=generations[name], switch=at_head, before_commit=self.before_commit
            )
            if page:
                positions[name] = max(positions[name], page[-1][1].notification_id)

    def summaries(self) -> dict[str, dict[str, Any]]:
        return {p.name: self.views.summary(type(p)) for p in self.projections}


# --- decoding ------------------------------------------------------------------------------
def _notification_id(pair: tuple[Record | None, Tracking]) -> int:
    return pair[1].notification_id


@lru_cache(maxsize=256)
def _event_class(topic: str) -> type:
    return resolve_topic(topic)


def _record(topic: str, payload: bytes, originator_id: str, originator_version: int) -> Record:
    """The stored event as a record (projections.base): its JSON payload (the state without its
    MAC), upcast to the current class version, plus id, version and topic; the same dict as
    `record_of(event)`. Decoded by orjson: in the rebuild's profile the reader thread, which
    checks and decodes every page, was the bottleneck, and `json.loads` most of its time; for
    canonical JSON both give the same values (tests/unit/test_record_decoding.py)."""
    record = orjson.loads(payload)
    upcast_state(_event_class(topic), record)
    record["originator_id"] = originator_id
    record["originator_version"] = originator_version
    record["topic"] = topic
    return record
