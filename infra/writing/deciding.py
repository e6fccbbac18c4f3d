"""Deciding one command inside a batch: its command id first (a retry gets its original answer),
then the time checks, then the handler its spec names; the command's events and its record go in
one save, so either both are stored or neither."""

from __future__ import annotations

from datetime import timedelta

from eventsourcing.application import AggregateNotFoundError

from domain.clock import local_iso
from domain.command_record import CommandRecord, command_aggregate_id, command_fingerprint
from domain.errors import CommandConflictError, FutureDatedError, LedgerError
from infra.commands.answers import Answer, RecordedRejection, answer
from infra.commands.base import CommandModel, UnitOfWork
from infra.commands.table import spec_of
from infra.eventstore.application import LedgerApp
from infra.roles import Principal
from infra.writing.units import DeferredSaves


def decide(app: LedgerApp, command: CommandModel, uow: UnitOfWork, sender: Principal | None = None) -> Answer:
    """The answer to one typed command, decided through `uow` (nothing stored until it commits).
    A sender's role and static scope are checked again here, wherever the command came from."""
    kind, command_id = command.type, command.command_id
    try:
        if sender is not None:
            spec_of(command).check(sender, command)
    except LedgerError as refusal:
        return answer(kind, command_id, error=refusal)
    fingerprint = None
    if command_id is not None:  # only a command with an id is compared and remembered
        fingerprint = command_fingerprint(command.content(), app.settings.pseudonym_key)
        earlier = recorded_answer(uow, command, fingerprint)
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
    scope = DeferredSaves(uow, command.at, now)
    try:
        result = answer(kind, command_id, result=spec_of(command).handler(app, command, scope, sender))
    except RecordedRejection as error:  # a refused bind: its events are stored like a success's
        result = answer(kind, command_id, error=error)
    except LedgerError as error:  # nothing is recorded, so a retry is decided again
        return answer(kind, command_id, error=error)
    record = None
    if fingerprint is not None and command_id is not None:
        record = CommandRecord.record(
            command_id=command_id, command_type=kind, fingerprint=fingerprint, result=result, at=command.at
        )
    scope.release(record)
    return result


def recorded_answer(uow: UnitOfWork, command: CommandModel, fingerprint: str) -> Answer | None:
    """The original answer to this command id, marked as a duplicate; None if the id is new."""
    try:
        record = uow.get(command_aggregate_id(command.command_id or ""))
    except AggregateNotFoundError:
        return None
    if record.fingerprint != fingerprint:
        error = CommandConflictError("command_id: already used for a command with other content", field="command_id")
        return answer(command.type, command.command_id, error=error)
    first = {key: record.result[key] for key in ("ok", "command", "command_id")}  # the usual order
    return first | record.result | {"duplicate": True}
