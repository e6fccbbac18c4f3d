"""Timestamps as views store them: the local (UTC+8) ISO text shown to people, integer
microseconds since the epoch to sort by (text order of ISO strings is not time order), and the
natural month (UTC+8). Records carry timestamps as the ISO text pydantic stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.clock import month_of

__all__ = ["epoch_us", "month", "parse"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


def epoch_us(at: datetime) -> int:
    return (at - _EPOCH) // _MICROSECOND


def month(text: str) -> str:
    """The natural month (UTC+8) of a stored timestamp."""
    return month_of(parse(text))
