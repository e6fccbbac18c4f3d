"""Deductions and their reversals, sent by designated institutions (hospitals, pharmacies):
a settlement paid from the patient's own account and the authorizers' in the rule set's order,
and a reversal that refunds exactly the accounts that paid. With them, the national platform's
record of a settlement (docs/national.md): on a `deduct` (`platform`), or on its own
(`record-settlement`: kept with a deduction settled without one, or as a settlement the
accounts did not pay)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Annotated, Any, Literal
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from pydantic import AfterValidator, Field

from domain import deduction
from domain import events as ev
from domain.errors import SettlementConflictError, UnknownSettlementError
from domain.masking import mask_id_numbers
from domain.money import parse_amount
from domain.person import Person
from domain.platform_record import PlatformRecord
from domain.settlement import Settlement, settlement_aggregate_id
from domain.vocabulary import Category
from infra.commands.answers import deduction_result, line_dict
from infra.commands.base import (
    PLAIN_TEXT_PATTERN,
    Amount,
    CommandModel,
    CommandSpec,
    IdText,
    Needs,
    SettlementId,
    Text,
    UnitOfWork,
    no_id_number,
)
from infra.commands.loading import load_implied, load_person
from infra.eventstore.application import LedgerApp
from infra.roles import ForbiddenError, Principal

# A new settlement's id: what SettlementId allows, in characters a file name and a URL keep.
NewSettlementId = Annotated[
    str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:\-]+$"), AfterValidator(no_id_number)
]
Institution = Annotated[
    str,
    Field(min_length=1, max_length=100, json_schema_extra={"pattern": PLAIN_TEXT_PATTERN}),
    AfterValidator(mask_id_numbers),
]


class Deduct(CommandModel):
    type: Literal["deduct"]
    settlement_id: NewSettlementId
    patient: IdText
    amount: Amount
    category: Category
    institution: Institution
    presented_by: IdText | None = None
    platform: PlatformRecord | None = None  # the national platform's record of this settlement


class RecordSettlement(CommandModel):
    """The national platform's record of a settlement (`ledger import national` sends it): kept
    with the ledger's deduction of that id when it has none yet, or, when the record leaves the
    accounts nothing to pay, as a settlement of its own."""

    type: Literal["record-settlement"]
    settlement_id: NewSettlementId
    patient: IdText
    institution: Institution
    platform: PlatformRecord


class Reverse(CommandModel):
    type: Literal["reverse"]
    settlement_id: SettlementId
    reason: Text = ""


def deduct(app: LedgerApp, command: Deduct, uow: UnitOfWork, sender: Principal | None) -> dict:
    amount_fen = parse_amount(command.amount, "amount")
    patient_ref = app.person_ref(command.patient, "patient")
    presenter_ref = app.person_ref(command.presented_by, "presented_by") if command.presented_by else None
    request = deduction.DeductRequest(
        settlement_id=command.settlement_id,
        amount_fen=amount_fen,
        category=command.category,
        institution=command.institution,
        presented_by=presenter_ref.id if presenter_ref else None,
        at=command.at,
        platform=command.platform,
    )
    duplicate = known_settlement(uow, command.settlement_id, partial(deduction.fingerprint, patient_ref.id, request))
    if duplicate is not None:  # recognised before any other check, like a command id
        if command.platform is not None:
            keep_record(app, uow, duplicate, patient_ref.id, command)
        return deduction_result(duplicate, duplicate=True)
    patient = load_person(uow, patient_ref.id, patient_ref.masked, "patient")
    presenter = load_person(uow, presenter_ref.id, presenter_ref.masked, "presented_by") if presenter_ref else None
    rules = app.rules_for(command.at, patient.region)
    authorizers = load_implied(uow, DEDUCT_NEEDS, patient)
    _, settlement, payers = deduction.deduct(patient, presenter, authorizers, request, rules)
    uow.save(patient, settlement, *payers)
    return deduction_result(settlement, duplicate=False)


def known_settlement(uow: UnitOfWork, settlement_id: str, fingerprint: Callable[[], str]) -> Settlement | None:
    """The settlement this one duplicates, or None when the id is new (`fingerprint`: the
    resubmission's, worked out only when the id is known)."""
    settlement = peek_settlement(uow, settlement_id)
    if settlement is not None and settlement.fingerprint != fingerprint():
        raise SettlementConflictError(
            f"settlement_id: {settlement_id} was already settled with different content", field="settlement_id"
        )
    return settlement


def peek_settlement(uow: UnitOfWork, settlement_id: str) -> Settlement | None:
    try:
        settlement: Settlement = uow.peek(settlement_aggregate_id(settlement_id))
    except AggregateNotFoundError:
        return None
    return settlement


def keep_record(
    app: LedgerApp, uow: UnitOfWork, settlement: Settlement, patient: UUID, command: Deduct | RecordSettlement
) -> bool:
    """Attach the command's platform record to a settlement that has none; True when it already
    held this very record (SETTLEMENT_CONFLICT naming the field when it is another's)."""
    if command.platform is None:
        raise SettlementConflictError("platform: required to keep a record", field="platform")
    held = deduction.holds_record(
        settlement,
        settled_by=institution_of(app, settlement),
        patient=patient,
        institution=command.institution,
        platform=command.platform,
    )
    if not held:
        settlement.attach(command.platform, command.at)
        uow.save(settlement)
    return held


def record_settlement(app: LedgerApp, command: RecordSettlement, uow: UnitOfWork, sender: Principal | None) -> dict:
    patient_ref = app.person_ref(command.patient, "patient")
    known = peek_settlement(uow, command.settlement_id)
    if known is not None:  # loaded without the time check: keeping a record moves no money
        held = keep_record(app, uow, known, patient_ref.id, command)
        return deduction_result(known, duplicate=held) | {"deducted": known.deducted}
    patient = load_person(uow, patient_ref.id, patient_ref.masked, "patient")
    rules = app.rules_for(command.at, patient.region)
    settlement = deduction.record_settlement(
        patient, command.settlement_id, command.institution, command.platform, command.at, rules
    )
    uow.save(settlement)
    return deduction_result(settlement, duplicate=False) | {"deducted": False}


def reverse(app: LedgerApp, command: Reverse, uow: UnitOfWork, sender: Principal | None) -> dict:
    try:
        settlement = uow.get(settlement_aggregate_id(command.settlement_id))
    except AggregateNotFoundError:
        raise UnknownSettlementError(
            f"settlement_id: no deduction {command.settlement_id}", field="settlement_id"
        ) from None
    if sender is not None and institution_of(app, settlement) != sender.institution:
        # decided here, on the settlement the reversal is decided on, not before the batch: a
        # settlement stored just before in the same batch is seen, and so is its institution
        raise ForbiddenError(f"settlement_id: settled by another institution than {sender.institution}")
    if not settlement.deducted:  # a settlement the accounts did not pay: nothing to refund
        deduction.reverse_record(settlement, reason=command.reason, at=command.at)
        uow.save(settlement)
        return {"settlement_id": command.settlement_id, "patient": settlement.patient_masked,
                "refunded": [], "refunded_fen": 0}  # fmt: skip
    payers = load_implied(uow, REVERSE_NEEDS, settlement=settlement)
    patient = payers.pop(settlement.patient)
    payers |= {i: uow.get(i) for i in _local_donors(patient)}  # quota lines settled in this ledger
    deduction.reverse(settlement, patient, payers, reason=command.reason, at=command.at)
    uow.save(patient, settlement, *payers.values())
    return {"settlement_id": command.settlement_id, "patient": patient.masked,
            "refunded": [line_dict(line) for line in settlement.lines],
            "refunded_fen": sum(line.amount_fen for line in settlement.lines)}  # fmt: skip


def institution_of(app: LedgerApp, settlement: Settlement) -> str | None:
    """Who settled it: recorded on the settlement since settlements carry it; for one opened
    before, read from the patient's DeductionSettled event (history is immutable)."""
    if settlement.institution is not None:
        return settlement.institution
    for stored in app.recorder.events_of(settlement.patient):
        if stored.topic.endswith(":DeductionSettled"):
            event = app.mapper.to_domain_event(stored)
            if isinstance(event, ev.DeductionSettled) and event.settlement_id == settlement.settlement_id:
                return event.institution
    return None


def institution_of_key(sender: Principal, command: Deduct | RecordSettlement) -> None:
    if command.institution != sender.institution:
        raise ForbiddenError(f"institution: this key settles for institution {sender.institution} only")


def _authorizers(person: Person | None, settlement: Settlement | None) -> list[UUID]:
    return sorted(set(person.authorizers) | _local_donors(person)) if person is not None else []


def _local_donors(person: Person) -> set[UUID]:
    """Authorizers of quotas this person receives whose accounts are in this ledger."""
    return {tie["donor"] for tie in person.quotas_received.values() if not tie["remote"]}


def _settlement_payers(person: Person | None, settlement: Settlement | None) -> list[UUID]:
    """The patient and the accounts that paid (a quota's authorizer is loaded by the handler,
    when in this ledger: another ledger's is not here to load)."""
    if settlement is None or not settlement.deducted:
        return []
    paid = {line.person for line in settlement.lines if line.transfer_id is None}
    return [settlement.patient, *sorted(paid - {settlement.patient})]


DEDUCT_NEEDS = Needs(("patient", "presented_by"), settlement=True, implied=_authorizers)
REVERSE_NEEDS = Needs((), settlement=True, implied=_settlement_payers)
RECORD_NEEDS = Needs(("patient",), settlement=True)

SPECS: tuple[CommandSpec[Any], ...] = (
    CommandSpec(Deduct, deduct, DEDUCT_NEEDS, role="institution", scope=institution_of_key),
    CommandSpec(Reverse, reverse, REVERSE_NEEDS, role="institution"),
    CommandSpec(RecordSettlement, record_settlement, RECORD_NEEDS, role="institution", scope=institution_of_key),
)
