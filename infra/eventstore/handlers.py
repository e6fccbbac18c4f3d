"""Command handlers: load, decide (in the domain), one save through the unit of work.

Each handler is a module-level function `handler(ledger, cmd, uow) -> result dict`, where
`ledger` resolves ID numbers and rule sets (`LedgerApp`) and `uow` is where aggregates come
from and go to (infra.eventstore.unit_of_work). Which aggregates a command needs is declared
once, in `NEEDS` beside the handlers: the handlers load through it, and the group-commit
prefetcher reads the same declaration to load a whole batch in bulk beforehand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from domain import binding, deduction, lifecycle, mutual_aid
from domain.clock import local_date
from domain.errors import (
    AlreadyEnrolledError,
    InvalidInputError,
    LedgerError,
    SettlementConflictError,
    UnknownPersonError,
    UnknownSettlementError,
)
from domain.ids import age_on, parse_id_number, person_id, pseudonym
from domain.masking import mask
from domain.money import parse_amount
from domain.person import Person
from domain.settlement import Settlement, settlement_aggregate_id
from infra.eventstore import commands as c
from infra.eventstore.unit_of_work import UnitOfWork


# --- what each command loads ----------------------------------------------------------------
def _no_one(person: Person | None, settlement: Settlement | None) -> list[UUID]:
    return []


def _all_counterparts(person: Person | None, settlement: Settlement | None) -> list[UUID]:
    return lifecycle.counterpart_ids(person) if person is not None else []


def _aid_counterparts(person: Person | None, settlement: Settlement | None) -> list[UUID]:
    return lifecycle.counterpart_ids(person, bindings=False) if person is not None else []


def _authorizers(person: Person | None, settlement: Settlement | None) -> list[UUID]:
    return sorted(person.authorizers) if person is not None else []


def _settlement_payers(person: Person | None, settlement: Settlement | None) -> list[UUID]:
    if settlement is None:
        return []
    return [settlement.patient, *sorted({line.person for line in settlement.lines} - {settlement.patient})]


@dataclass(frozen=True)
class Needs:
    """The aggregates a command's handler loads.

    `people`: the command fields naming people, in the order the handler loads them;
    `settlement`: whether it loads the settlement aggregate of `cmd.settlement_id`;
    `implied`: the further aggregates it loads once it holds the first named person and the
    settlement (a closing account's counterparts, a patient's authorizers, a settlement's payers).
    """

    people: tuple[str, ...]
    settlement: bool = False
    implied: Callable[[Person | None, Settlement | None], list[UUID]] = _no_one


NEEDS: dict[str, Needs] = {
    "enroll": Needs(("person",)),
    "suspend": Needs(("person",)),
    "resume": Needs(("person",)),
    "credit": Needs(("person",)),
    "cancel": Needs(("person",), implied=_all_counterparts),
    "expire": Needs(("person",), implied=_all_counterparts),
    "transfer": Needs(("person",), implied=_aid_counterparts),
    "bind": Needs(("binder", "member")),
    "unbind": Needs(("binder", "member")),
    "authorize": Needs(("authorizer", "beneficiary")),
    "revoke": Needs(("authorizer", "beneficiary")),
    "deduct": Needs(("patient", "presented_by"), settlement=True, implied=_authorizers),
    "reverse": Needs((), settlement=True, implied=_settlement_payers),
}


# --- loading ----------------------------------------------------------------------------------
def load_person(uow: UnitOfWork, pid: UUID, masked: str, field: str) -> Person:
    try:
        return uow.get(pid)
    except AggregateNotFoundError:
        raise UnknownPersonError(f"{field}: no enrolled person {masked}", field=field) from None


def load_implied(
    uow: UnitOfWork, cmd: Any, person: Person | None = None, settlement: Settlement | None = None
) -> dict[UUID, Person]:
    ids = NEEDS[cmd.type].implied(person, settlement)
    return {i: uow.get(i) for i in ids if person is None or i != person.id}


def pair(ledger: Any, uow: UnitOfWork, first_field: str, first_raw: str, second_field: str, second_raw: str):
    first_id, first_masked, _ = ledger.person_ref(first_raw, first_field)
    second_id, second_masked, second_facts = ledger.person_ref(second_raw, second_field)
    if first_id == second_id:
        raise InvalidInputError(f"{second_field}: must be a different person from {first_field}", field=second_field)
    first = load_person(uow, first_id, first_masked, first_field)
    second = load_person(uow, second_id, second_masked, second_field)
    return first, second, second_facts


def one_person(ledger: Any, uow: UnitOfWork, cmd: Any) -> tuple[Person, str]:
    pid, masked, _ = ledger.person_ref(cmd.person, "person")
    return load_person(uow, pid, masked, "person"), masked


# --- single-person commands -------------------------------------------------------------------
def enroll(ledger: Any, cmd: c.Enroll, uow: UnitOfWork) -> dict:
    number, facts = parse_id_number(cmd.person, "person")
    key = pseudonym(number, ledger.settings.pseudonym_key)
    masked = mask(number)
    if person_id(key) in uow:
        raise AlreadyEnrolledError(f"person: {masked} is already enrolled", field="person")
    region = cmd.region or facts.region
    person = Person.enroll(pseudonym=key, masked=masked, region=region, insurance=cmd.insurance, at=cmd.at)
    uow.save(person)  # a concurrent enrolment collides at version 1, and the retry finds it enrolled
    return {"person": masked, "insurance": cmd.insurance, "region": region, "status": "active"}


def _status_change(ledger: Any, cmd: Any, uow: UnitOfWork, change: Callable[[Person], None]) -> dict:
    person, masked = one_person(ledger, uow, cmd)
    change(person)
    uow.save(person)
    return {"person": masked, "status": person.status}


def suspend(ledger: Any, cmd: c.Suspend, uow: UnitOfWork) -> dict:
    return _status_change(ledger, cmd, uow, lambda p: p.suspend(reason=cmd.reason, at=cmd.at))


def resume(ledger: Any, cmd: c.Resume, uow: UnitOfWork) -> dict:
    return _status_change(ledger, cmd, uow, lambda p: p.resume(at=cmd.at))


def credit(ledger: Any, cmd: c.Credit, uow: UnitOfWork) -> dict:
    amount_fen = parse_amount(cmd.amount, "amount")
    person, masked = one_person(ledger, uow, cmd)
    person.credit(amount_fen=amount_fen, source=cmd.source, at=cmd.at)
    uow.save(person)
    return {"person": masked, "amount_fen": amount_fen, "balance_fen": person.balance_fen}


def _close(ledger: Any, cmd: Any, uow: UnitOfWork, status: str) -> dict:
    person, masked = one_person(ledger, uow, cmd)
    others = load_implied(uow, cmd, person)
    ended = {
        "bindings": len(person.members) + len(person.binders),
        "authorizations": len(person.beneficiaries) + len(person.authorizers),
    }
    lifecycle.close_account(person, others, status=status, reason=cmd.reason, at=cmd.at)
    uow.save(person, *others.values())
    return {"person": masked, "status": status, "ended": ended}


def cancel(ledger: Any, cmd: c.Cancel, uow: UnitOfWork) -> dict:
    return _close(ledger, cmd, uow, "cancelled")


def expire(ledger: Any, cmd: c.Expire, uow: UnitOfWork) -> dict:
    return _close(ledger, cmd, uow, "expired")


def transfer(ledger: Any, cmd: c.Transfer, uow: UnitOfWork) -> dict:
    person, masked = one_person(ledger, uow, cmd)
    others = load_implied(uow, cmd, person)
    ended = len(person.beneficiaries) + len(person.authorizers)
    lifecycle.transfer_region(person, others, region=cmd.region, at=cmd.at)
    uow.save(person, *others.values())
    return {"person": masked, "region": cmd.region, "ended": {"authorizations": ended}}


# --- bindings ---------------------------------------------------------------------------------
def bind(ledger: Any, cmd: c.Bind, uow: UnitOfWork) -> dict:
    binder, member, facts = pair(ledger, uow, "binder", cmd.binder, "member", cmd.member)
    rules = ledger.rules_for(cmd.at, binder.region)
    request = binding.BindRequest(
        relationship=cmd.relationship,
        channel=cmd.channel,
        verification=cmd.verification,
        member_age_years=age_on(facts.birth_date, local_date(cmd.at)),
        at=cmd.at,
    )
    decision = binding.bind(binder, member, request, rules)
    uow.save(binder, member)
    if not decision.ok:
        raise RecordedRejection(decision, rules.version)
    return {
        "binder": binder.masked,
        "member": member.masked,
        "relationship": cmd.relationship,
        "channel": cmd.channel,
        "rule_version": rules.version,
    }


def unbind(ledger: Any, cmd: c.Unbind, uow: UnitOfWork) -> dict:
    implied = c.UNBIND_INITIATOR.get(cmd.reason, "system")
    if cmd.initiated_by is not None and cmd.reason in c.UNBIND_INITIATOR and cmd.initiated_by != implied:
        raise InvalidInputError(
            f"initiated_by: reason {cmd.reason} is initiated by the {implied}", field="initiated_by"
        )
    binder, member, _ = pair(ledger, uow, "binder", cmd.binder, "member", cmd.member)
    initiated_by = cmd.initiated_by or implied
    binding.unbind(binder, member, reason=cmd.reason, initiated_by=initiated_by, at=cmd.at, channel=cmd.channel)
    uow.save(binder, member)
    return {"binder": binder.masked, "member": member.masked, "reason": cmd.reason, "initiated_by": initiated_by}


# --- mutual aid -------------------------------------------------------------------------------
def authorize(ledger: Any, cmd: c.Authorize, uow: UnitOfWork) -> dict:
    authorizer, beneficiary, _ = pair(ledger, uow, "authorizer", cmd.authorizer, "beneficiary", cmd.beneficiary)
    rules = ledger.rules_for(cmd.at, authorizer.region)
    decision = mutual_aid.authorize(authorizer, beneficiary, cmd.relationship, rules, cmd.at, channel=cmd.channel)
    if not decision.ok:
        raise binding.refusal_error(decision, rules.version)
    uow.save(authorizer, beneficiary)
    return {
        "authorizer": authorizer.masked,
        "beneficiary": beneficiary.masked,
        "relationship": cmd.relationship,
        "rule_version": rules.version,
    }


def revoke(ledger: Any, cmd: c.Revoke, uow: UnitOfWork) -> dict:
    authorizer, beneficiary, _ = pair(ledger, uow, "authorizer", cmd.authorizer, "beneficiary", cmd.beneficiary)
    mutual_aid.revoke(authorizer, beneficiary, initiated_by=cmd.initiated_by, at=cmd.at, channel=cmd.channel)
    uow.save(authorizer, beneficiary)
    return {"authorizer": authorizer.masked, "beneficiary": beneficiary.masked, "initiated_by": cmd.initiated_by}


# --- deductions -------------------------------------------------------------------------------
def deduct(ledger: Any, cmd: c.Deduct, uow: UnitOfWork) -> dict:
    amount_fen = parse_amount(cmd.amount, "amount")
    patient_id, patient_masked, _ = ledger.person_ref(cmd.patient, "patient")
    presenter_ref = ledger.person_ref(cmd.presented_by, "presented_by")[:2] if cmd.presented_by else None
    request = deduction.DeductRequest(
        settlement_id=cmd.settlement_id,
        amount_fen=amount_fen,
        category=cmd.category,
        institution=cmd.institution,
        presented_by=presenter_ref[0] if presenter_ref else None,
        at=cmd.at,
    )
    duplicate = known_settlement(uow, cmd.settlement_id, deduction.fingerprint(patient_id, request))
    if duplicate is not None:  # recognised before any other check, like a command id
        return duplicate
    patient = load_person(uow, patient_id, patient_masked, "patient")
    presenter = load_person(uow, presenter_ref[0], presenter_ref[1], "presented_by") if presenter_ref else None
    rules = ledger.rules_for(cmd.at, patient.region)
    authorizers = load_implied(uow, cmd, patient)
    _, settlement, payers = deduction.deduct(patient, presenter, authorizers, request, rules)
    uow.save(patient, settlement, *payers)
    return deduction_result(settlement, duplicate=False)


def known_settlement(uow: UnitOfWork, settlement_id: str, fingerprint: str) -> dict | None:
    try:
        settlement = uow.peek(settlement_aggregate_id(settlement_id))
    except AggregateNotFoundError:
        return None
    if settlement.fingerprint != fingerprint:
        raise SettlementConflictError(
            f"settlement_id: {settlement_id} was already settled with different content", field="settlement_id"
        )
    return deduction_result(settlement, duplicate=True)


def reverse(ledger: Any, cmd: c.Reverse, uow: UnitOfWork) -> dict:
    try:
        settlement = uow.get(settlement_aggregate_id(cmd.settlement_id))
    except AggregateNotFoundError:
        raise UnknownSettlementError(
            f"settlement_id: no deduction {cmd.settlement_id}", field="settlement_id"
        ) from None
    payers = load_implied(uow, cmd, settlement=settlement)
    patient = payers.pop(settlement.patient)
    deduction.reverse(settlement, patient, payers, reason=cmd.reason, at=cmd.at)
    uow.save(patient, settlement, *payers.values())
    return {
        "settlement_id": cmd.settlement_id,
        "patient": patient.masked,
        "refunded": [line_dict(line) for line in settlement.lines],
        "refunded_fen": sum(line.amount_fen for line in settlement.lines),
    }


HANDLERS: dict[str, Callable[[Any, Any, UnitOfWork], dict]] = {
    "enroll": enroll,
    "suspend": suspend,
    "resume": resume,
    "credit": credit,
    "cancel": cancel,
    "expire": expire,
    "transfer": transfer,
    "bind": bind,
    "unbind": unbind,
    "authorize": authorize,
    "revoke": revoke,
    "deduct": deduct,
    "reverse": reverse,
}


class RecordedRejection(LedgerError):
    """A refused bind: the rejection is saved as events, and reported like any refusal."""

    def __init__(self, decision: Any, rule_version: str):
        super().__init__(decision.message, rule=decision.rule, rule_version=rule_version)
        self.code = decision.code

    def to_dict(self) -> dict:
        return {**super().to_dict(), "recorded": True}


def line_dict(line: Any) -> dict:
    return {"person": line.masked, "amount_fen": line.amount_fen}


def deduction_result(settlement: Settlement, *, duplicate: bool) -> dict:
    return {
        "settlement_id": settlement.settlement_id,
        "patient": settlement.patient_masked,
        "amount_fen": settlement.amount_fen,
        "lines": [line_dict(line) for line in settlement.lines],
        "out_of_pocket_fen": settlement.out_of_pocket_fen,
        "rule_version": settlement.rule_version,
        "duplicate": duplicate,
        "reversed": settlement.reversed,
    }
