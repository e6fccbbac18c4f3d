"""Events: frozen pydantic models, past-tense names, recorded forever.

`timestamp` is the business time of the command (its `at`), passed in, never read from a clock,
so rebuilding or replaying a history is deterministic. Each event's `apply` only assigns state
from its own fields: no rules, no catalogue, nothing outside the event.
Money fields are integer fen. Person references are aggregate ids (UUIDs derived from keyed
pseudonyms) plus the masked ID number for display; never the plain number.
"""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from domain.canonical import IntegerJsonObject
from domain.event_base import CreatedEvent, DomainEvent
from domain.event_base import SentBy as SentBy  # re-exported: ev.SentBy
from domain.person_state import PersonState
from domain.platform_record import PlatformRecord

# the quota escrow's events, re-exported: `ev.QuotaDrawn` names them as every other event
from domain.quota_events import QuotaDrawn as QuotaDrawn
from domain.quota_events import QuotaDrawSettled as QuotaDrawSettled
from domain.quota_events import QuotaDrawUndone as QuotaDrawUndone
from domain.quota_events import QuotaEarmarked as QuotaEarmarked
from domain.quota_events import QuotaEndRequested as QuotaEndRequested
from domain.quota_events import QuotaLowerRequested as QuotaLowerRequested
from domain.quota_events import QuotaRaised as QuotaRaised
from domain.quota_events import QuotaRaiseReceived as QuotaRaiseReceived
from domain.quota_events import QuotaReceived as QuotaReceived
from domain.quota_events import QuotaReleased as QuotaReleased
from domain.quota_events import QuotaReturned as QuotaReturned
from domain.quota_events import QuotaUndrawn as QuotaUndrawn
from domain.vocabulary import (  # re-exported too: the events' vocabulary
    AidRole,
    AuthorizationEndReason,
    BindingRole,
    Channel,
    CreditSource,
    Initiator,
    Insurance,
    UnbindReason,
    Verification,
)
from domain.vocabulary import QuotaReleaseReason as QuotaReleaseReason  # re-exported


# --- a person's life ---------------------------------------------------------------------
class PersonEnrolled(CreatedEvent):
    masked: str
    region: str
    insurance: Insurance

    def apply(self, person: PersonState) -> None:
        person.masked = self.masked
        person.region = self.region
        person.insurance = self.insurance
        person.status = "active"


class PersonSuspended(DomainEvent):
    reason: str = ""

    def apply(self, person: PersonState) -> None:
        person.status = "suspended"


class PersonResumed(DomainEvent):
    def apply(self, person: PersonState) -> None:
        person.status = "active"


class PersonCancelled(DomainEvent):
    reason: str = ""

    def apply(self, person: PersonState) -> None:
        person.status = "cancelled"


class PersonExpired(DomainEvent):
    reason: str = ""

    def apply(self, person: PersonState) -> None:
        person.status = "expired"


class PersonTransferred(DomainEvent):
    region_from: str
    region_to: str

    def apply(self, person: PersonState) -> None:
        person.region = self.region_to


class AccountCredited(DomainEvent):
    amount_fen: int = Field(gt=0)
    source: CreditSource

    def apply(self, person: PersonState) -> None:
        person.balance_fen += self.amount_fen


# --- family-account bindings (亲情账户) ----------------------------------------------------
class BindingStarted(DomainEvent):
    """Recorded on both people; `role` is this aggregate's side, `counterpart` the other."""

    role: BindingRole
    counterpart: UUID
    counterpart_masked: str
    relationship: str
    kind: str  # father / mother / spouse / child / other: what the member is to the binder
    channel: Channel
    verification: Verification
    member_age_years: int
    rule_version: str
    # SHA-256 of the rule set's content (RuleSet.digest): tells apart rules changed under the same
    # label. Events stored before the ledger kept it read None: the default is their upcast.
    rule_digest: str | None = None

    def apply(self, person: PersonState) -> None:
        tie = {
            "masked": self.counterpart_masked,
            "relationship": self.relationship,
            "kind": self.kind,
            "channel": self.channel,
            "since": self.timestamp,
        }
        if self.role == "binder":
            person.members[self.counterpart] = tie
            _bump(person.new_members_by_month, self.month)
        else:
            person.binders[self.counterpart] = tie
            _bump(person.new_binders_by_month, self.month)


class BindingEnded(DomainEvent):
    role: BindingRole
    counterpart: UUID
    reason: UnbindReason
    initiated_by: Initiator
    channel: Channel | None = None  # the channel a party used to unbind; None: not given, or ended by the ledger

    def apply(self, person: PersonState) -> None:
        ties = person.members if self.role == "binder" else person.binders
        ties.pop(self.counterpart, None)
        person.last_unbound_at[self.counterpart] = self.timestamp


class BindRejected(DomainEvent):
    """A refused bind, recorded on both people; changes no binding.

    class_version 2 adds `message`: the explanation given at the time ("binder already bound 5
    new members in 2025-04"), which answers "why can't I bind?" with the counts as they were,
    without a replay. Version 1 events (no message) are upcast on read with an explanation
    built from their code and rule, so every reader sees the same shape.
    """

    class_version: ClassVar[int] = 2

    role: BindingRole
    counterpart: UUID
    counterpart_masked: str
    relationship: str
    channel: Channel
    verification: Verification
    member_age_years: int
    code: str
    rule: str
    rule_version: str
    message: str
    # SHA-256 of the rule set's content (RuleSet.digest): tells apart rules changed under the same
    # label. Events stored before the ledger kept it read None: the default is their upcast.
    rule_digest: str | None = None

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["message"] = (
            f"refused with {state['code']} by rule {state['rule']} under {state['rule_version']} "
            "(explanation not recorded before event version 2)"
        )


# --- family mutual aid (家庭共济) ---------------------------------------------------------
class AuthorizationGranted(DomainEvent):
    role: AidRole
    counterpart: UUID
    counterpart_masked: str
    relationship: str  # what the beneficiary is to the authorizer
    rule_version: str
    channel: Channel | None = None  # the channel the authorization came through, when given
    # SHA-256 of the rule set's content (RuleSet.digest): tells apart rules changed under the same
    # label. Events stored before the ledger kept it read None: the default is their upcast.
    rule_digest: str | None = None

    def apply(self, person: PersonState) -> None:
        tie = {"masked": self.counterpart_masked, "relationship": self.relationship, "since": self.timestamp}
        if self.role == "authorizer":
            person.beneficiaries[self.counterpart] = tie
        else:
            person.authorizers[self.counterpart] = tie


class AuthorizationEnded(DomainEvent):
    role: AidRole
    counterpart: UUID
    reason: AuthorizationEndReason
    initiated_by: Initiator
    channel: Channel | None = None  # the channel a party used to revoke; None: not given, or ended by the ledger

    def apply(self, person: PersonState) -> None:
        ties = person.beneficiaries if self.role == "authorizer" else person.authorizers
        ties.pop(self.counterpart, None)


# --- deductions ----------------------------------------------------------------------------
class PaymentLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    person: UUID
    masked: str
    amount_fen: int = Field(gt=0)
    # Set on a line drawn on a cross-province quota (the authorizer's account is in another
    # ledger, or settled beside it): the transfer it draws on. Left out of the stored JSON when
    # None, so every line stored before quotas existed keeps its bytes (and the chain its hashes).
    transfer_id: str | None = None

    @model_serializer(mode="wrap")
    def _transfer_only_when_set(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        content = handler(self)
        if content.get("transfer_id") is None:
            content.pop("transfer_id", None)
        return content


class DeductionSettled(DomainEvent):
    """On the patient: the whole decision. The patient's own line is debited here."""

    settlement_id: str
    amount_fen: int = Field(gt=0)
    category: str
    institution: str
    presented_by: UUID | None
    lines: tuple[PaymentLine, ...]
    out_of_pocket_fen: int = Field(ge=0)
    fingerprint: str
    rule_version: str
    # SHA-256 of the rule set's content (RuleSet.digest): tells apart rules changed under the same
    # label. Events stored before the ledger kept it read None: the default is their upcast.
    rule_digest: str | None = None

    def apply(self, person: PersonState) -> None:
        own = sum(line.amount_fen for line in self.lines if line.person == person.id)
        person.balance_fen -= own
        person.deductions_count += 1


class AidDebited(DomainEvent):
    """On an authorizer whose balance paid part of a beneficiary's settlement."""

    settlement_id: str
    patient: UUID
    patient_masked: str
    amount_fen: int = Field(gt=0)
    rule_version: str
    # SHA-256 of the rule set's content (RuleSet.digest): tells apart rules changed under the same
    # label. Events stored before the ledger kept it read None: the default is their upcast.
    rule_digest: str | None = None

    def apply(self, person: PersonState) -> None:
        person.balance_fen -= self.amount_fen


class DeductionReversed(DomainEvent):
    """On the patient: a correction that refunds exactly the lines that paid."""

    settlement_id: str
    lines: tuple[PaymentLine, ...]
    reason: str = ""

    def apply(self, person: PersonState) -> None:
        own = sum(line.amount_fen for line in self.lines if line.person == person.id)
        person.balance_fen += own


class AidRefunded(DomainEvent):
    settlement_id: str
    patient: UUID
    amount_fen: int = Field(gt=0)
    reason: str = ""

    def apply(self, person: PersonState) -> None:
        person.balance_fen += self.amount_fen


# --- settlement index: makes a settlement id unique across the whole ledger --------------
class SettlementOpened(CreatedEvent):
    """The settlement's own record of the decision: what a resubmission is compared with and
    what a reversal refunds. It lives here, not on the patient, so that a person's state does
    not grow with every settlement they ever had."""

    settlement_id: str
    patient: UUID
    patient_masked: str
    fingerprint: str
    amount_fen: int = Field(gt=0)
    lines: tuple[PaymentLine, ...]
    out_of_pocket_fen: int = Field(ge=0)
    rule_version: str
    # SHA-256 of the rule set's content (RuleSet.digest): tells apart rules changed under the same
    # label. Events stored before the ledger kept it read None: the default is their upcast.
    rule_digest: str | None = None
    # Who settled it, so that a reversal's scope is judged on the settlement itself. Events
    # stored before read None; the patient's DeductionSettled event still names the institution.
    institution: str | None = None
    # The national platform's record of it, when the deduction came with one (domain.platform_record).
    platform: PlatformRecord | None = None
    # The patient's own balance right after it (the platform's `balc`). Events stored before read
    # None: the patient's events still tell it, by a replay up to their DeductionSettled.
    balance_after_fen: int | None = Field(default=None, ge=0)

    def apply(self, settlement: Any) -> None:
        settlement.settlement_id = self.settlement_id
        settlement.patient = self.patient
        settlement.patient_masked = self.patient_masked
        settlement.fingerprint = self.fingerprint
        settlement.amount_fen = self.amount_fen
        settlement.lines = self.lines
        settlement.out_of_pocket_fen = self.out_of_pocket_fen
        settlement.rule_version = self.rule_version
        settlement.rule_digest = self.rule_digest
        settlement.institution = self.institution
        settlement.opened_at = self.timestamp
        settlement.platform = self.platform
        settlement.balance_after_fen = self.balance_after_fen


class SettlementReversed(DomainEvent):
    reason: str = ""

    def apply(self, settlement: Any) -> None:
        settlement.reversed = True
        settlement.reversed_at = self.timestamp


def _bump(counter: dict[str, int], key: str) -> None:
    counter[key] = counter.get(key, 0) + 1


# --- command index: makes a command id unique across the whole ledger ----------------------
class CommandRecorded(CreatedEvent):
    """A command's id, a keyed fingerprint of what it said, and what the ledger answered. It is
    saved atomically with the command's own events, so a retry with the same id gets this answer
    back instead of being decided again. The answer holds masked ID numbers only."""

    command_id: str
    command_type: str
    fingerprint: str
    result: IntegerJsonObject  # no float: stored as canonical JSON

    def apply(self, record: Any) -> None:
        record.command_id = self.command_id
        record.command_type = self.command_type
        record.fingerprint = self.fingerprint
        record.result = self.result
