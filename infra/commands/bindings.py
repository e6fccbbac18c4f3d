"""Family-account bindings (亲情账户), sent by the channels people use (Alipay, WeChat, the
national app, bank apps, counters): bind (a refusal is recorded too) and unbind."""

from __future__ import annotations

from typing import Any, Literal

from domain import binding
from domain.clock import local_date
from domain.errors import InvalidInputError
from domain.ids import age_on
from domain.vocabulary import BindingRelationship, Channel, UnbindInitiator, UnbindReason, Verification
from infra.commands.answers import RecordedRejection
from infra.commands.base import CommandModel, CommandSpec, IdText, Needs, UnitOfWork
from infra.commands.loading import pair
from infra.eventstore.application import LedgerApp
from infra.roles import ForbiddenError, Principal

# Who initiates an unbind, when the line does not say: the reason implies it.
UNBIND_INITIATOR = {"binder_request": "binder", "member_request": "member"}


class Bind(CommandModel):
    type: Literal["bind"]
    binder: IdText
    member: IdText
    relationship: BindingRelationship
    channel: Channel
    verification: Verification


class Unbind(CommandModel):
    type: Literal["unbind"]
    binder: IdText
    member: IdText
    reason: UnbindReason
    initiated_by: UnbindInitiator | None = None
    channel: Channel | None = None  # the channel a party used (seed 000: unbinds happen in the apps too)


def bind(app: LedgerApp, command: Bind, uow: UnitOfWork, sender: Principal | None) -> dict:
    binder, member, facts = pair(app, uow, "binder", command.binder, "member", command.member)
    rules = app.rules_for(command.at, binder.region)
    request = binding.BindRequest(
        relationship=command.relationship,
        channel=command.channel,
        verification=command.verification,
        member_age_years=age_on(facts.birth_date, local_date(command.at)),
        at=command.at,
    )
    decision = binding.bind(binder, member, request, rules)
    uow.save(binder, member)
    if not decision.ok:
        raise RecordedRejection(decision, rules.version)
    return {"binder": binder.masked, "member": member.masked, "relationship": command.relationship,
            "channel": command.channel, "rule_version": rules.version}  # fmt: skip


def unbind(app: LedgerApp, command: Unbind, uow: UnitOfWork, sender: Principal | None) -> dict:
    implied = UNBIND_INITIATOR.get(command.reason, "system")
    if command.initiated_by is not None and command.reason in UNBIND_INITIATOR and command.initiated_by != implied:
        raise InvalidInputError(
            f"initiated_by: reason {command.reason} is initiated by the {implied}", field="initiated_by"
        )
    binder, member, _ = pair(app, uow, "binder", command.binder, "member", command.member)
    initiated_by = command.initiated_by or implied
    binding.unbind(binder, member, reason=command.reason, initiated_by=initiated_by, at=command.at,
                   channel=command.channel)  # fmt: skip
    uow.save(binder, member)
    return {"binder": binder.masked, "member": member.masked, "reason": command.reason, "initiated_by": initiated_by}


def channel_of_key(sender: Principal, command: Any) -> None:
    """A channel key sends for its own channel only (a command that names none is let through)."""
    channel = getattr(command, "channel", None)
    if channel is not None and channel != sender.channel:
        raise ForbiddenError(f"channel: this key sends for channel {sender.channel} only")


PAIR_OF_BINDING = Needs(("binder", "member"))

SPECS: tuple[CommandSpec[Any], ...] = (
    CommandSpec(Bind, bind, PAIR_OF_BINDING, role="channel", scope=channel_of_key),
    CommandSpec(Unbind, unbind, PAIR_OF_BINDING, role="channel", scope=channel_of_key),
)
