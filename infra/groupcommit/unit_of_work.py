"""The unit of work of one group-commit batch: aggregates loaded once, changed by many
commands in arrival order, stored in one transaction.

- loads come from here: every aggregate loaded is kept, so a later command in the batch sees
  the earlier commands' (not yet stored) events;
- a handler's `save(...)` stages: it collects the aggregates' new events (the library's
  `collect_events`), in the order a direct save would have stored them;
- after each command, an aggregate the command changed but did not save is rebuilt from its
  staged events, exactly as if the command's in-memory objects had been thrown away;
- `commit` hands the staged events, in command order, and the aggregates to the library's
  `Application.save`: one transaction, and the library's own snapshot policy.

So per-command results and final state equal those of one-at-a-time processing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from domain.errors import LedgerInvariantError


class BatchUnitOfWork:
    def __init__(self, app: Any, prefetched: dict[UUID, Any] | None = None, missing: Iterable[UUID] = ()):
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
    def commit(self) -> None:
        """One transaction for the whole batch; the library takes the snapshots its policy asks for."""
        if self.events:
            changed = [self.aggregates[i] for i, events in self.staged.items() if events]
            self.app.save_collected(self.events, changed)  # the changed aggregates: the snapshot policy's input
