"""Resident ID numbers (GB 11643-1999): validation, masking, keyed pseudonyms.

The plain number never leaves this module's callers' memory: stored rows carry only the
keyed pseudonym (HMAC-SHA256) and the masked form.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from domain.errors import InvalidIdNumberError

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_SHAPE = re.compile(r"^[0-9]{17}[0-9X]$")  # ASCII only: \d would admit full-width digits
# The shape `parse_id_number` takes before it checks the birth date and the check character
# (it also forgives surrounding spaces): what the API's schema states of an ID number.
ID_NUMBER_PATTERN = r"^[0-9]{17}[0-9Xx]$"
PERSON_NAMESPACE = uuid.UUID("8c2f4f0e-7d1c-5b7a-9a51-1f0e6a2b9c01")


def check_character(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


@dataclass(frozen=True)
class IdFacts:
    region: str
    birth_date: date
    sex: str  # "male" | "female"


def parse_id_number(raw: object, field: str = "id_number") -> tuple[str, IdFacts]:
    """Return the normalised number and its facts, or raise naming `field`."""
    if not isinstance(raw, str):
        raise InvalidIdNumberError(f"{field}: must be an 18-character string", field=field)
    number = raw.strip().upper()
    if not _SHAPE.match(number):
        raise InvalidIdNumberError(f"{field}: must be 17 digits and a check character (digit or X)", field=field)
    try:
        birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise InvalidIdNumberError(f"{field}: the birth date is not a date", field=field) from None
    if birth.year < 1900:
        raise InvalidIdNumberError(f"{field}: the birth year is before 1900", field=field)
    if number[17] != check_character(number[:17]):
        raise InvalidIdNumberError(f"{field}: check character does not match (MOD 11-2)", field=field)
    sex = "male" if int(number[16]) % 2 == 1 else "female"
    return number, IdFacts(region=number[:6], birth_date=birth, sex=sex)


def sex_from_masked(masked: str) -> str:
    return "male" if int(masked[16]) % 2 == 1 else "female"


def pseudonym(number: str, key: bytes) -> str:
    """Keyed pseudonym: without the key nobody can test a guessed ID number against it."""
    return hmac.new(key, number.encode("ascii"), hashlib.sha256).hexdigest()


def person_id(pseudonym_hex: str) -> uuid.UUID:
    """The aggregate id of a person: deterministic, so one person is one aggregate."""
    return name_uuid(PERSON_NAMESPACE, pseudonym_hex)


_NOT_VARIANT_OR_VERSION = ~((0xC000 << 48) | (0xF000 << 64))
_RFC_4122_VERSION_5 = (0x8000 << 48) | (5 << 76)


def name_uuid(namespace: uuid.UUID, name: str) -> uuid.UUID:
    """`uuid.uuid5(namespace, name)`, the same value, built from its integer: the standard
    library's sets the version through `UUID.__init__`'s general checks, which cost as much as
    the SHA-1 (a batch derives a few ids per command)."""
    digest = hashlib.sha1(namespace.bytes + name.encode("utf-8")).digest()
    value = int.from_bytes(digest[:16], "big") & _NOT_VARIANT_OR_VERSION | _RFC_4122_VERSION_5
    return uuid.UUID(int=value)


def age_on(birth: date, day: date) -> int:
    years = day.year - birth.year
    if (day.month, day.day) < (birth.month, birth.day):
        years -= 1
    return years


def numbered_id(region: str, index: int, born_from: date = date(1950, 1, 1)) -> str:
    """The `index`-th valid ID number of `region` (500 a birthday from `born_from`): synthetic
    people for workloads and benchmarks, distinct for distinct indexes."""
    birth = born_from + timedelta(days=index // 500)
    first17 = f"{region}{birth:%Y%m%d}{index % 500 + 100:03d}"
    return first17 + check_character(first17)
