"""Who read whose data holds against an insider: the access log is a hash chain, sealed like
the events.

Method: record reads through the service's store, seal them with the seal key, then attack the
tables as someone with write access would (edit an entry, delete one, rewrite the whole chain
and its checkpoint with a key of one's own) and check that verification catches each, on SQLite
and PostgreSQL; and that concurrent appends from several processes' worth of threads make one
chain, not forks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from infra.access import access_chain
from infra.access.access_log import AccessLog
from infra.audit.signing import public_key_of
from infra.eventstore.application import LedgerApp
from tests.support import DEV_KEY
from tests.support.backends import settings_for
from tests.support.seal import SEAL_SEED, SEAL_SEED_HEX
from tests.support.tamper import tamper_for

KEY = {"key_id": "k-auditor", "role": "auditor"}
LEDGER = [sys.executable, "-m", "infra.cli.main"]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def sealed(durable_url):
    app = LedgerApp(settings_for(durable_url))
    store = AccessLog(app.recorder)
    for n in range(1, 4):
        store.record(KEY, f"person-{n}", "/v1/persons/{person_ref}", f"dispute {n}")
    assert store.seal(SEAL_SEED, "2025-04-01T00:00:00+00:00") is not None
    tamper = tamper_for(durable_url)
    yield app, store, tamper
    app.close()


def test_an_untouched_log_verifies_against_the_published_key(sealed):
    _, store, _ = sealed
    result = store.verify(public_key_of(SEAL_SEED))
    assert result["ok"] is True and (result["entries"], result["sealed_through"]) == (3, 3)
    assert result["signatures_checked"] is True


def test_an_edited_entry_is_caught(sealed):
    _, store, tamper = sealed
    tamper.execute("UPDATE ledger_access_log SET purpose = ? WHERE sequence = 2", ("nothing to see",))
    result = store.verify(public_key_of(SEAL_SEED))
    assert result["ok"] is False and any("entry 2" in p for p in result["problems"])


def test_a_deleted_entry_is_caught(sealed):
    _, store, tamper = sealed
    tamper.execute("DELETE FROM ledger_access_log WHERE sequence = 2")
    assert store.verify()["ok"] is False


def rewrite_all(tamper, store: AccessLog, seed: bytes | None) -> None:
    """Recompute every digest after removing entry 3 (and, with a seed, re-sign the head)."""
    tamper.execute("DELETE FROM ledger_access_log WHERE sequence = 3")
    previous = access_chain.GENESIS
    for entry in store.entries():
        digest = access_chain.entry_digest(previous, entry)
        tamper.execute(
            "UPDATE ledger_access_log SET previous_sha256 = ?, entry_sha256 = ? WHERE sequence = ?",
            (previous, digest, entry["sequence"]),
        )
        previous = digest
    if seed is not None:
        tamper.execute("DELETE FROM ledger_access_checkpoints")
        head = {
            "sequence": 2,
            "head_sha256": previous,
            "sealed_at": "2025-04-01T00:00:00+00:00",
            "previous_sha256": access_chain.GENESIS,
        }
        forged = access_chain.sign(seed, head)
        tamper.execute(
            "INSERT INTO ledger_access_checkpoints (sequence, head_sha256, sealed_at, previous_sha256, "
            "public_key, signature) VALUES (?, ?, ?, ?, ?, ?)",
            tuple(
                forged[k]
                for k in ("sequence", "head_sha256", "sealed_at", "previous_sha256", "public_key", "signature")
            ),
        )


def test_a_rewritten_chain_is_caught_by_its_checkpoint(sealed):
    _, store, tamper = sealed
    rewrite_all(tamper, store, seed=None)
    result = store.verify()
    assert result["ok"] is False and any("changed" in p for p in result["problems"])


def test_a_rewritten_chain_re_signed_with_another_key_is_caught_by_the_published_key(sealed):
    _, store, tamper = sealed
    rewrite_all(tamper, store, seed=b"\x07" * 32)
    assert store.verify()["ok"] is True  # self-consistent: only the published key tells
    result = store.verify(public_key_of(SEAL_SEED))
    assert result["ok"] is False and any("not signed by the public key" in p for p in result["problems"])


def test_ledger_verify_reports_the_access_log_and_fails_on_tampering(sealed, durable_url):
    _, _, tamper = sealed
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "LEDGER_DB": durable_url,
        "LEDGER_PSEUDONYM_KEY": DEV_KEY.decode(),
        "LEDGER_SEAL_KEY": SEAL_SEED_HEX,
    }
    good = subprocess.run([*LEDGER, "verify", "--json"], env=env, capture_output=True, text=True, cwd=REPO)
    assert json.loads(good.stdout)["access_log"]["ok"] is True
    tamper.execute("UPDATE ledger_access_log SET person = ? WHERE sequence = 1", ("someone-else",))
    bad = subprocess.run([*LEDGER, "verify", "--json"], env=env, capture_output=True, text=True, cwd=REPO)
    assert bad.returncode == 1 and json.loads(bad.stdout)["access_log"]["ok"] is False


def test_concurrent_readers_append_to_one_chain(durable_url):
    app = LedgerApp(settings_for(durable_url))
    stores = [AccessLog(app.recorder) for _ in range(4)]  # as several server processes would
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda n: stores[n % 4].record(KEY, f"p-{n}", "/v1/x", "t"), range(40)))
    result = stores[0].verify()
    app.close()
    assert result["ok"] is True and result["entries"] == 40
