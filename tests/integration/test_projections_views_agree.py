"""The views answer exactly what the aggregates answer, on a generated history, on every backend."""

from __future__ import annotations

from infra.eventstore.application import LedgerApp
from infra.readmodels.runner import ViewRunner
from tests.support import id_number
from tests.support.backends import settings_for
from tests.support.views import assert_views_agree_with_aggregates
from tests.support.workload import Workload


def test_views_agree_with_aggregates_on_a_generated_history(any_backend_url):
    app = LedgerApp(settings_for(any_backend_url))
    history = Workload(app, persons=60, seed=11)
    history.run(1_500)
    runner = ViewRunner(app, page_size=200)
    runner.catch_up()
    checked = assert_views_agree_with_aggregates(app, runner.views, list(history.numbers.values()))
    assert checked == 60
    app.close()


def test_views_follow_new_events_incrementally(ledger):
    """Catching up twice applies only the new events; the views stay equal to the aggregates."""
    history = Workload(ledger.app, persons=30, seed=3)
    history.run(300)
    runner = ViewRunner(ledger.app, page_size=50)
    first = runner.catch_up()
    history.run(600)
    second = runner.catch_up()
    assert all(count == history.events_written for count in (first[n] + second[n] for n in first))
    assert runner.catch_up() == dict.fromkeys(first, 0)
    assert_views_agree_with_aggregates(ledger.app, runner.views, list(history.numbers.values()))


def test_ignored_events_still_advance_every_view(ledger):
    """A view that handles none of the events still records their position."""
    for seq in range(5):  # only PersonEnrolled: authorizations, quota, balances ignore them all
        ledger.enroll(id_number(seq=100 + seq))
    runner = ViewRunner(ledger.app)
    runner.catch_up()
    head = runner.head()
    assert runner.positions() == dict.fromkeys(runner.positions(), head)
    assert runner.summaries()["authorizations"] == {
        "rows": 0,
        "checksum": runner.summaries()["authorizations"]["checksum"],
        "events": 5,
    }


def test_follow_keeps_the_views_current_until_stopped(tmp_path):
    """`project --follow`: a polling loop (bounded interval) applies events as they arrive."""
    import threading

    app = LedgerApp(settings_for(str(tmp_path / "follow.db")))
    history = Workload(app, persons=20, seed=4)
    history.run(100)
    runner = ViewRunner(app, page_size=50)
    stop = threading.Event()
    rounds: list[dict] = []
    follower = threading.Thread(target=runner.follow, args=(0.05, stop, rounds.append))
    follower.start()
    try:
        history.run(400)
        head = runner.head()
        for _ in range(2_000):  # bounded wait, no timing assertion
            if rounds and min(runner.positions().values()) == head:
                break
            stop.wait(0.01)
        assert min(runner.positions().values()) == head
    finally:
        stop.set()
        follower.join()
    assert_views_agree_with_aggregates(app, runner.views, list(history.numbers.values()))
    app.close()


def test_progress_is_reported_per_page(ledger):
    Workload(ledger.app, persons=10, seed=8).run(250)
    seen: list[tuple[int, int]] = []
    ViewRunner(ledger.app, page_size=100).rebuild(lambda done, last: seen.append((done, last)))
    assert [done for done, _ in seen] == [100, 200, seen[-1][1]] and seen[-1][1] >= 250
