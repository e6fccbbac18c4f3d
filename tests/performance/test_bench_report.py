"""`ledger bench`'s report at the tiny scale: every figure present, the evidence ratio the median
of its rounds', and the evidence A/B really compares a ledger that seals its events with one that
does not. (The figures themselves are measured by the command, never asserted here.)"""

from __future__ import annotations

import math
import statistics

import pytest

from infra.core.bootstrap import open_ledger
from infra.storage.event_macs import has_mac
from infra.tools.bench import run_bench
from infra.tools.bench_evidence import without_evidence
from infra.tools.simulate import simulate
from tests.support.backends import settings_for

FIGURES = {
    "scale", "backend", "workload_commands", "baseline_commands", "measured_from_command",
    "events_before_measured_slice", "batch_size", "commands_per_s", "baseline_commands_per_s", "speedup",
    "commands_per_s_whole_workload", "evidence_commands", "evidence_rounds", "commands_per_s_with_evidence",
    "commands_per_s_without_evidence", "evidence_throughput_ratio", "evidence_rounds_ratios", "raw_insert_rows_per_s",
    "raw_scan_rows_per_s", "rebuild_events_per_s", "rebuild_ratio", "rebuild_peak_rss_mb", "rebuild_source",
    "audit_replay_ms_p50", "audit_replay_ms_p99", "events",
}  # fmt: skip


@pytest.fixture(params=["sqlite", "postgres"])
def bench_db(request: pytest.FixtureRequest, tmp_path) -> str:
    return str(tmp_path / "bench.db") if request.param == "sqlite" else request.getfixturevalue("pg_url")


def test_the_report_carries_every_figure_and_the_evidence_ratio(bench_db):
    result = run_bench(settings_for(bench_db), "tiny")
    assert set(result) == FIGURES
    assert result["backend"] in ("sqlite", "postgresql") and result["scale"] == "tiny"
    ratios = result["evidence_rounds_ratios"]  # each round's, its two sides back to back
    assert len(ratios) == result["evidence_rounds"] > 0
    assert math.isclose(result["evidence_throughput_ratio"], statistics.median(ratios), abs_tol=0.001)
    assert result["events"] > result["events_before_measured_slice"] > 0


def test_the_bare_side_of_the_ab_stores_events_without_macs_and_reads_them_back(tmp_path):
    lines = list(simulate(20, 1, seed=5))
    sealed, bare = (open_ledger(settings_for(str(tmp_path / name))) for name in ("a.db", "b.db"))
    without_evidence(bare)
    for ledger in (sealed, bare):
        answers = list(ledger.commands.stream(lines, batch_size=50))
        assert sum(a["ok"] for a in answers) > 0
    states = {
        name: [bytes(n.state) for n in ledger.app.recorder.select_notifications(start=1, limit=10_000)]
        for name, ledger in (("sealed", sealed), ("bare", bare))
    }
    assert all(has_mac(s) for s in states["sealed"]) and not any(has_mac(s) for s in states["bare"])
    assert len(states["sealed"]) == len(states["bare"])
    again = list(bare.commands.stream(lines[:5], batch_size=5))  # its own MAC-less records load again
    assert [a.get("duplicate") for a in again] == [True] * 5
    for ledger in (sealed, bare):
        ledger.close()
