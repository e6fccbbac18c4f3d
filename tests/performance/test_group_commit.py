"""Group commit gives exactly what one-at-a-time processing gives.

Method: apply the same generated history to two fresh stores, once command by command (the
plain application, one transaction each) and once in batches; compare every per-command
result and the query views of every person named in the history. Histories are dense (few
people, many months) so that one batch holds many commands on the same people.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.eventstore import person_reads
from infra.eventstore.application import LedgerApp
from infra.tools.simulate import simulate
from infra.writing.prefetch import Prefetcher
from tests.support import apply_batch, apply_results, apply_stream, id_number, line
from tests.support.backends import settings_for

VIEWS = (
    person_reads.person_view,
    person_reads.balance_view,
    person_reads.bindings_view,
    person_reads.authorizations_view,
)


def one_at_a_time(app: LedgerApp, lines: list[str]) -> list[dict]:
    return list(apply_results(app, lines, batch_size=1))


def final_state(app: LedgerApp, lines: list[str]) -> dict:
    numbers: set[str] = set()
    for text in lines:
        data = json.loads(text)
        numbers.update(
            data[k] for k in ("person", "binder", "member", "authorizer", "beneficiary", "patient") if k in data
        )
    state: dict[str, Any] = {}
    for number in sorted(numbers):
        try:
            person = app.get_person(number)
        except Exception as error:  # noqa: BLE001 - "not enrolled" must agree too
            state[number] = type(error).__name__
            continue
        state[number] = [view(person) for view in VIEWS] + [person.deductions_count, person.version]
    return state


def assert_equivalent(db_single: str, db_batched: str, lines: list[str], batch_size: int) -> None:
    single, batched = LedgerApp(settings_for(db_single)), LedgerApp(settings_for(db_batched))
    try:
        expected = one_at_a_time(single, lines)
        got = list(apply_stream(batched, lines, batch_size=batch_size, prefetcher=Prefetcher(cache_size=50)))
        assert got == expected
        assert final_state(batched, lines) == final_state(single, lines)
        assert batched.recorder.max_notification_id() == single.recorder.max_notification_id()
    finally:
        single.close()
        batched.close()


@pytest.mark.parametrize("batch_size", [1, 7, 250])
def test_batches_equal_one_at_a_time_in_memory(batch_size):
    lines = list(simulate(120, 6, seed=21))
    assert_equivalent("memory://", "memory://", lines, batch_size)


@pytest.mark.postgres
def test_batches_equal_one_at_a_time_on_postgres(pg_url):
    lines = list(simulate(100, 4, seed=22))
    import psycopg

    from infra.store_urls import split_schema

    base, schema = split_schema(pg_url)
    other = schema + "_b"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {other}")
    try:
        assert_equivalent(pg_url, f"{base}?schema={other}", lines, batch_size=300)
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {other} CASCADE")


def test_a_batch_of_commands_on_the_same_people_sees_its_own_pending_events(app):
    """Enrol, fund, authorize, spend, refuse, reverse and close, all inside one batch."""
    parent, child = id_number(seq=11), id_number(birth="20150101", seq=22)
    texts = [
        line("enroll", person=parent, insurance="employee"),
        line("enroll", person=parent, insurance="employee"),  # ALREADY_ENROLLED within the batch
        line("enroll", person=child, insurance="resident"),
        line("credit", person=parent, amount="100.00", source="adjustment"),
        line("bind", binder=parent, member=child, relationship="child", channel="alipay", verification="documents"),
        line("bind", binder=parent, member=child, relationship="child", channel="wechat", verification="documents"),
        line("authorize", authorizer=parent, beneficiary=child, relationship="child"),
        line(
            "deduct",
            settlement_id="S-1",
            patient=child,
            amount="30.00",
            category="pharmacy",
            institution="P1",
            presented_by=parent,
        ),
        line(
            "deduct",
            settlement_id="S-1",
            patient=child,
            amount="30.00",
            category="pharmacy",
            institution="P1",
            presented_by=parent,
        ),  # duplicate
        line("deduct", settlement_id="S-2", patient=child, amount="99.00", category="fitness", institution="G"),
        line("reverse", settlement_id="S-1"),
        line("reverse", settlement_id="S-1"),
        line("cancel", person=parent),
        line("credit", person=parent, amount="1.00", source="adjustment"),
    ]
    expected = one_at_a_time(LedgerApp(settings_for("memory://")), texts)
    got = [{"line": n, **r} for n, r in enumerate(apply_batch(app, texts, Prefetcher()), start=1)]
    assert got == expected
    codes = [r["ok"] or r["error"]["code"] for r in got]
    assert codes == [
        True,
        "ALREADY_ENROLLED",
        True,
        True,
        True,
        "ALREADY_BOUND",
        True,
        True,
        True,
        "CATEGORY_NOT_ELIGIBLE",
        True,
        "ALREADY_REVERSED",
        True,
        "PERSON_NOT_ACTIVE",
    ]
    assert got[8]["duplicate"] is True
    assert app.get_person(parent).balance_fen == 10000 and app.get_person(parent).status == "cancelled"


def test_blank_lines_keep_their_place_in_the_results(app):
    person = id_number(seq=31)
    texts = [
        line("enroll", person=person, insurance="employee"),
        "",
        "  ",
        line("credit", person=person, amount="5.00", source="adjustment"),
    ]
    results = list(apply_results(app, texts, batch_size=10))
    assert [r["line"] for r in results] == [1, 2, 3, 4]
    assert [r["ok"] for r in results] == [True, False, False, True]
