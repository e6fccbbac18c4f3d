"""Deductions and their reversals, across the patient and every account that pays."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import cast
from uuid import UUID

from domain import events as ev
from domain.errors import (
    AlreadyReversedError,
    CategoryNotEligibleError,
    LedgerInvariantError,
    PresenterNotBoundError,
)
from domain.person import Person
from domain.rules.model import RuleSet
from domain.settlement import Settlement
from domain.spending import Account, Allocation, allocate


@dataclass(frozen=True)
class DeductRequest:
    settlement_id: str
    amount_fen: int
    category: str
    institution: str
    presented_by: UUID | None
    at: datetime


def fingerprint(patient: UUID, request: DeductRequest) -> str:
    """What makes a resubmission 'the same settlement': everything but its timestamp."""
    content = {
        "settlement_id": request.settlement_id,
        "patient": str(patient),
        "amount_fen": request.amount_fen,
        "category": request.category,
        "institution": request.institution,
        "presented_by": str(request.presented_by) if request.presented_by else None,
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def accounts_for(patient: Person, authorizers: dict[UUID, Person]) -> tuple[Account, list[Account]]:
    """The accounts a settlement may draw on, as the patient's state says they stand now."""
    own = Account(patient.id, patient.masked, patient.balance_fen, is_patient=True)
    others = [
        Account(
            person.id,
            person.masked,
            person.balance_fen,
            is_patient=False,
            authorized_at=patient.authorizers[person.id]["since"],
            active=person.is_active,
        )
        for person in (authorizers[i] for i in sorted(patient.authorizers))
    ]
    return own, others


def check_deduct(patient: Person, presenter: Person | None, request: DeductRequest, rules: RuleSet) -> None:
    """Refusals in precedence order: PERSON_NOT_ACTIVE, PRESENTER_NOT_BOUND, CATEGORY_NOT_ELIGIBLE."""
    patient.require_active("patient")
    if presenter is not None and presenter.id != patient.id and patient.id not in presenter.members:
        raise PresenterNotBoundError(
            f"{presenter.masked} has no active binding to present {patient.masked}'s e-voucher"
        )
    if request.category not in rules.spending.eligible_categories:
        raise CategoryNotEligibleError(
            f"category {request.category!r} may not be paid from personal accounts under {rules.version}",
            rule="spending.eligible_categories",
            rule_version=rules.version,
        )


def deduct(
    patient: Person,
    presenter: Person | None,
    authorizers: dict[UUID, Person],
    request: DeductRequest,
    rules: RuleSet,
) -> tuple[Allocation, Settlement, list[Person]]:
    """Decide and record a deduction: on the patient, on every authorizer that pays, and as a
    new settlement-index aggregate. Returns the allocation, the settlement and the payers."""
    check_deduct(patient, presenter, request, rules)
    own, others = accounts_for(patient, authorizers)
    allocation = allocate(request.amount_fen, own, others, rules.spending)
    lines = tuple(ev.PaymentLine(person=p, masked=m, amount_fen=a) for p, m, a in allocation.lines)
    patient.record(
        ev.DeductionSettled,
        settlement_id=request.settlement_id,
        amount_fen=request.amount_fen,
        category=request.category,
        institution=request.institution,
        presented_by=request.presented_by,
        lines=lines,
        out_of_pocket_fen=allocation.out_of_pocket_fen,
        fingerprint=fingerprint(patient.id, request),
        rule_version=rules.version,
        rule_digest=rules.digest,
        timestamp=request.at,
    )
    settlement = Settlement.open(cast(ev.DeductionSettled, patient.pending_events[-1]), patient.masked)
    payers = []
    for line in lines:
        if line.person != patient.id:
            payer = authorizers[line.person]
            payer.record(
                ev.AidDebited,
                settlement_id=request.settlement_id,
                patient=patient.id,
                patient_masked=patient.masked,
                amount_fen=line.amount_fen,
                rule_version=rules.version,
                rule_digest=rules.digest,
                timestamp=request.at,
            )
            payers.append(payer)
    return allocation, settlement, payers


def reverse(settlement: Settlement, patient: Person, payers: dict[UUID, Person], *, reason: str, at: datetime) -> None:
    """Refund exactly the accounts that paid, as new events; history is not edited."""
    if settlement.reversed:
        raise AlreadyReversedError(f"settlement {settlement.settlement_id} was already reversed")
    if patient.id != settlement.patient:
        raise LedgerInvariantError(f"settlement {settlement.settlement_id} is not {patient.masked}'s")
    patient.record(
        ev.DeductionReversed,
        settlement_id=settlement.settlement_id,
        lines=settlement.lines,
        reason=reason,
        timestamp=at,
    )
    for line in settlement.lines:
        if line.person != patient.id:
            payers[line.person].record(
                ev.AidRefunded,
                settlement_id=settlement.settlement_id,
                patient=patient.id,
                amount_fen=line.amount_fen,
                reason=reason,
                timestamp=at,
            )
    settlement.mark_reversed(reason=reason, at=at)
