"""A settlement index: one aggregate per settlement id (uuid5), so that two deductions with
the same id collide at version 1 in the event store, whichever patients they name."""

from __future__ import annotations

import uuid
from datetime import datetime
from uuid import UUID

from domain import events as ev
from eventsourcing.domain import BaseAggregate

SETTLEMENT_NAMESPACE = uuid.UUID("3f1d0c62-95b4-5e0f-8d43-7a1c2e9b6f10")


def settlement_aggregate_id(settlement_id: str) -> UUID:
    return uuid.uuid5(SETTLEMENT_NAMESPACE, settlement_id)


class Settlement(BaseAggregate[UUID]):
    settlement_id: str
    patient: UUID
    fingerprint: str

    def init_state(self) -> None:
        self.reversed = False

    @classmethod
    def open(cls, *, settlement_id: str, patient: UUID, fingerprint: str, at: datetime) -> Settlement:
        return cls._create(
            ev.SettlementOpened,
            id=settlement_aggregate_id(settlement_id),
            settlement_id=settlement_id,
            patient=patient,
            fingerprint=fingerprint,
            timestamp=at,
        )

    def mark_reversed(self, *, reason: str, at: datetime) -> None:
        self.trigger_event(ev.SettlementReversed, reason=reason, timestamp=at)
