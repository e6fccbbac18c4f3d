"""A real evidence bundle (from `ledger audit deduction ... --bundle`) checked by an independent
verifier in JavaScript (tests/support/verify_bundle.js), written from docs/evidence-format.md
alone with Node's built-in crypto: the format is specified well enough for anyone to verify.

Needs `node`; skips without it unless LEDGER_REQUIRE_NODE=1 (CI), which makes it fail instead.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from infra.audit import hashing as h
from infra.audit import signing
from infra.cli.main import main
from infra.eventstore.application import LedgerApp
from tests.support import DEV_KEY, Ledger
from tests.support.backends import settings_for, unavailable
from tests.support.families import at, deduct, national_family
from tests.support.seal import SEAL_ENV

VERIFIER = Path(__file__).resolve().parents[1] / "support" / "verify_bundle.js"
ENV = {"LEDGER_PSEUDONYM_KEY": DEV_KEY.decode(), **SEAL_ENV}


@pytest.fixture(scope="module")
def node() -> str:
    found = shutil.which("node")
    if found is None:
        unavailable(
            "node (Node.js) is not installed: the independent bundle verifier cannot run",
            "LEDGER_REQUIRE_NODE",
            "apt-get install -y nodejs",
        )
    return found


def ledger(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), env=ENV)
    assert result.exit_code == 0, result.output
    return result.stdout


def check(node: str, path: Path, *args: str) -> tuple[int, dict]:
    done = subprocess.run([node, str(VERIFIER), str(path), *args], capture_output=True, text=True, timeout=60)
    return done.returncode, json.loads(done.stdout) if done.stdout.strip() else {}


def test_an_independent_javascript_verifier_accepts_a_real_bundle_and_refuses_forgeries(node, tmp_path):
    url = str(tmp_path / "ledger.db")
    app = LedgerApp(settings_for(url))
    f = national_family(Ledger(app))
    deduct(Ledger(app), f["child"], "800.00", "S-1")
    Ledger(app).ok("reverse", settlement_id="S-1", reason="duplicate charge", at=at(12))
    app.close()
    ledger("--db", url, "seal", "--json")
    ledger("--db", url, "keys", "create", "--role", "auditor", "--region", "11")  # the key log moves on:
    sealed = json.loads(ledger("--db", url, "seal", "--json"))  # a checkpoint of no records covers it
    assert sealed["written"][0]["record_count"] == 0 and sealed["checkpoint"]["covers"]["key_log"]["sequence"] == 1
    anchor = sealed["checkpoint"]["checkpoint_sha256"]
    public_key = json.loads(ledger("--db", url, "seal-key", "--json"))["public_key"]
    bundle = tmp_path / "dispute.json"
    ledger("--db", url, "audit", "deduction", "S-1", "--bundle", str(bundle))

    code, result = check(node, bundle, "--public-key", public_key, "--anchor", anchor)
    assert code == 0 and result["ok"], result
    python = json.loads(ledger("verify-bundle", str(bundle), "--public-key", public_key, "--anchor", anchor, "--json"))
    assert python["ok"] and python["anchor_found"]  # the same bundle, the same verdict in Python
    assert {c["check"] for c in result["checks"]} >= {
        "canonical",
        "bundle_digest",
        "checkpoint_chain",
        "checkpoint_signatures",
        "events_included",
        "anchor",
    }

    def write(name: str, change) -> Path:
        data = json.loads(bundle.read_bytes())
        change(data)
        data.pop("bundle_sha256")
        data["bundle_sha256"] = hashlib.sha256(h.canonical_json(data)).hexdigest()
        target = tmp_path / name
        target.write_bytes(h.canonical_json(data) + b"\n")
        return target

    def richer(data):
        event = next(e for e in data["events"] if e["topic"].endswith("AccountCredited"))
        event["state"] = event["state"].replace('"amount_fen":', '"amount_fen":9')
        event["record_sha256"] = h.record_digest(
            event["originator_id"], event["originator_version"], event["topic"], event["state"].encode()
        ).hex()

    def resigned(data):
        c = data["checkpoints"][-1]
        c["public_key"], c["signature"] = signing.sign_checkpoint(b"\x05" * 32, c)

    assert check(node, write("richer.json", richer), "--public-key", public_key)[1]["ok"] is False
    code, result = check(node, write("resigned.json", resigned), "--public-key", public_key)
    assert code == 1 and [c["check"] for c in result["checks"] if not c["ok"]] == ["checkpoint_signatures"]
    assert check(node, bundle, "--public-key", public_key, "--anchor", "ab" * 32)[0] == 1
    flipped = bytearray(bundle.read_bytes())
    flipped[len(flipped) // 3] ^= 0x01
    (tmp_path / "flipped.json").write_bytes(bytes(flipped))
    assert check(node, tmp_path / "flipped.json", "--public-key", public_key)[0] == 1
