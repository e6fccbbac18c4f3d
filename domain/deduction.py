"""Deductions and their reversals, across the patient and every account that pays."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from json.encoder import encode_basestring_ascii as _quoted  # how json.dumps quotes a string
from typing import cast
from uuid import UUID

from domain import events as ev
from domain import quota
from domain.errors import (
    AlreadyReversedError,
    CategoryNotEligibleError,
    InvalidInputError,
    LedgerInvariantError,
    PresenterNotBoundError,
    SettlementConflictError,
    UnknownSettlementError,
)
from domain.person import Person
from domain.platform_record import PlatformRecord, first_difference
from domain.rules.model import RuleSet
from domain.settlement import Settlement
from domain.spending import Account, Allocation, allocate


@dataclass(frozen=True)
class DeductRequest:
    settlement_id: str
    amount_fen: int
    category: str
    institution: str
    presented_by: UUID | None
    at: datetime
    platform: PlatformRecord | None = None  # the national platform's record of it, when it came with one


def fingerprint(patient: UUID, request: DeductRequest) -> str:
    """What makes a resubmission 'the same settlement': everything but its timestamp. The SHA-256
    of `json.dumps(content, sort_keys=True)` of its fields (the form every stored fingerprint
    has), written out in that form directly: keys in sorted order, strings quoted by the json
    module's own function (tests/unit/test_settlement_fingerprint.py checks it against json.dumps)."""
    presented_by = _quoted(str(request.presented_by)) if request.presented_by else "null"
    text = (
        f'{{"amount_fen": {int(request.amount_fen)!r}, "category": {_quoted(request.category)}, '
        f'"institution": {_quoted(request.institution)}, "patient": {_quoted(str(patient))}, '
        f'"presented_by": {presented_by}, "settlement_id": {_quoted(request.settlement_id)}}}'
    )
    return hashlib.sha256(text.encode()).hexdigest()


def accounts_for(patient: Person, authorizers: dict[UUID, Person]) -> tuple[Account, list[Account]]:
    """The accounts a settlement may draw on, as the patient's state says they stand now."""
    own = Account(patient.id, patient.masked, patient.spendable_fen, is_patient=True)
    others = [
        Account(
            person.id,
            person.masked,
            person.spendable_fen,
            is_patient=False,
            authorized_at=patient.authorizers[person.id]["since"],
            active=person.is_active,
        )
        for person in (authorizers[i] for i in sorted(patient.authorizers))
    ]
    others += [  # cross-province quotas: drawn on like a balance, whatever ledger the authorizer is in
        Account(tie["donor"], tie["masked"], tie["quota_fen"] - tie["drawn_fen"], is_patient=False,
                authorized_at=tie["since"], transfer_id=transfer_id)
        for transfer_id, tie in sorted(patient.quotas_received.items()) if tie["open"]
    ]  # fmt: skip
    return own, others


def check_deduct(patient: Person, presenter: Person | None, request: DeductRequest, rules: RuleSet) -> None:
    """Refusals in precedence order: INVALID_INPUT (a platform record that is not this deduction's),
    PERSON_NOT_ACTIVE, PRESENTER_NOT_BOUND, CATEGORY_NOT_ELIGIBLE."""
    if request.platform is not None:
        check_platform_record(request.platform, patient, request.amount_fen)
    patient.require_active("patient")
    if presenter is not None and presenter.id != patient.id and patient.id not in presenter.members:
        raise PresenterNotBoundError(
            f"{presenter.masked} has no active binding to present {patient.masked}'s e-voucher"
        )
    if request.category not in rules.spending.eligible_categories:
        raise CategoryNotEligibleError(
            f"category {request.category!r} may not be paid from personal accounts under {rules.version}",
            rule="spending.eligible_categories",
            rule_version=rules.version,
        )


def deduct(
    patient: Person,
    presenter: Person | None,
    authorizers: dict[UUID, Person],
    request: DeductRequest,
    rules: RuleSet,
) -> tuple[Allocation, Settlement, list[Person]]:
    """Decide and record a deduction: on the patient, on every authorizer that pays, and as a
    new settlement-index aggregate. Returns the allocation, the settlement and the payers."""
    check_deduct(patient, presenter, request, rules)
    own, others = accounts_for(patient, authorizers)
    allocation = allocate(request.amount_fen, own, others, rules.spending)
    transfers = {a.person: a.transfer_id for a in others if a.transfer_id is not None}
    lines = tuple(
        ev.PaymentLine(person=p, masked=m, amount_fen=a, transfer_id=transfers.get(p)) for p, m, a in allocation.lines
    )
    patient.record(
        ev.DeductionSettled,
        settlement_id=request.settlement_id,
        amount_fen=request.amount_fen,
        category=request.category,
        institution=request.institution,
        presented_by=request.presented_by,
        lines=lines,
        out_of_pocket_fen=allocation.out_of_pocket_fen,
        fingerprint=fingerprint(patient.id, request),
        rule_version=rules.version,
        rule_digest=rules.digest,
        timestamp=request.at,
    )
    settled = cast(ev.DeductionSettled, patient.pending_events[-1])
    settlement = Settlement.open(
        settled, patient.masked, balance_after_fen=patient.balance_fen, platform=request.platform
    )
    payers = []
    for line in lines:
        if line.transfer_id is not None:
            payers += _draw(patient, authorizers, line, request)
        elif line.person != patient.id:
            payer = authorizers[line.person]
            payer.record(
                ev.AidDebited,
                settlement_id=request.settlement_id,
                patient=patient.id,
                patient_masked=patient.masked,
                amount_fen=line.amount_fen,
                rule_version=rules.version,
                rule_digest=rules.digest,
                timestamp=request.at,
            )
            payers.append(payer)
    return allocation, settlement, payers


def _draw(patient: Person, donors: dict[UUID, Person], line: ev.PaymentLine, request: DeductRequest) -> list[Person]:
    """A line paid from a quota: drawn here; settled on the authorizer at once when the
    authorizer is in this ledger (else the relay delivers the settlement)."""
    transfer_id = line.transfer_id or ""
    seq = quota.draw(patient, transfer_id, request.settlement_id, line.amount_fen, request.at)
    if patient.quotas_received[transfer_id]["remote"]:
        return []
    donor = donors[line.person]
    quota.settle(donor, transfer_id, seq, request.settlement_id, patient.id, line.amount_fen, request.at)
    return [donor]


def _undraw(settlement: Settlement, patient: Person, donors: dict[UUID, Person], line: ev.PaymentLine,
            at: datetime) -> None:  # fmt: skip
    transfer_id = line.transfer_id or ""
    seq, after_end = quota.undraw(patient, transfer_id, settlement.settlement_id, line.amount_fen, at)
    if not patient.quotas_received[transfer_id]["remote"]:
        quota.undo_draw(donors[line.person], transfer_id, seq, settlement.settlement_id, line.amount_fen,
                        after_end, at)  # fmt: skip


def reverse(settlement: Settlement, patient: Person, payers: dict[UUID, Person], *, reason: str, at: datetime) -> None:
    """Refund exactly the accounts that paid, as new events; history is not edited."""
    _not_reversed(settlement)
    if patient.id != settlement.patient:
        raise LedgerInvariantError(f"settlement {settlement.settlement_id} is not {patient.masked}'s")
    patient.record(
        ev.DeductionReversed,
        settlement_id=settlement.settlement_id,
        lines=settlement.lines,
        reason=reason,
        timestamp=at,
    )
    for line in settlement.lines:
        if line.transfer_id is not None:
            _undraw(settlement, patient, payers, line, at)
        elif line.person != patient.id:
            payers[line.person].record(
                ev.AidRefunded,
                settlement_id=settlement.settlement_id,
                patient=patient.id,
                amount_fen=line.amount_fen,
                reason=reason,
                timestamp=at,
            )
    settlement.mark_reversed(reason=reason, at=at)


def _not_reversed(settlement: Settlement) -> None:
    if settlement.reversed:
        raise AlreadyReversedError(f"settlement {settlement.settlement_id} was already reversed")


# --- the national platform's records of settlements (docs/national.md) ------------------------
def check_platform_record(platform: PlatformRecord, patient: Person, amount_fen: int) -> None:
    """A deduction's platform record must be the record of this deduction: the accounts may pay,
    what they may pay is the amount, and a resident ID in it is the patient's."""
    if platform.acct_used_flag != "1":
        raise InvalidInputError(
            "platform.acct_used_flag: 0 says the accounts may not pay", field="platform.acct_used_flag"
        )
    if platform.psn_part_amt_fen != amount_fen:
        raise InvalidInputError("platform.psn_part_amt_fen: differs from amount", field="platform.psn_part_amt_fen")
    if platform.psn_cert_type == "01" and platform.certno_masked != patient.masked:
        raise InvalidInputError("platform.certno_masked: not the patient's", field="platform.certno_masked")


def record_fingerprint(patient: UUID, settlement_id: str, institution: str, platform: PlatformRecord) -> str:
    """What makes a resubmitted record 'the same': never equal to a deduction's fingerprint."""
    content = {
        "settlement_id": settlement_id,
        "patient": str(patient),
        "institution": institution,
        "platform": platform.model_dump(mode="json"),
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def record_settlement(
    patient: Person, settlement_id: str, institution: str, platform: PlatformRecord, at: datetime, rules: RuleSet
) -> Settlement:
    """Open a settlement the accounts did not pay, with its platform record (UNKNOWN_SETTLEMENT
    when the record says they may pay: such a record is kept with its `deduct`)."""
    if platform.accounts_may_pay:
        raise UnknownSettlementError(
            f"settlement_id: no deduction {settlement_id} to keep this record with, and the record says "
            "the accounts may pay: send it as a deduct",
            field="settlement_id",
        )
    if platform.psn_cert_type == "01" and platform.certno_masked != patient.masked:
        raise InvalidInputError("platform.certno_masked: not the patient's", field="platform.certno_masked")
    return Settlement.record(
        settlement_id=settlement_id,
        patient=patient.id,
        patient_masked=patient.masked,
        fingerprint=record_fingerprint(patient.id, settlement_id, institution, platform),
        institution=institution,
        platform=platform,
        balance_fen=patient.balance_fen,
        rule_version=rules.version,
        rule_digest=rules.digest,
        timestamp=at,
    )


def holds_record(
    settlement: Settlement, *, settled_by: str | None, patient: UUID, institution: str, platform: PlatformRecord
) -> bool:
    """Whether the settlement already holds this record (True: a duplicate) or none (False: it
    may be attached). SETTLEMENT_CONFLICT, naming the field, when the record is of another
    settlement: in precedence order, the institution, the patient, what the accounts paid, and
    the first field of a record already held that differs."""
    if settled_by is not None and settled_by != institution:
        raise SettlementConflictError(
            "institution: the settlement was settled by another institution", field="institution"
        )
    if settlement.patient != patient:
        raise SettlementConflictError("patient: the settlement is another person's", field="patient")
    if settlement.deducted and not platform.accounts_may_pay:
        where = "platform.acct_used_flag" if platform.acct_used_flag == "0" else "platform.psn_part_amt_fen"
        raise SettlementConflictError(
            f"{where}: the record says the accounts did not pay; the ledger deducted", field=where
        )
    if settlement.deducted and settlement.amount_fen != platform.psn_part_amt_fen:
        where = "platform.psn_part_amt_fen"
        raise SettlementConflictError(f"{where}: differs from the amount the ledger deducted", field=where)
    if settlement.platform is None:
        return False
    differing = first_difference(settlement.platform, platform)
    if differing is not None:
        where = f"platform.{differing}"
        raise SettlementConflictError(f"{where}: the settlement holds a record with another value", field=where)
    return True


def reverse_record(settlement: Settlement, *, reason: str, at: datetime) -> None:
    """Reverse a settlement the accounts did not pay: nothing to refund, the settlement marked."""
    if settlement.deducted:
        raise LedgerInvariantError(f"settlement {settlement.settlement_id} is a deduction: refund its lines")
    _not_reversed(settlement)
    settlement.mark_reversed(reason=reason, at=at)
