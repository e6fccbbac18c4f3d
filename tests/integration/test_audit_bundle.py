"""Evidence bundles: built from a sealed SQLite ledger, checked offline with no database.

Method: build a bundle, check it holds; then change bytes of the file (every byte of a spread
sample) and check each change is refused; then make consistent-looking forgeries (content
changed and the bundle digest recomputed) and check the hash and replay checks refuse them.
"""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from infra.audit import chain
from infra.audit.bundle import NotSealedError, build_bundle
from infra.audit.bundle_check import verify_bundle
from infra.audit.evidence_store import EvidenceStore
from infra.cli.main import main
from infra.eventstore.application import LedgerApp
from infra.eventstore.rule_files import load_catalogue
from tests.support import DEV_KEY, Ledger, failed
from tests.support.backends import settings_for
from tests.support.families import at, deduct, national_family
from tests.support.forge import reforge
from tests.support.seal import SEAL_ENV, SEAL_SEED

CATALOGUE = load_catalogue()


@pytest.fixture
def sealed_app(tmp_path):
    app = LedgerApp(settings_for(str(tmp_path / "ledger.db")))
    ledger = Ledger(app)
    f = national_family(ledger)
    deduct(ledger, f["child"], "800.00", "S-1")
    ledger.ok("reverse", settlement_id="S-1", reason="duplicate charge", at=at(12))
    ledger.ok("credit", person=f["grandma"], amount="10.00", source="adjustment", at=at(13))
    chain.seal(EvidenceStore(app), "2025-04-01T00:00:00+00:00", segment_records_max=5, seed=SEAL_SEED)
    yield app
    app.close()


def test_a_bundle_holds_offline_and_reproduces_the_replay(sealed_app):
    data, result = build_bundle(sealed_app, EvidenceStore(sealed_app), "S-1")
    checked = verify_bundle(data, CATALOGUE)
    assert checked["ok"], checked["checks"]
    assert checked["verdict"] == result["verdict"] == "consistent"
    bundle = json.loads(data)
    assert {e["topic"].rsplit(":", 1)[-1] for e in bundle["events"]} >= {
        "PersonEnrolled",
        "AuthorizationGranted",
        "DeductionSettled",
        "AidDebited",
        "DeductionReversed",
        "AidRefunded",
    }
    assert len(bundle["checkpoints"]) >= 2  # proofs come from several segments, chained to the anchor
    assert "110105" + "19" not in data.decode()  # no plain ID number (masked ones only)


def test_every_altered_byte_of_a_spread_sample_fails(sealed_app):
    data, _ = build_bundle(sealed_app, EvidenceStore(sealed_app), "S-1")
    step = max(1, len(data) // 600)
    for index in range(0, len(data), step):
        altered = bytearray(data)
        altered[index] ^= 0x01
        assert not verify_bundle(bytes(altered), CATALOGUE)["ok"], f"byte {index} changed and still verified"


def test_a_reforged_event_fails_its_inclusion_proof(sealed_app):
    data, _ = build_bundle(sealed_app, EvidenceStore(sealed_app), "S-1")

    def richer_grandma(bundle):
        event = next(
            e for e in bundle["events"] if '"amount_fen":50000' in e["state"] and e["topic"].endswith("AccountCredited")
        )
        event["state"] = event["state"].replace("50000", "90000")

    assert "events_included" in failed(verify_bundle(reforge(data, richer_grandma), CATALOGUE))


def test_a_reforged_replay_or_rule_set_fails(sealed_app):
    data, _ = build_bundle(sealed_app, EvidenceStore(sealed_app), "S-1")

    def claim_other_split(bundle):
        bundle["replay"]["replayed"]["lines"][1]["amount_fen"] -= 1

    def other_order(bundle):
        bundle["rule_set"]["spending"]["order"] = "most_recent_first"

    assert failed(verify_bundle(reforge(data, claim_other_split), CATALOGUE)) == {"replay_reproduced"}
    assert {"rule_set_as_shipped", "replay_reproduced"} <= failed(verify_bundle(reforge(data, other_order), CATALOGUE))


def test_a_reforged_checkpoint_fails_the_chain(sealed_app):
    data, _ = build_bundle(sealed_app, EvidenceStore(sealed_app), "S-1")

    def move_root(bundle):
        bundle["checkpoints"][0]["merkle_root_sha256"] = "0" * 64

    assert "checkpoint_chain" in failed(verify_bundle(reforge(data, move_root), CATALOGUE))


def test_unsealed_events_cannot_be_bundled(tmp_path):
    app = LedgerApp(settings_for(str(tmp_path / "ledger.db")))
    ledger = Ledger(app)
    f = national_family(ledger)
    deduct(ledger, f["child"], "10.00", "S-2")
    with pytest.raises(NotSealedError):
        build_bundle(app, EvidenceStore(app), "S-2")
    app.close()


def test_cli_writes_bundle_and_html_and_verifies_offline(sealed_app, tmp_path):
    url = sealed_app.settings.db
    env = {"LEDGER_PSEUDONYM_KEY": DEV_KEY.decode(), **SEAL_ENV}
    runner = CliRunner()
    bundle_path, html_path = tmp_path / "s1.json", tmp_path / "s1.html"
    made = runner.invoke(
        main,
        ["--db", url, "audit", "deduction", "S-1", "--json", "--bundle", str(bundle_path), "--html", str(html_path)],
        env=env,
    )
    assert made.exit_code == 0, made.output
    replay = json.loads(made.output.splitlines()[-1])
    assert replay["verdict"] == "consistent" and replay["reversed"] is True
    assert "Consistent" in html_path.read_text() and "S-1" in html_path.read_text()
    offline = tmp_path / "offline"
    offline.mkdir()
    cwd = os.getcwd()
    os.chdir(offline)
    try:
        held = runner.invoke(
            main, ["verify-bundle", str(bundle_path), "--json"], env={"LEDGER_DB": "/nonexistent/x.db"}
        )
        assert held.exit_code == 0, held.output
        assert json.loads(held.output)["ok"] is True
        data = bytearray(bundle_path.read_bytes())
        data[len(data) // 2] ^= 0x20
        bundle_path.write_bytes(bytes(data))
        assert runner.invoke(main, ["verify-bundle", str(bundle_path)]).exit_code == 1
    finally:
        os.chdir(cwd)
    assert list(offline.iterdir()) == []  # no database was created or touched
