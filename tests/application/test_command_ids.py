"""Retries are harmless: a command re-sent with its command id gets its original answer back
and records nothing, whatever its type and whether it was accepted or refused.

Method: tell a family's story where every command carries an id, re-send each command right
after its first answer, and check that the second answer is the first plus `duplicate: true`
and that no aggregate changed (versions included). Then the edges: same id with other content,
refusals that record nothing (decided again), and group commit giving the same answers.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from domain.command_record import command_aggregate_id
from infra.writing.prefetch import Prefetcher
from tests.support import Ledger, apply_batch, line
from tests.support.state import adult, minor, snapshot

FATHER, MOTHER, CHILD = adult(1), adult(2), minor(20)


def story() -> list[tuple[str, dict[str, Any]]]:
    """Every command type once, in an order the rules accept (bind refused once: recorded)."""
    bind = {
        "binder": FATHER,
        "member": CHILD,
        "relationship": "child",
        "channel": "alipay",
        "verification": "documents",
    }
    return [
        ("enroll", {"person": FATHER, "insurance": "employee", "at": "2025-03-01T09:00:00+08:00"}),
        ("enroll", {"person": MOTHER, "insurance": "employee", "at": "2025-03-01T09:01:00+08:00"}),
        ("enroll", {"person": CHILD, "insurance": "resident", "at": "2025-03-01T09:02:00+08:00"}),
        (
            "credit",
            {"person": FATHER, "amount": "300.00", "source": "monthly_contribution", "at": "2025-03-02T09:00:00+08:00"},
        ),
        ("bind", {**bind, "at": "2025-03-03T09:00:00+08:00"}),
        ("bind", {**bind, "at": "2025-03-03T09:05:00+08:00"}),  # ALREADY_BOUND: a recorded refusal
        (
            "authorize",
            {"authorizer": FATHER, "beneficiary": CHILD, "relationship": "child", "at": "2025-03-04T09:00:00+08:00"},
        ),
        (
            "deduct",
            {
                "settlement_id": "S-1",
                "patient": CHILD,
                "amount": "50.00",
                "category": "pharmacy",
                "institution": "PH-1",
                "presented_by": FATHER,
                "at": "2025-03-05T09:00:00+08:00",
            },
        ),
        ("reverse", {"settlement_id": "S-1", "reason": "refund", "at": "2025-03-06T09:00:00+08:00"}),
        ("revoke", {"authorizer": FATHER, "beneficiary": CHILD, "at": "2025-03-07T09:00:00+08:00"}),
        ("unbind", {"binder": FATHER, "member": CHILD, "reason": "binder_request", "at": "2025-03-08T09:00:00+08:00"}),
        ("suspend", {"person": MOTHER, "reason": "contributions lapsed", "at": "2025-03-09T09:00:00+08:00"}),
        ("resume", {"person": MOTHER, "at": "2025-03-10T09:00:00+08:00"}),
        ("transfer", {"person": MOTHER, "region": "420102", "at": "2025-03-11T09:00:00+08:00"}),
        ("expire", {"person": MOTHER, "reason": "moved abroad", "at": "2025-03-12T09:00:00+08:00"}),
        ("cancel", {"person": CHILD, "reason": "deceased", "at": "2025-03-13T09:00:00+08:00"}),
    ]


def state(ledger: Ledger) -> dict[str, Any]:
    """Every attribute of each of the family's aggregates that exists yet."""
    enrolled = [raw for raw in (FATHER, MOTHER, CHILD) if ledger.app.person_ref(raw, "p")[0] in ledger.app.repository]
    return snapshot(ledger, *enrolled)


def with_id(number: int, type_: str, fields: dict[str, Any]) -> str:
    return line(type_, command_id=f"story-{number}", **fields)


def test_every_command_type_retried_returns_its_first_answer_and_records_nothing(ledger: Ledger):
    seen_types = set()
    for number, (type_, fields) in enumerate(story()):
        text = with_id(number, type_, fields)
        first = ledger.apply_line(text)
        before = state(ledger)
        log_head = ledger.app.recorder.max_notification_id()
        again = ledger.apply_line(text)
        assert again == {**first, "duplicate": True}, type_
        assert again["command_id"] == f"story-{number}"
        assert state(ledger) == before, type_
        assert ledger.app.recorder.max_notification_id() == log_head, type_
        seen_types.add(type_)
    assert seen_types == {
        "enroll",
        "credit",
        "bind",
        "authorize",
        "deduct",
        "reverse",
        "revoke",
        "unbind",
        "suspend",
        "resume",
        "transfer",
        "expire",
        "cancel",
    }


def test_a_recorded_refusal_is_remembered_and_not_counted_twice(ledger: Ledger):
    commands = story()[:6]
    answers = [ledger.apply_line(with_id(n, t, f)) for n, (t, f) in enumerate(commands)]
    assert answers[5]["error"]["code"] == "ALREADY_BOUND" and answers[5]["error"]["recorded"] is True
    rejections_before = [type(e).__name__ for e in ledger.app.events.get(ledger.app.person_ref(FATHER, "p")[0])]
    again = ledger.apply_line(with_id(5, *commands[5]))
    assert again == {**answers[5], "duplicate": True}
    rejections_after = [type(e).__name__ for e in ledger.app.events.get(ledger.app.person_ref(FATHER, "p")[0])]
    assert rejections_after == rejections_before


def test_same_id_with_other_content_is_a_conflict_naming_command_id(ledger: Ledger):
    ledger.apply_line(with_id(0, *story()[0]))
    ledger.apply_line(with_id(3, "credit", {**story()[3][1], "person": FATHER}))
    before = snapshot(ledger, FATHER)
    other = with_id(3, "credit", {**story()[3][1], "amount": "999.00"})
    answer = ledger.apply_line(other)
    assert answer["ok"] is False and answer["command_id"] == "story-3"
    assert answer["error"]["code"] == "COMMAND_CONFLICT" and answer["error"]["field"] == "command_id"
    assert snapshot(ledger, FATHER) == before


def test_the_same_instant_written_with_another_offset_is_the_same_content(ledger: Ledger):
    ledger.apply_line(with_id(0, *story()[0]))
    first = ledger.apply_line(with_id(3, *story()[3]))
    utc = {**story()[3][1], "at": "2025-03-02T01:00:00Z"}
    assert ledger.apply_line(with_id(3, "credit", utc)) == {**first, "duplicate": True}


def test_a_refusal_that_records_nothing_is_decided_again_on_retry(ledger: Ledger):
    """PRESENTER_NOT_BOUND stores nothing, so the id is not used up: once the binding exists,
    the same command with the same id is decided again and accepted (documented rule)."""
    for number, (type_, fields) in enumerate(story()[:4]):
        ledger.apply_line(with_id(number, type_, fields))
    deduct = with_id(7, *story()[7])
    first = ledger.apply_line(deduct)
    assert first["error"]["code"] == "PRESENTER_NOT_BOUND"
    assert command_aggregate_id("story-7") not in ledger.app.repository
    ledger.apply_line(with_id(4, *story()[4]))
    second = ledger.apply_line(deduct)
    assert second["ok"] is True and second["duplicate"] is False


def test_unknown_person_is_not_remembered(ledger: Ledger):
    credit = with_id(3, *story()[3])
    assert ledger.apply_line(credit)["error"]["code"] == "UNKNOWN_PERSON"
    ledger.apply_line(with_id(0, *story()[0]))
    assert ledger.apply_line(credit)["ok"] is True


@pytest.mark.parametrize("batch_size", [1, 4, 100])
def test_group_commit_answers_retries_within_and_across_batches_like_one_at_a_time(app, batch_size: int):
    texts = [with_id(n, t, f) for n, (t, f) in enumerate(story())]
    doubled = [text for text in texts for _ in range(2)]  # each command immediately re-sent
    prefetcher = Prefetcher()
    answers: list[dict] = []
    for start in range(0, len(doubled), batch_size):
        answers += apply_batch(app, doubled[start : start + batch_size], prefetcher)
    for first, again in zip(answers[::2], answers[1::2], strict=True):
        assert again == {**first, "duplicate": True}
    assert [json.loads(t)["command_id"] for t in doubled] == [a["command_id"] for a in answers]
