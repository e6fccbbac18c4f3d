"""The events of cross-province quotas (跨省共济额度, from 2026-01-09): the escrow's halves on the
authorizer's and the beneficiary's ledgers. Re-exported by domain.events, so `ev.QuotaDrawn`
names them as it names every other event; stored under this module's topics."""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

from domain.event_base import DomainEvent
from domain.person_state import PersonState
from domain.vocabulary import AuthorizationEndReason, Channel, Initiator, QuotaReleaseReason


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
