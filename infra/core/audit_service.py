"""Audits, for every front end: a deduction's replay and its evidence bundle (each a read of the
patient's data, so scoped and logged like any read), and the monthly compliance report."""

from __future__ import annotations

from typing import Any

from eventsourcing.application import AggregateNotFoundError

from domain.errors import UnknownSettlementError
from domain.settlement import Settlement, settlement_aggregate_id
from infra.audit.bundle import build_bundle
from infra.audit.evidence_store import EvidenceStore
from infra.audit.replay import audit_deduction
from infra.audit.report import compliance_report
from infra.core.evidence_service import EvidenceService
from infra.core.read_service import ReadService
from infra.eventstore.application import LedgerApp
from infra.readmodels.view_reads import parse_month
from infra.roles import Principal


class AuditService:
    def __init__(self, app: LedgerApp, reads: ReadService, evidence: EvidenceService):
        self.app = app
        self.reads = reads
        self.evidence = evidence

    def _evidence(self, settlement_id: str, principal: Principal | None, purpose: str, endpoint: str) -> EvidenceStore:
        """The evidence store, once the settlement's patient is within the key's scope (the read
        logged); a `principal` of None is the operator's CLI."""
        if principal is not None:
            try:
                settlement: Settlement = self.app.repository.get(settlement_aggregate_id(settlement_id))
            except AggregateNotFoundError:
                raise UnknownSettlementError("settlement_id: no such deduction", field="settlement_id") from None
            self.reads.read_person(str(settlement.patient), principal, purpose, endpoint)
        return EvidenceStore(self.app)

    def deduction(
        self, settlement_id: str, principal: Principal | None = None, purpose: str = "", endpoint: str = ""
    ) -> dict[str, Any]:
        """The replay of a deduction, compared with what was recorded, with its evidence."""
        store = self._evidence(settlement_id, principal, purpose, endpoint)
        return audit_deduction(self.app, store, settlement_id)[0]

    def bundle(
        self, settlement_id: str, principal: Principal | None = None, purpose: str = "", endpoint: str = ""
    ) -> tuple[bytes, dict[str, Any]]:
        """The offline evidence bundle (canonical JSON bytes) and the replay it carries."""
        store = self._evidence(settlement_id, principal, purpose, endpoint)
        return build_bundle(self.app, store, settlement_id)

    def compliance(self, month: str, region: str = "", principal: Principal | None = None) -> dict[str, Any]:
        """One month's compliance report for a region prefix (within the key's region)."""
        parse_month(month)
        if principal is not None:
            principal.check_region(region)
        return compliance_report(EvidenceStore(self.app), month, region, self.evidence.verify)
