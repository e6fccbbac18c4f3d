"""Exactly once: a crash between processing a page and committing it neither loses nor
double-counts an event, on SQLite and on PostgreSQL.

Method: process a generated history in small pages with a hook that runs inside the view's
transaction after the rows and the tracking position are written and before the commit. The
hook either raises (the in-process case) or kills the process with SIGKILL (a real crash, in a
subprocess). Afterwards the view's position is the last committed page, and catching up again
gives exactly the checksums of a clean rebuild and the aggregates' answers.
"""

from __future__ import annotations

import signal
import textwrap

import pytest
from eventsourcing.persistence import IntegrityError, Tracking, TrackingRecorder

from infra.eventstore.application import LedgerApp
from infra.readmodels.runner import ViewRunner
from infra.readmodels.views import assert_pointer, tracking_key
from tests.support import DEV_KEY
from tests.support.backends import settings_for
from tests.support.crash import Crash, crash_when, run_killed
from tests.support.views import assert_views_agree_with_aggregates
from tests.support.workload import Workload


def _history(app: LedgerApp, events: int = 700) -> Workload:
    history = Workload(app, persons=40, seed=5)
    history.run(events)
    return history


def _rebuilt_summaries(app: LedgerApp) -> dict:
    return ViewRunner(app, page_size=500).rebuild()


def test_crash_before_commit_loses_and_duplicates_nothing(backend_app):
    history = _history(backend_app)
    hook = crash_when(lambda view, generation, last: view == "balances" and last > 300)
    runner = ViewRunner(backend_app, page_size=100, before_commit=hook)
    with pytest.raises(Crash):
        runner.catch_up()
    assert hook.fired  # the crash happened inside the balances transaction, past event 300
    positions = ViewRunner(backend_app).positions()
    # the crashed page was rolled back, rows and tracking together, for every view: the views
    # catch up in one transaction a page
    assert set(positions.values()) == {300}

    live = ViewRunner(backend_app, page_size=100)
    live.catch_up()
    assert live.summaries() == _rebuilt_summaries(backend_app)
    assert_views_agree_with_aggregates(backend_app, live.views, list(history.numbers.values()))


def test_redelivered_events_are_skipped_and_stale_tracking_is_refused(backend_app):
    _history(backend_app, events=200)
    runner = ViewRunner(backend_app, page_size=50)
    runner.catch_up()
    before = runner.summaries()
    page = runner._page(0)  # the first 50 events again, as a restarted runner might re-read them
    for projection in runner.projections:
        assert runner.views.apply_events(projection, page) == 0
    assert runner.summaries() == before
    # and the library's tracking recorder itself refuses to move a position backwards
    views, pointer = runner.views, assert_pointer(runner.views.pointer("balances"), "balances")
    assert isinstance(views, TrackingRecorder)
    with pytest.raises(IntegrityError):
        views.insert_tracking(Tracking(tracking_key("balances", pointer.active), 10))


KILL_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    from infra.eventstore.application import LedgerApp
    from infra.settings import Settings
    from infra.readmodels.runner import ViewRunner

    url, key, crash_after = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3])
    app = LedgerApp(Settings(db=url, pseudonym_key=key, using_development_key=False))

    def kill(view, generation, last):
        if view == "quota" and last > crash_after:
            os.kill(os.getpid(), signal.SIGKILL)  # kill -9 inside the open transaction

    ViewRunner(app, page_size=100, before_commit=kill).catch_up()
    """
)


def test_kill_9_before_commit_loses_and_duplicates_nothing(backend_url):
    app = LedgerApp(settings_for(backend_url))
    history = _history(app)
    assert run_killed(KILL_SCRIPT, backend_url, DEV_KEY.decode(), "400") == -signal.SIGKILL
    positions = ViewRunner(app).positions()
    assert positions["quota"] == 400  # the killed transaction left nothing behind
    runner = ViewRunner(app, page_size=100)
    runner.catch_up()
    assert runner.summaries() == _rebuilt_summaries(app)
    assert_views_agree_with_aggregates(app, runner.views, list(history.numbers.values()))
    app.close()


def test_the_library_projection_entry_point_writes_one_event_and_its_tracking(ledger):
    """`Projection.process_event(event, tracking)` (the eventsourcing API) is one transaction."""
    from projections.balances import BalancesProjection

    Workload(ledger.app, persons=5, seed=1).run(40)
    runner = ViewRunner(ledger.app, names=["balances"])
    projection = BalancesProjection(runner.views)
    for notification in ledger.app.recorder.select_notifications(start=1, limit=100):
        projection.process_event(
            ledger.app.mapper.to_domain_event(notification), Tracking(ledger.app.name, notification.id)
        )
    assert runner.positions() == {"balances": runner.head()}
    assert runner.summaries() == ViewRunner(ledger.app, names=["balances"]).rebuild()


def test_the_follower_reads_every_view_s_position_in_one_transaction(backend_app, monkeypatch):
    """Before every round the follower asks where each view stands: one read transaction for all
    of them (it was two per view), with the same positions as asking view by view."""
    _history(backend_app, events=200)
    runner = ViewRunner(backend_app, page_size=500)
    runner.catch_up()
    views = runner.views
    one_by_one = {p.name: views.position(p.name, assert_pointer(views.pointer(p.name), p.name).active)
                  for p in runner.projections}  # fmt: skip
    opened = []
    original = type(views).read_transaction

    def counted(self):
        opened.append(1)
        return original(self)

    monkeypatch.setattr(type(views), "read_transaction", counted)
    monkeypatch.setattr(views, "max_tracking_id", None)  # its own transaction per call: not used
    assert runner.positions() == one_by_one
    assert len(opened) == 1
    assert set(one_by_one) == {p.name for p in runner.projections} and max(one_by_one.values()) > 0
