"""The national platform's field types: yuan amounts held as integer fen, its codes, its times.

Every validator here raises a `PydanticCustomError` whose message says what is wrong and never
repeats the value (it may be an ID number); `infra.national.lines` turns it into INVALID_INPUT
naming the field's whole path (`output.setlinfo.acct_pay`).

Amounts are decimal yuan with at most two decimals, given as JSON strings or JSON numbers. A JSON
number is never read as a binary float: the line parser hands its literal text over as a
`JsonNumber`, and it is parsed like a string, so `12.345` is refused exactly as `"12.345"` is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, SecretStr
from pydantic_core import PydanticCustomError

from domain.clock import CST
from domain.errors import InvalidInputError
from domain.masking import holds_id_number, mask_id_numbers
from domain.money import parse_yuan
from domain.platform_record import (
    Admdvs,
    Code,
    Flag,
    Insutype,
    MdtrtCertType,
    MedType,
    PsnCertType,
    Reference,
)
from infra.commands.base import AT_MAX, AT_MIN

# The codes and references of the platform record (domain.platform_record), re-exported: the
# records check them exactly as the record that keeps them does.
__all__ = ["Admdvs", "Code", "Flag", "Insutype", "MdtrtCertType", "MedType", "PsnCertType", "Reference"]


@dataclass(frozen=True)
class JsonNumber:
    """A JSON number's literal text, as the line parser found it (never converted to a float)."""

    text: str


_ZERO = re.compile(r"^0(\.0{1,2})?$")
_COUNT = re.compile(r"^(0|[1-9][0-9]{0,9})$")  # the platform's 10-digit counts
_TIME = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def _amount_text(raw: object) -> str:
    if isinstance(raw, str):
        return raw.strip()
    if isinstance(raw, JsonNumber):
        return raw.text
    if isinstance(raw, int) and not isinstance(raw, bool):
        return str(raw)
    if isinstance(raw, Decimal):
        return str(raw)
    raise PydanticCustomError("yuan_type", 'must be a decimal yuan amount such as "12.30" or 12.30')


def yuan_to_fen(raw: object) -> int:
    """'12.30', 12.30 (as a JSON number) or 12 -> integer fen; zero allowed, never negative."""
    text = _amount_text(raw)
    if text.startswith("-"):
        raise PydanticCustomError("yuan_negative", "must not be negative")
    if _ZERO.match(text):
        return 0
    try:
        return parse_yuan(text, "amount")
    except InvalidInputError as error:
        raise PydanticCustomError("yuan_amount", error.message.removeprefix("amount: ")) from None


def _count(raw: object) -> int:
    text = str(raw) if isinstance(raw, int) and not isinstance(raw, bool) else raw
    if not isinstance(text, str) or not _COUNT.match(text):
        raise PydanticCustomError("count", "must be a whole number of at most 10 digits")
    return int(text)


def _platform_time(raw: object) -> datetime:
    """'yyyy-MM-dd HH:mm:ss', a local time in UTC+8, as an aware datetime."""
    if not isinstance(raw, str) or not _TIME.match(raw):
        raise PydanticCustomError("platform_time", "must be a time written yyyy-MM-dd HH:mm:ss (UTC+8)")
    try:
        at = datetime.strptime(raw, "%Y-%m-%d %H:%M:%S").replace(tzinfo=CST)
    except ValueError:
        raise PydanticCustomError("platform_time", "is not a real date and time") from None
    if not AT_MIN <= at < AT_MAX:
        raise PydanticCustomError("platform_time", "must lie in [2000-01-01 08:00:00, 2100-01-01 08:00:00)")
    return at


def _platform_date(raw: object) -> date:
    if not isinstance(raw, str) or not _DATE.match(raw):
        raise PydanticCustomError("platform_date", "must be a date written yyyy-MM-dd")
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise PydanticCustomError("platform_date", "is not a real date") from None
    if not AT_MIN.date() <= day < AT_MAX.date():
        raise PydanticCustomError("platform_date", "must lie in [2000-01-01, 2100-01-01)")
    return day


def _no_id_number(value: str) -> str:
    if holds_id_number(value):
        raise PydanticCustomError("id_number_like", "must not contain an ID number")
    return value


def _cert_number(raw: object) -> SecretStr:
    """A certificate number (often a plain ID number): held only as a secret, so that no dump,
    repr or log line of a record can carry it."""
    if not isinstance(raw, str) or not 1 <= len(raw) <= 50:
        raise PydanticCustomError("cert_number", "must be a string of 1 to 50 characters")
    return SecretStr(raw)


def _passed_over(raw: object) -> SecretStr | None:
    """A field of the platform's the ledger reads past (PASSED_OVER_FIELDS): a short string, a
    number or null. Held as a secret (it may be a name or a birth date): never kept or echoed."""
    if raw is None:
        return None
    text = raw.text if isinstance(raw, JsonNumber) else raw
    if isinstance(text, int) and not isinstance(text, bool):
        text = str(text)
    if not isinstance(text, str) or len(text) > 100:
        raise PydanticCustomError("passed_over", "must be a string of at most 100 characters, a number or null")
    return SecretStr(text)


# Money and counts.
Fen = Annotated[int, BeforeValidator(yuan_to_fen)]
Count = Annotated[int, BeforeValidator(_count)]
# Times in UTC+8.
PlatformTime = Annotated[datetime, BeforeValidator(_platform_time)]
PlatformDate = Annotated[date, BeforeValidator(_platform_date)]
# Identifiers the ledger keys on and echoes (setl_id, fixmedins_code, msgid): the platform's 30
# characters; never an ID number, because they are stored and answered as given.
Key = Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,30}$"), AfterValidator(_no_id_number)]
CertNumber = Annotated[SecretStr, BeforeValidator(_cert_number)]
PassedOver = Annotated[SecretStr | None, BeforeValidator(_passed_over)]
# Free text of the platform's answers and the operator: short, masked.
Text = Annotated[str, Field(max_length=200), AfterValidator(mask_id_numbers)]
Operator = Annotated[str, Field(min_length=1, max_length=30)]  # read, never kept
Infno = Literal["2207", "2208", "3201"]
