"""`ledger bench --curve` end to end on a small log: the JSON carries every point's figures and
the audit curve, and the SVG plot is well-formed with its four charts. (The figures themselves
are measured by the command, never asserted here.)"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET

from infra.tools.bench_curve import audit_points, curve_points, first_month_end
from tests.e2e.test_service_http import ENV

POINT_KEYS = {
    "events_before_probe", "events", "probe_commands", "commands_per_s", "seal_s", "verify_s", "verify_ok",
    "raw_scan_rows_per_s", "rebuild_s", "rebuild_events_per_s", "rebuild_ratio", "rebuild_peak_rss_mb",
}  # fmt: skip


def test_the_curve_points_are_the_decades_up_to_the_maximum():
    assert curve_points(1_000_000) == [10_000, 100_000, 1_000_000]
    assert curve_points(150_000) == [10_000, 100_000]
    assert curve_points(3_000) == [300, 3_000]
    assert audit_points(1_000_000) == [100, 10_000, 100_000]
    assert audit_points(3_000) == [100]


def test_the_probe_is_timed_after_its_first_month():
    lines = [json.dumps({"at": at}) for at in ("2025-01-03", "2025-01-30", "2025-02-01", "2025-03-01")]
    assert first_month_end(lines) == 2
    assert first_month_end(lines[:2]) == 2 and first_month_end([]) == 0


def test_bench_curve_prints_every_point_and_plots_them(tmp_path):
    svg = tmp_path / "curve.svg"
    done = subprocess.run(
        [sys.executable, "-m", "infra.cli.main", "--db", str(tmp_path / "curve.db"), "bench", "--curve",
         "--curve-max", "3000", "--svg", str(svg), "--json"],
        capture_output=True, text=True, timeout=300, env=ENV,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["backend"] == "sqlite" and result["curve_max"] == 3000
    points = result["points"]
    assert len(points) == 2 and all(set(p) == POINT_KEYS for p in points)
    assert points[0]["events_before_probe"] >= 300 and points[1]["events_before_probe"] >= 3000
    assert points[0]["events"] < points[1]["events"] and all(p["verify_ok"] for p in points)
    assert [a["person_events"] for a in result["audit"]] == [100]
    assert set(result["audit"][0]) == {"person_events", "audit_replay_ms_p50", "audit_replay_ms_p99"}
    root = ET.fromstring(svg.read_text(encoding="utf-8"))
    titles = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text") if t.get("font-weight") == "bold"]
    assert titles == [
        "Write path (group commit)", "Audit replay of one person", "Rebuild, seal and verify",
        "Rebuild worker's peak memory",
    ]  # fmt: skip
