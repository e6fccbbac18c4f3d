"""A batch is stored whole or not at all; a conflicting writer makes it decide again."""

from __future__ import annotations

import pytest
from eventsourcing.persistence import IntegrityError, OperationalError

from domain.errors import StorageError
from infra.writing.prefetch import Prefetcher
from tests.support import apply_batch, apply_line, id_number, line

PARENT, CHILD = id_number(seq=11), id_number(birth="20150101", seq=22)


def history() -> list[str]:
    return [
        line("enroll", person=PARENT, insurance="employee"),
        line("enroll", person=CHILD, insurance="resident"),
        line("credit", person=PARENT, amount="50.00", source="adjustment"),
        line("bind", binder=PARENT, member=CHILD, relationship="child", channel="alipay", verification="documents"),
    ]


def test_a_failed_commit_stores_nothing_and_raises(app, monkeypatch):
    apply_batch(app, [line("enroll", person=PARENT, insurance="employee")])
    events_before = app.recorder.max_notification_id()
    original = app.events.put

    def broken_put(*args, **kwargs):
        raise OperationalError("disk on fire")

    monkeypatch.setattr(app.events, "put", broken_put)
    with pytest.raises(StorageError):
        apply_batch(app, history()[1:], Prefetcher())
    monkeypatch.setattr(app.events, "put", original)
    assert app.recorder.max_notification_id() == events_before
    assert app.get_person(PARENT).balance_fen == 0
    assert app.get_person(PARENT).members == {}
    assert apply_line(app, history()[1])["ok"]  # the child was never enrolled


def test_a_conflicting_writer_makes_the_whole_batch_decide_again(app, monkeypatch):
    """The first commit attempt fails as if another writer had saved first (IntegrityError);
    the batch is decided again from fresh state and stored once, whole."""
    apply_batch(app, history()[:2])
    original = app.events.put
    attempts = []

    def conflicted_once(events, **kwargs):
        attempts.append(len(events))
        if len(attempts) == 1:
            raise IntegrityError("version conflict")
        return original(events, **kwargs)

    monkeypatch.setattr(app.events, "put", conflicted_once)
    prefetcher = Prefetcher()
    results = apply_batch(
        app, [*history()[2:], line("credit", person=CHILD, amount="1.00", source="adjustment")], prefetcher
    )
    assert len(attempts) == 2 and attempts[0] == attempts[1]
    assert [r["ok"] for r in results] == [True, True, True]
    assert app.get_person(PARENT).balance_fen == 5000
    assert len(app.get_person(PARENT).members) == 1


def test_a_refused_command_leaves_no_trace_in_its_batch(app):
    """A command whose handler fails after changing an aggregate, without saving it, must not
    leak that change into later commands of the batch (the unit of work rebuilds it)."""
    from infra.writing.units import BatchUnitOfWork

    apply_batch(app, history())
    unit = BatchUnitOfWork(app)
    pid = app.person_ref(PARENT, "person")[0]

    def change_then_fail() -> dict:
        person = unit.get(pid)
        person.credit(amount_fen=999, source="adjustment", at=person.modified_on)
        raise RuntimeError("handler failed before saving")

    with pytest.raises(RuntimeError):
        unit.run(change_then_fail)
    assert unit.get(pid).balance_fen == 5000
    assert unit.events == []
