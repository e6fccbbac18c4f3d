"""Audits, for every front end: a deduction's replay and its evidence bundle (each a read of the
patient's data, so scoped and logged like any read), and the monthly compliance report."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from domain.errors import UnknownSettlementError
from domain.person import Person
from domain.settlement import Settlement, settlement_aggregate_id
from infra.audit.bundle import bundle_of
from infra.audit.evidence_store import EvidenceStore
from infra.audit.replay import Gathered, audit_deduction
from infra.audit.report import compliance_report
from infra.audit.subject_report import subject_report
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
        """The replay of a deduction, compared with what was recorded, with its evidence. Each
        authorizer it discloses (masked, their balance and status then) is told in their access log."""
        store = self._evidence(settlement_id, principal, purpose, endpoint)
        audited = audit_deduction(self.app, store, settlement_id)
        self._disclosed(audited[1], principal, purpose, endpoint)
        return audited[0]

    def bundle(
        self, settlement_id: str, principal: Principal | None = None, purpose: str = "", endpoint: str = ""
    ) -> tuple[bytes, dict[str, Any]]:
        """The offline evidence bundle (canonical JSON bytes) and the replay it carries. For a key
        with a region, an authorizer outside it is withheld: their history is carried by digests
        only, with what the replay needs of them (infra.audit.bundle); each disclosure is logged."""
        store = self._evidence(settlement_id, principal, purpose, endpoint)
        audited = audit_deduction(self.app, store, settlement_id)
        self._disclosed(audited[1], principal, purpose, endpoint)
        authorizers = audited[1].authorizers_before

        def outside(account: UUID) -> bool:
            return principal is not None and not authorizers[account].region.startswith(principal.region or "")

        return bundle_of(self.app, store, audited, outside)

    def _disclosed(self, gathered: Gathered, principal: Principal | None, purpose: str, endpoint: str) -> None:
        """An entry in each authorizer's access log: their data was part of this deduction's audit."""
        if principal is None:
            return
        for account in sorted(gathered.authorizers_before):
            self.reads.record(principal, gathered.authorizers_before[account], f"{endpoint} (an authorizer)", purpose)

    def subject_report(self, person: Person) -> dict[str, Any]:
        """Everything the ledger holds about one person (PIPL art. 45), with the positions and the
        evidence verdict that prove it complete (infra.audit.subject_report). A key's read of it is
        logged by the caller first (`reads.read_person`), so the report lists that read too."""
        return subject_report(self.app, person, self.reads.access_entries(person), self.evidence.verify())

    def compliance(self, month: str, region: str = "", principal: Principal | None = None) -> dict[str, Any]:
        """One month's compliance report for a region prefix (within the key's region)."""
        parse_month(month)
        if principal is not None:
            principal.check_region(region)
        return compliance_report(EvidenceStore(self.app), month, region, self.evidence.verify)
