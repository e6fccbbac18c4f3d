"""Bad input is INVALID_INPUT (or INVALID_ID_NUMBER) naming the field, and changes nothing."""

from __future__ import annotations

import json

import pytest

from tests.support import DAY, Ledger, line
from tests.support.state import adult, assert_unchanged, authorized_pair, snapshot

AT = f"{DAY}T09:00:00+08:00"


@pytest.fixture
def pair(ledger: Ledger):
    return authorized_pair(ledger)


def valid_commands(parent: str, child: str) -> dict[str, dict]:
    return {
        "enroll": {"person": adult(9), "insurance": "employee"},
        "credit": {"person": parent, "amount": "1.00", "source": "adjustment"},
        "bind": {
            "binder": parent,
            "member": child,
            "relationship": "child",
            "channel": "alipay",
            "verification": "documents",
        },
        "unbind": {"binder": parent, "member": child, "reason": "binder_request"},
        "authorize": {"authorizer": parent, "beneficiary": child, "relationship": "child"},
        "revoke": {"authorizer": parent, "beneficiary": child},
        "deduct": {
            "settlement_id": "S-1",
            "patient": child,
            "amount": "1.00",
            "category": "pharmacy",
            "institution": "P",
        },
        "reverse": {"settlement_id": "S-1"},
        "suspend": {"person": parent},
        "resume": {"person": parent},
        "cancel": {"person": parent},
        "expire": {"person": parent},
        "transfer": {"person": parent, "region": "120101"},
    }


def invalid(ledger: Ledger, pair, type_: str, code: str = "INVALID_INPUT", **fields) -> dict:
    before = snapshot(ledger, *pair)
    result = ledger.do(type_, **fields)
    assert not result["ok"] and result["error"]["code"] == code, result
    assert_unchanged(ledger, before)
    return result["error"]


@pytest.mark.parametrize("type_", list(valid_commands("a", "b")))
def test_unknown_field_is_invalid_input_naming_it(ledger, pair, type_):
    error = invalid(ledger, pair, type_, **valid_commands(*pair)[type_], colour="blue")
    assert error["field"] == "colour" and "unknown field" in error["message"]


@pytest.mark.parametrize(
    ("type_", "field", "value"),
    [
        ("enroll", "insurance", "commercial"),
        ("credit", "source", "gift"),
        ("bind", "relationship", "neighbour"),
        ("bind", "channel", "fax"),
        ("bind", "verification", "fingerprint"),
        ("unbind", "reason", "bored"),
        ("unbind", "initiated_by", "nobody"),
        ("authorize", "relationship", "friend"),
        ("revoke", "initiated_by", "system"),
        ("deduct", "category", "cosmetics"),
    ],
)
def test_unknown_enum_value_is_invalid_input_naming_the_field(ledger, pair, type_, field, value):
    fields = valid_commands(*pair)[type_] | {field: value}
    assert invalid(ledger, pair, type_, **fields)["field"] == field


@pytest.mark.parametrize("type_", list(valid_commands("a", "b")))
def test_timestamp_without_offset_is_invalid_input_naming_at(ledger, pair, type_):
    error = invalid(ledger, pair, type_, **valid_commands(*pair)[type_] | {"at": "2025-03-03T09:00:00"})
    assert error["field"] == "at" and "offset" in error["message"]


@pytest.mark.parametrize("type_", ["credit", "deduct"])
@pytest.mark.parametrize(
    ("amount", "hint"),
    [
        ("1.234", "two decimals"),
        ("-5.00", "positive"),
        ("0", "greater than zero"),
        ("0.00", "greater than zero"),
        (5, "string"),
        (5.5, "string"),
    ],
)
def test_bad_amount_is_invalid_input_naming_amount(ledger, pair, type_, amount, hint):
    error = invalid(ledger, pair, type_, **valid_commands(*pair)[type_] | {"amount": amount})
    assert error["field"] == "amount" and hint in error["message"]


@pytest.mark.parametrize(
    ("type_", "field"),
    [
        ("enroll", "person"),
        ("credit", "person"),
        ("bind", "binder"),
        ("bind", "member"),
        ("authorize", "authorizer"),
        ("authorize", "beneficiary"),
        ("deduct", "patient"),
        ("deduct", "presented_by"),
        ("transfer", "person"),
    ],
)
def test_bad_id_number_is_invalid_id_number_naming_the_field(ledger, pair, type_, field):
    good = adult(1)
    bad_check = good[:17] + ("1" if good[17] != "1" else "2")
    error = invalid(ledger, pair, type_, "INVALID_ID_NUMBER", **valid_commands(*pair)[type_] | {field: bad_check})
    assert error["field"] == field
    assert good not in json.dumps(error) and bad_check not in json.dumps(error)


@pytest.mark.parametrize(
    "bad", ["11010519800230011X", "1101051980010101", "110105198001010112345", "１１０１０５１９８００１０１０１１2"]
)
def test_enroll_rejects_malformed_id_numbers_without_crashing(ledger, pair, bad):
    invalid(ledger, pair, "enroll", "INVALID_ID_NUMBER", person=bad, insurance="employee")


def test_missing_required_field_is_invalid_input_naming_it(ledger, pair):
    fields = valid_commands(*pair)["bind"]
    del fields["channel"]
    assert invalid(ledger, pair, "bind", **fields)["field"] == "channel"


@pytest.mark.parametrize("region", ["11010", "1101051", "abcdef", "３４０１０１"])
def test_region_must_be_six_ascii_digits(ledger, pair, region):
    error = invalid(ledger, pair, "enroll", **valid_commands(*pair)["enroll"] | {"region": region})
    assert error["field"] == "region"


@pytest.mark.parametrize(
    "text", ["not json", "[1, 2]", '"bind"', "{}", '{"type": "teleport", "at": "2025-03-03T09:00:00Z"}']
)
def test_lines_that_are_not_commands_are_invalid_input(ledger, pair, text):
    before = snapshot(ledger, *pair)
    result = ledger.apply_line(text)
    assert result["ok"] is False and result["error"]["code"] == "INVALID_INPUT"
    assert result["error"]["field"] in ("line", "type")
    assert_unchanged(ledger, before)


def test_z_suffix_is_an_accepted_offset(ledger):
    result = ledger.apply_line(line("enroll", at="2025-03-03T01:00:00Z", person=adult(9), insurance="employee"))
    assert result["ok"], result


def test_settlement_id_with_spaces_is_invalid_input(ledger, pair):
    fields = valid_commands(*pair)["deduct"] | {"settlement_id": "S 1"}
    assert invalid(ledger, pair, "deduct", **fields)["field"] == "settlement_id"
