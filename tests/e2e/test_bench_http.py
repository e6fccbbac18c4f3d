"""`ledger bench-http` end to end, briefly: both modes run against real servers on PostgreSQL, in
alternating rounds, each mode on two server processes sharing one database, and the JSON carries
the figures of each, the write mode each server used, and their ratio. (The figures themselves
are measured by the command, never asserted here.)"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.e2e.test_service_http import ENV
from tests.support.backends import postgres_base_url


def test_bench_http_drives_both_modes_on_several_server_processes_and_prints_their_figures():
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "infra.cli.main",
            "--db",
            postgres_base_url(),
            "bench-http",
            "--clients",
            "4",
            "--seconds",
            "2",
            "--rounds",
            "2",
            "--persons",
            "20",
            "--processes",
            "2",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=ENV,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["processes"] == 2
    group, single = result["group_commit"], result["one_transaction"]
    assert (group["writer"], single["writer"]) == ("process", "request")
    for mode in (group, single):
        assert mode["requests"] > 0 and mode["errors"] == 0
        assert 0 < mode["latency_ms_p50"] <= mode["latency_ms_p99"] <= mode["latency_ms_max"]
        assert len(mode["rounds_requests_per_s"]) == 2 and 0.9 < mode["elapsed_s"] / 2 < 2
    assert result["speedup"] == round(group["requests_per_s"] / single["requests_per_s"], 2)
