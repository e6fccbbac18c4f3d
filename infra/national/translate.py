"""A 2207 settlement as the ledger's `deduct`, a 2208 reversal as its `reverse`: the JSON objects an
`apply` line would carry (docs/commands.md), to be parsed and decided like any other line.

A 2207 becomes a `deduct` with `settlement_id` and `command_id` both `setl_id`, `institution`
`fixmedins_code`, `at` the `setl_time` (UTC+8, written with +08:00), the patient's ID number from
`certno` (`psn_cert_type` 01) or else `mdtrt_cert_no` (`mdtrt_cert_type` 02), `amount` the
`psn_part_amt` (what the accounts may pay), `category` from `med_type` under the rule set's
`national` settings, and `platform` its platform record. When `acct_used_flag` is 0, or
`psn_part_amt` is 0.00, the accounts pay nothing and there is no deduction (an amount of 0 is not
a deduction): the record is kept by a `record-settlement` (`record_command`) and compared with a
decision of nothing paid. A `record-settlement` also keeps the record of a deduction the ledger
recorded before without one (sent as its own `deduct`).

A 2208 becomes a `reverse` of its `setl_id`, at the envelope's `inf_time` (2208 carries no time
of its own), with `command_id` `setl_id:2208`: a `setl_id` holds no colon, so it can never be the
command id of the settlement's own deduction.

The commands carry the patient's plain ID number, as an `apply` line does: they are for the
ledger's parser, never for a log, a message or a store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from domain.errors import InvalidInputError, SettlementConflictError
from domain.ids import parse_id_number
from domain.money import AMOUNT_FEN_MAX, format_fen
from domain.rules.model import NationalRules
from infra.national.platform_record import SOURCES, PlatformRecord, platform_record
from infra.national.records import Reversal2208, Settlement2207

REVERSAL_COMMAND_SUFFIX = ":2208"
# The command id of a record kept with a deduction sent before without one (`record-settlement`):
# never the id of the deduction itself nor of its reversal.
RECORD_COMMAND_SUFFIX = ":2207"
REVERSAL_REASON = "national platform 2208"


@dataclass(frozen=True)
class SettlementTranslation:
    settlement_id: str
    platform: PlatformRecord
    no_deduction: str | None  # why the accounts pay nothing, when they don't
    patient: str = field(repr=False)  # the plain ID number: memory only
    command: dict[str, Any] | None = field(repr=False)  # None when there is no deduction


def translate_settlement(record: Settlement2207, rules: NationalRules) -> SettlementTranslation:
    """The record's deduction (or none) and platform record, or INVALID_INPUT /
    INVALID_ID_NUMBER naming the field that makes it untranslatable."""
    _check_consistent(record)
    patient = patient_of(record)
    setlinfo = record.output.setlinfo
    if setlinfo.psn_part_amt > AMOUNT_FEN_MAX:
        field_name = "output.setlinfo.psn_part_amt"
        raise InvalidInputError(f"{field_name}: at most {format_fen(AMOUNT_FEN_MAX)} yuan", field=field_name)
    reason = why_no_deduction(record)
    kept = platform_record(record)
    command = None
    if reason is None:
        command = {
            "type": "deduct",
            "command_id": setlinfo.setl_id,
            "settlement_id": setlinfo.setl_id,
            "patient": patient,
            "amount": format_fen(setlinfo.psn_part_amt),
            "category": rules.category_of(record.input.data.med_type),
            "institution": record.fixmedins_code,
            "at": setlinfo.setl_time.isoformat(),
            "platform": kept.model_dump(mode="json"),
        }
    return SettlementTranslation(setlinfo.setl_id, kept, reason, patient, command)


def record_command(record: Settlement2207, translation: SettlementTranslation, *, attach: bool) -> dict[str, Any]:
    """The `record-settlement` that keeps the record: with a deduction already recorded
    (`attach`), or as a settlement the accounts did not pay (no deduction)."""
    setl_id = translation.settlement_id
    return {
        "type": "record-settlement",
        "command_id": setl_id + RECORD_COMMAND_SUFFIX if attach else setl_id,
        "settlement_id": setl_id,
        "patient": translation.patient,
        "institution": record.fixmedins_code,
        "platform": translation.platform.model_dump(mode="json"),
        "at": record.output.setlinfo.setl_time.isoformat(),
    }


def record_fields(record: Settlement2207 | Reversal2208) -> dict[str, str]:
    """Where each field of the ledger's command comes from in the record: an answer names the
    record's field, the one its sender can mend."""
    if isinstance(record, Reversal2208):
        return {"settlement_id": "input.data.setl_id", "command_id": "input.data.setl_id", "at": "inf_time"}
    patient = "output.setlinfo.certno" if record.output.setlinfo.psn_cert_type == "01" else "input.data.mdtrt_cert_no"
    return {
        "settlement_id": "output.setlinfo.setl_id",
        "command_id": "output.setlinfo.setl_id",
        "patient": patient,
        "amount": "output.setlinfo.psn_part_amt",
        "category": "input.data.med_type",
        "institution": "fixmedins_code",
        "at": "output.setlinfo.setl_time",
        **{f"platform.{name}": where for name, where in SOURCES.items()},
    }


def in_record_terms(error: dict[str, Any], fields: dict[str, str]) -> dict[str, Any]:
    """An answer's error with its field (and the message's leading field) named as in the record."""
    field_name = error.get("field")
    where = fields.get(field_name) if isinstance(field_name, str) else None
    if where is None:
        return error
    message = error.get("message", "")
    if message.startswith(f"{field_name}: "):
        message = f"{where}: {message.removeprefix(f'{field_name}: ')}"
    return {**error, "field": where, "message": message}


def why_no_deduction(record: Settlement2207) -> str | None:
    if record.input.data.acct_used_flag == "0":
        return "acct_used_flag is 0: the personal accounts may not pay"
    if record.output.setlinfo.psn_part_amt == 0:
        return "psn_part_amt is 0.00: nothing is left for the personal accounts to pay"
    return None


def patient_of(record: Settlement2207) -> str:
    """The patient's ID number: `certno` when `psn_cert_type` is 01, else `mdtrt_cert_no` when
    `mdtrt_cert_type` is 02 (an ID card); when both are given they must be the same person."""
    setlinfo, data = record.output.setlinfo, record.input.data
    card = data.mdtrt_cert_no.get_secret_value() if data.mdtrt_cert_type == "02" else None
    card_number = parse_id_number(card, "input.data.mdtrt_cert_no")[0] if card is not None else None
    if setlinfo.psn_cert_type == "01":
        number = parse_id_number(setlinfo.certno.get_secret_value(), "output.setlinfo.certno")[0]
        if card_number is not None and card_number != number:
            where = "input.data.mdtrt_cert_no"
            raise InvalidInputError(f"{where}: names another person than output.setlinfo.certno", field=where)
        return number
    if card_number is not None:
        return card_number
    where = "output.setlinfo.psn_cert_type"
    raise InvalidInputError(
        f"{where}: no resident ID number in the record (psn_cert_type is not 01 and mdtrt_cert_type is not 02)",
        field=where,
    )


def _check_consistent(record: Settlement2207) -> None:
    """The request and the platform's answer must describe one settlement."""
    data, setlinfo = record.input.data, record.output.setlinfo
    for name in ("psn_no", "mdtrt_id", "insutype", "medfee_sumamt"):
        if getattr(data, name) != getattr(setlinfo, name):
            where = f"output.setlinfo.{name}"
            raise InvalidInputError(f"{where}: differs from input.data.{name}", field=where)


def translate_reversal(record: Reversal2208) -> dict[str, Any]:
    if record.inf_time is None:
        raise InvalidInputError("inf_time: required for a 2208 (the reversal takes effect then)", field="inf_time")
    setl_id = record.input.data.setl_id
    return {
        "type": "reverse",
        "command_id": setl_id + REVERSAL_COMMAND_SUFFIX,
        "settlement_id": setl_id,
        "reason": REVERSAL_REASON,
        "at": record.inf_time.isoformat(),
    }


def check_reversal(record: Reversal2208, stored: PlatformRecord, institution: str) -> None:
    """A 2208 must name the settlement as it was imported: the same institution, visit and
    person; otherwise SETTLEMENT_CONFLICT naming the field (checked before the reversal)."""
    data = record.input.data
    for where, given, kept in (
        ("fixmedins_code", record.fixmedins_code, institution),
        ("input.data.mdtrt_id", data.mdtrt_id, stored.mdtrt_id),
        ("input.data.psn_no", data.psn_no, stored.psn_no),
    ):
        if given != kept:
            raise SettlementConflictError(f"{where}: differs from the settlement's imported record", field=where)
