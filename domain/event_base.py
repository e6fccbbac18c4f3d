"""What every event is: a frozen pydantic model with the library's originator id and version,
its business `timestamp`, the ledger's `recorded_at`, who sent it (`sent_by`), and `mutate`,
which checks the aggregate and version and then calls the event's own `apply`. The events
themselves are in domain.events (and the quota escrow's in domain.quota_events)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import OriginatorIDError, OriginatorVersionError
from eventsourcing.utils import resolve_topic
from pydantic import BaseModel, ConfigDict

from domain.clock import month_of
from domain.errors import LedgerInvariantError


class SentBy(BaseModel):
    """Who sent the command an event records: the service key (its id, role and tenant: the
    channel or institution it sends for, else its role) and the command's id, or the operator's
    command line (`key_id` None, role and tenant "ledger"). Stamped by the write path from the
    key, never taken from a command's body."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    key_id: str | None
    role: str
    tenant: str
    command_id: str | None = None


class DomainEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    class_version: ClassVar[int] = 1

    originator_id: UUID
    originator_version: int
    timestamp: datetime  # the command's `at`: when it took effect
    # The ledger's clock when the command was decided. Events stored before the ledger kept it
    # are read with None (unknown): the default is their upcast, nothing stored is rewritten.
    recorded_at: datetime | None = None
    # Who sent the command (None: stored before the ledger recorded it).
    sent_by: SentBy | None = None

    @property
    def month(self) -> str:
        return month_of(self.timestamp)

    def mutate(self, aggregate: Any) -> Any:
        if aggregate is None:
            raise LedgerInvariantError(f"{type(self).__name__} cannot start an aggregate")
        if self.originator_id != aggregate.id:
            raise OriginatorIDError(self.originator_id, aggregate.id)
        if self.originator_version != aggregate.version + 1:
            raise OriginatorVersionError(self.originator_version, aggregate.version + 1)
        self.apply(aggregate)
        aggregate.version = self.originator_version
        aggregate.modified_on = self.timestamp
        return aggregate

    def apply(self, aggregate: Any) -> None:
        """Assign state from this event's fields. Overridden per event."""


class CreatedEvent(DomainEvent):
    originator_topic: str

    def mutate(self, aggregate: Any) -> Any:
        if aggregate is not None:
            raise LedgerInvariantError(f"{type(self).__name__} must start an aggregate")
        cls = resolve_topic(self.originator_topic)
        new = cls.__new__(cls)
        new.__base_init__(self.originator_id, self.originator_version, self.timestamp)
        new.init_state()
        self.apply(new)
        return new
