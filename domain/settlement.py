"""A settlement index: one aggregate per settlement id (uuid5), so that two deductions with
the same id collide at version 1 in the event store, whichever patients they name.

Most settlements are deductions (`SettlementOpened`, in domain.events). Two events beside it come
from the national platform's records (docs/national.md), and live here with the aggregate that
alone records them: `SettlementRecorded` opens a settlement the personal accounts did not pay (no
deduction: the platform counts it in its statements all the same), and `PlatformRecordAttached`
keeps the platform's record of a deduction that was settled without one.
"""

from __future__ import annotations

import functools
import uuid
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import BaseAggregate
from pydantic import Field

from domain import events as ev
from domain.ids import name_uuid
from domain.platform_record import PlatformRecord

SETTLEMENT_NAMESPACE = uuid.UUID("3f1d0c62-95b4-5e0f-8d43-7a1c2e9b6f10")


@functools.lru_cache(maxsize=65_536)
def settlement_aggregate_id(settlement_id: str) -> UUID:
    """Remembered: a batch's prefetch, the duplicate check and the deduction each ask for the
    same id (uuid5 is a SHA-1)."""
    return name_uuid(SETTLEMENT_NAMESPACE, settlement_id)


class SettlementRecorded(ev.CreatedEvent):
    """A settlement of the platform's that the personal accounts did not pay (its record's
    `acct_used_flag` is 0 or its `psn_part_amt` 0.00): kept with its record, no money moved."""

    settlement_id: str
    patient: UUID
    patient_masked: str
    fingerprint: str  # of the record: a `deduct` naming this id is never its duplicate
    institution: str
    platform: PlatformRecord
    balance_fen: int = Field(ge=0)  # the patient's own balance then (the platform's `balc`)
    rule_version: str
    rule_digest: str | None = None

    def apply(self, settlement: Any) -> None:
        settlement.settlement_id = self.settlement_id
        settlement.patient = self.patient
        settlement.patient_masked = self.patient_masked
        settlement.fingerprint = self.fingerprint
        settlement.amount_fen = 0
        settlement.lines = ()
        settlement.out_of_pocket_fen = 0
        settlement.rule_version = self.rule_version
        settlement.rule_digest = self.rule_digest
        settlement.institution = self.institution
        settlement.opened_at = self.timestamp
        settlement.platform = self.platform
        settlement.balance_after_fen = self.balance_fen
        settlement.deducted = False


class PlatformRecordAttached(ev.DomainEvent):
    """The platform's record of a deduction that was settled without one (sent as a `deduct`
    before the platform's file came): kept from now on, the deduction itself unchanged."""

    platform: PlatformRecord

    def apply(self, settlement: Any) -> None:
        settlement.platform = self.platform


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
        self.reversed_at: datetime | None = None
        self.deducted = True  # a deduction, unless opened by SettlementRecorded
        self.platform: PlatformRecord | None = None
        self.balance_after_fen: int | None = None  # None: opened before the ledger kept it

    @classmethod
    def open(
        cls,
        settled: ev.DeductionSettled,
        patient_masked: str,
        *,
        balance_after_fen: int | None = None,
        platform: PlatformRecord | None = None,
    ) -> Settlement:
        """Open the index entry for a deduction just decided on the patient (with the patient's
        balance right after it, and the platform's record when the deduction came with one)."""
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
            platform=platform,
            balance_after_fen=balance_after_fen,
            timestamp=settled.timestamp,
        )

    @classmethod
    def record(cls, **fields: Any) -> Settlement:
        """Open the index entry for a settlement the accounts did not pay (SettlementRecorded's fields)."""
        return cls._create(
            SettlementRecorded,  # type: ignore[arg-type]  # pydantic event; library types it nominally
            id=settlement_aggregate_id(fields["settlement_id"]),
            **fields,
        )

    def attach(self, platform: PlatformRecord, at: datetime) -> None:
        """Keep the platform's record, effective at `at` or at the settlement's last event if that
        is later, so that its events stay in time order."""
        self.trigger_event(PlatformRecordAttached, platform=platform, timestamp=max(at, self.modified_on))  # type: ignore[arg-type]  # pydantic event; library types it nominally

    def mark_reversed(self, *, reason: str, at: datetime) -> None:
        self.trigger_event(ev.SettlementReversed, reason=reason, timestamp=at)  # type: ignore[arg-type]  # pydantic event; library types it nominally
