"""The events' MACs (infra.storage.event_macs), checked over the log: by `ledger verify` over
every record, by `ledger seal` over the records it is about to seal (it refuses to seal an event
the ledger did not write, so that a row added by SQL is never made part of the evidence).
"""

from __future__ import annotations

from typing import Any

from domain.errors import LedgerError
from infra.audit.evidence_store import EvidenceStore
from infra.storage.event_macs import EventMacs, has_mac

PROBLEMS_MAX = 100


class SealRefusedError(LedgerError):
    """The log holds events the ledger did not write (HTTP 409): they are not sealed."""

    code = "SEAL_REFUSED"


def check_event_macs(store: EvidenceStore, macs: EventMacs, macs_from: int | None, after: int = 0) -> dict[str, Any]:
    """Every record after `after`: its MAC must verify, and from position `macs_from` on (None:
    not recorded, so never) every record must carry one."""
    problems: list[dict[str, Any]] = []
    checked = without = count = 0
    for record in store.iter_log(after):
        checked += 1
        required = macs_from is not None and record.id >= macs_from
        found = macs.problem(record.originator_id, record.originator_version, record.topic, record.state, required)
        if found is None:
            without += not has_mac(bytes(record.state))
            continue
        count += 1
        if len(problems) < PROBLEMS_MAX:
            problems.append(
                {"kind": "event_mac", "position": record.id, "detail": f"event at position {record.id}: {found}"}
            )
    return {"ok": count == 0, "checked": checked, "events_without_mac": without, "macs_from": macs_from,
            "problems": problems, "problem_count": count}  # fmt: skip


def refuse_unproven(store: EvidenceStore, macs: EventMacs, macs_from: int | None, after: int) -> None:
    """SEAL_REFUSED naming the first records after `after` whose MAC does not hold."""
    check = check_event_macs(store, macs, macs_from, after)
    if check["ok"]:
        return
    named = ", ".join(str(problem["position"]) for problem in check["problems"][:10])
    raise SealRefusedError(
        f"{check['problem_count']} event(s) in the log were not written by the ledger (positions {named}"
        f"{', ...' if check['problem_count'] > 10 else ''}): nothing is sealed. See `ledger verify`; such rows "
        "are an incident (docs/operations.md, 'An event the ledger did not write')"
    )
