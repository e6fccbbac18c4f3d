"""`ledger import national` through the core (`Ledger.national`, in memory): a 2207 or 2208 line
in, the ledger's answer with its discrepancies out.

Goal: a Wuhan family's outpatient settlement, paid 70.00 from the patient's own account and 50.00
by her father through mutual aid, agrees with a platform record that says so; a record that
claims otherwise is reported field by field while the ledger's split stands; a re-import is a
duplicate and writes nothing; a setl_id reused with other content is refused naming the field;
a record the accounts did not pay is kept and compared with "nothing paid"; a 2208 reverses it;
a record of a deduction sent before without one is kept with it. Method: each answer checked,
and the balances after it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from domain.masking import mask
from domain.settlement import settlement_aggregate_id
from infra.core.bootstrap import ledger_of
from infra.core.ledger import Ledger as Core
from tests.support import Ledger, id_number
from tests.support.national import (
    INSTITUTION,
    PATIENT,
    RELATIVE,
    data_2207,
    line_2207,
    line_2208,
    setlinfo,
    wuhan_family,
)

SETL_ID = "42010000000410043005"


@pytest.fixture
def family(ledger: Ledger) -> Ledger:
    return wuhan_family(ledger)


@pytest.fixture
def core(family: Ledger) -> Core:
    return ledger_of(family.app)


def imported(core: Core, *bodies: dict[str, Any]) -> list[dict]:
    return list(core.national.import_lines(json.dumps(body) for body in bodies))


def events_of_settlement(family: Ledger) -> list[str]:
    return [n.topic.rsplit(":", 1)[1] for n in family.app.recorder.events_of(settlement_aggregate_id(SETL_ID))]


def test_an_agreeing_settlement_is_imported_with_no_discrepancies(family, core):
    (answer,) = imported(core, line_2207())
    assert answer["ok"] and answer["line"] == 1 and answer["command"] == "deduct", answer
    assert answer["settlement_id"] == SETL_ID and answer["command_id"] == SETL_ID
    assert answer["lines"] == [
        {"person": mask(PATIENT), "amount_fen": 7000},
        {"person": mask(RELATIVE), "amount_fen": 5000},
    ]
    assert answer["discrepancies"] == []
    assert PATIENT not in json.dumps(answer)


def test_a_record_that_claims_another_split_is_reported_and_the_ledgers_split_stands(family, core):
    claims = setlinfo(acct_mulaid_pay="40.00", psn_cash_pay="10.00", balc="5.00")
    (answer,) = imported(core, line_2207(info=claims))
    assert answer["ok"] and answer["discrepancies"] == [
        {"field": "acct_mulaid_pay", "ledger": "50.00", "platform": "40.00"},
        {"field": "psn_cash_pay", "ledger": "0.00", "platform": "10.00"},
        {"field": "balc", "ledger": "0.00", "platform": "5.00"},
    ]
    assert (family.balance(PATIENT), family.balance(RELATIVE)) == (0, 45000)  # as the ledger decided


def test_a_reimport_is_a_duplicate_that_writes_nothing(family, core):
    imported(core, line_2207())
    before = family.app.recorder.max_notification_id()
    (again,) = imported(core, line_2207())
    assert again["ok"] and again["duplicate"] is True and again["discrepancies"] == []
    assert family.app.recorder.max_notification_id() == before
    assert (family.balance(PATIENT), family.balance(RELATIVE)) == (0, 45000)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (line_2207(info=setlinfo(medfee_sumamt="301.00"), data=data_2207(medfee_sumamt="301.00")),
         "output.setlinfo.medfee_sumamt"),
        (line_2207(info=setlinfo(clr_type="41")), "output.setlinfo.clr_type"),
        (line_2207(info=setlinfo(psn_part_amt="110.00")), "output.setlinfo.psn_part_amt"),
        (line_2207(fixmedins_code="H42010200099"), "fixmedins_code"),
        (line_2207(data=data_2207(acct_used_flag="0")), "input.data.acct_used_flag"),
    ],
)  # fmt: skip
def test_a_setl_id_reused_with_other_content_is_refused_naming_the_field(family, core, body, field):
    imported(core, line_2207())
    (answer,) = imported(core, body)
    assert answer["ok"] is False and answer["error"]["code"] == "SETTLEMENT_CONFLICT", answer
    assert answer["error"]["field"] == field and answer["error"]["message"].startswith(field + ": ")
    assert (family.balance(PATIENT), family.balance(RELATIVE)) == (0, 45000)


def test_a_record_the_accounts_did_not_pay_is_kept_and_reversed(family, core):
    body = line_2207(data_2207(acct_used_flag="0"), setlinfo(acct_pay="0.00", acct_mulaid_pay="0.00", balc="70.00",
                                                             psn_cash_pay="120.00"))  # fmt: skip
    kept, again, reversal, twice = imported(core, body, body, line_2208(), line_2208())
    assert kept["ok"] and kept["command"] == "record-settlement" and kept["deducted"] is False, kept
    assert kept["amount_fen"] == 0 and kept["discrepancies"] == []
    assert again["duplicate"] is True
    assert reversal["ok"] and reversal["command"] == "reverse" and reversal["refunded_fen"] == 0, reversal
    assert twice["duplicate"] is True  # the same 2208 again: its command id setl_id:2208
    assert (family.balance(PATIENT), family.balance(RELATIVE)) == (7000, 50000)
    assert events_of_settlement(family) == ["SettlementRecorded", "SettlementReversed"]


def test_a_record_of_nothing_paid_that_claims_an_account_paid_is_reported(family, core):
    body = line_2207(data_2207(acct_used_flag="0"))  # the record still says 70.00 + 50.00
    (answer,) = imported(core, body)
    assert answer["ok"] and [d["field"] for d in answer["discrepancies"]] == [
        "acct_pay",
        "acct_mulaid_pay",
        "psn_cash_pay",
        "balc",
    ]


def test_a_2208_reverses_the_imported_settlement_and_must_name_its_visit(family, core):
    imported(core, line_2207())
    (wrong,) = imported(
        core, line_2208(input={"data": {"setl_id": SETL_ID, "mdtrt_id": "X1", "psn_no": "42000000000001112535"}})
    )
    assert wrong["error"]["code"] == "SETTLEMENT_CONFLICT" and wrong["error"]["field"] == "input.data.mdtrt_id"
    (answer,) = imported(core, line_2208())
    assert answer["ok"] and answer["refunded_fen"] == 12000 and answer["command_id"] == f"{SETL_ID}:2208"
    assert (family.balance(PATIENT), family.balance(RELATIVE)) == (7000, 50000)


def test_a_2208_of_an_unknown_settlement_is_refused_naming_its_setl_id(family, core):
    (answer,) = imported(core, line_2208())
    assert answer["error"]["code"] == "UNKNOWN_SETTLEMENT" and answer["error"]["field"] == "input.data.setl_id"


def test_the_record_of_a_deduction_sent_before_without_one_is_kept_with_it(family, core):
    family.ok("bind", binder=RELATIVE, member=PATIENT, relationship="child", channel="alipay", verification="face",
              at="2025-02-01T10:00:00+08:00")  # fmt: skip  # the father shows her e-voucher: the 2207 does not say so
    family.ok("deduct", settlement_id=SETL_ID, patient=PATIENT, amount="120.00", category="hospital_self_pay",
              institution=INSTITUTION, presented_by=RELATIVE, at="2025-04-10T09:30:05+08:00")  # fmt: skip
    (answer,) = imported(core, line_2207())
    assert answer["ok"] and answer["command"] == "record-settlement" and answer["duplicate"] is False, answer
    assert answer["command_id"] == f"{SETL_ID}:2207" and answer["discrepancies"] == []
    assert events_of_settlement(family) == ["SettlementOpened", "PlatformRecordAttached"]
    (again,) = imported(core, line_2207())
    assert again["duplicate"] is True and again["command"] == "deduct"
    assert (family.balance(PATIENT), family.balance(RELATIVE)) == (0, 45000)


def test_a_pharmacy_purchase_is_deducted_as_pharmacy(family, core):
    (answer,) = imported(core, line_2207(data_2207(med_type="41"), setlinfo(clr_type="41")))
    assert answer["ok"] and answer["command"] == "deduct"
    assert family.app.repository.get(settlement_aggregate_id(SETL_ID)).platform.med_type == "41"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (json.dumps(line_2207(info=setlinfo(acct_pay="70.001"))), "output.setlinfo.acct_pay"),
        (json.dumps(line_2207(info=setlinfo(certno=None))), "output.setlinfo.certno"),
        (json.dumps(line_2207(data=data_2207(insutype="320"))), "input.data.insutype"),
        (json.dumps(line_2207(info=setlinfo(hifx_pay="1.00"))), "output.setlinfo.hifx_pay"),
        (json.dumps({**line_2207(), "infno": "3201"}), "infno"),
        ("", "line"),
        ("{not json", "line"),
    ],
)
def test_every_bad_line_gets_one_coded_answer_naming_the_field(family, core, raw, field):
    (answer,) = list(core.national.import_lines([raw]))
    assert answer["ok"] is False and answer["error"]["code"] == "INVALID_INPUT" and answer["error"]["field"] == field
    assert answer["discrepancies"] == [] and PATIENT not in json.dumps(answer)


def test_a_patient_nobody_enrolled_is_refused_naming_the_records_field(family, core):
    stranger = id_number("420102", "19900101", 13)
    (answer,) = imported(core, line_2207(data_2207(mdtrt_cert_no=stranger), setlinfo(certno=stranger)))
    assert answer["error"]["code"] == "UNKNOWN_PERSON" and answer["error"]["field"] == "output.setlinfo.certno"
    assert stranger not in json.dumps(answer)


def same_mask_as(number: str) -> str:
    """Another person whose masked number is `number`'s: same region, same last four characters."""
    for year in range(1950, 1960):
        for day in range(1, 29):
            other = id_number(number[:6], f"{year}03{day:02d}", int(number[14:17]))
            if other != number and mask(other) == mask(number):
                return other
    raise AssertionError("no such number")


def test_two_relatives_who_share_a_mask_are_told_apart_by_aggregate(ledger):
    mother = same_mask_as(PATIENT)
    ledger.enroll(PATIENT, balance="70.00")
    ledger.enroll(mother, balance="500.00")
    ledger.ok("authorize", authorizer=mother, beneficiary=PATIENT, relationship="child", at="2025-02-01T09:00:00+08:00")
    (answer,) = imported(ledger_of(ledger.app), line_2207())
    assert [line["person"] for line in answer["lines"]] == [mask(PATIENT), mask(PATIENT)]  # shown alike
    assert answer["discrepancies"] == []  # yet 70.00 is hers and 50.00 her mother's
