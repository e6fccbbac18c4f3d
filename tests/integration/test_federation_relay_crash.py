"""The relay under kill -9, and a ledger it cannot reach.

Goal: thousands of cross-province steps delivered exactly once whatever moment the relay dies
at. Method: a workload of Hubei grandparents earmarking quotas for Beijing grandchildren whose
deductions draw on them (plus reversals, lowered quotas and revocations); the relay runs as a
subprocess that is killed with SIGKILL after a random short time, again and again, until a run
finishes; then reconcile must find every transfer's two sides equal and the money exact, and
the delivered steps must each be recorded once (duplicates are answered, never applied)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import uuid

import psycopg

from infra.federation.ledgers import FederatedLedgers
from infra.federation.reconcile import reconcile
from infra.federation.relay import Relay
from tests.support.backends import postgres_base_url
from tests.support.crash import REPO
from tests.support.federation import apply_all, pg_federation, sqlite_federation, workload, write_file

KEY = "federation-test-key-0123456789"
KILLS_MAX = 40


def _relay_until_done(federation_path: str, seed: int) -> int:
    """Run `ledger relay` until it finishes, SIGKILLing it after a random time; the kills."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "LEDGER_PSEUDONYM_KEY": KEY, "LEDGER_FEDERATION": federation_path}
    env.pop("LEDGER_DB", None)
    rng, kills = random.Random(seed), 0
    while True:
        command = [sys.executable, "-m", "infra.cli.main", "relay", "--json", "--page-size", "40"]
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if kills < KILLS_MAX:
            try:
                process.wait(timeout=rng.uniform(0.5, 1.2))  # start-up takes part of it
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)
                process.wait()
                kills += 1
                continue
        else:
            process.wait(timeout=600)
        if process.returncode == 0:
            return kills
        raise AssertionError(process.stderr.read().decode() if process.stderr else process.returncode)


def _run(federation, tmp_path, monkeypatch, families: int) -> None:
    monkeypatch.setenv("LEDGER_PSEUDONYM_KEY", KEY)
    path = write_file(federation)
    ties, later = workload(families)
    ledgers = FederatedLedgers(federation)
    try:
        apply_all(ledgers, ties, batch_size=200)
        kills = _relay_until_done(path, 1)
        apply_all(ledgers, later, batch_size=200)
        kills += _relay_until_done(path, 2)
        kills += _relay_until_done(path, 3)  # the releases of lowered and revoked quotas go back
        result = reconcile(ledgers)
        assert result["ok"], result["mismatches"][:5]
        assert result["transfers"] == families and result["pending_steps"] == 0
        assert Relay(ledgers).run_once().delivered == 0
        assert kills >= 5, f"the relay was killed {kills} times only: the test proved little"
        print(f"{families} families, relay killed {kills} times; outstanding {result['outstanding_fen']} fen")
    finally:
        ledgers.close()


def test_kill_9_of_the_relay_on_two_sqlite_files(tmp_path, monkeypatch):
    _run(sqlite_federation(tmp_path), tmp_path, monkeypatch, families=1000)


def test_kill_9_of_the_relay_on_two_postgres_schemas(tmp_path, monkeypatch):
    base = postgres_base_url()
    schemas = tuple(f"fed_{uuid.uuid4().hex[:10]}" for _ in range(2))
    with psycopg.connect(base, autocommit=True) as conn:
        for schema in schemas:
            conn.execute(f"CREATE SCHEMA {schema}")
    try:
        _run(pg_federation(base, str(tmp_path / "federation.toml"), schemas), tmp_path, monkeypatch, families=1000)
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            for schema in schemas:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")


def test_a_ledger_the_relay_cannot_reach_is_caught_up_later(tmp_path, monkeypatch):
    """Hubei's steps for Beijing wait while Beijing's file is unreadable; Beijing's own work and
    the other direction's are kept; once it is back, one more round delivers everything."""
    federation = sqlite_federation(tmp_path, ("11", "42", "44"))
    ledgers = FederatedLedgers(federation)
    ties, later = workload(6)
    apply_all(ledgers, ties)
    broken = FederatedLedgers(
        federation.__class__(federation.path, {**federation.ledgers, "11": str(tmp_path / "no" / "such" / "dir.db")})
    )
    done = Relay(broken).run_once()
    assert "11" in done.unreachable and done.delivered == 0
    done = Relay(ledgers).run_once()
    assert done.delivered == 6 and not done.unreachable
    apply_all(ledgers, later)
    Relay(ledgers).run_once()
    Relay(ledgers).run_once()
    assert reconcile(ledgers)["ok"]
    broken.close()
    ledgers.close()
