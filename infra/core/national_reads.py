"""The ledger's side of the national platform's records: the settlements it recorded, as the
pure reconciliation reads them (`infra.national.export.RecordedSettlement`).

Read from the event store only, never from the views (like the audit): one settlement through
its aggregate (`repository.get`), or every settlement of a period by one pass over the log in
bounded pages, folding the settlement aggregates' own events with the domain's own `mutate`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from domain import events as ev
from domain.clock import local_date
from domain.dispatch import topic_of
from domain.errors import LedgerInvariantError
from domain.person import Person
from domain.rules.model import NationalRules
from domain.settlement import PlatformRecordAttached, Settlement, SettlementRecorded, settlement_aggregate_id
from infra.commands.deductions import institution_of
from infra.eventstore.application import LedgerApp
from infra.national.export import RecordedLine, RecordedSettlement

SETTLEMENT_TOPICS = frozenset(
    topic_of(cls) for cls in (ev.SettlementOpened, SettlementRecorded, PlatformRecordAttached, ev.SettlementReversed)
)
_DEDUCTION_SETTLED = topic_of(ev.DeductionSettled)


class LedgerSide:
    """Reads of the settlements the ledger recorded, with each one's national settings (the
    rule set its decision recorded), kept for the life of this object."""

    def __init__(self, app: LedgerApp):
        self.app = app
        self._rules: dict[str, NationalRules] = {}

    def settlement(self, settlement_id: str) -> Settlement | None:
        try:
            found: Settlement = self.app.repository.get(settlement_aggregate_id(settlement_id))
        except AggregateNotFoundError:
            return None
        return found

    def person(self, person_id: UUID) -> Person | None:
        try:
            found: Person = self.app.repository.get(person_id)
        except AggregateNotFoundError:
            return None
        return found

    def recorded(self, settlement: Settlement) -> RecordedSettlement:
        lines = tuple(
            RecordedLine(line.masked, line.amount_fen, line.person == settlement.patient) for line in settlement.lines
        )
        return RecordedSettlement(
            settlement_id=settlement.settlement_id,
            institution=institution_of(self.app, settlement) or "",
            at=settlement.opened_at,
            amount_fen=settlement.amount_fen,
            lines=lines,
            out_of_pocket_fen=settlement.out_of_pocket_fen,
            patient_masked=settlement.patient_masked,
            balance_after_fen=self.balance_after(settlement),
            reversed_at=settlement.reversed_at,
            platform=settlement.platform,
        )

    def rules_of(self, settlement: Settlement) -> NationalRules:
        """The national settings of the rule set the settlement's decision recorded."""
        version = settlement.rule_version
        if version not in self._rules:
            self._rules[version] = self.app.catalogue.get(version).national
        return self._rules[version]

    def balance_after(self, settlement: Settlement) -> int:
        """The patient's own balance right after the settlement: recorded on it since the ledger
        keeps it; for one opened before, the patient's state replayed to their DeductionSettled."""
        if settlement.balance_after_fen is not None:
            return settlement.balance_after_fen
        for stored in self.app.recorder.events_of(settlement.patient):
            if stored.topic != _DEDUCTION_SETTLED:
                continue
            event: Any = self.app.mapper.to_domain_event(stored)
            if event.settlement_id == settlement.settlement_id:
                balance: int = self.app.repository.get(settlement.patient, version=event.originator_version).balance_fen
                return balance
        raise LedgerInvariantError(f"settlement {settlement.settlement_id}: no DeductionSettled on its patient")

    def settlements_between(
        self, date_from: date, date_to: date, institutions: Iterable[str] | None = None
    ) -> list[Settlement]:
        """Every settlement whose time lies in [date_from, date_to] (dates in UTC+8), of these
        institutions (all when None), as its aggregate stands at the end of the log, in log order."""
        kept: dict[UUID, Any] = {}
        for notification in self.app.recorder.iter_log():
            if notification.topic not in SETTLEMENT_TOPICS:
                continue
            event: Any = self.app.mapper.to_domain_event(notification)
            if isinstance(event, ev.CreatedEvent):
                if date_from <= local_date(event.timestamp) <= date_to:
                    kept[event.originator_id] = event.mutate(None)
            elif event.originator_id in kept:
                kept[event.originator_id] = event.mutate(kept[event.originator_id])
        wanted = None if institutions is None else set(institutions)
        return [s for s in kept.values() if wanted is None or institution_of(self.app, s) in wanted]
