"""Money in integer fen from decimal yuan strings; months in China Standard Time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from domain.clock import local_date, month_of
from domain.errors import InvalidInputError
from domain.money import format_fen, parse_yuan


@pytest.mark.parametrize(
    ("raw", "fen"), [("12.30", 1230), ("12.3", 1230), ("0.01", 1), ("7", 700), ("999999999999.99", 99999999999999)]
)
def test_parses_decimal_yuan_strings_to_fen(raw, fen):
    assert parse_yuan(raw) == fen


@pytest.mark.parametrize(
    ("raw", "hint"),
    [
        ("1.001", "two decimals"),
        ("0.005", "two decimals"),
        ("-1.00", "positive"),
        ("-0.01", "positive"),
        ("0", "greater than zero"),
        ("0.00", "greater than zero"),
        ("1e3", "not a decimal"),
        ("01.00", "not a decimal"),
        ("1,000.00", "not a decimal"),
        ("1000000000000", "not a decimal"),  # 13 digits of yuan: beyond any account
        ("1٣", "not a decimal"),  # Arabic-Indic digit: int() would read it as 13
        ("", "not a decimal"),
    ],
)
def test_rejects_bad_amount_strings_naming_the_field(raw, hint):
    with pytest.raises(InvalidInputError, match=hint) as caught:
        parse_yuan(raw, "amount")
    assert caught.value.field == "amount"
    assert caught.value.code == "INVALID_INPUT"


@pytest.mark.parametrize("raw", [12.3, 12, 0.1, None, b"12.00"])
def test_rejects_numbers_and_non_strings(raw):
    with pytest.raises(InvalidInputError, match="decimal yuan string"):
        parse_yuan(raw)


def test_formats_fen_for_humans():
    assert format_fen(1230) == "12.30"
    assert format_fen(5) == "0.05"
    assert format_fen(-150) == "-1.50"


def test_utc_evening_on_the_last_of_march_is_april_in_china():
    at = datetime(2025, 3, 31, 17, 0, tzinfo=UTC)
    assert month_of(at) == "2025-04"
    assert local_date(at).isoformat() == "2025-04-01"


def test_one_second_before_china_midnight_is_still_march():
    at = datetime(2025, 3, 31, 15, 59, 59, tzinfo=UTC)
    assert month_of(at) == "2025-03"


def test_month_does_not_depend_on_the_offset_the_time_was_written_in():
    at = datetime(2025, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=8)))
    assert month_of(at) == month_of(at.astimezone(timezone(timedelta(hours=-5)))) == "2025-01"
