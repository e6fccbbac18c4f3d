"""The unit of work a command handler is given: where it loads aggregates and saves them.

A handler is *load, decide, one save of every aggregate it touched*; it never talks to the
event store directly. Two implementations share this small interface:

- `DirectUnitOfWork` (here): loads from the application's repository and stores each save at
  once, one transaction per command;
- `BatchUnitOfWork` (infra.groupcommit.unit_of_work): keeps the aggregates of a whole batch in
  memory, stages each save, and stores the batch in one transaction.

So group commit is a collaborator passed in, not behaviour patched onto the application.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from domain.clock import local_iso
from domain.errors import OutOfOrderError


class UnitOfWork(Protocol):
    def get(self, aggregate_id: UUID) -> Any:
        """The aggregate's current state (raises the library's AggregateNotFoundError)."""

    def __contains__(self, aggregate_id: UUID) -> bool: ...

    def peek(self, aggregate_id: UUID) -> Any:
        """A load for recognising a duplicate (a settlement id): no decision is made from it,
        so it is exempt from the checks a decision's loads get."""

    def save(self, *objects: Any) -> None:
        """Accept the aggregates' new events, and events given as such (already collected from
        those aggregates), atomically with each other, in the order given."""


class DirectUnitOfWork:
    """One transaction per save, straight through the application's repository."""

    def __init__(self, app: Any):
        self.app = app

    def get(self, aggregate_id: UUID) -> Any:
        return self.app.repository.get(aggregate_id)

    def __contains__(self, aggregate_id: UUID) -> bool:
        return aggregate_id in self.app.repository

    def peek(self, aggregate_id: UUID) -> Any:
        return self.get(aggregate_id)

    def save(self, *objects: Any) -> None:
        self.app.save(*objects)  # the library's save takes aggregates and events alike


class DeferredSaves:
    """A command's view of its unit of work: loads pass through, saves are held back, so the
    command's events and its command record go to the real unit of work in one save, each
    stamped with the time the ledger decided it (`recorded_at`).

    No decision from its own future: an aggregate the command decides on must hold nothing
    effective after the command's `at` (its `modified_on` is the `at` of its last event), else
    the command is refused OUT_OF_ORDER before any rule looks at it. So per account the
    effective order equals the recorded order, and every decision uses only facts effective at
    or before its own time. `peek` (recognising a duplicate settlement) is exempt: it decides
    nothing."""

    def __init__(self, uow: UnitOfWork, at: datetime, recorded_at: datetime):
        self.uow = uow
        self.at = at
        self.recorded_at = recorded_at
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
        events = [
            event.model_copy(update={"recorded_at": self.recorded_at})
            for aggregate in self.held.values()
            for event in aggregate.collect_events()
        ]
        self.uow.save(*self.held.values(), *events)
