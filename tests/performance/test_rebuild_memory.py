"""The real rebuild (ViewRunner.rebuild, all views) uses memory bounded by its page size, not by
the history's length.

Method: generate two histories on SQLite, one four times as long as the other, with the same
people; rebuild every view of each in the same run with the same (small) page size, and compare
the peak of Python allocations (tracemalloc) during the rebuild itself. The history is generated
before tracing starts, so only the rebuild (reading the log in pages, decoding, gathering and
writing each page, switching, checksums) is measured. No timing is asserted.
"""

from __future__ import annotations

import gc
import tracemalloc

from infra.eventstore.application import LedgerApp
from infra.readmodels.runner import ViewRunner
from tests.support.backends import settings_for
from tests.support.workload import Workload

PAGE_SIZE = 400
SHORT_EVENTS = 3_000
LONG_EVENTS = 4 * SHORT_EVENTS


def _rebuild_peak_bytes(path: str, events: int) -> tuple[int, dict]:
    app = LedgerApp(settings_for(path))
    Workload(app, persons=50, seed=41).run(events)
    runner = ViewRunner(app, page_size=PAGE_SIZE)
    runner.catch_up()
    live = runner.summaries()
    gc.collect()
    tracemalloc.start()
    try:
        rebuilt = runner.rebuild()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        app.close()
    assert rebuilt == live  # the rebuild measured is a real, complete one
    return peak, rebuilt


def test_rebuild_peak_memory_does_not_grow_with_the_history_length(tmp_path):
    short_peak, short = _rebuild_peak_bytes(str(tmp_path / "short.db"), SHORT_EVENTS)
    long_peak, long = _rebuild_peak_bytes(str(tmp_path / "long.db"), LONG_EVENTS)
    assert long["balances"]["events"] >= 4 * short["balances"]["events"] * 0.9
    # Four times the events, about the same peak: it is set by one page (and the read-ahead).
    assert long_peak < short_peak * 1.3 + 256 * 1024, (short_peak, long_peak)


def test_a_child_s_peak_memory_is_its_own_not_its_parent_s():
    """Why `bench` once reported a 100 MB rebuild as 255-321 MB: Linux carries ru_maxrss across
    exec, so a child started by a large parent reports at least the parent's size at the fork.
    The bench's worker reports VmHWM, the high-water mark of its own process image."""
    import subprocess
    import sys

    parent = bytearray(200 * 1024 * 1024)
    parent[::4096] = b"\x01" * len(parent[::4096])  # make the parent's pages resident
    code = (
        "import resource; from infra.tools.bench import peak_rss_kb; "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, peak_rss_kb())"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    inherited_kb, own_kb = map(int, done.stdout.split())  # inherited_kb: about the parent's 200 MB here
    assert own_kb < 150 * 1024, (inherited_kb, own_kb)
    del parent
