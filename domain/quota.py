"""Cross-province mutual aid through an earmarked quota (跨省共济额度, from 2026-01-09).

An escrow, as in TigerBeetle's pending transfers. Each tie is one *transfer* (`transfer_id`) with
two halves: the authorizer's (the earmark: balance kept, spendable reduced) and the
beneficiary's (the quota received, drawn on by deductions). Every change is decided on the side
that knows it exactly, and the other half follows:

- earmark, raise: decided on the authorizer (the spendable balance); the beneficiary receives;
- draw: decided on the beneficiary (inside a deduction); the authorizer settles it (balance and
  earmark both go down); a reversal undoes the draw on both sides;
- lower, end: requested on the authorizer, decided on the beneficiary (it knows every draw), which
  releases what is left; the authorizer takes the release back out of the earmark.

When both people are in this ledger the two halves are recorded in one save. When the other
person is another ledger's (`remote`), the half here carries `to_province` and the relay
delivers the other half there as a command (infra.federation). Pure: time, rules and the
aggregates are passed in; nothing here reads a clock.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from typing import Any
from uuid import UUID

from domain import events as ev
from domain.decision import Decision
from domain.errors import LedgerInvariantError, NotAuthorizedError, QuotaBelowUsedError
from domain.person import Person
from domain.rules.model import RuleSet

STEP_KINDS = ("receive", "raise", "lower", "end", "settle", "undraw", "return")


def transfer_id_of(donor: UUID, beneficiary: UUID, donor_version: int) -> str:
    """The transfer's id: derived from the tie's first event (the donor's version before it), so
    a re-decided authorize gets the same one. Base32 letters: no run of digits an ID-number
    filter could mistake for an ID number."""
    digest = hashlib.sha256(f"{donor}:{beneficiary}:{donor_version}".encode()).digest()[:15]
    return "q" + base64.b32encode(digest).decode().lower()


def step_command_id(transfer_id: str, kind: str, seq: int) -> str:
    """The command id of one cross-ledger step: a re-delivery is answered as a duplicate."""
    if kind not in STEP_KINDS:
        raise LedgerInvariantError(f"step kind {kind!r}")
    return f"{transfer_id}:{kind}:{seq}"


def at_or_after(person: Person, at: datetime) -> datetime:
    """A delivered half's effective time: its origin's, or later if the account here already has
    later events (a step is never refused as out of order; it arrives when it arrives)."""
    return max(at, person.modified_on)


def given(donor: Person, transfer_id: str) -> dict[str, Any]:
    tie = donor.quotas_given.get(transfer_id)
    if tie is None:
        raise LedgerInvariantError(f"{donor.masked} gives no quota {transfer_id}")
    return tie


def received(beneficiary: Person, transfer_id: str) -> dict[str, Any]:
    tie = beneficiary.quotas_received.get(transfer_id)
    if tie is None:
        raise LedgerInvariantError(f"{beneficiary.masked} receives no quota {transfer_id}")
    return tie


def decide_earmark(donor: Person, amount_fen: int) -> Decision:
    """After the authorization's own checks: the quota must fit the spendable balance."""
    if amount_fen > donor.spendable_fen:
        return Decision.refuse(
            "INSUFFICIENT_BALANCE",
            "quota.spendable",
            f"quota: {amount_fen} fen is more than the authorizer's spendable balance ({donor.spendable_fen} fen)",
        )
    return Decision.accept()


# --- the authorizer's half --------------------------------------------------------------
def earmark(
    donor: Person,
    beneficiary: UUID,
    beneficiary_masked: str,
    relationship: str,
    amount_fen: int,
    rules: RuleSet,
    at: datetime,
    *,
    to_province: str | None,
    channel: str | None = None,
) -> str:
    transfer_id = transfer_id_of(donor.id, beneficiary, donor.version)
    donor.record(
        ev.QuotaEarmarked,
        transfer_id=transfer_id,
        beneficiary=beneficiary,
        beneficiary_masked=beneficiary_masked,
        donor_masked=donor.masked,
        relationship=relationship,
        amount_fen=amount_fen,
        remote=to_province is not None,
        to_province=to_province,
        rule_version=rules.version,
        rule_digest=rules.digest,
        channel=channel,
        timestamp=at,
    )
    return transfer_id


def open_tie(donor: Person, beneficiary: UUID) -> tuple[str, dict[str, Any]]:
    """The open quota `donor` gives `beneficiary` (NOT_AUTHORIZED when there is none, or it is ending)."""
    transfer_id = donor.open_quota_given(beneficiary)
    tie = donor.quotas_given.get(transfer_id or "")
    if transfer_id is None or tie is None or tie["ending"]:
        raise NotAuthorizedError(f"beneficiary: {donor.masked} gives no open quota to this beneficiary")
    return transfer_id, tie


def raise_quota(donor: Person, transfer_id: str, amount_fen: int, at: datetime) -> int:
    tie = given(donor, transfer_id)
    seq = tie["raises"] + 1
    donor.record(
        ev.QuotaRaised,
        transfer_id=transfer_id,
        beneficiary=tie["beneficiary"],
        seq=seq,
        amount_fen=amount_fen,
        remote=tie["remote"],
        to_province=tie["province"],
        timestamp=at,
    )
    return seq


def request_lower(donor: Person, transfer_id: str, quota_fen: int, at: datetime) -> int:
    """Lower a remote beneficiary's quota: refused at once below what is known to be drawn
    (settled here); draws not yet settled are the beneficiary's ledger's to count."""
    tie = given(donor, transfer_id)
    if quota_fen < tie["drawn_fen"]:
        raise QuotaBelowUsedError(
            f"quota: {quota_fen} fen is below the {tie['drawn_fen']} fen already drawn", field="quota"
        )
    seq = tie["lowers"] + 1
    donor.record(
        ev.QuotaLowerRequested,
        transfer_id=transfer_id,
        beneficiary=tie["beneficiary"],
        seq=seq,
        quota_fen=quota_fen,
        to_province=tie["province"],
        timestamp=at,
    )
    return seq


def request_end(donor: Person, transfer_id: str, *, reason: str, initiated_by: str, at: datetime) -> None:
    tie = given(donor, transfer_id)
    donor.record(
        ev.QuotaEndRequested,
        transfer_id=transfer_id,
        beneficiary=tie["beneficiary"],
        reason=reason,
        initiated_by=initiated_by,
        to_province=tie["province"],
        timestamp=at,
    )


def settle(
    donor: Person, transfer_id: str, seq: int, settlement_id: str, patient: UUID, amount_fen: int, at: datetime
) -> None:
    """A draw paid from the balance: the earmark covered it, so both go down."""
    given(donor, transfer_id)
    if amount_fen > donor.earmarked_fen or amount_fen > donor.balance_fen:
        raise LedgerInvariantError(f"draw of {amount_fen} fen exceeds the earmark of {donor.masked}")
    donor.record(
        ev.QuotaDrawSettled,
        transfer_id=transfer_id,
        seq=seq,
        settlement_id=settlement_id,
        patient=patient,
        amount_fen=amount_fen,
        timestamp=at,
    )


def undo_draw(
    donor: Person, transfer_id: str, seq: int, settlement_id: str, amount_fen: int, after_end: bool, at: datetime
) -> None:
    given(donor, transfer_id)
    donor.record(
        ev.QuotaDrawUndone,
        transfer_id=transfer_id,
        seq=seq,
        settlement_id=settlement_id,
        amount_fen=amount_fen,
        after_end=after_end,
        timestamp=at,
    )


def take_back(
    donor: Person, transfer_id: str, seq: int, amount_fen: int, reason: str, final: bool, at: datetime
) -> None:
    """What the beneficiary's side released leaves the earmark (spendable again)."""
    given(donor, transfer_id)
    if amount_fen > donor.earmarked_fen:
        raise LedgerInvariantError(f"release of {amount_fen} fen exceeds the earmark of {donor.masked}")
    donor.record(
        ev.QuotaReturned,
        transfer_id=transfer_id,
        seq=seq,
        amount_fen=amount_fen,
        reason=reason,
        final=final,
        timestamp=at,
    )


# --- the beneficiary's half -------------------------------------------------------------
def receive(
    beneficiary: Person,
    transfer_id: str,
    donor: UUID,
    donor_masked: str,
    relationship: str,
    amount_fen: int,
    rule_version: str,
    at: datetime,
    *,
    to_province: str | None,
) -> bool:
    """Take the quota; a beneficiary who cannot (not active, or already aided by this authorizer)
    takes it and releases it at once, so the earmark comes back by the usual path."""
    refused = not beneficiary.is_active or beneficiary.open_quota_received(donor) is not None
    beneficiary.record(
        ev.QuotaReceived,
        transfer_id=transfer_id,
        donor=donor,
        donor_masked=donor_masked,
        relationship=relationship,
        amount_fen=amount_fen,
        remote=to_province is not None,
        to_province=to_province,
        rule_version=rule_version,
        timestamp=at,
    )
    if refused:
        release(beneficiary, transfer_id, amount_fen, reason="refused", final=True, at=at)
    return not refused


def receive_raise(beneficiary: Person, transfer_id: str, seq: int, amount_fen: int, at: datetime) -> None:
    """A raise that arrives after the tie ended goes straight back."""
    tie = received(beneficiary, transfer_id)
    beneficiary.record(ev.QuotaRaiseReceived, transfer_id=transfer_id, seq=seq, amount_fen=amount_fen, timestamp=at)
    if not tie["open"]:
        release(beneficiary, transfer_id, amount_fen, reason="refused", final=True, at=at)


def lowered_release(beneficiary: Person, transfer_id: str, quota_fen: int) -> int:
    """What lowering to `quota_fen` releases: never below what was drawn (QUOTA_BELOW_USED is
    the authorizer's answer where it knows; here the quota stops at the drawn amount)."""
    tie = received(beneficiary, transfer_id)
    if not tie["open"]:
        return 0
    return max(0, tie["quota_fen"] - max(quota_fen, tie["drawn_fen"]))


def check_lower(beneficiary: Person, transfer_id: str, quota_fen: int) -> None:
    tie = received(beneficiary, transfer_id)
    if quota_fen < tie["drawn_fen"]:
        raise QuotaBelowUsedError(
            f"quota: {quota_fen} fen is below the {tie['drawn_fen']} fen already drawn", field="quota"
        )


def release(beneficiary: Person, transfer_id: str, amount_fen: int, *, reason: str, final: bool, at: datetime) -> int:
    tie = received(beneficiary, transfer_id)
    seq = tie["releases"] + 1
    beneficiary.record(
        ev.QuotaReleased,
        transfer_id=transfer_id,
        donor=tie["donor"],
        seq=seq,
        amount_fen=amount_fen,
        reason=reason,
        final=final,
        remote=tie["remote"],
        to_province=tie["province"],
        timestamp=at,
    )
    return seq


def end_received(beneficiary: Person, transfer_id: str, *, reason: str, at: datetime) -> int | None:
    """End the tie on the beneficiary's side: release what was not drawn (None if already ended)."""
    tie = received(beneficiary, transfer_id)
    if not tie["open"]:
        return None
    return release(beneficiary, transfer_id, tie["quota_fen"] - tie["drawn_fen"], reason=reason, final=True, at=at)


def draw(beneficiary: Person, transfer_id: str, settlement_id: str, amount_fen: int, at: datetime) -> int:
    tie = received(beneficiary, transfer_id)
    if not tie["open"] or amount_fen > tie["quota_fen"] - tie["drawn_fen"]:
        raise LedgerInvariantError(f"draw of {amount_fen} fen exceeds quota {transfer_id}")
    seq = tie["draws"] + 1
    beneficiary.record(
        ev.QuotaDrawn,
        transfer_id=transfer_id,
        donor=tie["donor"],
        seq=seq,
        settlement_id=settlement_id,
        amount_fen=amount_fen,
        remote=tie["remote"],
        to_province=tie["province"],
        timestamp=at,
    )
    return seq


def undraw(
    beneficiary: Person, transfer_id: str, settlement_id: str, amount_fen: int, at: datetime
) -> tuple[int, bool]:
    tie = received(beneficiary, transfer_id)
    seq, after_end = tie["undraws"] + 1, not tie["open"]
    beneficiary.record(
        ev.QuotaUndrawn,
        transfer_id=transfer_id,
        donor=tie["donor"],
        seq=seq,
        settlement_id=settlement_id,
        amount_fen=amount_fen,
        after_end=after_end,
        remote=tie["remote"],
        to_province=tie["province"],
        timestamp=at,
    )
    return seq, after_end


# --- both halves in this ledger, and the ends of ties -------------------------------------
def end_local(donor: Person, beneficiary: Person, transfer_id: str, *, reason: str, at: datetime) -> None:
    tie = received(beneficiary, transfer_id)
    if not tie["open"]:
        return
    amount_fen = tie["quota_fen"] - tie["drawn_fen"]
    seq = release(beneficiary, transfer_id, amount_fen, reason=reason, final=True, at=at)
    take_back(donor, transfer_id, seq, amount_fen, reason, True, at)


def end_quotas(person: Person, others: dict[UUID, Person], *, reason: str, initiated_by: str, at: datetime) -> None:
    """Every open quota tie of `person` ends (a cancel, expiry or transfer), both directions."""
    for transfer_id, tie in sorted(person.quotas_given.items()):
        if tie["open"] and not tie["ending"]:
            end_given(
                person, others.get(tie["beneficiary"]), transfer_id, reason=reason, initiated_by=initiated_by, at=at
            )
    for transfer_id, tie in sorted(person.quotas_received.items()):
        if tie["open"]:
            if tie["remote"]:
                end_received(person, transfer_id, reason=reason, at=at)
            else:
                end_local(others[tie["donor"]], person, transfer_id, reason=reason, at=at)


def end_given(
    donor: Person, beneficiary: Person | None, transfer_id: str, *, reason: str, initiated_by: str, at: datetime
) -> None:
    """End a tie from the authorizer's side: at once when the beneficiary is here, else by request."""
    if given(donor, transfer_id)["remote"]:
        request_end(donor, transfer_id, reason=reason, initiated_by=initiated_by, at=at)
    elif beneficiary is None:
        raise LedgerInvariantError(f"beneficiary of {transfer_id} not loaded")
    else:
        end_local(donor, beneficiary, transfer_id, reason=reason, at=at)


def local_counterparts(person: Person) -> set[UUID]:
    """The people of `person`'s open quota ties that live in this ledger (loaded to end them)."""
    ids = {t["beneficiary"] for t in person.quotas_given.values() if t["open"] and not t["remote"]}
    return ids | {t["donor"] for t in person.quotas_received.values() if t["open"] and not t["remote"]}
