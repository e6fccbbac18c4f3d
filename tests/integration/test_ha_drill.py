"""The failover drill: the primary's server is killed under load; nothing acknowledged is lost.

Runs `scripts/ha-drill --json` (a pg_auto_failover formation of its own on ports 5440-5442 in
LEDGER_HA_DIR, a few minutes). Skips with a message when Debian's pg_auto_failover packages cannot
be installed, unless LEDGER_REQUIRE_HA=1 (CI), where that is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.backends import unavailable

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _ha_available() -> str | None:
    """None when the formation can be built, else why not."""
    if os.geteuid() != 0:
        return "the drill installs packages and runs pg_autoctl as postgres: needs root"
    if shutil.which("pg_autoctl") and Path("/usr/lib/postgresql/15/lib/pgautofailover.so").exists():
        return None
    install = subprocess.run(
        "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
        "postgresql-15-auto-failover pg-auto-failover-cli",
        shell=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if install.returncode != 0:
        return f"pg_auto_failover packages could not be installed: {install.stderr.strip()[-300:]}"
    return None


def test_failover_drill_loses_and_duplicates_nothing():
    missing = _ha_available()
    if missing:
        unavailable(missing, "LEDGER_REQUIRE_HA")
    # Outside pytest's private tmp dirs: pg_autoctl runs as postgres and must reach its directory.
    env = {**os.environ, "LEDGER_HA_DIR": os.environ.get("LEDGER_HA_DIR", "/tmp/ledger-ha-test")}
    run = subprocess.run(
        [str(ROOT / "scripts/ha-drill"), "--json", "--persons", "1000"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    lines = [line for line in run.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no result; exit {run.returncode}\n{run.stderr[-3000:]}"
    result = json.loads(lines[-1])
    assert result["lost"] == 0, result
    assert result["duplicated"] == 0, result
    assert result["verify_ok"] is True, result
    assert result["checksums_equal"] is True, result
    assert result["acknowledged"] == result["stored_once"] > 0, result
    assert result["failover_s"] is not None, result
    assert run.returncode == 0, run.stderr[-3000:]
