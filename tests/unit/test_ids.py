"""ID numbers (GB 11643-1999): validation, normalisation, masking, pseudonyms."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import InvalidIdNumberError
from domain.ids import age_on, check_character, name_uuid, parse_id_number, person_id, pseudonym
from domain.masking import mask
from tests.support import id_number

# A published example number whose check character is X (MOD 11-2 gives 10).
WITH_X = "11010519491231002X"


def test_accepts_valid_number_and_reads_region_birth_date_and_sex():
    number, facts = parse_id_number(id_number(region="340104", birth="19850615", seq=13))
    assert number.startswith("34010419850615013")
    assert facts.region == "340104"
    assert facts.birth_date == date(1985, 6, 15)
    assert facts.sex == "male"


def test_even_sequence_digit_is_female():
    assert parse_id_number(id_number(seq=22))[1].sex == "female"


def test_accepts_check_character_x_and_lowercase_x():
    assert check_character(WITH_X[:17]) == "X"
    assert parse_id_number(WITH_X)[0] == WITH_X
    assert parse_id_number(WITH_X.lower())[0] == WITH_X


def test_rejects_wrong_check_character_naming_the_field():
    good = id_number()
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    with pytest.raises(InvalidIdNumberError) as caught:
        parse_id_number(bad, "binder")
    assert caught.value.code == "INVALID_ID_NUMBER"
    assert caught.value.field == "binder"
    assert "check character" in caught.value.message


@pytest.mark.parametrize("birth", ["19800230", "19801301", "19800000", "18991231"])
def test_rejects_impossible_or_too_early_birth_date(birth):
    first17 = f"110105{birth}011"
    with pytest.raises(InvalidIdNumberError, match="birth"):
        parse_id_number(first17 + check_character(first17))


@pytest.mark.parametrize("length", [15, 17, 19])
def test_rejects_wrong_length(length):
    number = (id_number() * 2)[:length]
    with pytest.raises(InvalidIdNumberError):
        parse_id_number(number)


@pytest.mark.parametrize("raw", [None, 110105198001010112, "11010519800101011A", "X10105198001010112", ""])
def test_rejects_non_strings_and_bad_characters(raw):
    with pytest.raises(InvalidIdNumberError):
        parse_id_number(raw)


def test_rejects_full_width_digits_that_would_otherwise_check_out():
    # int() reads full-width digits, so only an ASCII shape check keeps them out (they would
    # crash the pseudonym's ASCII encoding further on).
    number = id_number()
    wide = number[:17].translate(str.maketrans("0123456789", "０１２３４５６７８９")) + number[17]
    with pytest.raises(InvalidIdNumberError):
        parse_id_number(wide)


def test_mask_shows_first_six_eight_stars_and_last_four():
    assert mask(WITH_X) == "110105********002X"
    assert len(mask(WITH_X)) == 18


def test_pseudonym_is_keyed_and_deterministic():
    number = id_number()
    assert pseudonym(number, b"k" * 16) == pseudonym(number, b"k" * 16)
    assert pseudonym(number, b"k" * 16) != pseudonym(number, b"j" * 16)
    assert number not in pseudonym(number, b"k" * 16)
    assert person_id(pseudonym(number, b"k" * 16)) == person_id(pseudonym(number, b"k" * 16))


@pytest.mark.parametrize(
    ("birth", "day", "age"),
    [
        (date(2009, 3, 3), date(2025, 3, 3), 16),
        (date(2009, 3, 4), date(2025, 3, 3), 15),
        (date(2008, 2, 29), date(2025, 2, 28), 16),
    ],
)
def test_age_counts_whole_years_on_the_day(birth, day, age):
    assert age_on(birth, day) == age


# --- ID numbers inside text ----------------------------------------------------------------------
def test_mask_id_numbers_masks_every_id_like_substring():
    from domain.masking import holds_id_number, mask_id_numbers

    assert mask_id_numbers("lost card of 11010519700707100X") == "lost card of 110105********100X"
    assert mask_id_numbers("身份证11010519700707100x丢失") == "身份证110105********100x丢失"  # no \b in Chinese
    assert (
        mask_id_numbers("a 110105197007071001, b 420102198001010011.") == "a 110105********1001, b 420102********0011."
    )
    assert mask_id_numbers("１１０１０５１９７００７０７１００Ｘ") == "１１０１０５********１００Ｘ"  # full-width
    assert (
        mask_id_numbers("card 1234567890123456789012 and 12345678901234567")
        == "card 1234567890123456789012 and 12345678901234567"
    )  # longer and shorter runs are not ID numbers
    assert holds_id_number("S-11010519700707100X") and not holds_id_number("WH-2025-0410-000001")
    assert mask_id_numbers(mask_id_numbers("x 11010519700707100X")) == "x 110105********100X"  # idempotent


def test_mask_digit_runs_masks_a_number_run_together_with_other_digits():
    """For logs and echoed paths: an ID number inside a longer run of digits is not an ID-like
    substring for `mask_id_numbers`, but it still leaks; every run of 17 digits or more is masked."""
    from domain.masking import mask_digit_runs

    assert mask_digit_runs("/v1/persons/1101051970070710010") == "/v1/persons/110105*********0010"
    assert mask_digit_runs("?q=id11010519700707100X&p=1") == "?q=id110105********100X&p=1"
    assert mask_digit_runs("12345678901234567") == "12345678901234567"  # 17 digits: too short to be one
    assert mask_digit_runs("position 1234 of 5678") == "position 1234 of 5678"
    run = "11010519700707100100"
    masked = mask_digit_runs(run)
    assert len(masked) == len(run) and masked[:6] == run[:6] and masked[-4:] == run[-4:] and "19700707" not in masked


@given(st.uuids(), st.text())
def test_a_name_based_id_is_the_standard_librarys_uuid5(namespace, name):
    made = name_uuid(namespace, name)
    assert made == uuid.uuid5(namespace, name) and made.version == 5 and made.variant == uuid.RFC_4122
