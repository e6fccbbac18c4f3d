"""Calendar arithmetic in China Standard Time. No clock is read here: times are passed in."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import overload

CST = timezone(timedelta(hours=8), "UTC+08:00")
# A natural month as every edge takes it, YYYY-MM: years 0001-9999 (what a date can hold), months
# 01-12. The same text is the OpenAPI pattern of `month` and the console's month field.
YEAR_PATTERN = r"(?:[1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])"
MONTH_PATTERN = rf"^{YEAR_PATTERN}-(?:0[1-9]|1[0-2])$"


def local_date(at: datetime) -> date:
    return at.astimezone(CST).date()


@overload
def local_iso(at: datetime) -> str: ...
@overload
def local_iso(at: None) -> None: ...
def local_iso(at: datetime | None) -> str | None:
    """The time as people read it here: ISO-8601 in UTC+8 (no time, None)."""
    return at.astimezone(CST).isoformat() if at is not None else None


def month_of(at: datetime) -> str:
    """Natural month in UTC+8: 2025-03-31T17:00:00Z -> '2025-04'."""
    local = at.astimezone(CST)
    return f"{local.year:04d}-{local.month:02d}"
