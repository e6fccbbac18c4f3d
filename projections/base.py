"""What every read model shares: its tables, its event dispatch, and a transaction to write in.

A view is a `Projection` in the `eventsourcing` library's sense: `process_event(event, tracking)`
writes the view's rows and the tracking position in one transaction of its tracking recorder.
For throughput the runner hands the view a whole page of events instead (`apply_events`): the
rows of every event in the page and the tracking position of the page's last notification are
still written in one transaction, so a crash at any point neither loses nor double-counts.

Handlers read an event as a *record*: the plain dict of its stored JSON state (after upcasting),
plus `originator_id` (text), `originator_version` and `topic`. That is exactly
`event.model_dump(mode="json")` of the domain event, so a page read from the log needs one
`json.loads` per event, not a pydantic validation (the events were validated when written; the
rebuild-equals-live checksum tests hold the two paths together). Handlers describe the rows an
event changes to a `PageChanges` (projections.changes), which the recorder writes in bulk.

This package holds the *logic* (which rows an event changes); it does no I/O of its own. The
recorder (`infra.readmodels.views`) knows the database dialect, the table generation in service, and the
tracking recorder.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar, Protocol

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection
from eventsourcing.utils import get_topic

from domain.dispatch import handler_table, handles
from projections.changes import PageChanges
from projections.tables import Table

__all__ = ["LedgerProjection", "Record", "ViewRecorder", "handles", "record_of"]

Record = dict[str, Any]


def record_of(domain_event: Any) -> Record:
    """The record of a domain event: its JSON state as stored, plus id, version and topic."""
    record = domain_event.model_dump(mode="json")
    record["topic"] = get_topic(type(domain_event))
    return record


class ViewRecorder(Protocol):
    """The tracking recorder a projection writes through (see infra.readmodels.views)."""

    def apply_events(self, projection: LedgerProjection, pairs: Sequence[tuple[Any, Tracking]]) -> int: ...


class LedgerProjection(Projection[Any]):
    """Base of the ledger's views: dispatch on event topic; ignored events do nothing (but the
    runner still records their tracking position, so the view's position always advances)."""

    name: str = ""  # an instance variable in the library's Projection; set per class here
    title: ClassVar[str] = ""
    tables: ClassVar[tuple[Table, ...]] = ()

    def __init__(self, view: ViewRecorder | None = None):
        super().__init__(view)

    handlers: ClassVar[dict[str, str]] = {}  # event topic -> method name

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.handlers = handler_table(cls)

    @classmethod
    def topics(cls) -> frozenset[str]:  # type: ignore[override]  # read by our runner; the library's is unused
        return frozenset(cls.handlers)

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """The library's one-event entry point: rows and tracking in one transaction."""
        self.view.apply_events(self, [(domain_event, tracking)])

    def prepare(self, records: Sequence[Record | None], changes: PageChanges) -> None:
        """Before a page is handled: preload the rows its handlers will `get` (one query each)."""

    def handle_page(self, records: Iterable[Record | None], changes: PageChanges) -> None:
        """Describe the rows each record changes, in order. A topic the view does not handle is
        ignored, and so is None (an event the runner did not decode: no view reads its topic)."""
        handlers = {topic: getattr(self, attribute) for topic, attribute in self.handlers.items()}
        for record in records:
            if record is not None:
                handler = handlers.get(record["topic"])
                if handler is not None:
                    handler(record, changes)
