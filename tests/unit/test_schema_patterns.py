"""The patterns the API's schema states agree with the parsers that decide (domain.money,
domain.ids, domain.clock, infra.audit.history, the command models): whatever a pattern admits is
parsed, or refused only for what the route's 422 lists; what a parser takes (written without
spaces) the pattern admits."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.clock import MONTH_PATTERN
from domain.errors import InvalidIdNumberError, InvalidInputError
from domain.ids import ID_NUMBER_PATTERN, parse_id_number
from domain.money import AMOUNT_PATTERN, parse_amount
from infra.audit.history import MOMENT_PATTERN, parse_moment
from infra.audit.report import month_bounds
from infra.commands.base import AT_PATTERN
from infra.commands.people import Resume
from infra.readmodels.view_reads import parse_month

YUAN_LIKE = r"^(0|[1-9][0-9]{0,9})(\.[0-9]{1,2})?$"


@given(st.from_regex(AMOUNT_PATTERN, fullmatch=True))
def test_every_amount_the_schema_admits_is_taken(text):
    assert 0 < parse_amount(text) <= 1_000_000_000


@given(st.from_regex(YUAN_LIKE, fullmatch=True))
def test_every_amount_taken_is_one_the_schema_admits(text):
    try:
        parse_amount(text)
    except InvalidInputError:
        assert not re.fullmatch(AMOUNT_PATTERN, text)
    else:
        assert re.fullmatch(AMOUNT_PATTERN, text)


@given(st.from_regex(r"^[0-9]{4}-[0-9]{2}$", fullmatch=True))
def test_a_month_is_taken_exactly_when_the_schema_admits_it_and_every_one_has_bounds(text):
    if re.fullmatch(MONTH_PATTERN, text):
        start, end = month_bounds(text)
        assert parse_month(text) == (start.year, start.month) and start < end
    else:
        with pytest.raises(InvalidInputError):
            parse_month(text)


def test_the_first_and_the_last_month_have_bounds():
    assert month_bounds("0001-01")[0].year == 1 and month_bounds("9999-12")[1].year == 9999
    for outside in ("0000-12", "2025-13", "2025-00", "2025-1"):
        with pytest.raises(InvalidInputError):
            month_bounds(outside)


@given(st.from_regex(MOMENT_PATTERN, fullmatch=True))
def test_a_moment_the_schema_admits_is_taken_or_refused_for_a_listed_reason(text):
    try:
        moment = parse_moment(text, "as_of")
    except InvalidInputError as error:
        message = error.message
        assert error.field == "as_of" and ("not an ISO-8601" in message or "outside the years" in message)
    else:
        assert moment.tzinfo is not None and (moment < datetime(2025, 1, 1, tzinfo=UTC)) in (True, False)


@given(st.from_regex(ID_NUMBER_PATTERN, fullmatch=True))
def test_an_id_number_the_schema_admits_is_refused_only_for_its_date_or_check_character(text):
    try:
        parse_id_number(text, "person")
    except InvalidIdNumberError as error:
        assert "birth" in error.message or "check character" in error.message, error.message


@given(st.from_regex(AT_PATTERN, fullmatch=True))
def test_an_at_the_schema_admits_is_refused_only_outside_the_bounds_or_for_a_day_that_does_not_exist(text):
    person = "110105201501010367"
    try:
        Resume(type="resume", person=person, at=text)
    except ValidationError as error:
        kinds = {e["type"] for e in error.errors()}
        assert kinds <= {"at_range", "datetime_from_date_parsing", "datetime_parsing"}, error.errors()
