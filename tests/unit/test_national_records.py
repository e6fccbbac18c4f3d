"""The platform's shapes (2207, 2208, 3201, 3202 lines) and every coded refusal of a bad line.

Goal: each shape parses into typed fen amounts and UTC+8 times; every missing, malformed or
unknown field is INVALID_INPUT naming its whole path; hostile lines get one answer each; and no
refusal, dump or repr ever carries a value given (an ID number in particular)."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.clock import CST
from domain.errors import InvalidInputError
from infra.commands.parsing import LINE_BYTES_MAX
from infra.national.lines import NESTING_MAX, parse_detail_line, parse_import_line, parse_statement_line
from infra.national.records import PASSED_OVER_FIELDS, DetailLine, Reversal2208, Settlement2207, Statement3201
from tests.support.national import (
    PATIENT,
    data_2207,
    data_3201,
    envelope,
    line_2207,
    line_2208,
    setlinfo,
    settlement,
    statement,
)


def refusal(raw: str | bytes, parse=parse_import_line) -> InvalidInputError:
    parsed = parse(raw)
    if not isinstance(parsed, InvalidInputError):
        raise AssertionError(f"accepted: {type(parsed).__name__}")
    return parsed


def refused_field(body: dict, parse=parse_import_line) -> str | None:
    error = refusal(json.dumps(body), parse)
    assert error.code in ("INVALID_INPUT", "INVALID_ID_NUMBER")
    return error.field


# --- the shapes ------------------------------------------------------------------------------
def test_a_2207_line_parses_amounts_to_fen_and_the_settlement_time_to_utc_plus_8():
    record = settlement()
    info = record.output.setlinfo
    assert (info.medfee_sumamt, info.psn_part_amt, info.acct_pay, info.acct_mulaid_pay) == (30000, 12000, 7000, 5000)
    assert info.setl_time == datetime(2025, 4, 10, 9, 30, tzinfo=CST)
    assert record.input.data.medfee_sumamt == 30000 and record.input.data.acct_used_flag == "1"


def test_a_2208_line_parses_with_its_request_time():
    parsed = parse_import_line(json.dumps(line_2208()))
    assert isinstance(parsed, Reversal2208)
    assert parsed.input.data.setl_id == "42010000000410043005"
    assert parsed.inf_time == datetime(2025, 4, 12, 15, 0, tzinfo=CST)


def test_a_3201_line_parses_its_period_totals_and_count():
    data = statement().input.data
    assert (data.stmt_begndate, data.stmt_enddate) == (date(2025, 4, 1), date(2025, 4, 30))
    assert (data.medfee_sumamt, data.fund_pay_sumamt, data.acct_pay, data.fixmedins_setl_cnt) == (30000, 18000, 7000, 1)


def test_a_3202_detail_line_is_a_setlinfo_with_an_optional_refund_flag():
    plain = parse_detail_line(json.dumps(setlinfo()))
    flagged = parse_detail_line(json.dumps(setlinfo(refd_setl_flag="1")))
    assert isinstance(plain, DetailLine) and plain.refd_setl_flag == "0"
    assert isinstance(flagged, DetailLine) and flagged.refd_setl_flag == "1"


def test_the_transport_fields_of_the_envelope_may_be_left_out_of_an_import_line():
    body = envelope("2207", data_2207(), msgid=None, insuplc_admdvs=None, mdtrtarea_admvs=None, inf_time=None)
    body = {k: v for k, v in body.items() if k != "opter"} | {"output": {"setlinfo": setlinfo()}}
    assert isinstance(parse_import_line(json.dumps(body)), Settlement2207)


def test_optional_2207_amounts_are_parsed_when_given():
    record = settlement(line_2207(data_2207(fulamt_ownpay_amt="12.5", inscp_scp_amt=0)))
    assert (record.input.data.fulamt_ownpay_amt, record.input.data.inscp_scp_amt) == (1250, 0)
    assert record.input.data.overlmt_selfpay is None


def test_plain_id_numbers_stay_out_of_every_dump_and_repr():
    record = settlement()
    for text in (repr(record), str(record), record.model_dump_json(), json.dumps(record.model_dump(mode="json"))):
        assert PATIENT not in text
    assert record.output.setlinfo.certno.get_secret_value() == PATIENT


# --- refusals naming the field ---------------------------------------------------------------
SETLINFO_FIELDS = list(setlinfo())
DATA_2207_REQUIRED = list(data_2207())


@pytest.mark.parametrize("name", SETLINFO_FIELDS)
def test_rejects_a_2207_without_a_setlinfo_field_naming_it(name):
    assert refused_field(line_2207(info=setlinfo(**{name: None}))) == f"output.setlinfo.{name}"


@pytest.mark.parametrize("name", DATA_2207_REQUIRED)
def test_rejects_a_2207_without_a_required_request_field_naming_it(name):
    assert refused_field(line_2207(data_2207(**{name: None}))) == f"input.data.{name}"


@pytest.mark.parametrize("name", ["infno", "fixmedins_code", "input", "output"])
def test_rejects_a_2207_without_an_envelope_field_naming_it(name):
    body = {k: v for k, v in line_2207().items() if k != name}
    assert refused_field(body) == name


@pytest.mark.parametrize("name", list(data_3201()))
def test_rejects_a_3201_without_a_field_naming_it(name):
    assert refused_field(envelope("3201", data_3201(**{name: None})), parse_statement_line) == f"input.data.{name}"


@pytest.mark.parametrize("name", ["setl_id", "mdtrt_id", "psn_no"])
def test_rejects_a_2208_without_a_field_naming_it(name):
    body = line_2208()
    del body["input"]["data"][name]
    assert refused_field(body) == f"input.data.{name}"


@pytest.mark.parametrize(
    "name", ["medfee_sumamt", "fund_pay_sumamt", "psn_part_amt", "acct_pay", "psn_cash_pay", "acct_mulaid_pay", "balc"]
)
@pytest.mark.parametrize("literal", ['"12.345"', '"0.001"', "12.345", "70.000"])
def test_rejects_amount_with_three_decimals_naming_the_field(name, literal):
    body = json.dumps(line_2207(info=setlinfo(**{name: "0"}))).replace(f'"{name}": "0"', f'"{name}": {literal}')
    error = refusal(body)
    assert error.field == f"output.setlinfo.{name}"
    assert "two decimals" in error.message


@pytest.mark.parametrize(
    ("amount", "hint"),
    [
        ("-1.00", "negative"),
        (-1, "negative"),
        ("12,30", "not a decimal"),
        ("1e3", "not a decimal"),
        ("", "not a decimal"),
        (True, "decimal yuan amount"),
        (None, "decimal yuan amount"),
        ([1], "decimal yuan amount"),
    ],
)
def test_rejects_malformed_amounts_naming_the_field(amount, hint):
    body = line_2207(info=setlinfo())
    body["output"]["setlinfo"]["acct_mulaid_pay"] = amount
    error = refusal(json.dumps(body))
    assert (error.field, error.code) == ("output.setlinfo.acct_mulaid_pay", "INVALID_INPUT")
    assert hint in error.message


def test_a_json_number_in_exponent_form_is_refused_not_converted():
    body = json.dumps(line_2207(info=setlinfo(acct_pay="0"))).replace('"acct_pay": "0"', '"acct_pay": 7e1')
    assert refusal(body).field == "output.setlinfo.acct_pay"


@pytest.mark.parametrize(
    ("where", "name", "value"),
    [
        ("data", "mdtrt_cert_type", "04"),
        ("data", "insutype", "320"),
        ("data", "acct_used_flag", "2"),
        ("data", "acct_used_flag", 1),
        ("data", "med_type", "4-1"),
        ("setlinfo", "psn_cert_type", "16"),
        ("setlinfo", "insutype", "391"),
        ("setlinfo", "clr_optins", "4201"),
        ("setlinfo", "setl_time", "2025-04-10T09:30:00"),
        ("setlinfo", "setl_time", "2025-02-30 09:30:00"),
        ("setlinfo", "setl_time", "1999-12-31 23:59:59"),
        ("setlinfo", "setl_id", "S 1"),
        ("setlinfo", "setl_id", "S" * 31),
        ("setlinfo", "setl_id", PATIENT),
        ("setlinfo", "mdtrt_id", ""),
        ("setlinfo", "certno", ""),
    ],
)
def test_rejects_unknown_codes_and_malformed_fields_naming_the_field(where, name, value):
    body = line_2207(data_2207(**{name: value})) if where == "data" else line_2207(info=setlinfo(**{name: value}))
    prefix = "input.data" if where == "data" else "output.setlinfo"
    error = refusal(json.dumps(body))
    assert error.field == f"{prefix}.{name}"
    assert PATIENT not in error.message and PATIENT not in json.dumps(error.to_dict())


@pytest.mark.parametrize(
    ("name", "value"), [("stmt_rslt", "0"), ("refd_setl_flag", "2"), ("stmt_enddate", "2025-03-31"), ("insutype", 310)]
)
def test_rejects_bad_3201_fields_naming_them(name, value):
    body = envelope("3201", data_3201(**{name: value}))
    assert refused_field(body, parse_statement_line) == f"input.data.{name}"


def test_rejects_an_unknown_infno_naming_it():
    assert refused_field(line_2207() | {"infno": "2209"}) == "infno"
    assert refused_field(line_2207() | {"infno": 2207}) == "infno"
    assert refused_field(envelope("2207", data_2207()), parse_statement_line) == "infno"
    assert refused_field(envelope("3201", data_3201())) == "infno"


def test_rejects_unknown_fields_naming_them():
    assert refused_field(line_2207(psn_name="王某")) == "psn_name"
    assert refused_field(line_2207(info=setlinfo(hifx_pay="1.00"))) == "output.setlinfo.hifx_pay"
    assert refused_field(line_2208() | {"output": {"setlinfo": setlinfo()}}) == "output"


def test_the_platforms_other_setlinfo_fields_are_read_past_never_kept_or_shown():
    extras = {name: "1.00" for name in PASSED_OVER_FIELDS} | {"psn_name": "王某", "brdy": "1980-01-01", "age": 45,
                                                             "pool_prop_selfpay": 0.1, "hifmi_pay": None}  # fmt: skip
    parsed = settlement(line_2207(info=setlinfo(**{k: v for k, v in extras.items() if v is not None})))
    shown = repr(parsed) + parsed.model_dump_json()
    assert "王某" not in shown and "1980-01-01" not in shown
    assert "hifp_pay" in PASSED_OVER_FIELDS and "acct_pay" not in PASSED_OVER_FIELDS
    assert refused_field(line_2207(info=setlinfo(psn_name="x" * 101))) == "output.setlinfo.psn_name"
    assert refused_field(line_2207(info=setlinfo(hifp_pay={"a": 1}))) == "output.setlinfo.hifp_pay"


def test_a_reference_that_looks_like_an_id_number_is_kept_masked():
    record = settlement(line_2207(data_2207(psn_no=PATIENT), setlinfo(psn_no=PATIENT)))
    assert record.output.setlinfo.psn_no == record.input.data.psn_no == PATIENT[:6] + "********" + PATIENT[-4:]


# --- hostile lines ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"\xff\xfe", "line"),
        ("x" * (LINE_BYTES_MAX + 1), "line"),
        ("[]", "line"),
        ("not json", "line"),
        ('{"infno": "2207", "infno": "2207"}', "line"),
        ('{"output": {"setlinfo": {"acct_pay": NaN}}}', "line"),
        ('{"output": {"setlinfo": {"acct_pay": Infinity}}}', "line"),
        ('{"Infno": "2207"}', "line"),
        ('{"output": {"setlinfo": {"acct-pay": "1.00"}}}', "output.setlinfo"),
        ('{"opter": "a\\u0000b"}', "opter"),
        ('{"output": {"setlinfo": {"certno": "\\ud800"}}}', "output.setlinfo.certno"),
        ("{" * 40 + "}" * 40, "line"),
    ],
)
def test_rejects_hostile_lines_with_one_coded_answer(raw, field):
    assert refusal(raw).field == field


def test_nesting_one_level_deeper_than_a_record_is_still_named_by_field():
    body = line_2207(info=setlinfo(acct_pay={"yuan": "1.00"}))
    assert refusal(json.dumps(body)).field == "output.setlinfo.acct_pay"
    deeper = line_2207(info=setlinfo(acct_pay={"yuan": {"fen": 1}}))
    assert refusal(json.dumps(deeper)).message == f"line: JSON nested deeper than {NESTING_MAX} levels"


@settings(max_examples=300)
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_any_line_at_all_gets_exactly_one_answer(raw):
    for parse in (parse_import_line, parse_statement_line, parse_detail_line):
        parsed = parse(raw)
        assert isinstance(parsed, InvalidInputError | Settlement2207 | Reversal2208 | Statement3201 | DetailLine)


@settings(max_examples=200)
@given(st.dictionaries(st.sampled_from(["acct_pay", "certno", "setl_time", "infno", "x"]), st.text(max_size=40)))
def test_a_refusal_never_repeats_what_was_given(fields):
    body = line_2207(info=setlinfo(**{k: PATIENT + v for k, v in fields.items()}))
    parsed = parse_import_line(json.dumps(body))
    if isinstance(parsed, InvalidInputError):
        assert PATIENT not in json.dumps(parsed.to_dict())
        for value in fields.values():
            if len(value) >= 8:
                assert value not in parsed.message
