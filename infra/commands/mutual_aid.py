"""Family mutual aid (家庭共济), sent by the channels: authorize and revoke."""

from __future__ import annotations

from typing import Any, Literal

from domain import binding, mutual_aid
from domain.vocabulary import AidRelationship, Channel, RevokeInitiator
from infra.commands.base import CommandModel, CommandSpec, IdText, Needs, UnitOfWork
from infra.commands.bindings import channel_of_key
from infra.commands.loading import pair
from infra.eventstore.application import LedgerApp
from infra.roles import Principal


class Authorize(CommandModel):
    type: Literal["authorize"]
    authorizer: IdText
    beneficiary: IdText
    relationship: AidRelationship
    channel: Channel | None = None


class Revoke(CommandModel):
    type: Literal["revoke"]
    authorizer: IdText
    beneficiary: IdText
    initiated_by: RevokeInitiator = "authorizer"
    channel: Channel | None = None


def authorize(app: LedgerApp, command: Authorize, uow: UnitOfWork, sender: Principal | None) -> dict:
    authorizer, beneficiary, _ = pair(app, uow, "authorizer", command.authorizer, "beneficiary", command.beneficiary)
    rules = app.rules_for(command.at, authorizer.region)
    decision = mutual_aid.authorize(
        authorizer, beneficiary, command.relationship, rules, command.at, channel=command.channel
    )
    if not decision.ok:
        raise binding.refusal_error(decision, rules.version)
    uow.save(authorizer, beneficiary)
    return {"authorizer": authorizer.masked, "beneficiary": beneficiary.masked,
            "relationship": command.relationship, "rule_version": rules.version}  # fmt: skip


def revoke(app: LedgerApp, command: Revoke, uow: UnitOfWork, sender: Principal | None) -> dict:
    authorizer, beneficiary, _ = pair(app, uow, "authorizer", command.authorizer, "beneficiary", command.beneficiary)
    mutual_aid.revoke(
        authorizer, beneficiary, initiated_by=command.initiated_by, at=command.at, channel=command.channel
    )
    uow.save(authorizer, beneficiary)
    return {"authorizer": authorizer.masked, "beneficiary": beneficiary.masked, "initiated_by": command.initiated_by}


PAIR_OF_AID = Needs(("authorizer", "beneficiary"))

SPECS: tuple[CommandSpec[Any], ...] = (
    CommandSpec(Authorize, authorize, PAIR_OF_AID, role="channel", scope=channel_of_key),
    CommandSpec(Revoke, revoke, PAIR_OF_AID, role="channel", scope=channel_of_key),
)
