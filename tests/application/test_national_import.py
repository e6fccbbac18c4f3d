"""The national records through the real ledger (in memory), composed by hand as `ledger import
national` will compose them: translate, apply, compare, export.

Goal: a Wuhan family's outpatient settlement, paid 70.00 from the patient's own
account and 50.00 by her father through mutual aid, agrees with a platform record that says so;
a record that claims otherwise is reported field by field while the ledger's split stands; a
re-import is a duplicate; a 2208 reverses it; and the export of what the ledger recorded agrees
with its own decision."""

from __future__ import annotations

import json

import pytest

from domain.masking import mask
from domain.rules.model import NationalRules
from infra.national.discrepancies import LedgerDecision, discrepancies
from infra.national.export import RecordedLine, RecordedSettlement, export_setlinfo
from infra.national.translate import translate_reversal, translate_settlement
from tests.support import Ledger
from tests.support.national import PATIENT, RELATIVE, data_2207, detail, line_2207, reversal, setlinfo, settlement

RULES = NationalRules()


@pytest.fixture
def family(ledger: Ledger) -> Ledger:
    ledger.enroll(PATIENT, balance="70.00")
    ledger.enroll(RELATIVE, balance="500.00")
    ledger.ok(
        "authorize", authorizer=RELATIVE, beneficiary=PATIENT, relationship="child", at="2025-02-01T09:00:00+08:00"
    )
    return ledger


def imported(ledger: Ledger, body: dict) -> tuple[dict, list[dict]]:
    record = settlement(body)
    translation = translate_settlement(record, RULES)
    if translation.command is None:
        raise AssertionError("no deduction")
    answer = ledger.apply_line(json.dumps(translation.command))
    decision = LedgerDecision.from_answer(answer, balance_after_fen=ledger.balance(PATIENT))
    return answer, discrepancies(record.output.setlinfo, decision, RULES)


def test_an_agreeing_settlement_is_imported_with_no_discrepancies(family):
    answer, found = imported(family, line_2207())
    assert answer["ok"] and answer["settlement_id"] == "42010000000410043005"
    assert answer["lines"] == [
        {"person": mask(PATIENT), "amount_fen": 7000},
        {"person": mask(RELATIVE), "amount_fen": 5000},
    ]
    assert found == []


def test_a_record_that_claims_another_split_is_reported_and_the_ledgers_split_stands(family):
    claims = setlinfo(acct_mulaid_pay="40.00", psn_cash_pay="10.00")
    _, found = imported(family, line_2207(info=claims))
    assert found == [
        {"field": "acct_mulaid_pay", "ledger": "50.00", "platform": "40.00"},
        {"field": "psn_cash_pay", "ledger": "0.00", "platform": "10.00"},
    ]
    assert family.balance(RELATIVE) == 45000  # 50.00 came from the father, as the ledger decided


def test_a_reimport_is_a_duplicate_and_a_2208_reverses_it(family):
    imported(family, line_2207())
    again, _ = imported(family, line_2207())
    assert again["duplicate"] is True
    answer = family.apply_line(json.dumps(translate_reversal(reversal())))
    assert answer["ok"], answer
    assert (family.balance(PATIENT), family.balance(RELATIVE)) == (7000, 50000)


def test_a_pharmacy_purchase_is_deducted_as_pharmacy(family):
    body = line_2207(data_2207(med_type="41"), setlinfo(clr_type="41"))
    translation = translate_settlement(settlement(body), RULES)
    assert translation.command is not None
    answer = family.apply_line(json.dumps(translation.command))
    assert answer["ok"] and answer["command"] == "deduct"


def test_the_export_of_what_the_ledger_recorded_agrees_with_its_decision(family):
    answer, _ = imported(family, line_2207())
    record = settlement()
    recorded = RecordedSettlement(
        settlement_id=answer["settlement_id"],
        institution=record.fixmedins_code,
        at=record.output.setlinfo.setl_time,
        amount_fen=answer["amount_fen"],
        lines=tuple(
            RecordedLine(x["person"], x["amount_fen"], x["person"] == answer["patient"]) for x in answer["lines"]
        ),
        out_of_pocket_fen=answer["out_of_pocket_fen"],
        patient_masked=answer["patient"],
        balance_after_fen=family.balance(PATIENT),
        platform=translate_settlement(record, RULES).platform,
    )
    row = export_setlinfo(recorded, RULES)
    assert discrepancies(detail(row), recorded.decision, RULES) == []
    assert row == {**setlinfo(), "certno": mask(PATIENT)}
