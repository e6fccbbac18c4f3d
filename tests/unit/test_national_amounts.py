"""Yuan amounts of the platform's records: exact integer fen, from strings and JSON numbers alike.

Goal: any fen value round-trips (fen -> two-decimal yuan string -> fen -> string), written as a
string or as a JSON number, and a JSON number is read from its text, never through a float (a
float times 100, truncated, turns 1.15 yuan into 114 fen)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic_core import PydanticCustomError

from domain.money import format_fen
from infra.national.fields import JsonNumber, yuan_to_fen
from infra.national.lines import parse_detail_line
from infra.national.records import DetailLine
from tests.support.national import setlinfo

FEN = st.integers(min_value=0, max_value=99_999_999_999_999)  # up to 999,999,999,999.99 yuan


def acct_pay_of(literal: str) -> int:
    """The fen of `acct_pay` written as the JSON `literal`, through the real line parser."""
    text = json.dumps(setlinfo(acct_pay="0")).replace('"acct_pay": "0"', f'"acct_pay": {literal}')
    parsed = parse_detail_line(text)
    if not isinstance(parsed, DetailLine):
        raise AssertionError(parsed)
    return parsed.acct_pay


@given(FEN)
def test_any_fen_value_round_trips_through_a_yuan_string(fen):
    text = format_fen(fen)
    assert yuan_to_fen(text) == fen
    assert format_fen(yuan_to_fen(text)) == text


@given(FEN)
def test_any_fen_value_round_trips_as_a_json_number_without_a_float(fen):
    text = format_fen(fen)
    assert acct_pay_of(text) == fen
    assert acct_pay_of(json.dumps(text)) == fen


@given(FEN, st.sampled_from(["", ".0", ".00"]))
def test_whole_yuan_and_short_decimals_are_the_same_fen(fen, tail):
    whole = fen - fen % 100
    assert acct_pay_of(f"{whole // 100}{tail}") == whole


@pytest.mark.parametrize(("literal", "fen"), [("1.15", 115), ("0.57", 57), ("8.2", 820), ("0.29", 29), ("4.35", 435)])
def test_values_a_float_would_get_wrong_are_exact(literal, fen):
    assert int(float(literal) * 100) != fen  # what a float would have made of it
    assert acct_pay_of(literal) == fen


@given(st.integers(min_value=0, max_value=10**12 - 1), st.integers(min_value=0, max_value=999))
def test_three_decimals_are_refused_as_a_string_and_as_a_number(yuan, thousandths):
    literal = f"{yuan}.{thousandths:03d}"
    for raw in (literal, JsonNumber(literal), Decimal(literal)):
        with pytest.raises(PydanticCustomError, match="two decimals"):
            yuan_to_fen(raw)


@pytest.mark.parametrize("raw", [0.5, float("nan"), None, b"1.00", [1]])
def test_binary_floats_and_other_types_are_never_amounts(raw):
    with pytest.raises(PydanticCustomError, match="decimal yuan amount"):
        yuan_to_fen(raw)


def test_zero_is_an_amount_but_a_negative_zero_is_not():
    assert yuan_to_fen("0") == yuan_to_fen("0.00") == yuan_to_fen(0) == 0
    with pytest.raises(PydanticCustomError, match="negative"):
        yuan_to_fen("-0.00")


def test_a_kept_records_fen_written_with_a_zero_fraction_is_the_integer_its_schema_says():
    """The command's `platform` amounts are JSON Schema integers, which admit `7000.0`; any other
    fraction, a string or a negative amount is refused (found by schemathesis)."""
    from pydantic import TypeAdapter, ValidationError

    from domain.platform_record import Fen

    fen = TypeAdapter(Fen)
    assert fen.json_schema() == {"type": "integer", "minimum": 0, "maximum": 99_999_999_999_999}
    assert fen.validate_python(7000.0, strict=True) == 7000
    for refused in (7000.5, "7000", -1):
        with pytest.raises(ValidationError):
            fen.validate_python(refused, strict=True)
