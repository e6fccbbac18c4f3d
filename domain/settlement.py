"""A settlement index: one aggregate per settlement id (uuid5), so that two deductions with
the same id collide at version 1 in the event store, whichever patients they name."""

from __future__ import annotations

import uuid
from datetime import datetime
from uuid import UUID

from eventsourcing.domain import BaseAggregate

from domain import events as ev

SETTLEMENT_NAMESPACE = uuid.UUID("3f1d0c62-95b4-5e0f-8d43-7a1c2e9b6f10")


def settlement_aggregate_id(settlement_id: str) -> UUID:
    return uuid.uuid5(SETTLEMENT_NAMESPACE, settlement_id)


class Settlement(BaseAggregate[UUID]):
    settlement_id: str
    patient: UUID
    patient_masked: str
    fingerprint: str
    amount_fen: int
    lines: tuple[ev.PaymentLine, ...]
    out_of_pocket_fen: int
    rule_version: str
    rule_digest: str | None
    institution: str | None
    opened_at: datetime

    def init_state(self) -> None:
        self.reversed = False

    @classmethod
    def open(cls, settled: ev.DeductionSettled, patient_masked: str) -> Settlement:
        """Open the index entry for a deduction just decided on the patient."""
        return cls._create(
            ev.SettlementOpened,  # type: ignore[arg-type]  # pydantic event; library types it nominally
            id=settlement_aggregate_id(settled.settlement_id),
            settlement_id=settled.settlement_id,
            patient=settled.originator_id,
            patient_masked=patient_masked,
            fingerprint=settled.fingerprint,
            amount_fen=settled.amount_fen,
            lines=settled.lines,
            out_of_pocket_fen=settled.out_of_pocket_fen,
            rule_version=settled.rule_version,
            rule_digest=settled.rule_digest,
            institution=settled.institution,
            timestamp=settled.timestamp,
        )

    def mark_reversed(self, *, reason: str, at: datetime) -> None:
        self.trigger_event(ev.SettlementReversed, reason=reason, timestamp=at)  # type: ignore[arg-type]  # pydantic event; library types it nominally
