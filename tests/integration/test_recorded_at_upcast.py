"""A store written before events carried `recorded_at` still loads, replays and verifies.

Method: tell a story on a SQLite file, then rewrite every stored event's bytes without the
`recorded_at` field (exactly what the ledger wrote before it kept its recorded time), drop the
snapshots (their states came from the newer events), and use the store with a fresh app.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any, cast

from infra.audit import chain, chain_verification
from infra.audit.evidence_store import EvidenceStore
from infra.audit.history import person_history
from infra.audit.replay import audit_deduction
from infra.eventstore.application import LedgerApp
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
            old = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
            db.execute("UPDATE stored_events SET state = ? WHERE rowid = ?", (old, rowid))
        db.execute("DELETE FROM stored_snapshots")
    return len(rows)


def test_an_old_store_without_recorded_times_loads_replays_and_verifies(tmp_path):
    path = str(tmp_path / "old.db")
    app = LedgerApp(settings_for(path))
    family = national_family(Ledger(app))
    deduct(Ledger(app), family["child"], "800.00", "S-1", day=10)
    app.close()
    assert strip_recorded_at(path) > 10

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
    finally:
        app.close()
