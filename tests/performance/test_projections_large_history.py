"""Rebuild checksums equal live checksums on a generated history of over 100,000 events.

Method: generate the history on SQLite in batches (tests.support.history), catching the
live views up every 20,000 events as a running `ledger project --follow` would; then rebuild
every view from the first event and compare row counts, checksums and event counts. The views
are also compared with the generator's in-memory aggregates for every person.
"""

from __future__ import annotations

import pytest

from infra.eventstore.application import LedgerApp
from infra.readmodels.runner import ViewRunner
from tests.support.backends import settings_for
from tests.support.history import History
from tests.support.views import assert_views_agree_with_aggregates

EVENTS_MIN = 100_000


@pytest.mark.slow
def test_rebuild_checksums_equal_live_checksums_on_100k_events(tmp_path):
    app = LedgerApp(settings_for(str(tmp_path / "large.db")))
    history = History(app, persons_count=600, seed=2025, batch_commands=1_000)
    live = ViewRunner(app, page_size=1_000)
    rounds = []
    history.run(EVENTS_MIN, every=20_000, on_progress=lambda: rounds.append(live.catch_up()))
    live.catch_up()
    assert history.events_written >= EVENTS_MIN and len(rounds) >= 4  # maintained incrementally
    live_summaries = live.summaries()
    assert all(s["events"] == history.events_written for s in live_summaries.values())
    assert live_summaries["quota"]["rows"] > 10_000 and live_summaries["balances"]["rows"] > 500

    rebuilt = ViewRunner(app, page_size=2_000).rebuild()
    assert rebuilt == live_summaries
    assert_views_agree_with_aggregates(app, live.views, list(history.numbers.values()), persons=history.persons)
    app.close()
