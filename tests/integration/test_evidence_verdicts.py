"""One verdict for one question: `ledger verify`, `GET /v1/verify` and the console's integrity
page give the same answer on the same store, untouched and tampered, with the same configured
public key (LEDGER_SEAL_PUBLIC_KEY), including one that signed nothing (the reproduced finding:
the CLI said 1, the API `ok: true`).

Method: one sealed store per case on SQLite and PostgreSQL, tampered as an insider would, then
the three front ends asked in turn with the same environment.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from infra.audit.signing import public_key_of
from infra.cli.main import main
from infra.core.bootstrap import ledger_of
from infra.eventstore.application import LedgerApp
from tests.support import DEV_KEY
from tests.support.backends import settings_for
from tests.support.seal import SEAL_SEED, SEAL_SEED_HEX
from tests.support.service import auth, make_server, seed_family
from tests.support.tamper import tamper_for

OTHER_PUBLIC_KEY = public_key_of(b"\x07" * 32).hex()  # a key that signed nothing here


def mark(url: str) -> str:
    return "%s" if "postgres" in url else "?"


def untouched(url: str) -> None:
    pass


def access_entry_edited(url: str) -> None:
    tamper_for(url).execute("UPDATE ledger_access_log SET purpose = 'nothing to see' WHERE sequence = 1")


def admin_key_minted(url: str) -> None:
    digest = hashlib.sha256(b"lk_insider").hexdigest()
    tamper_for(url).execute(
        f"INSERT INTO ledger_api_keys (key_id, token_sha256, role, created_at) VALUES ('k_x', {mark(url)}, 'admin', "
        "'2025-03-01T00:00:00+00:00')",
        (digest,),
    )


def key_log_emptied(url: str) -> None:
    tamper_for(url).execute("DELETE FROM ledger_api_key_log")


CASES: dict[str, tuple[Callable[[str], None], str, bool]] = {
    # case: (tampering, LEDGER_SEAL_PUBLIC_KEY, the verdict every front end must give)
    "untouched": (untouched, public_key_of(SEAL_SEED).hex(), True),
    "untouched, no public key configured": (untouched, "", True),
    "untouched, a public key that signed nothing": (untouched, OTHER_PUBLIC_KEY, False),
    "an access entry edited": (access_entry_edited, public_key_of(SEAL_SEED).hex(), False),
    "an admin key minted by SQL": (admin_key_minted, public_key_of(SEAL_SEED).hex(), False),
    "the key log emptied": (key_log_emptied, "", False),
}


@pytest.fixture
def sealed_store(durable_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A family, keys of every role, reads logged, sealed with the tests' seal key."""
    monkeypatch.setenv("LEDGER_SEAL_KEY", SEAL_SEED_HEX)
    app = LedgerApp(settings_for(durable_url))
    seed_family(app)
    api, tokens = make_server(app, follow_views=False)
    access = ledger_of(app).access
    for n in range(2):
        access.record({"key_id": "k_auditor", "role": "auditor"}, f"person-{n}", "/v1/persons/{person_ref}", "check")
    with TestClient(api) as client:
        assert client.post("/v1/seal", headers=auth(tokens["operator"])).status_code == 200
    app.close()
    return durable_url


def integrity_page(client: TestClient, token: str) -> str:
    form = client.get("/console/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf is not None
    client.post("/console/login", data={"token": token, "purpose": "check", "csrf": csrf.group(1)})
    return client.get("/console/integrity").text


def ask_all_three(url: str) -> tuple[Any, Any, str]:
    """(`ledger verify --json`, `GET /v1/verify`, the console's integrity page) as an operator."""
    cli = CliRunner().invoke(main, ["--db", url, "verify", "--json"], env={"LEDGER_PSEUDONYM_KEY": DEV_KEY.decode()})
    app = LedgerApp(settings_for(url))
    api, tokens = make_server(app, follow_views=False)
    with TestClient(api) as client:
        answer = client.get("/v1/verify", headers=auth(tokens["operator"]))
        page = integrity_page(client, tokens["operator"])
    app.close()
    return cli, answer, page


def the_three_verdicts(url: str) -> dict[str, Any]:
    cli, answer, page = ask_all_three(url)
    shown = re.search(r'id="verdict" data-ok="(true|false)"', page)
    assert shown is not None, page[:2000]
    return {
        "cli": (cli.exit_code, json.loads(cli.stdout)["ok"] if cli.stdout.strip() else None),
        "api": answer.json()["ok"],
        "console": shown.group(1) == "true",
    }


@pytest.mark.parametrize("case", list(CASES))
def test_the_cli_the_api_and_the_console_give_one_verdict(sealed_store, case, monkeypatch):
    url = sealed_store
    tamper, public_key, expected = CASES[case]
    monkeypatch.setenv("LEDGER_SEAL_PUBLIC_KEY", public_key)
    tamper(url)
    verdicts = the_three_verdicts(url)
    assert verdicts == {"cli": (0 if expected else 1, expected), "api": expected, "console": expected}


def test_a_malformed_configured_public_key_gets_no_verdict_anywhere(sealed_store, monkeypatch):
    url = sealed_store
    monkeypatch.setenv("LEDGER_SEAL_PUBLIC_KEY", "not hex")
    cli, answer, page = ask_all_three(url)
    assert cli.exit_code == 2 and "SEAL_PUBLIC_KEY_INVALID" in cli.output
    assert answer.status_code == 503 and answer.json()["code"] == "SEAL_PUBLIC_KEY_INVALID"
    assert 'id="chain-verdict" data-ok="false">✘ Cannot verify' in page
