"""Tamper evidence: seal the log, edit the database behind the ledger's back, and check that
`verify` names every kind of change and the first broken position, on SQLite and PostgreSQL.

Method: a family's history is written through the ledger, a gap is left in the positions
(PostgreSQL leaves such gaps whenever a conflicting insert rolls back), the log is sealed, and
then one kind of tampering is applied directly in the database per test.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder

from infra.audit import chain, chain_verification
from infra.audit.evidence_store import EvidenceStore
from infra.cli.main import main
from infra.eventstore.application import LedgerApp
from tests.support import DEV_KEY, Ledger
from tests.support.backends import settings_for
from tests.support.families import deduct, national_family
from tests.support.seal import SEAL_ENV, SEAL_SEED
from tests.support.tamper import SQLiteTamper, tamper_for

SEALED_AT = "2025-04-01T00:00:00+00:00"


@pytest.fixture
def sealed(durable_url):
    """(store, tamper, url, gap) for a sealed log with a gap of two free positions before the end."""
    url = durable_url
    app = LedgerApp(settings_for(url))
    ledger = Ledger(app)
    f = national_family(ledger)
    assert isinstance(app.recorder, SQLiteApplicationRecorder | PostgresApplicationRecorder)
    table = app.recorder.events_table_name
    tamper = tamper_for(url, table)
    gap = tamper.make_gap_before_last(2)  # positions gap and gap + 1 are now free
    deduct(ledger, f["child"], "800.00", "S-1")
    store = EvidenceStore(app)
    written = chain.seal(store, SEALED_AT, segment_records_max=7, seed=SEAL_SEED)
    assert len(written) >= 2 and chain_verification.verify(store)["ok"]
    yield store, tamper, url, gap
    app.close()


def kinds(result: dict) -> list[tuple[int, str]]:
    return [(p["position"], p["kind"]) for p in result["problems"]]


def test_untouched_log_verifies_and_new_events_are_reported_as_unsealed(sealed):
    store, _, _, _ = sealed
    result = chain_verification.verify(store)
    assert result["ok"] and result["problems"] == [] and result["first_broken_position"] is None
    assert result["checked"] == result["checkpoint"]["position"] - 2  # the two free positions
    assert chain.seal(store, SEALED_AT, seed=SEAL_SEED) == []  # nothing new: no new checkpoint


def test_altered_bytes_are_caught(sealed):
    store, tamper, _, _ = sealed
    state = bytes(tamper.row(2)[3])
    tamper.set_state(2, state.replace(b"30000", b"90000"))
    assert state != bytes(tamper.row(2)[3])
    result = chain_verification.verify(store)
    assert not result["ok"]
    assert kinds(result) == [(2, "altered")] and result["first_broken_position"] == 2


def test_a_deleted_row_is_caught(sealed):
    store, tamper, _, _ = sealed
    tamper.delete(3)
    result = chain_verification.verify(store)
    assert kinds(result) == [(3, "deleted")] and result["first_broken_position"] == 3


def test_two_swapped_rows_are_caught_as_reordered(sealed):
    store, tamper, _, _ = sealed
    tamper.swap(4, 9)
    result = chain_verification.verify(store)
    assert kinds(result) == [(4, "reordered"), (9, "reordered")] and result["first_broken_position"] == 4


def test_swapped_state_bytes_between_two_rows_are_reordered(sealed):
    store, tamper, _, _ = sealed
    four, six = bytes(tamper.row(4)[3]), bytes(tamper.row(6)[3])
    tamper.set_state(4, six)
    tamper.set_state(6, four)
    assert kinds(chain_verification.verify(store)) == [(4, "reordered"), (6, "reordered")]


def test_a_row_inserted_in_a_sealed_gap_is_caught(sealed):
    store, tamper, _, gap = sealed
    oid, _version, topic, state = tamper.row(1)
    tamper.insert(gap, oid, 99, topic, bytes(state))
    result = chain_verification.verify(store)
    assert kinds(result) == [(gap, "inserted")] and result["first_broken_position"] == gap


def test_a_forged_link_row_is_caught(sealed):
    store, tamper, _, _ = sealed
    tamper.execute("UPDATE audit_chain_links SET link_sha256=? WHERE position=?", ("0" * 64, 6))
    assert "links" in {p["kind"] for p in chain_verification.verify(store)["problems"]}


def test_verify_cli_exits_1_with_json_problems(sealed):
    _, tamper, url, _ = sealed
    tamper.delete(2)
    runner = CliRunner()
    env = {"LEDGER_PSEUDONYM_KEY": DEV_KEY.decode(), **SEAL_ENV}
    result = runner.invoke(main, ["--db", url, "verify", "--json"], env=env)
    assert result.exit_code == 1, result.output
    data = json.loads(result.output.splitlines()[-1])
    assert set(data) >= {"ok", "checked", "checkpoint", "problems"}
    assert data["ok"] is False and data["problems"][0]["kind"] == "deleted"


def test_row_below_position_one_is_caught_on_sqlite(tmp_path):
    url = str(tmp_path / "ledger.db")
    app = LedgerApp(settings_for(url))
    national_family(Ledger(app))
    store = EvidenceStore(app)
    chain.seal(store, SEALED_AT, seed=SEAL_SEED)
    assert isinstance(app.recorder, SQLiteApplicationRecorder)
    tamper = SQLiteTamper(url, app.recorder.events_table_name)
    oid, _, topic, state = tamper.row(1)
    tamper.insert(0, oid, 77, topic, bytes(state))
    assert kinds(chain_verification.verify(store)) == [(0, "inserted")]
    app.close()


def test_seal_and_verify_cli_round_trip(tmp_path):
    url = str(tmp_path / "ledger.db")
    app = LedgerApp(settings_for(url))
    national_family(Ledger(app))
    app.close()
    runner = CliRunner()
    env = {"LEDGER_PSEUDONYM_KEY": DEV_KEY.decode(), **SEAL_ENV}
    sealed = runner.invoke(main, ["--db", url, "seal", "--json"], env=env)
    assert sealed.exit_code == 0, sealed.output
    anchor = json.loads(sealed.output)["checkpoint"]["checkpoint_sha256"]
    verified = runner.invoke(main, ["--db", url, "verify"], env=env)
    assert verified.exit_code == 0 and anchor in verified.output.replace("\n", "")


def test_seal_and_verify_page_through_a_log_longer_than_one_page(monkeypatch, ledger):
    # Goal: the bounded pages of the log and of the links table join up without losing or
    # repeating a record. Method: pages of 3 records over a log of a few dozen.
    monkeypatch.setattr("infra.audit.evidence_store.PAGE_SIZE", 3)
    f = national_family(ledger)
    deduct(ledger, f["child"], "800.00", "S-1")
    store = EvidenceStore(ledger.app)
    total = store.max_position()
    assert total > 10
    chain.seal(store, SEALED_AT, seed=SEAL_SEED)
    assert [n.id for n in store.iter_log()] == list(range(1, total + 1))
    assert [row.position for row in store.iter_links()] == list(range(1, total + 1))
    result = chain_verification.verify(store)
    assert result["ok"] and result["checked"] == total
