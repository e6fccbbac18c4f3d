"""The units of work a command handler is given: where it loads aggregates and saves them.

A handler is *load, decide, one save of every aggregate it touched*; it never talks to the
event store directly (the protocol is infra.commands.base.UnitOfWork).

`BatchUnitOfWork`: the aggregates of a batch of commands, decided in arrival order and stored in
one transaction (a batch of one is a transaction per command):
- loads come from here: every aggregate loaded is kept, so a later command in the batch sees
  the earlier commands' (not yet stored) events;
- a handler's `save(...)` stages: it collects the aggregates' new events (the library's
  `collect_events`), in the order one-at-a-time saves would have stored them;
- after each command, an aggregate the command changed but did not save is rebuilt from its
  staged events, exactly as if the command's in-memory objects had been thrown away;
- `commit` hands the staged events, in command order, and the aggregates to the application's
  `save_collected`: one transaction, and the library's own snapshot policy.
So per-command results and final state equal those of one-at-a-time processing.

`DeferredSaves`: one command's view of the batch, which holds its saves back so that the
command's events and its command record are staged together, and refuses a decision from its
own future (OUT_OF_ORDER).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import Tracking

from domain.clock import local_iso
from domain.errors import LedgerInvariantError, OutOfOrderError
from domain.events import SentBy
from infra.commands.base import UnitOfWork
from infra.eventstore.application import LedgerApp


class BatchUnitOfWork:
    def __init__(self, app: LedgerApp, prefetched: dict[UUID, Any] | None = None, missing: Iterable[UUID] = ()):
        self.app = app
        self.aggregates: dict[UUID, Any] = {}
        self.base_versions: dict[UUID, int | None] = {}  # stored version when loaded; None = new
        self.staged: dict[UUID, list[Any]] = {}  # each aggregate's staged events
        self.events: list[Any] = []  # staged events, in the order direct saves would store them
        self.missing: set[UUID] = set(missing)
        self.handed_out: set[UUID] = set()
        for aggregate in (prefetched or {}).values():
            self._adopt(aggregate)

    # --- the UnitOfWork interface -------------------------------------------------------
    def get(self, aggregate_id: UUID) -> Any:
        aggregate = self.aggregates.get(aggregate_id)
        if aggregate is None:
            if aggregate_id in self.missing:
                raise AggregateNotFoundError(aggregate_id)
            try:
                aggregate = self.app.repository.get(aggregate_id)
            except AggregateNotFoundError:
                self.missing.add(aggregate_id)
                raise
            self._adopt(aggregate)
        self.handed_out.add(aggregate_id)
        return aggregate

    def __contains__(self, aggregate_id: UUID) -> bool:
        try:
            self.get(aggregate_id)
        except AggregateNotFoundError:
            return False
        return True

    def peek(self, aggregate_id: UUID) -> Any:
        return self.get(aggregate_id)

    def save(self, *objects: Any) -> None:
        for obj in objects:
            if obj is None:
                continue
            if hasattr(obj, "originator_id"):  # an event already collected from its aggregate
                self.staged[obj.originator_id].append(obj)
                self.events.append(obj)
                continue
            known = self.aggregates.get(obj.id)
            if known is None:
                self.base_versions[obj.id] = None
                self.staged[obj.id] = []
                self.missing.discard(obj.id)
            elif known is not obj:
                raise LedgerInvariantError(f"aggregate {obj.id} was saved from a stale copy")
            self.aggregates[obj.id] = obj
            new_events = list(obj.collect_events())
            self.staged[obj.id].extend(new_events)
            self.events.extend(new_events)

    # --- per command ---------------------------------------------------------------------
    def run(self, command: Callable[[], dict]) -> dict:
        self.handed_out = set()
        try:
            return command()
        finally:
            self._discard_unsaved_changes()

    def _adopt(self, aggregate: Any) -> None:
        self.aggregates[aggregate.id] = aggregate
        self.base_versions[aggregate.id] = aggregate.version
        self.staged[aggregate.id] = []

    def _discard_unsaved_changes(self) -> None:
        for aggregate_id in self.handed_out:
            aggregate = self.aggregates.get(aggregate_id)
            if aggregate is not None and aggregate.pending_events:
                self.aggregates[aggregate_id] = self._rebuild(aggregate_id)

    def _rebuild(self, aggregate_id: UUID) -> Any:
        """The aggregate as it stood after its last staged event (unsaved changes dropped)."""
        base_version = self.base_versions[aggregate_id]
        fresh = None if base_version is None else self.app.repository.get(aggregate_id, version=base_version)
        for event in self.staged[aggregate_id]:
            fresh = event.mutate(fresh)
        return fresh

    # --- the end of the batch ------------------------------------------------------------
    def commit(self, tracking: Tracking | None = None) -> int | None:
        """One transaction for the whole batch (with `tracking`, the position of what it
        delivers, in the same transaction); the library takes the snapshots its policy asks for.
        The highest notification id stored, or None when nothing was."""
        if not self.events and tracking is None:
            return None
        changed = [self.aggregates[i] for i, events in self.staged.items() if events]
        recordings = self.app.save_collected(self.events, changed, tracking)  # changed: the snapshot policy's input
        return max((recording.notification.id for recording in recordings), default=None)


class DeferredSaves:
    """A command's view of its unit of work: loads pass through, saves are held back, so the
    command's events and its command record go to the real unit of work in one save, each
    stamped with the time the ledger decided it (`recorded_at`) and who sent it (`sent_by`).

    No decision from its own future: an aggregate the command decides on must hold nothing
    effective after the command's `at` (its `modified_on` is the `at` of its last event), else
    the command is refused OUT_OF_ORDER before any rule looks at it. So per account the
    effective order equals the recorded order, and every decision uses only facts effective at
    or before its own time. `peek` (recognising a duplicate settlement) is exempt: it decides
    nothing."""

    def __init__(self, uow: UnitOfWork, at: datetime, recorded_at: datetime, sent_by: SentBy | None = None):
        self.uow = uow
        self.at = at
        self.recorded_at = recorded_at
        self.sent_by = sent_by
        self.held: dict[UUID, Any] = {}

    def get(self, aggregate_id: UUID) -> Any:
        aggregate = self.uow.get(aggregate_id)
        if aggregate.modified_on > self.at:
            shown = getattr(aggregate, "masked", None) or getattr(aggregate, "settlement_id", "an account")
            raise OutOfOrderError(
                f"at: {shown} has events effective up to {local_iso(aggregate.modified_on)}, later than this command",
                field="at",
            )
        return aggregate

    def peek(self, aggregate_id: UUID) -> Any:
        return self.uow.peek(aggregate_id)

    def __contains__(self, aggregate_id: UUID) -> bool:
        return aggregate_id in self.uow

    def save(self, *aggregates: Any) -> None:
        for aggregate in aggregates:
            if aggregate is not None:
                self.held.setdefault(aggregate.id, aggregate)

    def release(self, *more: Any) -> None:
        """Save everything held, and `more`, in one save of the real unit of work."""
        self.save(*more)
        if not self.held:
            return
        stamp = {"recorded_at": self.recorded_at, "sent_by": self.sent_by}
        events = [_stamped(event, stamp) for aggregate in self.held.values() for event in aggregate.collect_events()]
        self.uow.save(*self.held.values(), *events)


def _stamped(event: Any, stamp: dict[str, Any]) -> Any:
    """`event` with `stamp`'s fields set, as `model_copy(update=stamp)` would give, in place: the
    event was just collected from its aggregate, nothing else holds it, and a copy (2 µs per
    event, every event of the write path) would only be thrown away. Frozen means no one
    changes an event once it is out; this is still its making."""
    vars(event).update(stamp)
    event.__pydantic_fields_set__.update(stamp)
    return event
