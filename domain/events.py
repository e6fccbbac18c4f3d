"""Events: frozen pydantic models, past-tense names, recorded forever.

`timestamp` is the business time of the command (its `at`), passed in, never read from a clock,
so rebuilding or replaying a history is deterministic. Each event's `apply` only assigns state
from its own fields: no rules, no catalogue, nothing outside the event.
Money fields are integer fen. Person references are aggregate ids (UUIDs derived from keyed
pseudonyms) plus the masked ID number for display; never the plain number.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import OriginatorIDError, OriginatorVersionError
from eventsourcing.utils import resolve_topic
from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from domain.clock import month_of
from domain.errors import LedgerInvariantError
from domain.person_state import PersonState
from domain.platform_record import PlatformRecord
from domain.vocabulary import (  # re-exported too: the events' vocabulary
    AidRole,
    AuthorizationEndReason,
    BindingRole,
    Channel,
    CreditSource,
    Initiator,
    Insurance,
    QuotaReleaseReason,
    UnbindReason,
    Verification,
)


class SentBy(BaseModel):
    """Who sent the command an event records: the service key (its id, role and tenant: the
    channel or institution it sends for, else its role) and the command's id, or the operator's
    command line (`key_id` None, role and tenant "ledger"). Stamped by the write path from the
    key, never taken from a command's body."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    key_id: str | None
    role: str
    tenant: str
    command_id: str | None = None


class DomainEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    class_version: ClassVar[int] = 1

    originator_id: UUID
    originator_version: int
    timestamp: datetime  # the command's `at`: when it took effect
    # The ledger's clock when the command was decided. Events stored before the ledger kept it
    # are read with None (unknown): the default is their upcast, nothing stored is rewritten.
    recorded_at: datetime | None = None
    # Who sent the command (None: stored before the ledger recorded it).
    sent_by: SentBy | None = None

    @property
    def month(self) -> str:
        return month_of(self.timestamp)

    def mutate(self, aggregate: Any) -> Any:
        if aggregate is None:
            raise LedgerInvariantError(f"{type(self).__name__} cannot start an aggregate")
        if self.originator_id != aggregate.id:
            raise OriginatorIDError(self.originator_id, aggregate.id)
        if self.originator_version != aggregate.version + 1:
            raise OriginatorVersionError(self.originator_version, aggregate.version + 1)
        self.apply(aggregate)
        aggregate.version = self.originator_version
        aggregate.modified_on = self.timestamp
        return aggregate

    def apply(self, aggregate: Any) -> None:
        """Assign state from this event's fields. Overridden per event."""


class CreatedEvent(DomainEvent):
    originator_topic: str

    def mutate(self, aggregate: Any) -> Any:
        if aggregate is not None:
            raise LedgerInvariantError(f"{type(self).__name__} must start an aggregate")
        cls = resolve_topic(self.originator_topic)
        new = cls.__new__(cls)
        new.__base_init__(self.originator_id, self.originator_version, self.timestamp)
        new.init_state()
        self.apply(new)
        return new


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
    result: dict[str, Any]

    def apply(self, record: Any) -> None:
        record.command_id = self.command_id
        record.command_type = self.command_type
        record.fingerprint = self.fingerprint
        record.result = self.result


# --- cross-province quotas (跨省共济额度, from 2026-01-09) -----------------------------------
# An escrow, as in TigerBeetle's pending transfers: the authorizer's ledger earmarks part of the
# balance for one beneficiary (it stays in the balance but is no longer spendable), the
# beneficiary's ledger holds the quota received and draws on it, each draw is settled back on the
# authorizer's ledger (balance and earmark both go down), a reversal undoes a draw on both sides,
# and what is left returns when the tie ends. Each pair of halves shares one `transfer_id`; an
# event with `remote` set has its other half in the ledger of `to_province`, where the relay
# delivers it as a command whose id is derived from the transfer id (infra.federation.steps).
class QuotaEarmarked(DomainEvent):
    """On the authorizer: `amount_fen` of the balance set aside for the beneficiary."""

    transfer_id: str
    beneficiary: UUID
    beneficiary_masked: str
    donor_masked: str  # this account, as the beneficiary's ledger shows it
    relationship: str
    amount_fen: int = Field(gt=0)
    remote: bool
    to_province: str | None = None  # the beneficiary's ledger, when remote
    rule_version: str
    rule_digest: str | None = None
    channel: Channel | None = None

    def apply(self, person: PersonState) -> None:
        person.earmarked_fen += self.amount_fen
        person.quotas_given[self.transfer_id] = {
            "beneficiary": self.beneficiary, "masked": self.beneficiary_masked, "relationship": self.relationship,
            "quota_fen": self.amount_fen, "drawn_fen": 0, "since": self.timestamp, "remote": self.remote,
            "province": self.to_province, "open": True, "ending": False, "raises": 0, "lowers": 0,
            "rule_version": self.rule_version,
        }  # fmt: skip


class QuotaReceived(DomainEvent):
    """On the beneficiary: the quota the authorizer earmarked, now drawn on like a balance."""

    transfer_id: str
    donor: UUID
    donor_masked: str
    relationship: str
    amount_fen: int = Field(gt=0)
    remote: bool
    to_province: str | None = None  # the authorizer's ledger, when remote
    rule_version: str

    def apply(self, person: PersonState) -> None:
        person.quotas_received[self.transfer_id] = {
            "donor": self.donor, "masked": self.donor_masked, "relationship": self.relationship,
            "quota_fen": self.amount_fen, "drawn_fen": 0, "since": self.timestamp, "remote": self.remote,
            "province": self.to_province, "open": True, "draws": 0, "undraws": 0, "releases": 0,
        }  # fmt: skip


class QuotaRaised(DomainEvent):
    """On the authorizer: the quota raised by `amount_fen`, earmarked at once."""

    transfer_id: str
    beneficiary: UUID
    seq: int = Field(ge=1)
    amount_fen: int = Field(gt=0)
    remote: bool
    to_province: str | None = None

    def apply(self, person: PersonState) -> None:
        tie = person.quotas_given[self.transfer_id]
        tie["quota_fen"] += self.amount_fen
        tie["raises"] = self.seq
        person.earmarked_fen += self.amount_fen


class QuotaRaiseReceived(DomainEvent):
    """On the beneficiary: the quota raised by the authorizer."""

    transfer_id: str
    seq: int = Field(ge=1)
    amount_fen: int = Field(gt=0)

    def apply(self, person: PersonState) -> None:
        person.quotas_received[self.transfer_id]["quota_fen"] += self.amount_fen


class QuotaLowerRequested(DomainEvent):
    """On the authorizer of a remote beneficiary: lower the quota to `quota_fen`. The earmark
    stays until the beneficiary's ledger, which knows every draw, releases what it can."""

    transfer_id: str
    beneficiary: UUID
    seq: int = Field(ge=1)
    quota_fen: int = Field(ge=0)
    to_province: str

    def apply(self, person: PersonState) -> None:
        person.quotas_given[self.transfer_id]["lowers"] = self.seq


class QuotaEndRequested(DomainEvent):
    """On the authorizer of a remote beneficiary: the tie ends; the beneficiary's ledger releases
    what is left (the earmark stays until then, so draws already made can still settle)."""

    transfer_id: str
    beneficiary: UUID
    reason: AuthorizationEndReason
    initiated_by: Initiator
    to_province: str

    def apply(self, person: PersonState) -> None:
        person.quotas_given[self.transfer_id]["ending"] = True


class QuotaDrawn(DomainEvent):
    """On the beneficiary (a patient): part of a settlement paid from the quota."""

    transfer_id: str
    donor: UUID
    seq: int = Field(ge=1)
    settlement_id: str
    amount_fen: int = Field(gt=0)
    remote: bool
    to_province: str | None = None

    def apply(self, person: PersonState) -> None:
        tie = person.quotas_received[self.transfer_id]
        tie["drawn_fen"] += self.amount_fen
        tie["draws"] = self.seq


class QuotaDrawSettled(DomainEvent):
    """On the authorizer: a draw on the quota paid from the balance (balance and earmark down)."""

    transfer_id: str
    seq: int = Field(ge=1)
    settlement_id: str
    patient: UUID
    amount_fen: int = Field(gt=0)

    def apply(self, person: PersonState) -> None:
        person.quotas_given[self.transfer_id]["drawn_fen"] += self.amount_fen
        person.balance_fen -= self.amount_fen
        person.earmarked_fen -= self.amount_fen


class QuotaUndrawn(DomainEvent):
    """On the beneficiary: a reversed settlement gives its draw back (to the quota while the tie
    is open; after it ended, straight back to the authorizer: `after_end`)."""

    transfer_id: str
    donor: UUID
    seq: int = Field(ge=1)
    settlement_id: str
    amount_fen: int = Field(gt=0)
    after_end: bool
    remote: bool
    to_province: str | None = None

    def apply(self, person: PersonState) -> None:
        tie = person.quotas_received[self.transfer_id]
        tie["drawn_fen"] -= self.amount_fen
        tie["undraws"] = self.seq


class QuotaDrawUndone(DomainEvent):
    """On the authorizer: a reversed draw refunded to the balance (and earmarked again while the
    tie is open)."""

    transfer_id: str
    seq: int = Field(ge=1)
    settlement_id: str
    amount_fen: int = Field(gt=0)
    after_end: bool

    def apply(self, person: PersonState) -> None:
        person.quotas_given[self.transfer_id]["drawn_fen"] -= self.amount_fen
        person.balance_fen += self.amount_fen
        if not self.after_end:
            person.earmarked_fen += self.amount_fen


class QuotaReleased(DomainEvent):
    """On the beneficiary: `amount_fen` of the quota given back (lowered, or the tie ended:
    `final`); the authorizer's ledger takes it out of the earmark."""

    transfer_id: str
    donor: UUID
    seq: int = Field(ge=1)
    amount_fen: int = Field(ge=0)
    reason: QuotaReleaseReason
    final: bool
    remote: bool
    to_province: str | None = None

    def apply(self, person: PersonState) -> None:
        tie = person.quotas_received[self.transfer_id]
        tie["quota_fen"] -= self.amount_fen
        tie["releases"] = self.seq
        if self.final:
            tie["open"] = False


class QuotaReturned(DomainEvent):
    """On the authorizer: quota given back by the beneficiary's side, spendable again."""

    transfer_id: str
    seq: int = Field(ge=1)
    amount_fen: int = Field(ge=0)
    reason: QuotaReleaseReason
    final: bool

    def apply(self, person: PersonState) -> None:
        tie = person.quotas_given[self.transfer_id]
        tie["quota_fen"] -= self.amount_fen
        person.earmarked_fen -= self.amount_fen
        if self.final:
            tie["open"] = False
