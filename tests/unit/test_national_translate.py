"""A 2207 as the ledger's `deduct`, a 2208 as its `reverse`, and the platform record kept beside.

Goal: the translated commands are exactly what the issue maps (and pass the ledger's own strict
command parser), every untranslatable record is refused naming the field, and the platform
record holds no plain ID number."""

from __future__ import annotations

import json

import pytest

from domain.errors import InvalidInputError, SettlementConflictError
from domain.masking import mask
from domain.platform_record import PlatformRecord, first_difference
from domain.rules.model import NationalRules
from infra.commands.deductions import Deduct, Reverse
from infra.national.platform_record import masked_certno, platform_record
from infra.national.translate import (
    check_reversal,
    in_record_terms,
    record_fields,
    translate_reversal,
    translate_settlement,
)
from tests.support import id_number, parse_command
from tests.support.national import (
    INSTITUTION,
    PATIENT,
    data_2207,
    line_2207,
    line_2208,
    reversal,
    setlinfo,
    settlement,
)

RULES = NationalRules()


def translated(body: dict | None = None, rules: NationalRules = RULES):
    return translate_settlement(settlement(body), rules)


def refused(body: dict) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as caught:
        translated(body)
    return caught.value


def test_a_2207_becomes_a_deduct_of_psn_part_amt_at_the_settlement_time():
    translation = translated()
    assert translation.command == {
        "type": "deduct",
        "command_id": "42010000000410043005",
        "settlement_id": "42010000000410043005",
        "patient": PATIENT,
        "amount": "120.00",
        "category": "hospital_self_pay",
        "institution": INSTITUTION,
        "at": "2025-04-10T09:30:00+08:00",
        "platform": translation.platform.model_dump(mode="json"),
    }
    assert translation.no_deduction is None
    assert PATIENT not in repr(translation)


def test_the_deduct_passes_the_ledgers_own_command_parser():
    command = parse_command(json.dumps(translated().command))
    assert isinstance(command, Deduct) and command.settlement_id == "42010000000410043005"


@pytest.mark.parametrize(
    ("med_type", "category"), [("41", "pharmacy"), ("11", "hospital_self_pay"), ("21", "hospital_self_pay")]
)
def test_the_category_comes_from_med_type(med_type, category):
    command = translated(line_2207(data_2207(med_type=med_type))).command
    assert command is not None and command["category"] == category


def test_a_rule_set_may_map_other_med_types():
    rules = NationalRules(category_by_med_type={"41": "pharmacy", "14": "pharmacy"})
    command = translated(line_2207(data_2207(med_type="14")), rules).command
    assert command is not None and command["category"] == "pharmacy"


def test_the_patient_comes_from_certno_when_it_is_a_resident_id_card():
    body = line_2207(data_2207(mdtrt_cert_type="01", mdtrt_cert_no="e-voucher-token-123"))
    assert translated(body).patient == PATIENT


def test_the_patient_comes_from_the_id_card_when_certno_is_another_document():
    body = line_2207(info=setlinfo(psn_cert_type="90", certno="SSC0001234567"))
    translation = translated(body)
    assert translation.patient == PATIENT and translation.platform.certno_masked == "*" * 13


def test_rejects_a_record_with_no_resident_id_number_naming_psn_cert_type():
    body = line_2207(data_2207(mdtrt_cert_type="03", mdtrt_cert_no="SSC1"), setlinfo(psn_cert_type="08", certno="E1"))
    error = refused(body)
    assert (error.code, error.field) == ("INVALID_INPUT", "output.setlinfo.psn_cert_type")


def test_rejects_an_invalid_certno_naming_it_without_echoing_it():
    wrong = PATIENT[:17] + ("0" if PATIENT[17] != "0" else "1")
    error = refused(line_2207(data_2207(mdtrt_cert_type="01", mdtrt_cert_no="token"), setlinfo(certno=wrong)))
    assert (error.code, error.field) == ("INVALID_ID_NUMBER", "output.setlinfo.certno")
    assert wrong not in json.dumps(error.to_dict())


def test_rejects_an_invalid_id_card_number_naming_mdtrt_cert_no():
    body = line_2207(data_2207(mdtrt_cert_no="110105"), setlinfo(psn_cert_type="99", certno="X1"))
    assert refused(body).field == "input.data.mdtrt_cert_no"


def test_rejects_an_id_card_of_another_person_than_certno():
    body = line_2207(data_2207(mdtrt_cert_no=id_number("420102", "19520301", 45)))
    assert refused(body).field == "input.data.mdtrt_cert_no"


@pytest.mark.parametrize(
    ("name", "value"), [("psn_no", "other"), ("mdtrt_id", "other"), ("insutype", "390"), ("medfee_sumamt", "1.00")]
)
def test_rejects_a_request_and_an_answer_about_different_settlements(name, value):
    assert refused(line_2207(data_2207(**{name: value}))).field == f"output.setlinfo.{name}"


def test_rejects_a_psn_part_amt_beyond_any_deduction_naming_it():
    body = line_2207(info=setlinfo(psn_part_amt="10000000.01"))
    assert refused(body).field == "output.setlinfo.psn_part_amt"


def test_with_acct_used_flag_0_the_accounts_pay_nothing_and_there_is_no_deduction():
    translation = translated(line_2207(data_2207(acct_used_flag="0")))
    assert translation.command is None
    assert translation.no_deduction is not None and "acct_used_flag" in translation.no_deduction
    assert translation.platform.acct_used_flag == "0" and translation.platform.psn_part_amt_fen == 12000


def test_with_nothing_left_to_pay_there_is_no_deduction():
    body = line_2207(info=setlinfo(psn_part_amt="0.00", fund_pay_sumamt="300.00", acct_pay="0", acct_mulaid_pay="0"))
    translation = translated(body)
    assert translation.command is None and "psn_part_amt" in (translation.no_deduction or "")


def test_a_2208_becomes_a_reverse_at_the_request_time_with_its_own_command_id():
    command = translate_reversal(reversal())
    assert command == {
        "type": "reverse",
        "command_id": "42010000000410043005:2208",
        "settlement_id": "42010000000410043005",
        "reason": "national platform 2208",
        "at": "2025-04-12T15:00:00+08:00",
    }
    assert isinstance(parse_command(json.dumps(command)), Reverse)


def test_rejects_a_2208_without_a_request_time_naming_inf_time():
    with pytest.raises(InvalidInputError) as caught:
        translate_reversal(reversal(line_2208(inf_time=None)))
    assert caught.value.field == "inf_time"


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"fixmedins_code": "H999"}, "fixmedins_code"),
        ({"mdtrt_id": "M2"}, "input.data.mdtrt_id"),
        ({"psn_no": "P2"}, "input.data.psn_no"),
    ],
)
def test_a_2208_must_name_the_settlement_as_it_was_imported(over, field):
    body = line_2208()
    if "fixmedins_code" in over:
        body["fixmedins_code"] = over["fixmedins_code"]
    else:
        body["input"]["data"].update(over)
    stored = translated().platform
    check_reversal(reversal(line_2208()), stored, INSTITUTION)
    with pytest.raises(SettlementConflictError) as caught:
        check_reversal(reversal(body), stored, INSTITUTION)
    assert caught.value.field == field


# --- the platform record ---------------------------------------------------------------------
def test_the_platform_record_keeps_what_the_ledger_does_not_decide():
    record = platform_record(settlement(line_2207(data_2207(preselfpay_amt="3.20"))))
    assert record.model_dump() == {
        "mdtrt_id": "420000088057",
        "psn_no": "42000000000001112535",
        "psn_cert_type": "01",
        "certno_masked": mask(PATIENT),
        "mdtrt_cert_type": "02",
        "insutype": "310",
        "med_type": "11",
        "psn_setlway": "01",
        "chrg_bchno": "CB20250410093000",
        "acct_used_flag": "1",
        "medfee_sumamt_fen": 30000,
        "fund_pay_sumamt_fen": 18000,
        "psn_part_amt_fen": 12000,
        "fulamt_ownpay_amt_fen": None,
        "overlmt_selfpay_fen": None,
        "preselfpay_amt_fen": 320,
        "inscp_scp_amt_fen": None,
        "medins_setl_id": "H42010200017202504100930000001",
        "clr_optins": "420100",
        "clr_way": "1",
        "clr_type": "11",
    }


def test_the_platform_record_holds_no_plain_id_number_and_reads_back_strictly():
    stored = platform_record(settlement()).model_dump_json()
    assert PATIENT not in stored
    assert PlatformRecord.model_validate_json(stored) == platform_record(settlement())


def test_masked_certno_hides_other_documents_and_invalid_numbers_entirely():
    assert masked_certno("01", PATIENT) == mask(PATIENT)
    assert masked_certno("01", PATIENT[:17] + "Z") == "*" * 18
    assert masked_certno("08", "E12345678") == "*" * 9


def test_a_record_of_other_content_differs_first_in_the_field_an_answer_names_as_the_record_does():
    record = settlement(line_2207(data_2207(medfee_sumamt="301.00"), setlinfo(medfee_sumamt="301.00", clr_type="41")))
    first = platform_record(settlement())
    assert first_difference(first, platform_record(settlement())) is None
    assert first_difference(first, platform_record(record)) == "medfee_sumamt_fen"
    error = {
        "code": "SETTLEMENT_CONFLICT",
        "message": "platform.medfee_sumamt_fen: other",
        "field": "platform.medfee_sumamt_fen",
    }
    assert in_record_terms(error, record_fields(record)) == {
        "code": "SETTLEMENT_CONFLICT",
        "message": "output.setlinfo.medfee_sumamt: other",
        "field": "output.setlinfo.medfee_sumamt",
    }
    assert in_record_terms(error | {"field": "line"}, record_fields(record))["field"] == "line"
    assert record_fields(reversal())["settlement_id"] == "input.data.setl_id"
