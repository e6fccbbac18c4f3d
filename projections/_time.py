"""Timestamps as views store them: the local (UTC+8) ISO text shown to people, and integer
microseconds since the epoch to sort by (text order of ISO strings is not time order)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from domain.clock import CST

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)


def local_iso(at: datetime) -> str:
    return at.astimezone(CST).isoformat()


def epoch_us(at: datetime) -> int:
    return (at - _EPOCH) // _MICROSECOND
