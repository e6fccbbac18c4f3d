"""Where a command's record is looked up. Since command ids are scoped to their tenant, a record
is written under the tenant only; a record written before (one global id) is still looked up,
so that a retry across the upgrade is not applied twice. A store this version created can hold
no such record: `ledger_meta` says so (`command_ids_scoped_from` = 1, MAC'd), and its batches
look each command up once, not twice. A store opened first by this version after holding events
(an upgrade), or whose record was changed by SQL, keeps looking up both."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from domain import events as ev
from domain.command_record import CommandRecord, command_aggregate_id, command_record_ids
from infra.audit.signing import public_key_of
from infra.core.bootstrap import ledger_of
from infra.eventstore.application import LedgerApp
from infra.roles import LOCAL_TENANT
from infra.storage.meta_positions import stored_position
from infra.writing.prefetch import command_ids
from tests.support import apply_line, id_number, line, parse_command
from tests.support.backends import settings_for
from tests.support.seal import SEAL_SEED, SEAL_SEED_HEX

PERSON = id_number(seq=61)
SCOPED = "command_ids_scoped_from"


def opened(path: Path) -> LedgerApp:
    return LedgerApp(settings_for(str(path)))


def credit(command_id: str) -> str:
    return line("credit", person=PERSON, amount="2.00", source="adjustment", command_id=command_id)


def legacy_record(app: LedgerApp, command_id: str, like: str) -> None:
    """A record as the version before scoped ids wrote it: under the command id alone."""
    record: CommandRecord = app.repository.get(command_aggregate_id(like, LOCAL_TENANT))
    app.save(
        CommandRecord._create(
            ev.CommandRecorded,  # type: ignore[arg-type]
            id=command_aggregate_id(command_id),
            command_id=command_id,
            command_type="credit",
            fingerprint=record.fingerprint,
            result={**record.result, "command_id": command_id},
            timestamp=record.modified_on,
        )
    )


def test_a_store_created_with_scoped_ids_looks_each_command_up_once(tmp_path):
    app = opened(tmp_path / "ledger.db")
    assert stored_position(app.recorder, app.settings.pseudonym_key, SCOPED) == (1, True)
    assert app.command_record_ids("c-1", LOCAL_TENANT) == (command_aggregate_id("c-1", LOCAL_TENANT),)
    assert command_ids(app, [parse_command(credit("c-1"))], [LOCAL_TENANT]) == {
        command_aggregate_id("c-1", LOCAL_TENANT)
    }
    app.close()


def test_an_upgraded_store_still_answers_a_retry_from_its_global_record(tmp_path):
    path = tmp_path / "ledger.db"
    app = opened(path)
    assert apply_line(app, line("enroll", person=PERSON, insurance="employee"))["ok"]
    assert apply_line(app, credit("first"))["ok"]
    legacy_record(app, "legacy-1", like="first")
    app.close()
    with sqlite3.connect(path) as db:  # as a store the version before this one last opened
        db.execute("DELETE FROM ledger_meta WHERE name = ?", (SCOPED,))
    app = opened(path)
    head = app.recorder.max_notification_id() or 0
    assert stored_position(app.recorder, app.settings.pseudonym_key, SCOPED) == (head + 1, True)  # from now on
    assert app.command_record_ids("legacy-1", LOCAL_TENANT) == command_record_ids("legacy-1", LOCAL_TENANT)
    balance = app.get_person(PERSON).balance_fen
    retried = apply_line(app, credit("legacy-1"))
    assert retried["ok"] and retried.get("duplicate") is True, retried
    assert app.get_person(PERSON).balance_fen == balance
    app.close()


def test_a_scope_record_changed_by_sql_keeps_both_lookups(tmp_path):
    path = tmp_path / "ledger.db"
    app = opened(path)
    assert apply_line(app, line("enroll", person=PERSON, insurance="employee"))["ok"]
    app.close()
    with sqlite3.connect(path) as db:  # an insider resets the position without the key
        db.execute("UPDATE ledger_meta SET value = ? WHERE name = ?", ("1:" + "0" * 64, SCOPED))
    app = opened(path)
    assert stored_position(app.recorder, app.settings.pseudonym_key, SCOPED) == (None, False)
    assert len(app.command_record_ids("c-2", LOCAL_TENANT)) == 2
    app.close()


def test_verify_names_a_scope_record_deleted_after_a_seal(tmp_path, monkeypatch):
    """Deleting the record makes the next opening record a later position (the lookups stay safe,
    but the change is evidence): the position sealed in the last checkpoint no longer holds."""
    monkeypatch.setenv("LEDGER_SEAL_KEY", SEAL_SEED_HEX)
    path = tmp_path / "ledger.db"
    app = opened(path)
    assert apply_line(app, line("enroll", person=PERSON, insurance="employee"))["ok"]
    ledger = ledger_of(app)
    assert ledger.evidence.seal()["checkpoint"]["covers"]["command_ids_scoped_from"] == 1
    assert ledger.evidence.verify(public_key_of(SEAL_SEED))["ok"]
    ledger.close()
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM ledger_meta WHERE name = ?", (SCOPED,))
    ledger = ledger_of(opened(path))
    result = ledger.evidence.verify(public_key_of(SEAL_SEED))
    assert not result["ok"]
    assert any("command ids are scoped from position 2" in p["detail"] for p in result["events"]["problems"]), result
    ledger.close()
