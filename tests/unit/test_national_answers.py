"""The platform's answer envelope: the ledger answering a 2207 or a 3201 in the platform's shape,
and a refusal as `infcode` -1 with the ledger's code in `err_msg`, never the value given."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from domain.errors import InvalidInputError
from domain.rules.model import NationalRules
from infra.national.answers import ERR_MSG_CHARS_MAX, answer_envelope, refusal_envelope, stmtinfo_output
from infra.national.export import export_setlinfo
from infra.national.lines import parse_import_line
from infra.national.records import AnswerEnvelope, Settlement2207Output, Statement3201Output
from tests.support.national import PATIENT, line_2207, recorded_from, setlinfo, settlement

REFMSGID = "420102202504100930000000000001"  # the answering side's region code, time and serial


def test_a_2207_answer_carries_the_ledgers_setlinfo_and_reads_back_as_the_platforms_envelope():
    row = export_setlinfo(recorded_from(settlement(), 7000, 5000, 0), NationalRules())
    answer = answer_envelope(REFMSGID, {"setlinfo": row})
    parsed = AnswerEnvelope.model_validate(json.loads(json.dumps(answer)))
    assert parsed.infcode == 0 and isinstance(parsed.output, Settlement2207Output)
    assert parsed.output.setlinfo.acct_mulaid_pay == 5000


def test_a_3201_answer_carries_the_statement_result():
    output = stmtinfo_output(
        {"stmt_rslt": "1", "stmt_rslt_dscr": "not balanced: acct_pay: ledger 1.00, statement 1.01"}
    )
    parsed = AnswerEnvelope.model_validate(answer_envelope(REFMSGID, output))
    assert isinstance(parsed.output, Statement3201Output) and parsed.output.stmtinfo.stmt_rslt == "1"


def test_a_refusal_is_infcode_minus_1_with_the_ledgers_code_and_no_value():
    error = parse_import_line(json.dumps(line_2207(info=setlinfo(acct_pay=PATIENT))))
    assert isinstance(error, InvalidInputError)
    answer = refusal_envelope(REFMSGID, error)
    assert answer["infcode"] == -1 and answer["output"] == {}
    assert answer["err_msg"].startswith("INVALID_INPUT: output.setlinfo.acct_pay: ")
    assert PATIENT not in json.dumps(answer)
    assert AnswerEnvelope.model_validate(answer).err_msg == answer["err_msg"]


def test_a_long_refusal_message_is_cut_to_the_platforms_length():
    answer = refusal_envelope(REFMSGID, InvalidInputError("line: " + "x" * 500, field="line"))
    assert len(answer["err_msg"]) == ERR_MSG_CHARS_MAX


def test_an_answer_envelope_refuses_unknown_infcodes():
    with pytest.raises(ValidationError):
        AnswerEnvelope.model_validate({"infcode": 1, "inf_refmsgid": REFMSGID, "err_msg": "", "output": {}})
