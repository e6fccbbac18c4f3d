"""A store written before events carried `recorded_at` and MACs still loads, replays and verifies.

Method: tell a story on a SQLite file, then rewrite every stored event's bytes without the
`recorded_at` field and without the event's MAC (exactly what the ledger wrote before it kept its
recorded time and sealed its events), remove the record of where MACs start, drop the snapshots
(their states came from the newer events), and use the store with a fresh app: the old events
load, new ones carry MACs, and from the upgrade on a MAC-less event is refused by seal and verify.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any, cast

import pytest

from infra.audit import chain, chain_verification
from infra.audit.event_mac_check import SealRefusedError
from infra.audit.evidence_store import EvidenceStore
from infra.audit.history import person_history
from infra.audit.replay import audit_deduction
from infra.core.bootstrap import ledger_of
from infra.eventstore.application import LedgerApp
from infra.storage.event_macs import payload_of
from tests.support import Ledger
from tests.support.backends import settings_for
from tests.support.families import deduct, national_family
from tests.support.seal import SEAL_SEED


def strip_recorded_at(path: str) -> int:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT rowid, state FROM stored_events").fetchall()
        for rowid, state in rows:
            data = json.loads(state)
            data.pop("recorded_at", None)
            data.pop("$mac", None)
            old = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
            db.execute("UPDATE stored_events SET state = ? WHERE rowid = ?", (old, rowid))
        db.execute("DELETE FROM stored_snapshots")
        db.execute("DELETE FROM ledger_meta WHERE name = 'event_macs_from'")
    return len(rows)


def test_an_old_store_without_recorded_times_loads_replays_and_verifies(tmp_path):
    path = str(tmp_path / "old.db")
    app = LedgerApp(settings_for(path))
    family = national_family(Ledger(app))
    deduct(Ledger(app), family["child"], "800.00", "S-1", day=10)
    app.close()
    old = strip_recorded_at(path)
    assert old > 10

    app = LedgerApp(settings_for(path))
    try:
        child = app.get_person(family["child"])
        assert child.balance_fen == 0
        assert all(cast(Any, e).recorded_at is None for e in app.events.get(child.id))
        result, _, _ = audit_deduction(app, EvidenceStore(app), "S-1")
        assert result["verdict"] == "consistent" and result["time_check"]["ok"] is True
        assert {e["recorded_at"] for e in result["evidence"]} == {None}
        history = person_history(app, EvidenceStore(app), child.id, None)
        assert history["events"] > 0 and {t["recorded_at"] for t in history["timeline"]} == {None}
        store = EvidenceStore(app)
        chain.seal(store, "2025-03-31T00:00:00+08:00", seed=SEAL_SEED)
        assert chain_verification.verify(store)["ok"] is True
        Ledger(app).ok(
            "credit", person=family["child"], amount="1.00", source="adjustment", at="2025-03-20T09:00:00+08:00"
        )  # old and new events side by side
        assert app.get_person(family["child"]).balance_fen == 100
        events = ledger_of(app).evidence.verify()["events"]
        assert events["ok"] and events["macs_from"] == old + 1 and events["events_without_mac"] == old
    finally:
        app.close()


def test_after_the_upgrade_an_event_without_a_mac_is_not_sealed(tmp_path, monkeypatch):
    path = str(tmp_path / "old.db")
    app = LedgerApp(settings_for(path))
    family = national_family(Ledger(app))
    app.close()
    old = strip_recorded_at(path)
    app = LedgerApp(settings_for(path))  # the upgrade: MACs from position old + 1
    Ledger(app).ok("credit", person=family["child"], amount="1.00", source="adjustment", at="2025-03-20T09:00:00+08:00")
    app.close()
    with sqlite3.connect(path) as db:  # an insider adds a MAC-less copy of that credit as the next event
        oid, version, topic, state = db.execute(
            "SELECT originator_id, originator_version, topic, state FROM stored_events ORDER BY rowid DESC LIMIT 1"
        ).fetchone()
        db.execute(
            "INSERT INTO stored_events (originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?)",
            (oid, version + 1, topic, payload_of(state)),
        )
    monkeypatch.setenv("LEDGER_SEAL_KEY", "5eed" * 16)
    ledger = ledger_of(LedgerApp(settings_for(path)))
    try:
        with pytest.raises(SealRefusedError, match=f"positions {old + 2}"):
            ledger.evidence.seal()
        events = ledger.evidence.verify()["events"]
        assert not events["ok"] and [p["position"] for p in events["problems"]] == [old + 2]
    finally:
        ledger.close()
