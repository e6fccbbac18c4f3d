"""Where the views live: the library's tracking recorders, extended with the view tables.

`SQLiteLedgerViews` and `PostgresLedgerViews` subclass the library's `SQLiteTrackingRecorder` and
`PostgresTrackingRecorder` (as the library's own projection examples do), in the same database as
the event store. On the in-memory store the views live in an in-memory SQLite database.

Tables (physical names):
- `lv_<table>_g<N>`: the rows of generation N of a view (e.g. `lv_bindings_g1`, `lv_quota_counters_g2`).
- `ledger_view_pointer(view, active_generation, building_generation, last_generation)`: which
  generation serves queries, and which one a rebuild is filling.
- `ledger_view_generations(view, generation, events)`: events processed by each generation.
- the library's tracking table (`tracking` on SQLite, `familyledger_tracking` on PostgreSQL):
  one row per view generation, keyed `<view>/g<N>`, holding the last notification id applied.

Every write of a view is one transaction that (1) locks the view's pointer row, (2) reads the
generation's tracking position and skips events at or below it, (3) writes the rows, (4) records
the new tracking position and event count, and, for the last page of a rebuild, (5) switches the
pointer. So a crash anywhere rolls everything back together, and re-delivered events are skipped.

Rows are written in bulk: the projection gathers a page's changes in memory
(projections.changes.PageChanges) and the page's net writes go out as a few statements per table.
On PostgreSQL each is one statement over `unnest` of column arrays (`INSERT ... ON CONFLICT`,
`DELETE ... WHERE (key) IN`); on SQLite, in-process, `executemany` of the row statements.
"""

from __future__ import annotations

import weakref
from typing import cast

from infra.eventstore.application import LedgerApp
from infra.readmodels.views.base import FETCH_ROWS_MAX, READ_ATTEMPTS_MAX, _LedgerViews
from infra.readmodels.views.generations import (
    GENERATIONS_TABLE,
    POINTER_TABLE,
    TABLE_PREFIX,
    BeforeCommit,
    Pointer,
    RebuildSupersededError,
    assert_pointer,
    fresh_pairs,
    physical_name,
    tracking_key,
)
from infra.readmodels.views.postgres import PostgresLedgerViews
from infra.readmodels.views.sqlite import SQLiteLedgerViews
from infra.readmodels.views.view_cursor import ViewCursor
from infra.storage.memory import MemoryLedgerRecorder
from projections.registry import PROJECTIONS

__all__ = [
    "FETCH_ROWS_MAX",
    "GENERATIONS_TABLE",
    "POINTER_TABLE",
    "READ_ATTEMPTS_MAX",
    "TABLE_PREFIX",
    "BeforeCommit",
    "Pointer",
    "PostgresLedgerViews",
    "RebuildSupersededError",
    "SQLiteLedgerViews",
    "ViewCursor",
    "assert_pointer",
    "fresh_pairs",
    "open_views",
    "physical_name",
    "tracking_key",
]


_OPENED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def open_views(app: LedgerApp) -> _LedgerViews:
    """The view recorder beside the application's event store (created on first use; one per
    application object, so every runner of an in-memory application sees the same views)."""
    recorder = _OPENED.get(app)
    if recorder is None:
        recorder = _OPENED[app] = _construct_views(app)
    return recorder


def _construct_views(app: LedgerApp) -> _LedgerViews:
    dialect = app.recorder.dialect
    recorder: _LedgerViews
    if dialect == "postgres":
        recorder = cast(PostgresLedgerViews, app.factory.tracking_recorder(PostgresLedgerViews))
    elif dialect == "sqlite":
        recorder = cast(SQLiteLedgerViews, app.factory.tracking_recorder(SQLiteLedgerViews))
    else:  # the in-memory store: views in its private in-memory SQLite database
        recorder = SQLiteLedgerViews(cast(MemoryLedgerRecorder, app.recorder).side_datastore)
        recorder.create_table()
    for projection in PROJECTIONS:
        recorder.ensure_view(projection)
    return recorder
