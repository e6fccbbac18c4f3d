"""Resolving an ambiguous insert (infra.storage.postgres_inserts), called directly on PostgreSQL:
"landed" returns the stored notification ids without sending again, "absent" sends again,
other content is a genuine conflict, and an unanswerable store is CommitOutcomeUnknownError.
Also: the bounded waits reach the connections, and a snapshot never fails a save."""

from __future__ import annotations

import uuid

import pytest
from eventsourcing.persistence import IntegrityError, OperationalError, StoredEvent

from domain.errors import StorageError
from infra.eventstore.application import LedgerApp
from infra.settings import ConfigError, Settings, postgres_waits
from infra.storage import postgres_inserts as pg_recorder
from infra.storage.postgres_inserts import CommitOutcomeUnknownError
from tests.support import DEV_KEY, apply_line, line
from tests.support.state import adult

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_app(pg_url):
    app = LedgerApp(Settings(db=pg_url, pseudonym_key=DEV_KEY, using_development_key=False))
    yield app
    app.close()


def batch(state: bytes = b"ours") -> list[StoredEvent]:
    aggregate = uuid.uuid4()
    return [
        StoredEvent(originator_id=aggregate, originator_version=v, topic="t:Event", state=state + bytes([v]))
        for v in (1, 2, 3)
    ]


@pytest.fixture
def sends(monkeypatch):
    """Counts the inserts the recorder sends while resolving."""
    calls = []
    real = pg_recorder._LIBRARY_INSERT_EVENTS

    def counted(recorder, events, **kwargs):
        calls.append(len(events))
        return real(recorder, events, **kwargs)

    monkeypatch.setattr(pg_recorder, "_LIBRARY_INSERT_EVENTS", counted)
    return calls


def test_landed_returns_the_stored_ids_and_sends_nothing(pg_app, sends):
    events = batch()
    ids = pg_app.recorder.insert_events(events)
    sends.clear()
    assert pg_app.recorder.resolve_commit_outcome(events, OperationalError("reply lost")) == ids
    assert sends == []


def test_absent_is_sent_again_once(pg_app, sends):
    events = batch()
    ids = pg_app.recorder.resolve_commit_outcome(events, OperationalError("reply lost"))
    assert sends == [3]
    assert pg_app.recorder.stored_outcome(events) == list(ids)


def test_other_content_in_our_places_is_a_genuine_conflict(pg_app, sends):
    events = batch()
    theirs = [StoredEvent(e.originator_id, e.originator_version, e.topic, b"theirs") for e in events]
    pg_app.recorder.insert_events(theirs)
    with pytest.raises(IntegrityError):
        pg_app.recorder.resolve_commit_outcome(events, OperationalError("reply lost"))


def test_a_lost_transaction_still_committing_when_we_looked_is_ours(pg_app, monkeypatch):
    """First look: absent; the re-send hits the unique key because the lost transaction
    committed meanwhile; the second look finds our events: landed, not a conflict."""
    events = batch()
    real = pg_recorder._LIBRARY_INSERT_EVENTS

    def committed_meanwhile(recorder, stored, **kwargs):
        real(recorder, stored, **kwargs)  # the lost transaction commits now
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(pg_recorder, "_LIBRARY_INSERT_EVENTS", committed_meanwhile)
    ids = pg_app.recorder.resolve_commit_outcome(events, OperationalError("reply lost"))
    assert len(ids) == 3 and ids == pg_app.recorder.stored_outcome(events)


def test_a_store_that_cannot_be_asked_gives_commit_outcome_unknown(pg_app, monkeypatch):
    def unreachable(events):
        raise OperationalError("connection refused")

    monkeypatch.setattr(pg_app.recorder, "stored_outcome", unreachable)
    monkeypatch.setattr(pg_app.recorder, "commit_outcome_timeout_s", 0.3)
    with pytest.raises(CommitOutcomeUnknownError, match="outcome unknown") as raised:
        pg_app.recorder.resolve_commit_outcome(batch(), OperationalError("server closed the connection"))
    assert isinstance(raised.value, OperationalError)


def test_an_unknown_outcome_is_a_storage_error_for_a_command(pg_app, monkeypatch):
    def unknown(*args, **kwargs):
        raise CommitOutcomeUnknownError("commit outcome unknown: test")

    monkeypatch.setattr(pg_app.events, "put", unknown)
    with pytest.raises(StorageError, match="outcome unknown"):
        apply_line(pg_app, line("enroll", person=adult(1), insurance="employee"))


@pytest.mark.parametrize("error", [IntegrityError("snapshot exists"), OperationalError("gone")])
def test_a_snapshot_that_fails_costs_nothing_but_replay_time(pg_app, monkeypatch, error):
    def failing(*args, **kwargs):
        raise error

    monkeypatch.setattr(pg_app.snapshots, "put", failing)
    apply_line(pg_app, line("enroll", person=adult(1), insurance="employee"))
    pid = pg_app.person_ref(adult(1), "person")[0]
    pg_app.take_snapshot(pid)  # no exception


def test_every_connection_gets_the_bounded_waits(pg_url, monkeypatch):
    monkeypatch.setenv("LEDGER_PG_STATEMENT_TIMEOUT_S", "1")
    monkeypatch.setenv("LEDGER_PG_KEEPALIVE_IDLE_S", "7")
    app = LedgerApp(Settings(db=pg_url, pseudonym_key=DEV_KEY, using_development_key=False))
    recorder = app.recorder
    assert isinstance(recorder, pg_recorder.ArrayInserts) and app.snapshots is not None
    try:
        with recorder.datastore.get_connection() as conn:
            parameters = conn.info.get_parameters()
            assert (parameters["keepalives"], parameters["keepalives_idle"]) == ("1", "7")
            assert parameters["tcp_user_timeout"] == "30000" and parameters["connect_timeout"] == "10"
        with (
            pytest.raises(OperationalError, match="statement timeout"),
            recorder.datastore.get_connection() as conn,
        ):  # a server-side bound
            conn.execute("SELECT pg_sleep(3)")
        assert getattr(app.snapshots.recorder, "datastore", None) is recorder.datastore  # one datastore for all
    finally:
        app.close()


def test_a_bad_wait_setting_is_a_config_error(monkeypatch):
    monkeypatch.setenv("LEDGER_PG_CONNECT_TIMEOUT_S", "soon")
    with pytest.raises(ConfigError, match="LEDGER_PG_CONNECT_TIMEOUT_S"):
        postgres_waits()
