"""Signed checkpoints: the seal key's configuration, the exact bytes signed, and what `verify`
and `verify-bundle` say about unsigned, foreign-signed and damaged signatures (SQLite and
PostgreSQL where the store matters)."""

from __future__ import annotations

import hashlib
import json
import sqlite3

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder

from infra.audit import chain, chain_verification, signing
from infra.audit.bundle import build_bundle
from infra.audit.bundle_check import verify_bundle
from infra.audit.evidence_store import EvidenceStore
from infra.cli.main import main
from infra.eventstore.application import LedgerApp
from infra.settings import DEVELOPMENT_SEAL_SEED
from tests.support import DEV_KEY, Ledger, failed, id_number, last_json
from tests.support.backends import settings_for
from tests.support.families import deduct, national_family
from tests.support.forge import reforge
from tests.support.seal import SEAL_ENV, SEAL_SEED, SEAL_SEED_HEX
from tests.support.tamper import tamper_for

BASE = {"LEDGER_PSEUDONYM_KEY": DEV_KEY.decode(), "LEDGER_SEAL_KEY": "", "LEDGER_SEAL_PUBLIC_KEY": ""}
PUBLIC = signing.public_key_of(SEAL_SEED).hex()
GRANDMA = id_number("110105", "19550505", 42)  # of national_family


def run(*args: str, **env: str):
    return CliRunner().invoke(main, list(args), env={**BASE, **env})


@pytest.fixture
def store_url(durable_url):
    """(url, tamper) of a small ledger, not sealed yet."""
    url = durable_url
    app = LedgerApp(settings_for(url))
    ledger = Ledger(app)
    f = national_family(ledger)
    deduct(ledger, f["child"], "800.00", "S-1")
    assert isinstance(app.recorder, SQLiteApplicationRecorder | PostgresApplicationRecorder)
    table = app.recorder.events_table_name
    app.close()
    return url, tamper_for(url, table)


# --- the key ------------------------------------------------------------------------------------
def test_seal_key_generates_fresh_seeds_and_prints_the_public_key_of_the_configured_one(tmp_path):
    first, second = run("seal-key", "--generate"), run("seal-key", "--generate")
    assert first.exit_code == 0 and second.exit_code == 0
    seed = first.stdout.strip()
    assert len(seed) == 64 and int(seed, 16) >= 0 and seed != second.stdout.strip()
    both = last_json(run("seal-key", "--generate", "--json").stdout)
    assert signing.public_key_of(bytes.fromhex(both["seed"])).hex() == both["public_key"]
    db = str(tmp_path / "x.db")
    assert (
        run("--db", db, "seal-key", LEDGER_SEAL_KEY=seed).stdout.strip()
        == signing.public_key_of(bytes.fromhex(seed)).hex()
    )
    assert last_json(run("--db", db, "seal-key", "--json", **SEAL_ENV).stdout) == {"public_key": PUBLIC}


def test_a_malformed_seal_key_is_a_one_line_error(tmp_path):
    for bad in ("abc", "zz" * 32, SEAL_SEED_HEX + "00"):
        result = run("--db", str(tmp_path / "x.db"), "seal", LEDGER_SEAL_KEY=bad)
        assert result.exit_code == 2 and "LEDGER_SEAL_KEY: must be 64 hex" in result.output
        assert "Traceback" not in result.output
    assert run("verify-bundle", __file__, "--public-key", "12").exit_code == 2


def test_seal_without_a_key_is_refused_on_postgresql(pg_url):
    app = LedgerApp(settings_for(pg_url))
    national_family(Ledger(app))
    result = run("--db", pg_url, "seal")
    assert result.exit_code == 2, result.output
    assert "LEDGER_SEAL_KEY is not set" in result.output and len(result.output.strip().splitlines()) == 1
    assert EvidenceStore(app).checkpoints() == []  # nothing was sealed
    app.close()


def test_seal_without_a_key_on_sqlite_uses_the_development_key_loudly(tmp_path):
    url = str(tmp_path / "ledger.db")
    app = LedgerApp(settings_for(url))
    national_family(Ledger(app))
    app.close()
    sealed = run("--db", url, "seal")
    assert sealed.exit_code == 0 and "DEVELOPMENT seal key" in sealed.stderr
    dev = signing.public_key_of(DEVELOPMENT_SEAL_SEED).hex()
    verified = run("--db", url, "verify", "--public-key", dev)
    assert verified.exit_code == 0 and "DEVELOPMENT seal key" in verified.output
    assert last_json(run("--db", url, "verify", "--json").stdout)["development_key"] is True
    assert run("--db", url, "verify", "--public-key", PUBLIC).exit_code == 1  # not the production key


# --- the signature ------------------------------------------------------------------------------
def test_the_signed_bytes_are_the_context_and_the_canonical_checkpoint(ledger):
    national_family(ledger)
    store = EvidenceStore(ledger.app)
    checkpoint = chain.seal(store, "2025-04-01T00:00:00+00:00", seed=SEAL_SEED)[0]
    content = {
        k: checkpoint[k]
        for k in (
            "sequence",
            "first_position",
            "position",
            "record_count",
            "head_sha256",
            "merkle_root_sha256",
            "sealed_at",
            "previous_sha256",
        )
    }
    message = b"family-ledger/checkpoint/v1\n" + json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
    assert signing.signed_bytes(checkpoint) == message
    assert hashlib.sha256(message[len(signing.SIGNING_CONTEXT) :]).hexdigest() == checkpoint["checkpoint_sha256"]
    assert checkpoint["public_key"] == PUBLIC
    Ed25519PublicKey.from_public_bytes(bytes.fromhex(PUBLIC)).verify(bytes.fromhex(checkpoint["signature"]), message)
    assert chain_verification.verify(store, bytes.fromhex(PUBLIC))["ok"]


def test_unsigned_foreign_and_damaged_signatures_are_caught(store_url):
    url, tamper = store_url
    assert run("--db", url, "seal", **SEAL_ENV).exit_code == 0
    app = LedgerApp(settings_for(url))
    Ledger(app).ok("credit", person=GRANDMA, amount="1.00", source="adjustment", at="2025-03-20T09:00:00+08:00")
    app.close()
    assert run("--db", url, "seal", **SEAL_ENV).exit_code == 0  # a second checkpoint
    assert run("--db", url, "verify", "--public-key", PUBLIC).exit_code == 0

    # An unsigned checkpoint (as sealed before signatures existed): fine without a key, refused with one.
    tamper.execute("UPDATE audit_checkpoints SET signature=NULL WHERE sequence=1")
    assert run("--db", url, "verify").exit_code == 0
    unsigned = run("--db", url, "verify", "--public-key", PUBLIC, "--json")
    assert unsigned.exit_code == 1 and "checkpoint 1 is unsigned" in unsigned.stdout

    # A checkpoint signed by another key, even validly.
    content = dict(
        zip(
            (
                "sequence",
                "first_position",
                "position",
                "record_count",
                "head_sha256",
                "merkle_root_sha256",
                "sealed_at",
                "previous_sha256",
                "covers",
            ),
            tamper._run(
                (
                    "SELECT sequence, first_position, position, record_count, head_sha256, "
                    "merkle_root_sha256, sealed_at, previous_sha256, covers FROM audit_checkpoints "
                    "WHERE sequence=1",
                    (),
                )
            )[0][0],
            strict=True,
        )
    )
    content["covers"] = json.loads(content["covers"])  # what the seal covers beside the events
    other, signature = signing.sign_checkpoint(b"\x07" * 32, content)
    tamper.execute("UPDATE audit_checkpoints SET public_key=?, signature=? WHERE sequence=1", (other, signature))
    assert run("--db", url, "verify").exit_code == 0  # valid under the key it names: only the published key tells
    foreign = run("--db", url, "verify", "--json", LEDGER_SEAL_PUBLIC_KEY=PUBLIC)
    assert foreign.exit_code == 1 and "signed by another key" in foreign.stdout

    # A damaged signature fails even without a key.
    tamper.execute(
        "UPDATE audit_checkpoints SET public_key=?, signature=? WHERE sequence=1",
        (other, signature[:-2] + ("00" if signature[-2:] != "00" else "01")),
    )
    damaged = run("--db", url, "verify")
    assert damaged.exit_code == 1 and "does not verify" in damaged.output


def test_an_audit_table_from_before_signatures_gains_the_columns(tmp_path):
    url = str(tmp_path / "ledger.db")
    app = LedgerApp(settings_for(url))
    national_family(Ledger(app))
    app.close()
    with sqlite3.connect(url) as conn:
        conn.execute(
            "CREATE TABLE audit_checkpoints (sequence INTEGER PRIMARY KEY, first_position INTEGER NOT NULL, "
            "position INTEGER NOT NULL, record_count INTEGER NOT NULL, head_sha256 TEXT NOT NULL, "
            "merkle_root_sha256 TEXT NOT NULL, sealed_at TEXT NOT NULL, previous_sha256 TEXT NOT NULL, "
            "checkpoint_sha256 TEXT NOT NULL)"
        )
    conn.close()
    assert run("--db", url, "seal", **SEAL_ENV).exit_code == 0
    assert run("--db", url, "verify", "--public-key", PUBLIC).exit_code == 0


# --- bundles --------------------------------------------------------------------------------------
def test_bundle_evidence_is_covered_by_what_is_signed(ledger):
    f = national_family(ledger)
    deduct(ledger, f["child"], "800.00", "S-1")
    store = EvidenceStore(ledger.app)
    chain.seal(store, "2025-04-01T00:00:00+00:00", segment_records_max=5, seed=SEAL_SEED)
    data, _ = build_bundle(ledger.app, store, "S-1")
    key = bytes.fromhex(PUBLIC)
    anchor = store.checkpoints()[-1]["checkpoint_sha256"]
    assert verify_bundle(data, public_key=key, anchor=anchor)["ok"]
    bundle = json.loads(data)
    # Chain links could only be checked against each other: they are not in a bundle.
    assert not any("link_sha256" in e or "previous_link_sha256" in e for e in bundle["events"])
    assert all("hash" not in e and len(e["record_sha256"]) == 64 for e in bundle["replay"]["evidence"])
    assert all(c["signature"] and c["public_key"] == PUBLIC for c in bundle["checkpoints"])

    def other_digest(b):
        b["replay"]["evidence"][0]["record_sha256"] = "ab" * 32

    def other_time(b):
        b["replay"]["evidence"][0]["at"] = "2025-03-11T09:00:00+08:00"

    def resigned(b):  # a forger with a key of its own re-signs a checkpoint
        c = b["checkpoints"][0]
        c["public_key"], c["signature"] = signing.sign_checkpoint(b"\x09" * 32, c)

    assert "evidence_hashes" in failed(verify_bundle(reforge(data, other_digest), public_key=key))
    assert "evidence_reproduced" in failed(verify_bundle(reforge(data, other_time), public_key=key))
    assert verify_bundle(reforge(data, resigned))["ok"]  # without the published key: not detectable
    assert failed(verify_bundle(reforge(data, resigned), public_key=key)) == {"checkpoint_signatures"}
    assert failed(verify_bundle(data, public_key=key, anchor="00" * 32)) == {"anchor"}
    older = store.checkpoints()[0]["checkpoint_sha256"]
    assert failed(verify_bundle(data, anchor=older)) == {"anchor"}  # published before the events were sealed
