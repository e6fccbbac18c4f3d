"""A person's life, sent by the insurance agency (the fund): enrolment, monthly credits,
suspension and resumption, cancellation and expiry (which end every tie), and transfer to
another pooling region (which ends every authorization)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal
from uuid import UUID

from domain import lifecycle
from domain.errors import AlreadyEnrolledError
from domain.ids import parse_id_number, person_id, pseudonym
from domain.masking import mask
from domain.money import parse_amount
from domain.person import Person
from domain.settlement import Settlement
from domain.vocabulary import CreditSource, Insurance
from infra.commands.base import Amount, CommandModel, CommandSpec, IdText, Needs, Region, Text, UnitOfWork
from infra.commands.loading import load_implied, one_person
from infra.eventstore.application import LedgerApp
from infra.roles import Principal


class Enroll(CommandModel):
    type: Literal["enroll"]
    person: IdText
    insurance: Insurance
    region: Region | None = None


class Suspend(CommandModel):
    type: Literal["suspend"]
    person: IdText
    reason: Text = ""


class Resume(CommandModel):
    type: Literal["resume"]
    person: IdText


class Cancel(CommandModel):
    type: Literal["cancel"]
    person: IdText
    reason: Text = ""


class Expire(CommandModel):
    type: Literal["expire"]
    person: IdText
    reason: Text = ""


class Transfer(CommandModel):
    type: Literal["transfer"]
    person: IdText
    region: Region


class Credit(CommandModel):
    type: Literal["credit"]
    person: IdText
    amount: Amount
    source: CreditSource


def enroll(app: LedgerApp, command: Enroll, uow: UnitOfWork, sender: Principal | None) -> dict:
    number, facts = parse_id_number(command.person, "person")
    key = pseudonym(number, app.settings.pseudonym_key)
    masked = mask(number)
    if person_id(key) in uow:
        raise AlreadyEnrolledError(f"person: {masked} is already enrolled", field="person")
    region = command.region or facts.region
    person = Person.enroll(pseudonym=key, masked=masked, region=region, insurance=command.insurance, at=command.at)
    uow.save(person)  # a concurrent enrolment collides at version 1, and the retry finds it enrolled
    return {"person": masked, "insurance": command.insurance, "region": region, "status": "active"}


def _status_change(app: LedgerApp, command: Any, uow: UnitOfWork, change: Callable[[Person], None]) -> dict:
    person, masked = one_person(app, uow, command.person)
    change(person)
    uow.save(person)
    return {"person": masked, "status": person.status}


def suspend(app: LedgerApp, command: Suspend, uow: UnitOfWork, sender: Principal | None) -> dict:
    return _status_change(app, command, uow, lambda p: p.suspend(reason=command.reason, at=command.at))


def resume(app: LedgerApp, command: Resume, uow: UnitOfWork, sender: Principal | None) -> dict:
    return _status_change(app, command, uow, lambda p: p.resume(at=command.at))


def credit(app: LedgerApp, command: Credit, uow: UnitOfWork, sender: Principal | None) -> dict:
    amount_fen = parse_amount(command.amount, "amount")
    person, masked = one_person(app, uow, command.person)
    person.credit(amount_fen=amount_fen, source=command.source, at=command.at)
    uow.save(person)
    return {"person": masked, "amount_fen": amount_fen, "balance_fen": person.balance_fen}


def _close(app: LedgerApp, command: Cancel | Expire, uow: UnitOfWork, status: str) -> dict:
    person, masked = one_person(app, uow, command.person)
    others = load_implied(uow, CLOSE_NEEDS, person)
    ended = {
        "bindings": len(person.members) + len(person.binders),
        "authorizations": len(person.beneficiaries) + len(person.authorizers),
    }
    lifecycle.close_account(person, others, status=status, reason=command.reason, at=command.at)
    uow.save(person, *others.values())
    return {"person": masked, "status": status, "ended": ended}


def cancel(app: LedgerApp, command: Cancel, uow: UnitOfWork, sender: Principal | None) -> dict:
    return _close(app, command, uow, "cancelled")


def expire(app: LedgerApp, command: Expire, uow: UnitOfWork, sender: Principal | None) -> dict:
    return _close(app, command, uow, "expired")


def transfer(app: LedgerApp, command: Transfer, uow: UnitOfWork, sender: Principal | None) -> dict:
    person, masked = one_person(app, uow, command.person)
    others = load_implied(uow, TRANSFER_NEEDS, person)
    ended = len(person.beneficiaries) + len(person.authorizers)
    lifecycle.transfer_region(person, others, region=command.region, at=command.at)
    uow.save(person, *others.values())
    return {"person": masked, "region": command.region, "ended": {"authorizations": ended}}


def _all_counterparts(person: Person | None, settlement: Settlement | None) -> list[UUID]:
    return lifecycle.counterpart_ids(person) if person is not None else []


def _aid_counterparts(person: Person | None, settlement: Settlement | None) -> list[UUID]:
    return lifecycle.counterpart_ids(person, bindings=False) if person is not None else []


ONE_PERSON = Needs(("person",))
CLOSE_NEEDS = Needs(("person",), implied=_all_counterparts)
TRANSFER_NEEDS = Needs(("person",), implied=_aid_counterparts)

SPECS: tuple[CommandSpec[Any], ...] = (
    CommandSpec(Enroll, enroll, ONE_PERSON, role="fund"),
    CommandSpec(Suspend, suspend, ONE_PERSON, role="fund"),
    CommandSpec(Resume, resume, ONE_PERSON, role="fund"),
    CommandSpec(Cancel, cancel, CLOSE_NEEDS, role="fund"),
    CommandSpec(Expire, expire, CLOSE_NEEDS, role="fund"),
    CommandSpec(Transfer, transfer, TRANSFER_NEEDS, role="fund"),
    CommandSpec(Credit, credit, ONE_PERSON, role="fund"),
)
