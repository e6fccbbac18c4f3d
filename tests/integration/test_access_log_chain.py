"""Who read whose data holds against an insider: the access log is a hash chain of MAC'd
entries whose head every signed checkpoint carries.

Method: record reads through the core's access log, seal them with the seal key, then attack the
table as someone with write access (but neither the seal key nor the pseudonym key) would: edit
an entry, delete one, rewrite the whole chain consistently, append an entry of one's own; check
that verification catches each, on SQLite and PostgreSQL; and that concurrent appends from
several processes' worth of threads make one chain, not forks.
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
from infra.access.log_chain import Head
from infra.audit.signing import public_key_of
from infra.core.bootstrap import ledger_of
from infra.eventstore.application import LedgerApp
from tests.support import DEV_KEY
from tests.support.backends import settings_for
from tests.support.seal import SEAL_SEED, SEAL_SEED_HEX
from tests.support.tamper import tamper_for

KEY = {"key_id": "k-auditor", "role": "auditor"}
LEDGER = [sys.executable, "-m", "infra.cli.main"]
REPO = Path(__file__).resolve().parents[2]
COLUMNS = ("sequence", "at", "key_id", "role", "person", "endpoint", "purpose", "previous_sha256", "entry_sha256")


@pytest.fixture
def sealed(durable_url, monkeypatch):
    monkeypatch.setenv("LEDGER_SEAL_KEY", SEAL_SEED_HEX)
    ledger = ledger_of(LedgerApp(settings_for(durable_url)))
    for n in range(1, 4):
        ledger.access.record(KEY, f"person-{n}", "/v1/persons/{person_ref}", f"dispute {n}")
    assert ledger.evidence.seal()["checkpoint"]["covers"]["access_log"]["sequence"] == 3
    yield ledger, tamper_for(durable_url)
    ledger.close()


def access_check(ledger):
    return ledger.evidence.verify(public_key_of(SEAL_SEED))["access_log"]


def details(check) -> str:
    return " | ".join(problem["detail"] for problem in check["problems"])


def test_an_untouched_log_verifies_against_the_published_key(sealed):
    ledger, _ = sealed
    check = access_check(ledger)
    assert check["ok"] is True and (check["entries"], check["sealed_through"], check["unsealed"]) == (3, 3, 0)
    assert check["entries_without_mac"] == 0


def test_an_edited_entry_is_caught(sealed):
    ledger, tamper = sealed
    tamper.execute("UPDATE ledger_access_log SET purpose = ? WHERE sequence = 2", ("nothing to see",))
    check = access_check(ledger)
    assert check["ok"] is False and "entry 2" in details(check)


def test_a_deleted_entry_is_caught(sealed):
    ledger, tamper = sealed
    tamper.execute("DELETE FROM ledger_access_log WHERE sequence = 2")
    assert access_check(ledger)["ok"] is False


def rewrite_without_entry_3(tamper, ledger) -> None:
    """Remove entry 3 and recompute every digest, as the documented format allows anyone to."""
    tamper.execute("DELETE FROM ledger_access_log WHERE sequence = 3")
    chain = access_chain.access_chain(b"not the ledger's key")
    previous = access_chain.GENESIS
    for entry in ledger.access.entries():
        digest = chain.digest(previous, entry)
        tamper.execute(
            "UPDATE ledger_access_log SET previous_sha256 = ?, entry_sha256 = ? WHERE sequence = ?",
            (previous, digest, entry["sequence"]),
        )
        previous = digest


def test_a_consistently_rewritten_chain_is_caught_by_the_checkpoint_that_covers_it(sealed):
    ledger, tamper = sealed
    rewrite_without_entry_3(tamper, ledger)
    check = access_check(ledger)
    assert check["ok"] is False and "sealed entries were removed" in details(check)


def test_an_entry_appended_by_sql_fails_its_mac_even_where_it_chains(sealed):
    ledger, tamper = sealed
    last = ledger.access.entries()[-1]
    forged = {"sequence": 4, "at": last["at"], "key_id": "k-auditor", "role": "auditor", "person": "person-9",
              "endpoint": "/v1/persons/{person_ref}", "purpose": "cover story"}  # fmt: skip
    insider = access_chain.access_chain(b"an insider's own key")
    row = insider.next_row(Head(3, last["entry_sha256"]), forged)
    names = (*COLUMNS, "row_mac")
    tamper.execute(
        f"INSERT INTO ledger_access_log ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
        tuple(row[name] for name in names),
    )
    check = access_check(ledger)
    assert check["ok"] is False and "entry 4: its MAC does not verify" in details(check)


def test_ledger_verify_reports_the_access_log_and_fails_on_tampering(sealed, durable_url):
    _, tamper = sealed
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
    plain = subprocess.run([*LEDGER, "verify"], env=env, capture_output=True, text=True, cwd=REPO)
    assert plain.returncode == 1 and "access log" in plain.stdout and "entry 1" in plain.stdout


def test_concurrent_readers_append_to_one_chain(durable_url):
    app = LedgerApp(settings_for(durable_url))
    stores = [AccessLog(app.recorder, app.settings.pseudonym_key) for _ in range(4)]  # as server processes would
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda n: stores[n % 4].record(KEY, f"p-{n}", "/v1/x", "t"), range(40)))
    check = ledger_of(app).evidence.verify()["access_log"]
    app.close()
    assert check["ok"] is True and check["entries"] == 40
