"""`ledger verify`'s look at every stored snapshot: each must verify (its row MAC), or, taken
before snapshots were sealed, equal the state its aggregate's events give at that version.

A snapshot that does neither is named: it was forged or edited. It never decided anything (the
snapshot store refuses it, infra.eventstore.snapshots), but someone wrote it, and an auditor must
hear of it. An old snapshot that matches its events is counted, not reported: it is unproven,
so it is not used either, and taking new snapshots replaces it.
"""

from __future__ import annotations

from typing import Any, cast

from infra.eventstore.application import LedgerApp
from infra.eventstore.snapshots import AggregateSnapshot, SealedSnapshots

PROBLEMS_MAX = 100


def check_snapshots(app: LedgerApp) -> dict[str, Any]:
    store = app.snapshots
    if not isinstance(store, SealedSnapshots):
        return {"ok": True, "snapshots": 0, "unproven_matching_events": 0, "problems": []}
    problems: list[dict[str, Any]] = []
    count = unproven = 0
    for stored in app.recorder.all_snapshots(store.recorder):
        count += 1
        where = {"originator_id": str(stored.originator_id), "originator_version": stored.originator_version}
        try:
            snapshot = cast(AggregateSnapshot, store.mapper.to_domain_event(stored))
        except Exception:  # noqa: BLE001 - a row that cannot even be read is a finding, not a crash
            problems.append({"kind": "snapshot", **where, "detail": "cannot be read as a snapshot"})
            continue
        if store.macs.holds(snapshot.content(), snapshot.mac):
            continue
        if snapshot.mac is None and _matches_events(app, snapshot):
            unproven += 1
            continue
        detail = "its MAC does not verify" if snapshot.mac else "no MAC, and not the state its events give"
        problems.append({"kind": "snapshot", **where, "detail": f"{detail}: forged or edited (never used)"})
    return {"ok": not problems, "snapshots": count, "unproven_matching_events": unproven,
            "problems": problems[:PROBLEMS_MAX], "problem_count": len(problems)}  # fmt: skip


def _matches_events(app: LedgerApp, snapshot: AggregateSnapshot) -> bool:
    """Whether the aggregate, rebuilt without this snapshot, has this state at its version."""
    try:
        rebuilt: Any = app.repository.get(snapshot.originator_id, version=snapshot.originator_version)
    except Exception:  # noqa: BLE001 - no such aggregate or version: it cannot match
        return False
    return rebuilt.version == snapshot.originator_version and AggregateSnapshot.take(rebuilt).state == snapshot.state
