"""What the evidence checks cost the write path, measured as an A/B inside `ledger bench`.

Two fresh sibling stores get the same workload (the generated one, its first
EVIDENCE_COMMANDS_MAX commands), from empty, with group commit. One ledger writes as the ledger
always does: each event sealed with its MAC (`$mac`, infra.storage.event_macs) and every event
it loads checked; every snapshot sealed with its row MAC and checked when loaded
(infra.eventstore.snapshots). The other does the same work without any of that: its events are
stored without a MAC and loaded unchecked, its snapshots stored and used unsealed. (That second
ledger exists only here, on a scratch store that is dropped afterwards; the ledger has no such
mode.) The workload is split into about EVIDENCE_ROUNDS consecutive chunks, and each chunk is
applied to both stores, one after the other, in alternating order, so the machine's noise falls
on both alike (the measured slice alone is too short for that: a round of it lasts a tenth of a
second). Each round gives a ratio, its seconds without the checks / its seconds with them, and
`evidence_throughput_ratio` is the median of the rounds' ratios (the target: at least 0.9, i.e.
the checks cost at most 10%), listed in `evidence_rounds_ratios`. A round's two sides run back
to back, so a slow spell of the machine falls on both; one that falls on one side only (a round
of the shared machine ran 4 times slower on one side than the other) moves that round's ratio
and not the median, where it moved the ratio of the totals, which the commands/s with and
without still give, by up to 15% between runs of the same code (docs/performance.md).

The checkpoint's wider `covers` and the hash chain are `seal`'s work, not the write path's:
`ledger bench --curve` times seal and verify against the log's size.
"""

from __future__ import annotations

import statistics
from typing import Any, cast
from uuid import UUID

from infra.core.bootstrap import open_ledger
from infra.core.ledger import Ledger
from infra.eventstore.snapshots import SealedSnapshots
from infra.settings import Settings
from infra.storage.event_macs import EventMacs, payload_of
from infra.storage.mapper import PydanticMapper
from infra.tools.bench_stores import sibling_store, timed_batches

EVIDENCE_ROUNDS = 20
EVIDENCE_COMMANDS_MAX = 40_000


class _UnsealedEvents(EventMacs):
    """Events stored without a MAC and loaded without a check (the B side only)."""

    def sealed(self, originator_id: UUID | str, version: int, topic: str, payload: bytes) -> bytes:
        return payload

    def opened(self, originator_id: UUID | str, version: int, topic: str, state: bytes) -> bytes:
        return payload_of(bytes(state))


def without_evidence(ledger: Ledger) -> Ledger:
    """`ledger` with the evidence work of its write path switched off (scratch stores only)."""
    app = ledger.app
    cast(PydanticMapper, app.mapper).macs = _UnsealedEvents(app.settings.pseudonym_key)
    snapshots = app.snapshots
    if isinstance(snapshots, SealedSnapshots):
        snapshots.sealed = lambda snapshot: snapshot  # type: ignore[method-assign]
        snapshots.proven = lambda snapshot: True  # type: ignore[method-assign]
    return ledger


def evidence_cost(settings: Settings, lines: list[str], batch_size: int) -> dict[str, Any]:
    """The A/B of the module doc; the figures as bench's JSON carries them."""
    workload = lines[:EVIDENCE_COMMANDS_MAX]
    with sibling_store(settings, "evidence_on") as with_settings, sibling_store(settings, "evidence_off") as bare:
        sides = {"with": open_ledger(with_settings), "without": without_evidence(open_ledger(bare))}
        seconds = dict.fromkeys(sides, 0.0)
        ratios: list[float] = []  # each round's: seconds without / seconds with
        size = max(batch_size, -(-len(workload) // EVIDENCE_ROUNDS))
        for number, start in enumerate(range(0, len(workload), size), start=1):
            chunk = workload[start : start + size]
            took = {}
            for name in ("with", "without") if number % 2 else ("without", "with"):
                took[name] = timed_batches(sides[name], chunk, batch_size)
                seconds[name] += took[name]
            ratios.append(took["without"] / took["with"])
        for ledger in sides.values():
            ledger.close()
    return {
        "evidence_commands": len(workload),
        "evidence_rounds": len(ratios),
        "commands_per_s_with_evidence": round(len(workload) / seconds["with"], 1),
        "commands_per_s_without_evidence": round(len(workload) / seconds["without"], 1),
        "evidence_throughput_ratio": round(statistics.median(ratios), 3),
        "evidence_rounds_ratios": [round(ratio, 3) for ratio in ratios],
    }
