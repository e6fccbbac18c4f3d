"""The cross-ledger steps of cross-province quotas (domain.quota): commands only the relay sends
(infra.federation.relay; no key may, `role=None`), each about one person of this ledger named by
aggregate id, with a command id derived from the transfer id, so a re-delivery is answered as a
duplicate and never applied twice. A step is never refused as out of order: it takes effect at
its origin's time or at the account's last event, whichever is later (domain.quota.at_or_after);
loads are `peek`s for that reason."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from pydantic import BeforeValidator, Field

from domain import quota
from domain.errors import UnknownPersonError
from domain.person import Person
from domain.vocabulary import AidRelationship, AuthorizationEndReason, QuotaReleaseReason
from infra.commands.base import PLAIN_TEXT_PATTERN, CommandModel, CommandSpec, SettlementId, UnitOfWork
from infra.eventstore.application import LedgerApp
from infra.roles import Principal

TransferId = Annotated[str, Field(pattern=r"^q[a-z2-7]{24}$")]
AggregateId = Annotated[str, Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]


def _integral(value: object) -> object:
    """JSON's 916102.0 is the integer its schema admits; a string or a fraction stays refused."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


Fen = Annotated[int, Field(ge=0, le=10_000_000_000), BeforeValidator(_integral)]
Seq = Annotated[int, Field(ge=1, le=1_000_000_000), BeforeValidator(_integral)]
Province = Annotated[str, Field(pattern=r"^[0-9]{2}$")]
Masked = Annotated[str, Field(max_length=32, json_schema_extra={"pattern": PLAIN_TEXT_PATTERN})]
RuleVersion = Annotated[str, Field(max_length=64, json_schema_extra={"pattern": PLAIN_TEXT_PATTERN})]


class QuotaReceive(CommandModel):
    type: Literal["quota-receive"]
    transfer_id: TransferId
    beneficiary: AggregateId
    donor: AggregateId
    donor_masked: Masked
    relationship: AidRelationship
    amount_fen: Fen
    rule_version: RuleVersion
    from_province: Province


class QuotaRaise(CommandModel):
    type: Literal["quota-raise"]
    transfer_id: TransferId
    beneficiary: AggregateId
    seq: Seq
    amount_fen: Fen


class QuotaLower(CommandModel):
    type: Literal["quota-lower"]
    transfer_id: TransferId
    beneficiary: AggregateId
    seq: Seq
    quota_fen: Fen


class QuotaEnd(CommandModel):
    type: Literal["quota-end"]
    transfer_id: TransferId
    beneficiary: AggregateId
    reason: AuthorizationEndReason


class QuotaSettle(CommandModel):
    type: Literal["quota-settle"]
    transfer_id: TransferId
    donor: AggregateId
    seq: Seq
    settlement_id: SettlementId
    patient: AggregateId
    amount_fen: Fen


class QuotaUndraw(CommandModel):
    type: Literal["quota-undraw"]
    transfer_id: TransferId
    donor: AggregateId
    seq: Seq
    settlement_id: SettlementId
    amount_fen: Fen
    after_end: bool


class QuotaReturn(CommandModel):
    type: Literal["quota-return"]
    transfer_id: TransferId
    donor: AggregateId
    seq: Seq
    amount_fen: Fen
    reason: QuotaReleaseReason
    final: bool


def _person(uow: UnitOfWork, raw: str, field: str) -> Person:
    try:
        person: Person = uow.peek(UUID(raw))
    except AggregateNotFoundError:
        raise UnknownPersonError(f"{field}: no enrolled person with this id in this ledger", field=field) from None
    return person


def _answer(person: Person, transfer_id: str) -> dict:
    return {
        "person": person.masked,
        "transfer_id": transfer_id,
        "earmarked_fen": person.earmarked_fen,
        "balance_fen": person.balance_fen,
    }


def receive(app: LedgerApp, command: QuotaReceive, uow: UnitOfWork, sender: Principal | None) -> dict:
    person = _person(uow, command.beneficiary, "beneficiary")
    at = quota.at_or_after(person, command.at)
    accepted = quota.receive(
        person,
        command.transfer_id,
        UUID(command.donor),
        command.donor_masked,
        command.relationship,
        command.amount_fen,
        command.rule_version,
        at,
        to_province=command.from_province,
    )
    uow.save(person)
    return _answer(person, command.transfer_id) | {"accepted": accepted}


def _step(
    uow: UnitOfWork, command: Any, person_id: str, field: str, record: Callable[[Person, datetime], object]
) -> dict:
    """A relay step on one side of a transfer: `record(person, at)` records it on the person the
    step is about (at the command's time, or after the person's last event), who is saved."""
    person = _person(uow, person_id, field)
    record(person, quota.at_or_after(person, command.at))
    uow.save(person)
    return _answer(person, command.transfer_id)


def raise_(app: LedgerApp, command: QuotaRaise, uow: UnitOfWork, sender: Principal | None) -> dict:
    return _step(uow, command, command.beneficiary, "beneficiary", lambda person, at: quota.receive_raise(
        person, command.transfer_id, command.seq, command.amount_fen, at))  # fmt: skip


def lower(app: LedgerApp, command: QuotaLower, uow: UnitOfWork, sender: Principal | None) -> dict:
    person = _person(uow, command.beneficiary, "beneficiary")
    released_fen = quota.lowered_release(person, command.transfer_id, command.quota_fen)
    if released_fen:
        quota.release(
            person,
            command.transfer_id,
            released_fen,
            reason="lowered",
            final=False,
            at=quota.at_or_after(person, command.at),
        )
        uow.save(person)
    return _answer(person, command.transfer_id) | {"released_fen": released_fen}


def end(app: LedgerApp, command: QuotaEnd, uow: UnitOfWork, sender: Principal | None) -> dict:
    return _step(uow, command, command.beneficiary, "beneficiary", lambda person, at: quota.end_received(
        person, command.transfer_id, reason=command.reason, at=at))  # fmt: skip


def settle(app: LedgerApp, command: QuotaSettle, uow: UnitOfWork, sender: Principal | None) -> dict:
    return _step(uow, command, command.donor, "donor", lambda person, at: quota.settle(
        person, command.transfer_id, command.seq, command.settlement_id, UUID(command.patient), command.amount_fen,
        at))  # fmt: skip


def undraw(app: LedgerApp, command: QuotaUndraw, uow: UnitOfWork, sender: Principal | None) -> dict:
    return _step(uow, command, command.donor, "donor", lambda person, at: quota.undo_draw(
        person, command.transfer_id, command.seq, command.settlement_id, command.amount_fen, command.after_end,
        at))  # fmt: skip


def return_(app: LedgerApp, command: QuotaReturn, uow: UnitOfWork, sender: Principal | None) -> dict:
    return _step(uow, command, command.donor, "donor", lambda person, at: quota.take_back(
        person, command.transfer_id, command.seq, command.amount_fen, command.reason, command.final,
        at))  # fmt: skip


SPECS: tuple[CommandSpec[Any], ...] = (
    CommandSpec(QuotaReceive, receive),
    CommandSpec(QuotaRaise, raise_),
    CommandSpec(QuotaLower, lower),
    CommandSpec(QuotaEnd, end),
    CommandSpec(QuotaSettle, settle),
    CommandSpec(QuotaUndraw, undraw),
    CommandSpec(QuotaReturn, return_),
)
