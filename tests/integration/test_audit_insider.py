"""Evidence that holds against an insider: attacks by someone with write access to the whole
database (events *and* audit tables), on SQLite and PostgreSQL, through the `ledger` command.

Findings reproduced here (each was `intact`/`holds`, exit 0, before signed checkpoints):
1. a whole-chain rewrite (one credit 39,205 -> 39,205,000 fen, every link, Merkle root and
   checkpoint recomputed) — caught by the event's MAC (the forger lacks the pseudonym key) and by
   the checkpoint signatures, and by the published anchor even when the forger stole both keys;
2. a forged bundle built from such a rewritten store — caught the same way, offline;
3. dropped audit tables — `verify` says "nothing sealed" and exits 1.
Without an anchor or a public key a rewrite by someone holding the keys cannot be detected, and
both commands say so.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder

from infra.cli.main import main
from infra.eventstore.application import LedgerApp
from tests.support import DEV_KEY, Ledger, failed, last_json
from tests.support.backends import settings_for
from tests.support.families import at, deduct, national_family
from tests.support.forge import drop_audit_tables, rewrite_whole_chain
from tests.support.tamper import tamper_for

SEED = "5eed" * 16  # the ledger's seal key in these tests (64 hex = 32 bytes)
THIEF = "7e1f" * 16  # another key: a forger signing with a key of its own
ENV = {"LEDGER_PSEUDONYM_KEY": DEV_KEY.decode(), "LEDGER_SEAL_KEY": SEED, "LEDGER_SEAL_PUBLIC_KEY": ""}


def run(url: str | None, *args: str, env: dict | None = None):
    prefix = ["--db", url] if url else []
    return CliRunner().invoke(main, [*prefix, *args], env={**ENV, **(env or {})})


@pytest.fixture
def sealed(durable_url):
    """(url, tamper, credit position, anchor, public key) of a ledger sealed with SEED."""
    url = durable_url
    app = LedgerApp(settings_for(url))
    ledger = Ledger(app)
    f = national_family(ledger)
    ledger.ok("credit", person=f["grandma"], amount="392.05", source="adjustment", at=at(5))
    credit = app.recorder.max_notification_id()
    deduct(ledger, f["child"], "800.00", "S-1")
    assert isinstance(app.recorder, SQLiteApplicationRecorder | PostgresApplicationRecorder)
    table = app.recorder.events_table_name
    app.close()
    tamper = tamper_for(url, table)
    sealed = run(url, "seal", "--json")
    assert sealed.exit_code == 0, sealed.output
    anchor = last_json(sealed.output)["checkpoint"]["checkpoint_sha256"]
    key = run(url, "seal-key", "--json")
    assert key.exit_code == 0, key.output
    public_key = last_json(key.output)["public_key"]
    assert run(url, "verify", "--public-key", public_key, "--anchor", anchor).exit_code == 0
    return url, tamper, credit, anchor, public_key


def test_a_whole_chain_rewrite_is_caught_by_the_signatures(sealed):
    url, tamper, credit, _anchor, public_key = sealed
    rewrite_whole_chain(tamper, credit, b'"amount_fen":39205,', b'"amount_fen":39205000,')
    assert b"39205000" in bytes(tamper.row(credit)[3])
    # Without a key or an anchor the chain cannot tell, and verify says so plainly; the event's MAC,
    # which the forger could not recompute, tells.
    blind = run(url, "verify", "--json")
    data = last_json(blind.output)
    assert data["signatures_checked"] is False and data["anchor_compared"] is False
    assert "rewrite" in data["not_detected"]
    assert blind.exit_code == 1 and [p["position"] for p in data["events"]["problems"]] == [credit]
    assert "not compared" in run(url, "verify").output
    caught = run(url, "verify", "--public-key", public_key, "--json")
    assert caught.exit_code == 1, caught.output
    data = last_json(caught.output)
    assert data["ok"] is False and data["signatures_checked"] is True
    assert {p["kind"] for p in data["problems"]} == {"signature"}
    assert "signature" in run(url, "verify", "--public-key", public_key).output


def test_a_rewrite_re_signed_with_the_stolen_key_is_caught_by_the_anchor(sealed):
    url, tamper, credit, anchor, public_key = sealed
    rewrite_whole_chain(
        tamper,
        credit,
        b'"amount_fen":39205,',
        b'"amount_fen":39205000,',
        seed=bytes.fromhex(SEED),
        pseudonym_key=DEV_KEY,
    )
    assert run(url, "verify", "--public-key", public_key).exit_code == 0  # the keys alone cannot tell
    caught = run(url, "verify", "--public-key", public_key, "--anchor", anchor, "--json")
    assert caught.exit_code == 1, caught.output
    data = last_json(caught.output)
    assert data["anchor_compared"] is True and data["anchor_found"] is False
    assert [p["kind"] for p in data["problems"]] == ["anchor"]
    assert "anchor" in run(url, "verify", "--anchor", anchor).output


def test_a_rewrite_signed_with_another_key_is_caught(sealed):
    url, tamper, credit, _, public_key = sealed
    rewrite_whole_chain(tamper, credit, b'"amount_fen":39205,', b'"amount_fen":39205000,', seed=bytes.fromhex(THIEF))
    caught = run(url, "verify", "--json", env={"LEDGER_SEAL_PUBLIC_KEY": public_key})
    assert caught.exit_code == 1, caught.output
    assert any("another key" in p["detail"] for p in last_json(caught.output)["problems"])


def test_dropped_audit_tables_are_nothing_sealed_and_exit_1(sealed):
    url, tamper, _, _, _ = sealed
    drop_audit_tables(tamper)
    caught = run(url, "verify")
    assert caught.exit_code == 1, caught.output
    assert "nothing sealed" in caught.output
    data = last_json(run(url, "verify", "--json").output)
    assert data["ok"] is False and data["problems"][0]["kind"] == "nothing_sealed"


def test_dropping_the_latest_checkpoints_is_caught_by_the_anchor(sealed):
    url, tamper, _, anchor, public_key = sealed
    tamper.execute("DELETE FROM audit_checkpoints WHERE sequence = (SELECT max(sequence) FROM audit_checkpoints)")
    assert run(url, "verify", "--public-key", public_key, "--anchor", anchor).exit_code == 1


def test_a_bundle_built_from_a_rewritten_store_is_caught_offline(sealed, tmp_path):
    url, tamper, credit, anchor, public_key = sealed
    genuine, forged = tmp_path / "genuine.json", tmp_path / "forged.json"
    assert run(url, "audit", "deduction", "S-1", "--bundle", str(genuine)).exit_code == 0
    # The forger signs the recomputed checkpoints with a key of its own (old signatures would not
    # verify), and holds the pseudonym key (else the ledger refuses to load the changed event).
    rewrite_whole_chain(
        tamper,
        credit,
        b'"amount_fen":39205,',
        b'"amount_fen":39205000,',
        seed=bytes.fromhex(THIEF),
        pseudonym_key=DEV_KEY,
    )
    made = run(url, "audit", "deduction", "S-1", "--bundle", str(forged))
    assert made.exit_code == 0, made.output
    assert "39205000" in forged.read_text()  # new amounts, hashes, tree, checkpoints, replay and digest
    held = run(None, "verify-bundle", str(genuine), "--public-key", public_key, "--anchor", anchor)
    assert held.exit_code == 0 and "bundle holds" in held.output, held.output
    blind = run(None, "verify-bundle", str(forged), "--json")
    data = last_json(blind.output)
    assert blind.exit_code == 0 and data["anchor_compared"] is False and data["signatures_checked"] is False
    assert "not compared" in run(None, "verify-bundle", str(forged)).output
    by_key = run(None, "verify-bundle", str(forged), "--public-key", public_key, "--json")
    assert by_key.exit_code == 1 and "checkpoint_signatures" in failed(last_json(by_key.output))
    by_anchor = run(None, "verify-bundle", str(forged), "--anchor", anchor, "--json")
    assert by_anchor.exit_code == 1 and "anchor" in failed(last_json(by_anchor.output))
