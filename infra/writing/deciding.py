"""Deciding one command inside a batch: its command id first (a retry gets its original answer),
then the time checks, then the handler its spec names; the command's events and its record go in
one save, so either both are stored or neither."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from domain.clock import local_iso
from domain.command_record import CommandRecord, command_fingerprint
from domain.errors import CommandConflictError, FutureDatedError, InvalidInputError, LedgerError
from domain.events import SentBy
from infra.commands.answers import Answer, RecordedRejection, answer
from infra.commands.base import CommandModel, UnitOfWork, attributed
from infra.commands.table import spec_of
from infra.eventstore.application import LedgerApp
from infra.roles import LOCAL_TENANT, Principal
from infra.writing.units import DeferredSaves


def decide(app: LedgerApp, command: CommandModel, uow: UnitOfWork, sender: Principal | None = None) -> Answer:
    """The answer to one typed command, decided through `uow` (nothing stored until it commits).
    A sender's role and static scope are checked again here, wherever the command came from;
    a command from a key needs an id (a resent batch must not apply twice), and what the key
    says of itself (a channel key's channel) is taken from the key."""
    kind, command_id = command.type, command.command_id
    tenant = sender.tenant if sender is not None else LOCAL_TENANT
    try:
        if sender is not None:
            spec_of(command).check(sender, command)
            if command_id is None:
                raise InvalidInputError(
                    "command_id: required for a command sent with a key (a retry must not be applied twice)",
                    field="command_id",
                )
            command = attributed(command, sender)
    except LedgerError as refusal:
        return answer(kind, command_id, error=refusal)
    fingerprint = None
    if command_id is not None:  # only a command with an id is compared and remembered
        fingerprint = command_fingerprint(command.content(), app.settings.pseudonym_key)
        earlier = recorded_answer(uow, command, fingerprint, app.command_record_ids(command_id, tenant))
        if earlier is not None:
            return earlier
    now = app.clock()
    if command.at > now + timedelta(seconds=app.settings.clock_skew_max_s):
        future = FutureDatedError(
            f"at: {local_iso(command.at)} is later than the ledger's clock allows "
            f"({local_iso(now)} plus {app.settings.clock_skew_max_s} s)",
            field="at",
        )
        return answer(kind, command_id, error=future)
    sent_by = SentBy(key_id=sender.key_id if sender else None, role=sender.role if sender else LOCAL_TENANT,
                     tenant=tenant, command_id=command_id)  # fmt: skip
    scope = DeferredSaves(uow, command.at, now, sent_by)
    try:
        result = answer(kind, command_id, result=spec_of(command).handler(app, command, scope, sender))
    except RecordedRejection as error:  # a refused bind: its events are stored like a success's
        result = answer(kind, command_id, error=error)
    except LedgerError as error:  # nothing is recorded, so a retry is decided again
        return answer(kind, command_id, error=error)
    record = None
    if fingerprint is not None and command_id is not None:
        record = CommandRecord.record(
            command_id=command_id, tenant=tenant, command_type=kind, fingerprint=fingerprint, result=result,
            at=command.at,
        )  # fmt: skip
    scope.release(record)
    return result


def recorded_answer(uow: UnitOfWork, command: CommandModel, fingerprint: str, where: tuple[UUID, ...]) -> Answer | None:
    """The original answer to this tenant's command id, marked as a duplicate; None if the id is
    new. `where`: the records it may be in (LedgerApp.command_record_ids: under the tenant, and
    in a store that may hold one, the global record of an id recorded before ids were scoped)."""
    record = None
    for record_id in where:
        try:
            record = uow.get(record_id)
            break
        except AggregateNotFoundError:
            continue
    if record is None:
        return None
    if record.fingerprint != fingerprint:
        error = CommandConflictError("command_id: already used for a command with other content", field="command_id")
        return answer(command.type, command.command_id, error=error)
    first = {key: record.result[key] for key in ("ok", "command", "command_id")}  # the usual order
    return first | record.result | {"duplicate": True}
