"""Discrepancies between a platform record and the ledger's decision, and the export that writes
the ledger's decision back as a 2207 setlinfo.

Goal: each compared field is reported with both values when it differs and nothing is reported
when it agrees; the province's `acct_pay` convention is honoured; and the export of any decision,
read back as a detail line, shows no discrepancy with that decision (export -> import agrees)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import LedgerInvariantError
from domain.masking import mask
from domain.rules.model import NationalRules
from infra.national.discrepancies import LedgerDecision, discrepancies
from infra.national.export import RecordedLine, RecordedSettlement, export_detail_line, export_setlinfo
from tests.support.national import (
    PATIENT,
    at_cst,
    data_2207,
    detail,
    line_2207,
    recorded_from,
    setlinfo,
    settlement,
)

EXCLUDING = NationalRules()
INCLUDING = NationalRules(acct_pay_includes_mutual_aid=True)
AGREEING = LedgerDecision(own_fen=7000, mutual_aid_fen=5000, out_of_pocket_fen=0, balance_after_fen=0)


def info(**over):
    return settlement(line_2207(info=setlinfo(**over))).output.setlinfo


def test_an_agreeing_record_has_no_discrepancies():
    assert discrepancies(info(), AGREEING, EXCLUDING) == []


@pytest.mark.parametrize(
    ("over", "expected"),
    [
        ({"acct_pay": "70.01"}, [{"field": "acct_pay", "ledger": "70.00", "platform": "70.01"}]),
        ({"acct_mulaid_pay": "40.00"}, [{"field": "acct_mulaid_pay", "ledger": "50.00", "platform": "40.00"}]),
        ({"psn_cash_pay": "10.00"}, [{"field": "psn_cash_pay", "ledger": "0.00", "platform": "10.00"}]),
        ({"balc": "1234.56"}, [{"field": "balc", "ledger": "0.00", "platform": "1234.56"}]),
    ],
)
def test_each_differing_field_is_named_with_both_values(over, expected):
    assert discrepancies(info(**over), AGREEING, EXCLUDING) == expected


def test_a_family_dispute_shows_every_consequence_in_field_order():
    # The hospital says relatives paid 50.00; the ledger's split says 40.00 and 10.00 in cash.
    ledger = LedgerDecision(own_fen=7000, mutual_aid_fen=4000, out_of_pocket_fen=1000, balance_after_fen=0)
    assert [d["field"] for d in discrepancies(info(), ledger, EXCLUDING)] == ["acct_mulaid_pay", "psn_cash_pay"]


def test_where_acct_pay_includes_mutual_aid_it_is_compared_with_both_accounts():
    record = info(acct_pay="120.00")
    assert discrepancies(record, AGREEING, INCLUDING) == []
    assert discrepancies(record, AGREEING, EXCLUDING) == [
        {"field": "acct_pay", "ledger": "70.00", "platform": "120.00"}
    ]


def test_the_decision_tells_the_patients_own_line_by_aggregate_not_by_mask():
    # two people of one family can share a mask (same region, same last four characters)
    recorded = RecordedSettlement(
        settlement_id="S-1", institution="H-1", at=at_cst("2025-04-10 09:30:00"), amount_fen=12000,
        lines=(RecordedLine(mask(PATIENT), 7000, True), RecordedLine(mask(PATIENT), 5000, False)),
        out_of_pocket_fen=0, patient_masked=mask(PATIENT), balance_after_fen=0,
    )  # fmt: skip
    assert recorded.decision == AGREEING


def test_a_settlement_the_accounts_did_not_pay_is_compared_as_all_cash():
    record = info(acct_pay="0", acct_mulaid_pay="0", psn_cash_pay="120.00", balc="88.00")
    assert discrepancies(record, LedgerDecision.nothing_paid(12000, 8800), EXCLUDING) == []


def test_a_decision_holds_no_negative_amount():
    with pytest.raises(LedgerInvariantError):
        LedgerDecision(own_fen=-1, mutual_aid_fen=0, out_of_pocket_fen=0, balance_after_fen=0)


# --- export ----------------------------------------------------------------------------------
def test_the_export_writes_the_platforms_shape_with_the_ledgers_decision_and_certno_masked():
    row = export_setlinfo(recorded_from(settlement(), 7000, 5000, 0), EXCLUDING)
    assert row == {**setlinfo(), "certno": mask(PATIENT)}
    assert PATIENT not in json.dumps(row)


def test_a_deduction_without_a_platform_record_exports_nulls_where_only_the_platform_knows():
    recorded = RecordedSettlement(
        settlement_id="WH-1",
        institution="H1",
        at=settlement().output.setlinfo.setl_time,
        amount_fen=1000,
        lines=(RecordedLine(mask(PATIENT), 600, True),),
        out_of_pocket_fen=400,
        patient_masked=mask(PATIENT),
        balance_after_fen=0,
    )
    row = export_setlinfo(recorded, EXCLUDING)
    assert (row["acct_pay"], row["psn_cash_pay"], row["psn_part_amt"], row["certno"]) == (
        "6.00",
        "4.00",
        "10.00",
        mask(PATIENT),
    )
    assert row["medfee_sumamt"] is None and row["insutype"] is None and row["clr_type"] is None


def test_the_refund_flag_follows_the_reversal_up_to_the_given_day():
    at = settlement().output.setlinfo.setl_time
    recorded = recorded_from(settlement(), 7000, 5000, 0, reversed_at=at + timedelta(days=25))
    assert export_detail_line(recorded, EXCLUDING)["refd_setl_flag"] == "1"
    assert export_detail_line(recorded, EXCLUDING, until=(at + timedelta(days=24)).date())["refd_setl_flag"] == "0"
    assert export_detail_line(recorded_from(settlement(), 7000, 5000, 0), EXCLUDING)["refd_setl_flag"] == "0"


def test_recorded_settlements_keep_the_ledgers_invariants():
    good = recorded_from(settlement(), 7000, 5000, 0)
    with pytest.raises(LedgerInvariantError):
        RecordedSettlement(**{**good.__dict__, "out_of_pocket_fen": 1})
    with pytest.raises(LedgerInvariantError):
        RecordedSettlement(**{**good.__dict__, "amount_fen": 0, "lines": (), "out_of_pocket_fen": 0, "platform": None})


@given(
    data=st.data(),
    part_fen=st.integers(min_value=1, max_value=10**8),
    balance_fen=st.integers(min_value=0, max_value=10**9),
    including=st.booleans(),
    used=st.booleans(),
)
def test_the_export_of_any_decision_read_back_shows_no_discrepancy(data, part_fen, balance_fen, including, used):
    own = data.draw(st.integers(min_value=0, max_value=part_fen))
    aid = data.draw(st.integers(min_value=0, max_value=part_fen - own))
    yuan = f"{part_fen // 100}.{part_fen % 100:02d}"
    body = line_2207(data_2207(acct_used_flag="1" if used else "0"), setlinfo(psn_part_amt=yuan))
    rules = INCLUDING if including else EXCLUDING
    recorded = recorded_from(settlement(body), own, aid, balance_fen)
    read_back = detail(export_detail_line(recorded, rules))
    assert discrepancies(read_back, recorded.decision, rules) == []
