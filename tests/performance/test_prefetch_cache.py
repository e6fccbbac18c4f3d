"""The prefetcher's cache between batches: only committed people are kept, and a person some
other writer changed since is read again before the next batch decides anything."""

from __future__ import annotations

from contextlib import contextmanager

import pytest

from domain.command_record import command_record_ids
from domain.person import Person
from domain.settlement import settlement_aggregate_id
from infra.eventstore.application import LedgerApp
from infra.roles import LOCAL_TENANT
from infra.writing.prefetch import Prefetcher
from tests.support import apply_batch, apply_line, id_number, line
from tests.support.backends import settings_for

PARENT, CHILD = id_number(seq=31), id_number(birth="20150101", seq=32)


def history() -> list[str]:
    return [
        line("enroll", person=PARENT, insurance="employee"),
        line("enroll", person=CHILD, insurance="resident"),
        line("credit", person=PARENT, amount="50.00", source="adjustment"),
        line(
            "deduct",
            settlement_id="S-CACHE-1",
            patient=PARENT,
            amount="10.00",
            category="pharmacy",
            institution="PH-DASHENLIN",
        ),
    ]


def test_settlement_entries_are_not_kept_between_batches(app):
    prefetcher = Prefetcher()
    results = apply_batch(app, history(), prefetcher)
    assert [r["ok"] for r in results] == [True, True, True, True]
    assert prefetcher.cache and all(isinstance(a, Person) for a in prefetcher.cache.values())
    # A reversal in a later batch still finds the settlement (loaded from the store).
    reversed_ = apply_batch(app, [line("reverse", settlement_id="S-CACHE-1", reason="refund")], prefetcher)
    assert reversed_[0]["ok"], reversed_
    assert app.get_person(PARENT).balance_fen == 5000


@pytest.mark.postgres
def test_a_person_changed_by_another_writer_is_read_again(pg_url):
    writer, other = LedgerApp(settings_for(pg_url)), LedgerApp(settings_for(pg_url))
    try:
        prefetcher = Prefetcher()
        apply_batch(writer, history(), prefetcher)
        assert apply_line(other, line("credit", person=PARENT, amount="7.00", source="adjustment"))["ok"]
        stored = writer.events.put
        puts = []

        def counted(events, **kwargs):
            puts.append(len(events))
            return stored(events, **kwargs)

        writer.events.put = counted  # type: ignore[method-assign, assignment]  # counts puts on this instance
        result = apply_batch(writer, [line("credit", person=PARENT, amount="1.00", source="adjustment")], prefetcher)
        # 50 - 10 + 7 + 1 yuan, decided once on the fresh state (no conflict, no second attempt).
        assert result[0]["ok"] and result[0]["balance_fen"] == 4800, result
        assert puts == [1]
    finally:
        writer.close()
        other.close()


@pytest.mark.postgres
@pytest.mark.parametrize("changed_elsewhere", [False, True])
def test_a_cached_person_with_a_snapshot_is_read_on_top_of_the_newer_of_the_two(pg_url, changed_elsewhere):
    writer, other = LedgerApp(settings_for(pg_url)), LedgerApp(settings_for(pg_url))
    try:
        prefetcher = Prefetcher()
        apply_batch(writer, history(), prefetcher)
        parent_id = writer.person_ref(PARENT, "person").id
        assert parent_id in prefetcher.cache
        if changed_elsewhere:
            assert apply_line(other, line("credit", person=PARENT, amount="7.00", source="adjustment"))["ok"]
        other.take_snapshot(parent_id)  # a snapshot as new as the store, beside the cached state
        result = apply_batch(writer, [line("credit", person=PARENT, amount="1.00", source="adjustment")], prefetcher)
        assert result[0]["ok"] and result[0]["balance_fen"] == 4100 + (700 if changed_elsewhere else 0), result
    finally:
        writer.close()
        other.close()


def test_command_records_and_settlements_are_read_without_asking_for_a_snapshot(app, monkeypatch):
    """Only people are snapshotted: the prefetch asks the snapshot table for no command record
    and no settlement, and a retried command still finds its record (its answer replayed) and a
    reversal its settlement."""
    asked: list[set] = []
    bulk_reader = type(app.recorder).bulk_reader

    @contextmanager
    def counting(recorder, snapshots):
        with bulk_reader(recorder, snapshots) as reader:
            latest_snapshots = reader.latest_snapshots

            def asking(ids):
                asked.append(set(ids))
                return latest_snapshots(ids)

            reader.latest_snapshots = asking
            yield reader

    monkeypatch.setattr(type(app.recorder), "bulk_reader", counting)
    sent = [line("enroll", person=PARENT, insurance="employee", command_id="c-1")]
    prefetcher = Prefetcher()
    first = apply_batch(app, sent, prefetcher)
    again = apply_batch(app, sent, prefetcher)
    assert first[0]["ok"] and again == [{**first[0], "duplicate": True}]
    assert [r["ok"] for r in apply_batch(app, history()[2:], prefetcher)] == [True, True]
    asked.clear()
    refund = apply_batch(app, [line("reverse", settlement_id="S-CACHE-1", reason="refund")], Prefetcher())
    assert refund[0]["ok"], refund
    assert app.person_ref(PARENT, "person").id in set().union(*asked)  # a person not cached: asked for
    unsnapshotted = set(command_record_ids("c-1", LOCAL_TENANT)) | {settlement_aggregate_id("S-CACHE-1")}
    assert not any(ids & unsnapshotted for ids in asked)
