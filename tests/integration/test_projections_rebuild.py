"""Rebuild: new tables fill from the first event while the old ones serve; the switch is atomic;
an interrupted rebuild (an exception, or kill -9) leaves the old view in service and the next
rebuild finishes the half-built generation instead of starting over."""

from __future__ import annotations

import signal
import textwrap

import pytest

from infra.eventstore.application import LedgerApp
from infra.readmodels.runner import ViewRunner
from infra.readmodels.views import Pointer, assert_pointer, physical_name
from projections.ties import BindingsProjection
from tests.support import DEV_KEY
from tests.support.backends import settings_for
from tests.support.crash import Crash, crash_when, run_killed
from tests.support.views import assert_views_agree_with_aggregates
from tests.support.workload import Workload


def pointer(views, name: str) -> Pointer:
    return assert_pointer(views.pointer(name), name)


def _table_exists(views, name: str) -> bool:
    with views.read_transaction() as cursor:
        try:
            views._run(cursor, f"SELECT COUNT(*) FROM {views.qualify(name)}")
            cursor.fetchone()
        except Exception:  # noqa: BLE001 - "no such table" differs per backend
            return False
    return True


def test_two_rebuilds_give_the_live_checksums(backend_app):
    Workload(backend_app, persons=40, seed=9).run(800)
    runner = ViewRunner(backend_app, page_size=150)
    runner.catch_up()
    live = runner.summaries()
    assert runner.rebuild() == live
    assert runner.rebuild() == live
    assert {n: pointer(runner.views, n).active for n in live} == dict.fromkeys(live, 3)
    assert not _table_exists(runner.views, physical_name("bindings", 1))  # retired generations are dropped
    assert not _table_exists(runner.views, physical_name("bindings", 2))


def test_interrupted_rebuild_keeps_the_old_view_serving_and_resumes(backend_app):
    history = Workload(backend_app, persons=40, seed=13)
    history.run(800)
    live = ViewRunner(backend_app, page_size=100)
    live.catch_up()
    before = live.summaries()

    hook = crash_when(lambda view, generation, last: generation == 2 and last > 400)
    with pytest.raises(Crash):
        ViewRunner(backend_app, page_size=100, before_commit=hook).rebuild()

    pointers = {n: pointer(live.views, n) for n in before}
    assert all(p.active == 1 and p.building == 2 for p in pointers.values())
    assert live.summaries() == before  # the old generation still serves, unchanged
    half_built = live.views.summary(BindingsProjection, generation=2)
    assert 0 < half_built["events"] < before["bindings"]["events"]

    history.run(1_100)  # life goes on: new events reach the old generation meanwhile
    live.catch_up()
    assert_views_agree_with_aggregates(backend_app, live.views, list(history.numbers.values()))

    resumed = ViewRunner(backend_app, page_size=100)
    positions_before_resume = {n: resumed.views.position(n, 2) for n in before}
    assert all(position >= 400 for position in positions_before_resume.values())  # not starting over
    summaries = resumed.rebuild()
    assert all(pointer(resumed.views, n).active == 2 and pointer(resumed.views, n).building is None for n in before)
    assert summaries == live.summaries()
    assert summaries == ViewRunner(backend_app).rebuild()
    assert_views_agree_with_aggregates(backend_app, resumed.views, list(history.numbers.values()))


KILLED_REBUILD = textwrap.dedent(
    """
    import os, signal, sys
    from infra.eventstore.application import LedgerApp
    from infra.settings import Settings
    from infra.readmodels.runner import ViewRunner

    url, key = sys.argv[1], sys.argv[2].encode()
    app = LedgerApp(Settings(db=url, pseudonym_key=key, using_development_key=False))

    def kill(view, generation, last):
        if view == "balances" and generation == 2 and last > 300:
            os.kill(os.getpid(), signal.SIGKILL)

    ViewRunner(app, page_size=100, before_commit=kill).rebuild()
    """
)


def test_rebuild_killed_with_sigkill_resumes(backend_url):
    app = LedgerApp(settings_for(backend_url))
    history = Workload(app, persons=40, seed=17)
    history.run(700)
    live = ViewRunner(app, page_size=100)
    live.catch_up()
    before = live.summaries()
    assert run_killed(KILLED_REBUILD, backend_url, DEV_KEY.decode()) == -signal.SIGKILL
    assert pointer(live.views, "balances").active == 1 and pointer(live.views, "balances").building == 2
    assert live.views.position("balances", 2) == 300
    assert live.summaries() == before
    assert ViewRunner(app).rebuild() == before
    assert_views_agree_with_aggregates(app, live.views, list(history.numbers.values()))
    app.close()


def test_rebuild_of_named_views_leaves_the_others_alone(ledger):
    Workload(ledger.app, persons=20, seed=2).run(300)
    runner = ViewRunner(ledger.app)
    runner.catch_up()
    summaries = ViewRunner(ledger.app, names=["quota", "balances"]).rebuild()
    assert list(summaries) == ["quota", "balances"]
    assert pointer(runner.views, "quota").active == 2
    assert pointer(runner.views, "bindings").active == 1
    with pytest.raises(KeyError):
        ViewRunner(ledger.app, names=["nonsense"])
