"""Family mutual aid (家庭共济), sent by the channels: authorize (with a `quota` for a
beneficiary insured in another province under rules that allow it), set-quota and revoke; and
the cross-ledger steps of those quotas, which only the relay sends (infra.commands.transfers)."""

from __future__ import annotations

from typing import Any, Literal

from domain import binding, mutual_aid, quota
from domain.errors import InvalidInputError, UnknownPersonError
from domain.money import parse_amount
from domain.person import Person
from domain.vocabulary import AidRelationship, Channel, RevokeInitiator
from infra.commands import transfers
from infra.commands.base import Amount, CommandModel, CommandSpec, IdText, Needs, UnitOfWork
from infra.commands.bindings import channel_of_key
from infra.commands.loading import load_person, pair
from infra.eventstore.application import LedgerApp, PersonRef
from infra.roles import Principal


class Authorize(CommandModel):
    type: Literal["authorize"]
    authorizer: IdText
    beneficiary: IdText
    relationship: AidRelationship
    channel: Channel | None = None
    quota: Amount | None = None  # yuan earmarked for a beneficiary insured in another province


class SetQuota(CommandModel):
    type: Literal["set-quota"]
    authorizer: IdText
    beneficiary: IdText
    quota: Amount
    channel: Channel | None = None


class Revoke(CommandModel):
    type: Literal["revoke"]
    authorizer: IdText
    beneficiary: IdText
    initiated_by: RevokeInitiator = "authorizer"
    channel: Channel | None = None


def remote_province(app: LedgerApp, uow: UnitOfWork, ref: PersonRef, field: str) -> str | None:
    """None when the person is in this ledger; else the province of the federation's ledger
    they are enrolled in (UNKNOWN_PERSON when none, or outside a federation)."""
    if ref.id in uow:
        return None
    province = app.directory.province_of(ref.id) if app.directory is not None else None
    if province is None or province == app.settings.province:
        raise UnknownPersonError(f"{field}: no enrolled person {ref.masked}", field=field)
    return province


def authorize(app: LedgerApp, command: Authorize, uow: UnitOfWork, sender: Principal | None) -> dict:
    first, second = app.person_ref(command.authorizer, "authorizer"), app.person_ref(command.beneficiary, "beneficiary")
    if first.id == second.id:
        raise InvalidInputError("beneficiary: must be a different person from authorizer", field="beneficiary")
    authorizer = load_person(uow, first.id, first.masked, "authorizer")
    province = remote_province(app, uow, second, "beneficiary")
    beneficiary = None if province is not None else load_person(uow, second.id, second.masked, "beneficiary")
    rules = app.rules_for(command.at, authorizer.region)
    crosses = beneficiary is None or authorizer.region[:2] != beneficiary.region[:2]
    decision = mutual_aid.decide_tie(authorizer, second.id, beneficiary, command.relationship, rules, crosses=crosses)
    if not decision.ok:
        raise binding.refusal_error(decision, rules.version)
    answer = {"authorizer": authorizer.masked, "beneficiary": second.masked,
              "relationship": command.relationship, "rule_version": rules.version}  # fmt: skip
    if not crosses:
        if command.quota is not None:
            raise InvalidInputError("quota: only for a beneficiary insured in another province", field="quota")
        mutual_aid.authorize(authorizer, beneficiary, command.relationship, rules, command.at, channel=command.channel)  # type: ignore[arg-type]  # not None: not crossing
        uow.save(authorizer, beneficiary)
        return answer
    if command.quota is None:
        raise InvalidInputError(
            f"quota: required for a beneficiary insured in another province under {rules.version}", field="quota",
            rule="mutual_aid.cross_province", rule_version=rules.version,
        )  # fmt: skip
    amount_fen = parse_amount(command.quota, "quota")
    decision = quota.decide_earmark(authorizer, amount_fen)
    if not decision.ok:
        raise binding.refusal_error(decision, rules.version)
    transfer_id = quota.earmark(authorizer, second.id, second.masked, command.relationship, amount_fen, rules,
                                command.at, to_province=province, channel=command.channel)  # fmt: skip
    if beneficiary is not None:
        quota.receive(beneficiary, transfer_id, authorizer.id, authorizer.masked, command.relationship, amount_fen,
                      rules.version, command.at, to_province=None)  # fmt: skip
    uow.save(authorizer, beneficiary)
    return answer | quota_answer(authorizer, transfer_id, pending=province is not None)


def quota_answer(authorizer: Person, transfer_id: str, *, pending: bool) -> dict:
    tie = authorizer.quotas_given[transfer_id]
    return {"transfer_id": transfer_id, "quota_fen": tie["quota_fen"], "drawn_fen": tie["drawn_fen"],
            "earmarked_fen": authorizer.earmarked_fen, "spendable_fen": authorizer.spendable_fen,
            "status": "pending" if pending else "done"}  # fmt: skip


def set_quota(app: LedgerApp, command: SetQuota, uow: UnitOfWork, sender: Principal | None) -> dict:
    """Raise (decided here: INSUFFICIENT_BALANCE) or lower (QUOTA_BELOW_USED; with the beneficiary
    in another ledger, decided there for draws not yet settled here) a cross-province quota."""
    first, second = app.person_ref(command.authorizer, "authorizer"), app.person_ref(command.beneficiary, "beneficiary")
    authorizer = load_person(uow, first.id, first.masked, "authorizer")
    new_fen = parse_amount(command.quota, "quota")
    transfer_id, tie = quota.open_tie(authorizer, second.id)
    beneficiary = None if tie["remote"] else load_person(uow, second.id, second.masked, "beneficiary")
    current_fen = tie["quota_fen"]
    if new_fen > current_fen:
        decision = quota.decide_earmark(authorizer, new_fen - current_fen)
        if not decision.ok:
            raise binding.refusal_error(decision, tie_rule_version(authorizer, transfer_id))
        seq = quota.raise_quota(authorizer, transfer_id, new_fen - current_fen, command.at)
        if beneficiary is not None:
            quota.receive_raise(beneficiary, transfer_id, seq, new_fen - current_fen, command.at)
    elif new_fen < current_fen and beneficiary is not None:
        quota.check_lower(beneficiary, transfer_id, new_fen)
        seq = quota.release(beneficiary, transfer_id, current_fen - new_fen, reason="lowered", final=False,
                            at=command.at)  # fmt: skip
        quota.take_back(authorizer, transfer_id, seq, current_fen - new_fen, "lowered", False, command.at)
    elif new_fen < current_fen:
        quota.request_lower(authorizer, transfer_id, new_fen, command.at)
    uow.save(authorizer, beneficiary)
    pending = tie["remote"] and new_fen != current_fen
    return {"authorizer": authorizer.masked, "beneficiary": second.masked, "requested_fen": new_fen} | quota_answer(
        authorizer, transfer_id, pending=pending
    )


def tie_rule_version(authorizer: Person, transfer_id: str) -> str:
    return str(authorizer.quotas_given[transfer_id].get("rule_version", ""))


def revoke(app: LedgerApp, command: Revoke, uow: UnitOfWork, sender: Principal | None) -> dict:
    first, second = app.person_ref(command.authorizer, "authorizer"), app.person_ref(command.beneficiary, "beneficiary")
    remote = first.id != second.id and second.id not in uow
    if remote:  # a cross-province quota whose beneficiary is another ledger's: ended by request
        authorizer = load_person(uow, first.id, first.masked, "authorizer")
        transfer_id = authorizer.open_quota_given(second.id)
        if transfer_id is None:
            raise UnknownPersonError(f"beneficiary: no enrolled person {second.masked}", field="beneficiary")
        reason = "revoked_by_beneficiary" if command.initiated_by == "beneficiary" else "revoked_by_authorizer"
        quota.end_given(authorizer, None, transfer_id, reason=reason, initiated_by=command.initiated_by, at=command.at)
        uow.save(authorizer)
        return {"authorizer": authorizer.masked, "beneficiary": second.masked, "initiated_by": command.initiated_by,
                "transfer_id": transfer_id, "status": "pending"}  # fmt: skip
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
    CommandSpec(SetQuota, set_quota, PAIR_OF_AID, role="channel", scope=channel_of_key),
    *transfers.SPECS,
)
