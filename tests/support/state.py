"""Helpers for story tests: people to enroll, and 'state unchanged' checks after a refusal."""

from __future__ import annotations

from typing import Any

from tests.support import Ledger, id_number

# Aggregate attributes that a recorded rejection may change (it adds one event, nothing else).
_BOOKKEEPING = ("_version", "_modified_on")


def adult(seq: int, region: str = "110105", birth: str = "19800101") -> str:
    """An adult's ID number; odd `seq` is male, even female."""
    return id_number(region=region, birth=birth, seq=seq)


def minor(seq: int, region: str = "110105", birth: str = "20150601") -> str:
    return id_number(region=region, birth=birth, seq=seq)


def authorized_pair(ledger: Ledger) -> tuple[str, str]:
    """A parent with 100.00 yuan who authorizes their child (mutual aid): (parent, child)."""
    parent = ledger.enroll(adult(1), balance="100.00")
    child = ledger.enroll(minor(20), insurance="resident")
    ledger.ok("authorize", authorizer=parent, beneficiary=child, relationship="child")
    return parent, child


def march(day: int, hour: int = 9, minute: int = 0, second: int = 0) -> str:
    return f"2025-03-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}+08:00"


def at(month: int, day: int = 3, year: int = 2025) -> str:
    return f"{year}-{month:02d}-{day:02d}T09:00:00+08:00"


def snapshot(ledger: Ledger, *people: str) -> dict[str, dict[str, Any]]:
    """Every attribute of each person's aggregate (balances, ties, counters, version)."""
    return {raw: {k: v for k, v in vars(ledger.person(raw)).items() if k != "_pending_events"} for raw in people}


def assert_unchanged(ledger: Ledger, before: dict[str, dict[str, Any]]) -> None:
    assert snapshot(ledger, *before) == before


def assert_only_rejection_recorded(ledger: Ledger, before: dict[str, dict[str, Any]]) -> None:
    """A refused bind adds exactly one event per person and changes nothing else."""
    after = snapshot(ledger, *before)
    for raw, state in before.items():
        assert after[raw]["_version"] == state["_version"] + 1, raw
        strip = lambda s: {k: v for k, v in s.items() if k not in _BOOKKEEPING}  # noqa: E731
        assert strip(after[raw]) == strip(state), raw


def events_of(ledger: Ledger, raw: str) -> list[Any]:
    pid = ledger.app.person_ref(raw, "person")[0]
    return list(ledger.app.events.get(pid))


def event_names(ledger: Ledger, raw: str) -> list[str]:
    return [type(e).__name__ for e in events_of(ledger, raw)]


def masked(raw: str) -> str:
    return raw[:6] + "*" * 8 + raw[-4:]
