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

from typing import Any, Protocol
from uuid import UUID


class UnitOfWork(Protocol):
    def get(self, aggregate_id: UUID) -> Any:
        """The aggregate's current state (raises the library's AggregateNotFoundError)."""

    def __contains__(self, aggregate_id: UUID) -> bool: ...

    def save(self, *aggregates: Any) -> None:
        """Accept the aggregates' new events, atomically with each other."""


class DirectUnitOfWork:
    """One transaction per save, straight through the application's repository."""

    def __init__(self, app: Any):
        self.app = app

    def get(self, aggregate_id: UUID) -> Any:
        return self.app.repository.get(aggregate_id)

    def __contains__(self, aggregate_id: UUID) -> bool:
        return aggregate_id in self.app.repository

    def save(self, *aggregates: Any) -> None:
        self.app.save(*aggregates)


class DeferredSaves:
    """A command's view of its unit of work: loads pass through, saves are held back, so the
    command's events and its command record go to the real unit of work in one save."""

    def __init__(self, uow: UnitOfWork):
        self.uow = uow
        self.held: dict[UUID, Any] = {}

    def get(self, aggregate_id: UUID) -> Any:
        return self.uow.get(aggregate_id)

    def __contains__(self, aggregate_id: UUID) -> bool:
        return aggregate_id in self.uow

    def save(self, *aggregates: Any) -> None:
        for aggregate in aggregates:
            if aggregate is not None:
                self.held.setdefault(aggregate.id, aggregate)

    def release(self, *more: Any) -> None:
        """Save everything held, and `more`, in one save of the real unit of work."""
        self.save(*more)
        if self.held:
            self.uow.save(*self.held.values())
